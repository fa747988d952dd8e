-- String methods, patterns and escapes.
local s = "Hello, World"
local lower = s:lower()
local n = #s
local sub = s:sub(1, 5)
local found = s:find("World")
local replaced, count = s:gsub("o", "0")
local words = {}
for word in s:gmatch("%a+") do
  words[#words + 1] = word
end
local csv = table.concat(words, ",")
local padded = string.format("[%-8s|%8s]", "ab", "cd")
local escaped = "tab\there\nnew \"quoted\" \\ back"
local bytes = string.char(72, 105)
local reversed = ("abc"):rep(2, "-"):reverse()
local utf = "naïve café"
print(lower, n, sub, found, replaced, count, csv, padded)
print(escaped, bytes, reversed, utf, #utf, utf8.len(utf))
print(("x=%d"):format(3), tostring(12):len(), ("  trim  "):match("^%s*(.-)%s*$"))
