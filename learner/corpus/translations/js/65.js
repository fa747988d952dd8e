// Circular shift the digits of x right by shift; if shift > number of digits, reverse them.
function circular_shift(x, shift) {
  const s = String(x);
  if (shift > s.length) {
    return [...s].reverse().join("");
  } else {
    return s.slice(s.length - shift) + s.slice(0, s.length - shift);
  }
}
