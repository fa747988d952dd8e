// Branches, switch, labelled loops, break and continue, do/while.
function classify(n) {
  switch (n % 3) {
    case 0:
      return "fizz";
    case 1:
      if (n > 5) {
        return "big";
      } else {
        return "small";
      }
    default:
      return "other";
  }
}
const out = [];
for (let i = 0; i < 8; i++) {
  if (i === 2) continue;
  if (i === 6) break;
  out.push(classify(i));
}
let n = 0;
do {
  n += 3;
} while (n < 10);
let found = null;
outer: for (let i = 1; i < 5; i++) {
  for (let j = 1; j < 5; j++) {
    if (i * j === 6) {
      found = [i, j];
      break outer;
    }
  }
}
let k = 10;
while (k > 1) k = k % 2 === 0 ? k / 2 : 3 * k + 1;
const tern = n > 10 ? "over" : "under";
console.log(out, n, found, k, tern);
