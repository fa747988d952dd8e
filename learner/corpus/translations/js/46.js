// The n-th element of the Fib4 sequence, computed without recursion.
function fib4(n) {
  const results = [0, 0, 2, 0];
  if (n < 4) {
    return results[n];
  }

  for (let i = 4; i < n + 1; i++) {
    results.push(results.at(-1) + results.at(-2) + results.at(-3) + results.at(-4));
    results.shift();
  }

  return results.at(-1);
}
