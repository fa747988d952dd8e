// Count the vowels in a word; 'y' is a vowel only at the end of the word.
function vowels_count(s) {
  const vowels = "aeiouAEIOU";
  let n_vowels = [...s].filter((c) => vowels.includes(c)).length;
  if (s.at(-1) === "y" || s.at(-1) === "Y") {
    n_vowels += 1;
  }
  return n_vowels;
}
