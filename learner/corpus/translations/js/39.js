// prime_fib returns the n-th number that is a Fibonacci number and also prime.
function prime_fib(n) {
  function is_prime(p) {
    if (p < 2) {
      return false;
    }
    for (let k = 2; k < Math.min(Math.floor(Math.sqrt(p)) + 1, p - 1); k++) {
      if (p % k === 0) {
        return false;
      }
    }
    return true;
  }
  const f = [0, 1];
  while (true) {
    f.push(f.at(-1) + f.at(-2));
    if (is_prime(f.at(-1))) {
      n -= 1;
    }
    if (n === 0) {
      return f.at(-1);
    }
  }
}
