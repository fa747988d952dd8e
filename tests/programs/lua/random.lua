-- Seeded randomness: the same seed gives the same draws.
local rolls = {}
for i = 1, 5 do
  rolls[i] = math.random(1, 6)
end
local f = math.random()
print(table.concat(rolls, " "), f < 1, math.random(100))
