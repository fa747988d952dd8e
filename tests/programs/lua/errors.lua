-- Errors raised, caught by pcall and xpcall, and error objects.
local function risky(x)
  if x < 0 then
    error("negative: " .. x)
  end
  return math.sqrt(x)
end

local function deep(n)
  if n == 0 then
    local t = nil
    return t.field
  end
  return deep(n - 1) + 1
end

local ok1, r1 = pcall(risky, 16)
local ok2, r2 = pcall(risky, -1)
local ok3, r3 = pcall(deep, 3)
local ok4, r4 = pcall(error, {code = 42})
local ok5, r5 = xpcall(function() return 1 + {} end, function(e) return "handled: " .. e end)
local ok6, r6 = pcall(error, "plain", 0)
print(ok1, r1, ok2, r2)
print(ok3, r3)
print(ok4, type(r4), r4.code, ok5, r5, ok6, r6)
