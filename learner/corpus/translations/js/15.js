// Return a string of space-delimited numbers from 0 up to n inclusive.
function string_sequence(n) {
  const parts = [];
  for (let x = 0; x < n + 1; x++) {
    parts.push(String(x));
  }
  return parts.join(" ");
}
