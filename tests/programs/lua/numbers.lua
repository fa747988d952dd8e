-- Integers, floats and the operators between them.
local a, b = 7, 2
local q = a // b
local r = a % b
local f = a / b
local p = 2 ^ 10
local big = math.maxinteger
local wrapped = big + 1
local mixed = 3 + 0.5
local whole = 10 / 2
print(q, r, f, p, wrapped, mixed, whole)
print(math.floor(3.7), math.ceil(-3.2), math.abs(-4), math.max(3, 9, 1))
print(math.type(1), math.type(1.0), math.type("1"), math.tointeger(5.0))
print(1e15, 1e16, 0.1 + 0.2, -0.0, 1 / 0, -1 / 0)
print(string.format("%d %5.2f %x %g", 42, math.pi, 255, 1e20))
print(7 // 0.0, -7 // 0.0, 3 & 5, 3 | 5, 3 ~ 5, ~0, 1 << 4, 256 >> 4)
