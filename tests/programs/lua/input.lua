-- Reads stdin: lines, numbers and the rest.
local first = io.read()
local n = io.read("n")
local m = io.read("*n")
local rest = io.read("a")
local lines = {}
for line in rest:gmatch("[^\n]+") do lines[#lines + 1] = line:upper() end
print(first, n, m, n + m, #lines, table.concat(lines, "|"))
print(io.read(), io.read("a"))
