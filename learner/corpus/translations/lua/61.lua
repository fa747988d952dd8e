-- Return true if every opening bracket "(" has a corresponding closing bracket.
function correct_bracketing(brackets)
  local depth = 0
  for b in brackets:gmatch(".") do
    if b == "(" then
      depth = depth + 1
    else
      depth = depth - 1
    end
    if depth < 0 then
      return false
    end
  end
  return depth == 0
end
