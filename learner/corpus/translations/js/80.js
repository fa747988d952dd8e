// A string is happy if its length is at least 3 and every 3 consecutive letters are distinct.
function is_happy(s) {
  if (s.length < 3) {
    return false;
  }

  for (let i = 0; i < s.length - 2; i++) {
    if (s[i] === s[i + 1] || s[i + 1] === s[i + 2] || s[i] === s[i + 2]) {
      return false;
    }
  }
  return true;
}
