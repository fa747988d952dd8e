-- Return the largest prime factor of n.
function largest_prime_factor(n)
  local function is_prime(k)
    if k < 2 then
      return false
    end
    for i = 2, k - 2 do
      if k % i == 0 then
        return false
      end
    end
    return true
  end
  local largest = 1
  for j = 2, n do
    if n % j == 0 and is_prime(j) then
      largest = math.max(largest, j)
    end
  end
  return largest
end
