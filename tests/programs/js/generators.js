// Generators, iterators and async functions with promises.
function* range(n) {
  for (let i = 0; i < n; i++) {
    yield i * i;
  }
}
const squares = [...range(4)];
const it = range(2);
const firstTwo = [it.next().value, it.next().value, it.next().done];
const iterable = {
  *[Symbol.iterator]() {
    yield "x";
    yield "y";
  },
};
async function total(xs) {
  let sum = 0;
  for (const x of xs) {
    sum += await Promise.resolve(x);
  }
  return sum;
}
total([1, 2, 3]).then((s) => console.log("sum", s));
console.log(squares, firstTwo, [...iterable]);
// Built-ins the engine ships as precompiled bytecode.
Array.fromAsync([1, Promise.resolve(2)]).then((xs) => console.log("fromAsync", xs));
console.log([...Iterator.zip([[1, 2], ["a", "b"]])]);
