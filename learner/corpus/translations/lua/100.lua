-- A pile of n levels of stones: n, then the next odd/even numbers.
function make_a_pile(n)
  local pile = {}
  for i = 0, n - 1 do
    pile[#pile + 1] = n + 2 * i
  end
  return pile
end
