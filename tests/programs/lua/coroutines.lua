-- Coroutines run untraced; their results reach the traced code.
local function gen(n)
  return coroutine.wrap(function()
    for i = 1, n do coroutine.yield(i * i) end
  end)
end
local squares = {}
for v in gen(4) do squares[#squares + 1] = v end
local co = coroutine.create(function(a, b)
  local c = coroutine.yield(a + b)
  return c * 2
end)
local _, first = coroutine.resume(co, 1, 2)
local _, second = coroutine.resume(co, 10)
print(table.concat(squares, ","), first, second, coroutine.status(co))
