-- Program functions called back from the library: gsub, sort, string.rep.
local function shout(word)
  return word:upper() .. "!"
end
local loud = ("hi there"):gsub("%a+", shout)
local people = {{name = "bo", age = 30}, {name = "al", age = 25}, {name = "cy", age = 35}}
table.sort(people, function(a, b) return a.age < b.age end)
local names = {}
for i, p in ipairs(people) do names[i] = p.name end
print(loud, table.concat(names, " "))
