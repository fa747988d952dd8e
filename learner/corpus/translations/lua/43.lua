-- True if there are two distinct elements in the list that sum to zero.
function pairs_sum_to_zero(l)
  for i, l1 in ipairs(l) do
    for j = i + 1, #l do
      if l1 + l[j] == 0 then
        return true
      end
    end
  end
  return false
end
