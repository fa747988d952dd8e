// For a given number n, find the largest number that divides n evenly, smaller than n.
function largest_divisor(n) {
  for (let i = n - 1; i >= 0; i--) {
    if (n % i === 0) {
      return i;
    }
  }
}
