-- How many times a substring can be found in a string, overlapping cases counted.
function how_many_times(string, substring)
  local times = 0

  for i = 1, #string - #substring + 1 do
    if string:sub(i, i + #substring - 1) == substring then
      times = times + 1
    end
  end

  return times
end
