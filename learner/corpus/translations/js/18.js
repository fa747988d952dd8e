// How many times a substring occurs in the string, counting overlaps.
function how_many_times(string, substring) {
  let times = 0;

  for (let i = 0; i < string.length - substring.length + 1; i++) {
    if (string.slice(i, i + substring.length) === substring) {
      times += 1;
    }
  }

  return times;
}
