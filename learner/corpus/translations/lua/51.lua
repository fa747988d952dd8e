-- Return the string without vowels.
function remove_vowels(text)
  local vowels = {a = true, e = true, i = true, o = true, u = true}
  local kept = {}
  for s in text:gmatch(".") do
    if not vowels[s:lower()] then
      kept[#kept + 1] = s
    end
  end
  return table.concat(kept)
end
