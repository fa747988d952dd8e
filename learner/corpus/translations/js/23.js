// Return length of given string.
function strlen(string) {
  return string.length;
}
