"""Inputs for a function, as argument lists [(keyword or None, source text)]:
mutated from a call that is known to run, taken from the literal calls in
tests and doctests, made from parameter annotations, or guessed blind. Every
RNG is passed in, so the caller seeds it from an id.
"""

import ast
import string

MUTATION_TRIES = 10     # mutation candidates probed per call


# ---------------------------------------------------------------- mutation

def mutate(v, rng):
    """A nearby value of the same type (lists keep their element types)."""
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v + rng.choice((-3, -2, -1, 1, 2, 3))
    if isinstance(v, float):
        return round(v + rng.uniform(-2.0, 2.0), 3)
    if isinstance(v, str):
        return mutate_str(v, rng)
    if isinstance(v, list):
        return mutate_list(v, rng)
    if isinstance(v, tuple) and v:
        i = rng.randrange(len(v))
        return v[:i] + (mutate(v[i], rng),) + v[i + 1:]
    if isinstance(v, dict) and v:
        k = rng.choice(sorted(v, key=repr))
        return {**v, k: mutate(v[k], rng)}
    return v


def mutate_str(s, rng):
    ops = ("change", "remove", "add") if s else ("add",)
    op, i = rng.choice(ops), rng.randrange(len(s) + 1)
    near = s[min(i, len(s) - 1)] if s else "a"
    alphabet = (string.digits if near.isdigit() else string.ascii_uppercase
                if near.isupper() else string.ascii_lowercase)
    c = rng.choice(sorted(set(s)) if s and rng.random() < 0.5 else alphabet)
    if op == "add":
        return s[:i] + c + s[i:]
    i = min(i, len(s) - 1)
    return s[:i] + ("" if op == "remove" else c) + s[i + 1:]


def mutate_list(xs, rng):
    if not xs:
        return []
    op = rng.choice(("element", "shuffle", "truncate") if len(xs) > 1 else ("element",))
    ys = list(xs)
    if op == "element":
        i = rng.randrange(len(ys))
        ys[i] = mutate(ys[i], rng)
    elif op == "shuffle":
        rng.shuffle(ys)
    else:
        ys = ys[:rng.randrange(len(ys))]
    return ys


def mutations(args, rng, tries=MUTATION_TRIES):
    """Argument lists differing from `args` [(keyword or None, text)] in at
    least one literal argument; the others are copied as written."""
    values = []
    for _, text in args:
        try:
            values.append((True, ast.literal_eval(text)))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            values.append((False, None))
    mutable = [i for i, (ok, _) in enumerate(values) if ok]
    seen, out = {call_args(args)}, []
    for _ in range(tries * 3 if mutable else 0):
        picked = set(rng.sample(mutable, rng.randint(1, len(mutable))))
        new = [(kw, literal(mutate(values[i][1], rng)) if i in picked else text)
               for i, (kw, text) in enumerate(args)]
        if call_args(new) not in seen:
            seen.add(call_args(new))
            out.append(new)
        if len(out) == tries:
            break
    return out


def literal(v):
    """repr, but a set's elements sorted: a set of strings otherwise prints in
    an order that changes with the build's hash seed."""
    if isinstance(v, (set, frozenset)):
        inner = ", ".join(sorted(literal(x) for x in v))
        if isinstance(v, frozenset):
            return f"frozenset({{{inner}}})" if v else "frozenset()"
        return f"{{{inner}}}" if v else "set()"
    if isinstance(v, list):
        return "[" + ", ".join(literal(x) for x in v) + "]"
    if isinstance(v, tuple):
        return "(" + ", ".join(literal(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(x)}" for k, x in v.items()) + "}"
    return repr(v)


def call_args(args):
    return ", ".join(text if kw is None else f"{kw}={text}" for kw, text in args)


# ---------------------------------------------------------------- calls in source

def literal_args(call, source, env=None):
    """The call's arguments as [(keyword or None, text)], or None when one
    refers to a name (names bound to literals in `env` are substituted)."""
    env, args = env or {}, []
    if any(k.arg is None for k in call.keywords):  # **kwargs
        return None
    for kw, node in [(None, a) for a in call.args] + [(k.arg, k.value) for k in call.keywords]:
        if isinstance(node, ast.Name) and node.id in env:
            args.append((kw, env[node.id]))
        elif any(isinstance(n, (ast.Name, ast.Starred)) for n in ast.walk(node)):
            return None
        else:
            args.append((kw, ast.get_source_segment(source, node)))
    return args


def calls_to(tree, source, name, env=None):
    """Argument lists of the calls `name(...)`, in source order, deduplicated;
    and the calls skipped for non-literal arguments."""
    found, skipped = [], []
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name) and n.func.id == name]
    for call in sorted(calls, key=lambda n: (n.lineno, n.col_offset)):
        args = literal_args(call, source, env)
        if args is None:
            skipped.append(ast.get_source_segment(source, call))
        elif args not in found:
            found.append(args)
    return found, skipped


# ---------------------------------------------------------------- doctests

def doctest_calls(fn, name):
    """Literal argument lists of `name(...)` in the `>>>` examples of fn's
    docstring; `>>> x = <literal>` lines bind names for later examples."""
    doc, env, found = ast.get_docstring(fn) or "", {}, []
    examples, current = [], None
    for line in doc.splitlines():
        s = line.strip()
        if s.startswith(">>> "):
            current = [s[4:]]
            examples.append(current)
        elif s.startswith("...") and current is not None:
            current.append(s[4:])
        else:
            current = None
    for text in ("\n".join(e) for e in examples):
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        stmt = tree.body[0] if len(tree.body) == 1 else None
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and not any(isinstance(n, ast.Name) for n in ast.walk(stmt.value))):
            env[stmt.targets[0].id] = ast.get_source_segment(text, stmt.value)
            continue
        for args in calls_to(tree, text, name, env)[0]:
            if args not in found:
                found.append(args)
    return found


# ---------------------------------------------------------------- annotations

class Unsupported(Exception):
    pass


SEQUENCES = {"list", "List", "Sequence", "MutableSequence", "Iterable", "Collection"}


def value_for(ann, rng, depth=0):
    """A small random value of the annotated type."""
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        return value_for(ast.parse(ann.value, mode="eval").body, rng, depth)
    if isinstance(ann, ast.Constant) and ann.value is None:
        return None
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
        side = ann.right if is_none(ann.left) else ann.left
        return value_for(side, rng, depth)
    name = ann.attr if isinstance(ann, ast.Attribute) else getattr(ann, "id", None)
    if isinstance(ann, ast.Subscript):
        base = ann.value
        name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
        items = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
        return generic(name, items, rng, depth)
    scalars = {"int": lambda: rng.randint(0, 12), "bool": lambda: rng.random() < 0.5,
               "float": lambda: round(rng.uniform(-10, 10), 2), "str": lambda: word(rng)}
    if name in scalars:
        return scalars[name]()
    if name in SEQUENCES | {"dict", "Dict", "tuple", "Tuple", "set", "Set"}:
        return generic(name, [ast.Name("int")] * (2 if name in ("dict", "Dict") else 1),
                       rng, depth)
    raise Unsupported(ast.unparse(ann))


def generic(name, items, rng, depth):
    if depth > 2:
        raise Unsupported(name)
    n = rng.randint(1, 6) if depth == 0 else rng.randint(1, 3)
    if name in ("Optional", "Union"):
        return value_for(next(i for i in items if not is_none(i)), rng, depth)
    if name in SEQUENCES:
        return [value_for(items[0], rng, depth + 1) for _ in range(n)]
    if name in ("set", "Set", "frozenset", "FrozenSet"):
        return {value_for(items[0], rng, depth + 1) for _ in range(n)}
    if name in ("dict", "Dict", "Mapping") and len(items) == 2:
        return {value_for(items[0], rng, depth + 1): value_for(items[1], rng, depth + 1)
                for _ in range(n)}
    if name in ("tuple", "Tuple"):
        if len(items) == 2 and isinstance(items[1], ast.Constant) and items[1].value is ...:
            return tuple(value_for(items[0], rng, depth + 1) for _ in range(n))
        return tuple(value_for(i, rng, depth + 1) for i in items)
    raise Unsupported(name)


def is_none(node):
    return isinstance(node, ast.Constant) and node.value is None


def word(rng):
    return "".join(rng.choice("abcde" if rng.random() < 0.5 else string.ascii_lowercase)
                   for _ in range(rng.randint(1, 7)))


def required(fn):
    """Required parameters as [(keyword or None, annotation)]."""
    a = fn.args
    positional = a.posonlyargs + a.args
    pos = positional[:len(positional) - len(a.defaults)]
    kw = [p for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is None]
    return [(None, p.annotation) for p in pos] + [(p.arg, p.annotation) for p in kw]


def annotated_calls(fn, rng, tries=6):
    params = required(fn)
    if not params or any(ann is None for _, ann in params):
        return []
    out = []
    for _ in range(tries):
        try:
            args = [(kw, literal(value_for(ann, rng))) for kw, ann in params]
        except (Unsupported, StopIteration, SyntaxError, TypeError):
            return []
        if args not in out:
            out.append(args)
    return out


# ---------------------------------------------------------------- blind guesses

BLIND = {"int": (3, 5, 0, 10), "list": ([3, 1, 2], [1, 3, 5, 7, 9], [5, 2, 8, 1, 9, 3], []),
         "str": ("abc", "hello", "a", "abba")}


def blind_calls(fn):
    """A handful of guesses: small ints, short lists of ints, short strings."""
    params = required(fn)
    if not params:
        return [[]]
    n, out = len(params), []
    shapes = [("int",) * n, ("list",) * n, ("str",) * n,
              ("list",) + ("int",) * (n - 1), ("str",) + ("int",) * (n - 1)]
    for shape in dict.fromkeys(shapes):
        for v in (0, 1):
            args = [(kw, repr(BLIND[k][(v + i) % 4])) for i, ((kw, _), k) in
                    enumerate(zip(params, shape))]
            if args not in out:
                out.append(args)
    return out
