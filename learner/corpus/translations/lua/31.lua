-- Return true if a given number is prime, and false otherwise.
function is_prime(n)
  if n < 2 then
    return false
  end
  for k = 2, n - 2 do
    if n % k == 0 then
      return false
    end
  end
  return true
end
