-- Flip lowercase characters to uppercase and uppercase to lowercase.
function flip_case(string)
  local flipped = string:gsub("%a", function(c)
    if c:match("%l") then
      return c:upper()
    end
    return c:lower()
  end)
  return flipped
end
