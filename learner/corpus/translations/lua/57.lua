-- Return true if list elements are monotonically increasing or decreasing.
function monotonic(l)
  local function sorted(t, reverse)
    local copy = {table.unpack(t)}
    table.sort(copy, function(a, b)
      if reverse then return a > b end
      return a < b
    end)
    return copy
  end
  local function equal(a, b)
    if #a ~= #b then
      return false
    end
    for i = 1, #a do
      if a[i] ~= b[i] then
        return false
      end
    end
    return true
  end
  if equal(l, sorted(l)) or equal(l, sorted(l, true)) then
    return true
  end
  return false
end
