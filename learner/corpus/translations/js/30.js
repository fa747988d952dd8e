// Return only positive numbers in the list.
function get_positive(l) {
  return l.filter((e) => e > 0);
}
