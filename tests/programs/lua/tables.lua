-- Sequences, records, nested tables, sorting and removal.
local xs = {5, 3, 8, 1}
table.insert(xs, 9)
table.insert(xs, 1, 0)
local removed = table.remove(xs, 2)
table.sort(xs)
local desc = {4, 2, 7}
table.sort(desc, function(a, b) return a > b end)
local point = {x = 1, y = 2}
point.z = point.x + point.y
local grid = {{1, 2}, {3, 4}}
grid[2][1] = 30
local mixed = {10, 20, key = "v", [3.5] = true, [false] = 0}
local keys = {}
for k in pairs(point) do keys[#keys + 1] = k end
table.sort(keys)
local self_ref = {}
self_ref.me = self_ref
local count = 0
for _, v in ipairs(xs) do count = count + v end
print(removed, #xs, count, table.concat(xs, " "), table.concat(desc, " "), table.concat(keys))
print(table.unpack({1, 2, 3}))
