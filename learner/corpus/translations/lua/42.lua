-- Return list with elements incremented by 1.
function incr_list(l)
  local result = {}
  for i, e in ipairs(l) do
    result[i] = e + 1
  end
  return result
end
