// Recursion: factorial, Fibonacci with a memo, permutations, Hanoi.
function fact(n) {
  if (n <= 1) return 1;
  return n * fact(n - 1);
}
const memo = {};
function fib(n) {
  if (n < 2) return n;
  if (memo[n] !== undefined) return memo[n];
  memo[n] = fib(n - 1) + fib(n - 2);
  return memo[n];
}
function permutations(xs) {
  if (xs.length <= 1) return [xs];
  const out = [];
  xs.forEach((x, i) => {
    const rest = xs.slice(0, i).concat(xs.slice(i + 1));
    for (const p of permutations(rest)) out.push([x, ...p]);
  });
  return out;
}
let moves = 0;
function hanoi(n, from, to, via) {
  if (n === 0) return;
  hanoi(n - 1, from, via, to);
  moves++;
  hanoi(n - 1, via, to, from);
}
hanoi(3, "a", "c", "b");
console.log(fact(6), fib(12), permutations([1, 2, 3]).length, moves);
