-- Closures, varargs, multiple returns, recursion and tail calls.
local function counter()
  local count = 0
  return function()
    count = count + 1
    return count
  end
end
local next_id = counter()
next_id()
local second = next_id()

local function sum(...)
  local total = 0
  for _, v in ipairs({...}) do total = total + v end
  return total, select("#", ...)
end
local total, how_many = sum(1, 2, 3, 4)

local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

local function loop(n, acc)
  if n == 0 then return acc end
  return loop(n - 1, acc + n)
end

local function divmod(a, b) return a // b, a % b end
local d, m = divmod(17, 5)
print(second, total, how_many, fib(7), loop(5, 0), d, m)
