// Return list with elements incremented by 1.
function incr_list(l) {
  return l.map((e) => e + 1);
}
