// Reading the input line by line.
const name = readline();
const [a, b] = readline().split(" ").map(Number);
const lines = [];
let line;
while ((line = readline()) !== null) {
  lines.push(line.toUpperCase());
}
console.log(`hello ${name}`, a + b, lines);
