// Return a greatest common divisor of two integers a and b.
function greatest_common_divisor(a, b) {
  while (b) {
    [a, b] = [b, a % b];
  }
  return a;
}
