-- The largest number smaller than n that divides n evenly.
function largest_divisor(n)
  for i = n - 1, 0, -1 do
    if n % i == 0 then
      return i
    end
  end
end
