-- Sorted list of the odd numbers in the Collatz sequence of n.
function get_odd_collatz(n)
  local odd_collatz
  if n % 2 == 0 then
    odd_collatz = {}
  else
    odd_collatz = {n}
  end
  while n > 1 do
    if n % 2 == 0 then
      n = n / 2
    else
      n = n * 3 + 1
    end

    if n % 2 == 1 then
      odd_collatz[#odd_collatz + 1] = math.tointeger(n)
    end
  end

  table.sort(odd_collatz)
  return odd_collatz
end
