// Objects, Maps and Sets.
const point = { x: 1, y: 2 };
point.z = 3;
delete point.x;
const keys = Object.keys(point);
const copy = { ...point, w: 4 };
const { y, ...others } = copy;
const counts = new Map();
for (const word of "a b a c b a".split(" ")) {
  counts.set(word, (counts.get(word) || 0) + 1);
}
const seen = new Set([3, 1, 3, 2]);
seen.add(5);
const nested = { list: [1, { deep: true }], "odd key": null };
const entries = Object.entries(point).map(([k, v]) => `${k}=${v}`);
console.log(keys, copy, y, others, counts.get("a"), seen.size, seen.has(2));
console.log(JSON.stringify(nested), entries.join("&"), [...counts.keys()]);
