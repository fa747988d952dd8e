// Errors thrown and caught, finally, custom errors, and one left uncaught.
class ParseError extends Error {
  constructor(message, at) {
    super(message);
    this.name = "ParseError";
    this.at = at;
  }
}
function parse(text) {
  const n = Number(text);
  if (Number.isNaN(n)) throw new ParseError(`not a number: ${text}`, 0);
  return n;
}
const results = [];
for (const t of ["4", "x", "9"]) {
  try {
    results.push(parse(t));
  } catch (e) {
    results.push(e.name);
  } finally {
    results.push("|");
  }
}
let log = [];
try {
  null.length;
} catch (e) {
  log.push(e instanceof TypeError);
}
console.log(results.join(" "), log);
function deep(n) {
  if (n === 0) throw new RangeError("bottom reached");
  return deep(n - 1);
}
deep(2);
