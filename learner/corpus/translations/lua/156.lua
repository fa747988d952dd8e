-- Roman numeral of a positive integer, in lowercase.
function int_to_mini_roman(number)
  local num = {1, 4, 5, 9, 10, 40, 50, 90,
               100, 400, 500, 900, 1000}
  local sym = {"I", "IV", "V", "IX", "X", "XL",
               "L", "XC", "C", "CD", "D", "CM", "M"}
  local i = 13
  local res = ""
  while number ~= 0 do
    local div = number // num[i]
    number = number % num[i]
    while div ~= 0 do
      res = res .. sym[i]
      div = div - 1
    end
    i = i - 1
  end
  return res:lower()
end
