// Closures, higher-order functions, default and rest parameters.
function makeCounter(start = 0) {
  let count = start;
  return {
    inc: () => ++count,
    get: () => count,
  };
}
function compose(...fns) {
  return (x) => fns.reduceRight((acc, f) => f(acc), x);
}
const c = makeCounter(5);
c.inc();
c.inc();
const double = (x) => x * 2;
const addOne = function (x) {
  return x + 1;
};
const both = compose(double, addOne);
const adders = [];
for (let i = 0; i < 3; i++) {
  adders.push((x) => x + i);
}
console.log(c.get(), both(4), adders.map((f) => f(10)));
