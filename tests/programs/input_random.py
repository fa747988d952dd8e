# compare: stdout (comprehensions trace differently across CPython versions)
import random

name = input("name? ")
count = int(input())
rolls = [random.randint(1, 6) for _ in range(count)]
print(name, rolls, sum(rolls))
