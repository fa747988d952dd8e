n = 0
i = 10
while i > 0:
    if i % 3 == 0:
        i -= 1
        continue
    n += i
    if n > 30:
        break
    i -= 1
flags = []
for j in range(4):
    flags.append(j % 2 == 0)
ok = all(flags) or any(flags)
result = None if not ok else n
print(n, i, flags, result)
