// True if two distinct elements of the list sum to zero.
function pairs_sum_to_zero(l) {
  for (const [i, l1] of l.entries()) {
    for (let j = i + 1; j < l.length; j++) {
      if (l1 + l[j] === 0) {
        return true;
      }
    }
  }
  return false;
}
