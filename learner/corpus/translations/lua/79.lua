-- Decimal to binary string, with 'db' at the beginning and at the end.
local function bin(n)
  local digits = ""
  local m = math.abs(n)
  repeat
    digits = tostring(m % 2) .. digits
    m = m // 2
  until m == 0
  return (n < 0 and "-0b" or "0b") .. digits
end

function decimal_to_binary(decimal)
  return "db" .. bin(decimal):sub(3) .. "db"
end
