-- Return a greatest common divisor of two integers a and b.
function greatest_common_divisor(a, b)
  while b ~= 0 do
    a, b = b, a % b
  end
  return a
end
