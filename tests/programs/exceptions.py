def parse(s):
    try:
        return int(s)
    except ValueError as e:
        print("bad", s)
        return -1
    finally:
        print("done", s)


def check(n):
    if n < 0:
        raise ValueError(f"negative: {n}")
    return n


a = parse("12")
b = parse("x1")
try:
    check(b)
except ValueError as err:
    msg = str(err)
print(a, b, msg)
check(-5)
