-- An error no one catches ends the run, from inside a function.
local function check(values)
  for i, v in ipairs(values) do
    if type(v) ~= "number" then
      error(string.format("item %d is a %s", i, type(v)))
    end
  end
end
print("checking")
check({1, 2, "three"})
print("unreachable")
