// Return true if all numbers in the list l are below threshold t.
function below_threshold(l, t) {
  for (const e of l) {
    if (e >= t) {
      return false;
    }
  }
  return true;
}
