-- A string is happy if its length is at least 3 and every 3 consecutive letters are distinct.
function is_happy(s)
  if #s < 3 then
    return false
  end

  for i = 1, #s - 2 do
    if s:sub(i, i) == s:sub(i + 1, i + 1) or s:sub(i + 1, i + 1) == s:sub(i + 2, i + 2) or s:sub(i, i) == s:sub(i + 2, i + 2) then
      return false
    end
  end
  return true
end
