-- How many distinct characters (regardless of case) does a string consist of.
function count_distinct_characters(string)
  local seen, count = {}, 0
  for c in string:lower():gmatch(".") do
    if not seen[c] then
      seen[c] = true
      count = count + 1
    end
  end
  return count
end
