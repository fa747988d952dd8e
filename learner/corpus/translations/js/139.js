// The Brazilian factorial: n! * (n-1)! * ... * 1!
function special_factorial(n) {
  let fact_i = 1;
  let special_fact = 1;
  for (let i = 1; i < n + 1; i++) {
    fact_i *= i;
    special_fact *= fact_i;
  }
  return special_fact;
}
