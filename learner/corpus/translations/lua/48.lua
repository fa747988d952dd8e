-- Checks if given string is a palindrome.
function is_palindrome(text)
  for i = 1, #text do
    if text:sub(i, i) ~= text:sub(#text + 1 - i, #text + 1 - i) then
      return false
    end
  end
  return true
end
