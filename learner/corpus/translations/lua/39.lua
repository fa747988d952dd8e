-- Return the n-th number that is a Fibonacci number and also prime.
function prime_fib(n)
  local function is_prime(p)
    if p < 2 then
      return false
    end
    for k = 2, math.min(math.floor(math.sqrt(p)) + 1, p - 1) - 1 do
      if p % k == 0 then
        return false
      end
    end
    return true
  end
  local f = {0, 1}
  while true do
    f[#f + 1] = f[#f] + f[#f - 1]
    if is_prime(f[#f]) then
      n = n - 1
    end
    if n == 0 then
      return f[#f]
    end
  end
end
