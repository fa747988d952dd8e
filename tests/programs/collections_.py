counts = {}
text = "abracadabra"
for ch in text:
    counts[ch] = counts.get(ch, 0) + 1
pairs = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
top = pairs[0]
point = (3, 4)
x, y = point
stack = [1, 2, 3]
stack.pop()
stack.insert(0, 9)
seen = {1, 2}
seen.add(3)
print(top, x * y, stack, len(seen))
