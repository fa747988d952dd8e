words = "the quick brown fox".split()
caps = []
for w in words:
    if len(w) > 3:
        caps.append(w.upper())
    else:
        caps.append(w[::-1])
line = "-".join(caps)
greeting = f"{line!r} has {len(line)} chars"
print(greeting)
print("héllo wörld"[1:7], "a\tb".replace("\t", " "))
