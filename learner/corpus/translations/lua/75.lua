-- True if the given number is the multiplication of 3 prime numbers.
function is_multiply_prime(a)
  local function is_prime(n)
    for j = 2, n - 1 do
      if n % j == 0 then
        return false
      end
    end
    return true
  end

  for i = 2, 100 do
    if is_prime(i) then
      for j = 2, 100 do
        if is_prime(j) then
          for k = 2, 100 do
            if is_prime(k) then
              if i * j * k == a then return true end
            end
          end
        end
      end
    end
  end
  return false
end
