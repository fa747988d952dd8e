// Return the string without vowels.
function remove_vowels(text) {
  return [...text].filter((s) => !["a", "e", "i", "o", "u"].includes(s.toLowerCase())).join("");
}
