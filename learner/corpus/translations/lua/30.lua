-- Return only positive numbers in the list.
function get_positive(l)
  local result = {}
  for _, e in ipairs(l) do
    if e > 0 then
      result[#result + 1] = e
    end
  end
  return result
end
