// String methods, slicing, templates and escapes.
const s = "Hello, World";
const lower = s.toLowerCase();
const parts = s.split(", ");
const sliced = s.slice(-5);
let joined = parts.map((p) => p.length).join("+");
const padded = "7".padStart(3, "0");
const quote = 'it\'s "quoted"\n\ttab';
const accents = "café ünïcode";
const tpl = `${parts[0]} has ${parts[0].length} letters`;
let count = 0;
for (const ch of "mississippi") {
  if (ch === "s") count += 1;
}
console.log(lower, sliced, joined, padded, tpl, count);
console.log(quote, accents.length, [...accents].reverse().join(""));
console.log(s.includes("World"), s.indexOf("o"), s.replace(/o/g, "0"), "ab".repeat(3));
