-- The Brazilian factorial: n! * (n-1)! * ... * 1!
function special_factorial(n)
  local fact_i = 1
  local special_fact = 1
  for i = 1, n do
    fact_i = fact_i * i
    special_fact = special_fact * fact_i
  end
  return special_fact
end
