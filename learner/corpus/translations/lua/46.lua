-- The n-th element of the fib4 sequence, computed without recursion.
function fib4(n)
  local results = {0, 0, 2, 0}
  if n < 4 then
    return results[n + 1]
  end

  for _ = 4, n do
    results[#results + 1] = results[#results] + results[#results - 1] + results[#results - 2] + results[#results - 3]
    table.remove(results, 1)
  end

  return results[#results]
end
