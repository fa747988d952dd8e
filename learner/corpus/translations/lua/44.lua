-- Change numerical base of input number x to base; return its string representation.
function change_base(x, base)
  local ret = ""
  while x > 0 do
    ret = tostring(x % base) .. ret
    x = x // base
  end
  return ret
end
