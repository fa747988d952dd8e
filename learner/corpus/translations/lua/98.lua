-- Count the uppercase vowels in even indices.
function count_upper(s)
  local count = 0
  for i = 1, #s, 2 do
    if ("AEIOU"):find(s:sub(i, i), 1, true) then
      count = count + 1
    end
  end
  return count
end
