// Sorted list of all elements that have no even digit.
function unique_digits(x) {
  const odd_digit_elements = [];
  for (const i of x) {
    if ([...String(i)].every((c) => parseInt(c, 10) % 2 === 1)) {
      odd_digit_elements.push(i);
    }
  }
  return odd_digit_elements.sort((a, b) => a - b);
}
