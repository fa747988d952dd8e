-- Sorted list of all elements that have no even digit.
function unique_digits(x)
  local odd_digit_elements = {}
  for _, i in ipairs(x) do
    local all_odd = true
    for c in tostring(i):gmatch(".") do
      if tonumber(c) % 2 ~= 1 then
        all_odd = false
        break
      end
    end
    if all_odd then
      odd_digit_elements[#odd_digit_elements + 1] = i
    end
  end
  table.sort(odd_digit_elements)
  return odd_digit_elements
end
