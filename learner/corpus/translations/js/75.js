// True if the given number is the product of 3 prime numbers.
function is_multiply_prime(a) {
  function is_prime(n) {
    for (let j = 2; j < n; j++) {
      if (n % j === 0) {
        return false;
      }
    }
    return true;
  }

  for (let i = 2; i < 101; i++) {
    if (!is_prime(i)) continue;
    for (let j = 2; j < 101; j++) {
      if (!is_prime(j)) continue;
      for (let k = 2; k < 101; k++) {
        if (!is_prime(k)) continue;
        if (i * j * k === a) return true;
      }
    }
  }
  return false;
}
