// Stones in each of n levels: n, then the next odd (or even) numbers.
function make_a_pile(n) {
  return Array.from({ length: n }, (_, i) => n + 2 * i);
}
