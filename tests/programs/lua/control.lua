-- Loops and branches: while, repeat, numeric and generic for, break, goto.
local n = 10
local evens, odds = 0, 0
for i = 1, n do
  if i % 2 == 0 then
    evens = evens + i
  elseif i == 7 then
    goto continue
  else
    odds = odds + i
  end
  ::continue::
end
local k = 0
while true do
  k = k + 3
  if k > 10 then break end
end
local m = 100
repeat
  m = m // 2
until m < 10
for i = 10, 1, -3 do
  io.write(i, " ")
end
io.write("\n")
local label = n > 5 and "big" or "small"
print(evens, odds, k, m, label)
