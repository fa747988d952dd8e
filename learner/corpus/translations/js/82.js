// True if the string length is a prime number.
function prime_length(string) {
  const l = string.length;
  if (l === 0 || l === 1) {
    return false;
  }
  for (let i = 2; i < l; i++) {
    if (l % i === 0) {
      return false;
    }
  }
  return true;
}
