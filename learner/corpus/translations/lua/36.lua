-- Count the digit 7 in integers less than n which are divisible by 11 or 13.
function fizz_buzz(n)
  local ns = {}
  for i = 0, n - 1 do
    if i % 11 == 0 or i % 13 == 0 then
      ns[#ns + 1] = i
    end
  end
  local s = table.concat(ns)
  local ans = 0
  for c in s:gmatch(".") do
    if c == "7" then
      ans = ans + 1
    end
  end
  return ans
end
