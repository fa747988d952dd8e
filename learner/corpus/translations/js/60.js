// Sum the numbers from 1 to n.
function sum_to_n(n) {
  let total = 0;
  for (let i = 0; i < n + 1; i++) {
    total += i;
  }
  return total;
}
