// Integers, floats, BigInt and the Math library.
let a = 7;
let b = 2;
const q = Math.floor(a / b);
const r = a % b;
const f = a / b;
let big = 2n ** 70n;
const tiny = 0.1 + 0.2;
const neg = -0;
let inf = 1 / 0;
const nan = Math.sqrt(-1);
const hex = 0xff;
const rounded = Number((3.14159).toFixed(2));
console.log(q, r, f, big, tiny, neg, inf, nan, hex, rounded);
console.log(Number.MAX_SAFE_INTEGER + 2, 2 ** 53 === 2 ** 53 + 1, (255).toString(16));
console.log(parseInt("42px"), parseFloat("1e3"), Number("x"), Math.max(...[3, 9, 4]));
