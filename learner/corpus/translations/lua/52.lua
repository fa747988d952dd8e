-- Return true if all numbers in the list l are below threshold t.
function below_threshold(l, t)
  for _, e in ipairs(l) do
    if e >= t then
      return false
    end
  end
  return true
end
