-- The prime numbers less than n.
function count_up_to(n)
  local primes = {}
  for i = 2, n - 1 do
    local is_prime = true
    for j = 2, i - 1 do
      if i % j == 0 then
        is_prime = false
        break
      end
    end
    if is_prime then
      primes[#primes + 1] = i
    end
  end
  return primes
end
