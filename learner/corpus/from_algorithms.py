"""The `algorithms` corpus: each self-contained module as a program, each
public top-level function called with inputs from its doctests, its
annotations or blind guesses, whichever run natively.
"""

import ast
import random

from allowlist import disallowed, imported
from inputs import annotated_calls, blind_calls, call_args, doctest_calls
from probe import print_line, probe_all

INPUTS = 4              # kept inputs per `algorithms` function


def algorithms(root, allow, limit, jobs, corpus):
    """Plans, probes and writes the `algorithms` package; `corpus` collects
    the results."""
    paths = sorted(p for p in root.rglob("*.py") if p.name != "__init__.py")
    plans, requests = [], []
    for path in paths[:limit] if limit else paths:
        mod = "algorithms/" + path.relative_to(root).with_suffix("").as_posix()
        corpus.seen += 1
        plan = plan_module(mod, path.read_text(encoding="utf-8"), allow, corpus)
        if plan:
            plans.append(plan)
            requests.append({"source": plan[1], "groups": [g for _, _, g in plan[2]]})
    for (mod, source, fns), results in zip(plans, probe_all(requests, jobs, "algorithms")):
        for (name, origins, g), res in zip(fns, results):
            keep_function(corpus, f"{mod}/{name}", source, g["calls"], origins, res)


def plan_module(mod, text, allow, corpus):
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        return corpus.skip(mod, "syntax error", str(e))
    if any(level or m == "algorithms" or m.startswith("algorithms.")
           for m, level in imported(tree)):
        return corpus.skip(mod, "imports from algorithms or relatively")
    source, why = module_source(text, tree)
    for w in why:
        corpus.stripped[w].append(mod)
    bad = disallowed(ast.parse(source), allow)
    if bad:
        return corpus.skip(mod, "import outside allowlist", ", ".join(bad))
    fns = []
    for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        if fn.name.startswith("_"):
            corpus.skip(f"{mod}/{fn.name}", "private helper")
            continue
        corpus.functions += 1
        rng = random.Random(f"{mod}/{fn.name}")
        tagged = ([("doctest", a) for a in doctest_calls(fn, fn.name)]
                  + [("annotation", a) for a in annotated_calls(fn, rng)]
                  + [("probe", a) for a in blind_calls(fn)])
        calls = {}  # call text -> where it came from; the first source wins
        for origin, args in tagged:
            calls.setdefault(f"{fn.name}({call_args(args)})", origin)
        fns.append((fn.name, list(calls.values()), {"calls": list(calls), "need": INPUTS}))
    if not fns:
        return corpus.skip(mod, "no public top-level functions")
    return mod, source, fns


def module_source(source, tree):
    """The module as a program: `from __future__` lines dropped (the guest has
    no `__future__` module; annotations then evaluate eagerly, which the probe
    checks), and the `if __name__ == "__main__":` demo dropped (the guest runs
    programs as `__main__`, so the demo would run before our calls)."""
    drop, lines, why = set(), source.splitlines(keepends=True), []
    for node in tree.body:
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        main = (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and "__main__" in ast.unparse(node.test))
        if future or main:
            why.append("future" if future else "main")
            drop.update(range(node.lineno - 1, node.end_lineno))
    kept = "".join(line for i, line in enumerate(lines) if i not in drop)
    return kept.strip("\n") + "\n\n\n", why


def keep_function(corpus, fid, source, calls, origins, results):
    """Calls that return; one raising doctest example may join them."""
    picked = [c for c, r in zip(calls, results) if r["s"] == "ok"][:INPUTS]
    raising = [c for c, o, r in zip(calls, origins, results)
               if r["s"] == "raise" and o == "doctest"]
    if picked and raising and len(picked) < INPUTS:
        picked.append(raising[0])
    found = {c: (o, r) for c, o, r in zip(calls, origins, results)}
    for k, call in enumerate(c for c in calls if c in picked):
        origin, result = found[call]
        corpus.write("train", f"{fid}/{k}", source + print_line(call, result) + "\n")
        corpus.origins[origin] = corpus.origins.get(origin, 0) + 1
    if picked:
        return
    states = sorted({r["s"] for r in results})
    errors = ", ".join(sorted({r["e"] for r in results if "e" in r}))
    if states == ["module_error"]:
        corpus.skip(fid, "module raises when run", errors)
    elif states == ["raise"]:
        corpus.skip(fid, "raises on every input", errors)
    else:
        corpus.skip(fid, "no usable inputs", ", ".join(states))
