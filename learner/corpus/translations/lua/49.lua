-- Return 2^n modulo p.
function modp(n, p)
  local ret = 1
  for i = 0, n - 1 do
    ret = (2 * ret) % p
  end
  return ret
end
