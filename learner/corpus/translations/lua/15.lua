-- Return a string of space-delimited numbers from 0 up to n inclusive.
function string_sequence(n)
  local parts = {}
  for x = 0, n do
    parts[#parts + 1] = tostring(x)
  end
  return table.concat(parts, " ")
end
