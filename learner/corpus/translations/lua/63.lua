-- The n-th element of the fibfib sequence.
function fibfib(n)
  if n == 0 then
    return 0
  end
  if n == 1 then
    return 0
  end
  if n == 2 then
    return 1
  end
  return fibfib(n - 1) + fibfib(n - 2) + fibfib(n - 3)
end
