-- Sum numbers from 0 to n.
function sum_to_n(n)
  local total = 0
  for i = 0, n do
    total = total + i
  end
  return total
end
