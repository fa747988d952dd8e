-- Return sorted unique elements in a list.
function unique(l)
  local set, result = {}, {}
  for _, e in ipairs(l) do
    if not set[e] then
      set[e] = true
      result[#result + 1] = e
    end
  end
  table.sort(result)
  return result
end
