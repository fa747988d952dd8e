-- Number of vowels in a word; 'y' counts only at the end.
local FIX = [[
Add more test cases.
]]

function vowels_count(s)
  local vowels = "aeiouAEIOU"
  local n_vowels = 0
  for c in s:gmatch(".") do
    if vowels:find(c, 1, true) then
      n_vowels = n_vowels + 1
    end
  end
  if s:sub(-1) == "y" or s:sub(-1) == "Y" then
    n_vowels = n_vowels + 1
  end
  return n_vowels
end
