// Return true if list elements are monotonically increasing or decreasing.
function monotonic(l) {
  const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const ascending = [...l].sort((a, b) => a - b);
  const descending = [...l].sort((a, b) => b - a);
  if (equal(l, ascending) || equal(l, descending)) {
    return true;
  }
  return false;
}
