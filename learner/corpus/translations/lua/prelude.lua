-- repr(x): x written as Python's repr writes the corresponding Python value.
local TUPLE = {}

function tuple(...)
  return setmetatable({...}, TUPLE)
end

local function repr_float(x)
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" end
  if x == -math.huge then return "-inf" end
  -- shortest d.ddde+XX that reads back as x
  local s
  for p = 0, 16 do
    s = string.format("%." .. p .. "e", x)
    if tonumber(s) == x then break end
  end
  local sign, d, rest, e = s:match("^(-?)(%d)%.?(%d*)e([-+]%d+)$")
  local digits = (d .. rest):gsub("0+$", "")
  if digits == "" then digits = "0" end
  e = tonumber(e)
  if e < -4 or e >= 16 then
    local m = digits:sub(1, 1) .. (#digits > 1 and "." .. digits:sub(2) or "")
    return string.format("%s%se%s%02d", sign, m, e < 0 and "-" or "+", math.abs(e))
  elseif e < 0 then
    return sign .. "0." .. string.rep("0", -e - 1) .. digits
  elseif e + 1 >= #digits then
    return sign .. digits .. string.rep("0", e + 1 - #digits) .. ".0"
  else
    return sign .. digits:sub(1, e + 1) .. "." .. digits:sub(e + 2)
  end
end

local function repr_string(s)
  local q = (s:find("'") and not s:find('"')) and '"' or "'"
  return q .. s:gsub("[%c\\'\"]", function(c)
    if c == "\\" or c == q then return "\\" .. c end
    if c == "\n" then return "\\n" end
    if c == "\t" then return "\\t" end
    if c == "\r" then return "\\r" end
    if c:match("%c") then return string.format("\\x%02x", c:byte()) end
    return c
  end) .. q
end

function repr(x)
  local t = type(x)
  if x == nil then return "None" end
  if t == "boolean" then return x and "True" or "False" end
  if t == "number" then
    if math.type(x) == "integer" then return tostring(x) end
    return repr_float(x)
  end
  if t == "string" then return repr_string(x) end
  local items = {}
  for i = 1, #x do items[i] = repr(x[i]) end
  if getmetatable(x) == TUPLE then
    return "(" .. table.concat(items, ", ") .. (#items == 1 and ",)" or ")")
  end
  return "[" .. table.concat(items, ", ") .. "]"
end
