// Return maximum element in the list.
function max_element(l) {
  let m = l[0];
  for (const e of l) {
    if (e > m) {
      m = e;
    }
  }
  return m;
}
