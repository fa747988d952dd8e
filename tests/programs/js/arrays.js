// Arrays: building, slicing, sorting with keys, and the functional methods.
const xs = [5, 3, 8, 1];
xs.push(9);
const ys = xs.slice(1, 3);
const sorted = [...xs].sort((a, b) => a - b);
const squares = xs.map((x) => x * x);
const evens = xs.filter((x) => x % 2 === 0);
const total = xs.reduce((acc, x) => acc + x, 0);
const grid = [[1, 2], [3, 4]];
const flat = grid.flat();
const [first, , third, ...rest] = xs;
const pairs = xs.map((x, i) => [i, x]).filter(([i]) => i < 2);
const words = ["pear", "fig", "banana"];
words.sort((a, b) => a.length - b.length || a.localeCompare(b));
const sparse = [1, , 3];
console.log(ys, sorted, squares, evens, total, flat, first, third, rest);
console.log(pairs, words, sparse.length, xs.indexOf(8), xs.includes(2));
