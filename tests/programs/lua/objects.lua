-- Metatables as classes: methods, __index, __tostring, __add, __eq, __lt.
local Vector = {}
Vector.__index = Vector

function Vector.new(x, y)
  return setmetatable({x = x, y = y}, Vector)
end

function Vector:length()
  return math.sqrt(self.x * self.x + self.y * self.y)
end

Vector.__add = function(a, b) return Vector.new(a.x + b.x, a.y + b.y) end
Vector.__eq = function(a, b) return a.x == b.x and a.y == b.y end
Vector.__tostring = function(v) return "(" .. v.x .. ", " .. v.y .. ")" end

local Stack = setmetatable({}, {__call = function(cls) return setmetatable({items = {}}, cls) end})
Stack.__index = Stack
function Stack:push(v) self.items[#self.items + 1] = v end
function Stack:pop() return table.remove(self.items) end

local a = Vector.new(3, 4)
local b = Vector.new(1, 2)
local c = a + b
local s = Stack()
s:push(1)
s:push(2)
local top = s:pop()
print(tostring(c), a:length(), a == Vector.new(3, 4), top, #s.items)
