// How many distinct characters (regardless of case) does a string consist of.
function count_distinct_characters(string) {
  return new Set(string.toLowerCase()).size;
}
