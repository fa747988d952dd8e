-- True if the string length is a prime number.
function prime_length(string)
  local l = #string
  if l == 0 or l == 1 then
    return false
  end
  for i = 2, l - 1 do
    if l % i == 0 then
      return false
    end
  end
  return true
end
