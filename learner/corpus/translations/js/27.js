// Flip lowercase characters to uppercase and uppercase to lowercase.
function flip_case(string) {
  return [...string]
    .map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()))
    .join("");
}
