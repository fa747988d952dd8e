// repr(x): print a value as Python's repr prints the matching Python value.

// A Python tuple: an array marked so that repr writes it as (a, b).
function tuple(items) {
  const t = [...items];
  t.isTuple = true;
  return t;
}

function reprNumber(x) {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (Number.isInteger(x)) return BigInt(x).toString();
  // Shortest digits as JS finds them, in Python's exponent form.
  const [mantissa, exp] = x.toExponential().split("e");
  const e = Number(exp);
  if (e >= -4 && e < 16) return String(x);
  return `${mantissa}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
}

function reprString(s) {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = "";
  for (const c of s) {
    const code = c.codePointAt(0);
    if (c === "\\" || c === quote) out += "\\" + c;
    else if (c === "\n") out += "\\n";
    else if (c === "\t") out += "\\t";
    else if (c === "\r") out += "\\r";
    else if (code < 0x20 || (code >= 0x7f && code <= 0xa0)) out += "\\x" + code.toString(16).padStart(2, "0");
    else out += c;
  }
  return quote + out + quote;
}

function repr(x) {
  if (x === null || x === undefined) return "None";
  if (typeof x === "boolean") return x ? "True" : "False";
  if (typeof x === "number") return reprNumber(x);
  if (typeof x === "bigint") return x.toString();
  if (typeof x === "string") return reprString(x);
  if (Array.isArray(x)) {
    const items = x.map(repr).join(", ");
    if (!x.isTuple) return `[${items}]`;
    return x.length === 1 ? `(${items},)` : `(${items})`;
  }
  // A plain object stands for a dict with string keys.
  return `{${Object.entries(x).map(([k, v]) => `${repr(k)}: ${repr(v)}`).join(", ")}}`;
}
