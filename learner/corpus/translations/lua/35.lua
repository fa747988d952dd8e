-- Return maximum element in the list.
function max_element(l)
  local m = l[1]
  for _, e in ipairs(l) do
    if e > m then
      m = e
    end
  end
  return m
end
