-- Circular shift the digits of x right by shift; reversed if shift > number of digits.
function circular_shift(x, shift)
  local s = tostring(x)
  if shift > #s then
    return s:reverse()
  else
    return s:sub(#s - shift + 1) .. s:sub(1, #s - shift)
  end
end
