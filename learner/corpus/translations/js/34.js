// Return sorted unique elements in a list.
function unique(l) {
  return [...new Set(l)].sort((a, b) => a - b);
}
