// Count the digit 7 in integers less than n which are divisible by 11 or 13.
function fizz_buzz(n) {
  const ns = [];
  for (let i = 0; i < n; i++) {
    if (i % 11 === 0 || i % 13 === 0) {
      ns.push(i);
    }
  }
  const s = ns.map(String).join("");
  let ans = 0;
  for (const c of s) {
    ans += Number(c === "7");
  }
  return ans;
}
