#!/usr/bin/env python3
"""Translations of part of the real corpus into Lua and JavaScript, so the
model sees the same computation in several syntaxes.

    python3 learner/corpus/translate.py build --corpus data/corpus
    python3 learner/corpus/translate.py check --language lua [--tasks 23,24]

translations/<language>/<task>.<ext> holds a hand translation of HumanEval
task <task>'s function(s), under the Python entry point's name, and
prelude.<ext> a `repr` that prints values as Python's `repr` does.
Every corpus entry of a translated task (its calls and their mutations)
becomes a program: the prelude, the task's functions and a driver line that
calls the entry point on the Python call's arguments, written as the
language's literals. So each translated program prints exactly what its
Python original prints, which `check` verifies in the sandbox and the
project's tests assert.

`build` writes, beside the corpus it reads, <language>-real.jsonl (the
translations of held-out real-suite entries: never trained on) and
<language>-train.jsonl (of training entries), JSON Lines of
{"id", "language", "source", "input"}. translations/<language>/skip.txt
lists entries that cannot print what Python prints (one `<id> <reason>` a
line); they and calls whose arguments have no literal in the language are
left out and counted.
"""

import argparse
import ast
import json
import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRANSLATIONS = HERE / "translations"
EXTENSIONS = {"lua": "lua", "js": "js"}
PRINTS = {"lua": "print(repr({call}))", "js": "console.log(repr({call}));"}


class Unsupported(Exception):
    """A Python value with no literal in the target language."""


def quoted(s, language):
    if language == "js":
        return json.dumps(s, ensure_ascii=False)
    out = []
    for ch in s:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\{ord(ch):03d}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def literal(value, language):
    """`value` written as a literal of `language` (raises Unsupported)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        if language == "lua":
            # A nil argument or element does not survive in Lua: it ends
            # the argument list's or table's sequence.
            raise Unsupported("None")
        return "null"
    if isinstance(value, int):
        if language == "js" and abs(value) > 2**53:
            raise Unsupported("an integer beyond 2^53")
        if language == "lua" and not -(2**63) <= value < 2**63:
            raise Unsupported("an integer beyond 64 bits")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unsupported("a float that is not finite")
        return repr(value)
    if isinstance(value, str):
        return quoted(value, language)
    if isinstance(value, (list, tuple)):
        items = ", ".join(literal(v, language) for v in value)
        return "{" + items + "}" if language == "lua" else "[" + items + "]"
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise Unsupported("a dict with keys that are not strings")
        if language == "lua":
            items = ", ".join(f"[{quoted(k, 'lua')}] = {literal(v, 'lua')}" for k, v in value.items())
        else:
            items = ", ".join(f"{quoted(k, 'js')}: {literal(v, 'js')}" for k, v in value.items())
        return "{" + items + "}"
    raise Unsupported(type(value).__name__)


def call_of(source):
    """The entry point and arguments of a corpus program's last statement,
    `print(repr(ENTRY(ARGS)))`, or None when it has another shape."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return None
    outer = tree.body[-1].value
    shape = (isinstance(outer, ast.Call) and isinstance(outer.func, ast.Name) and outer.func.id == "print"
             and len(outer.args) == 1 and not outer.keywords)
    if not shape:
        return None
    inner = outer.args[0]
    if not (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == "repr"
            and len(inner.args) == 1):
        return None
    call = inner.args[0]
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and not call.keywords):
        return None
    try:
        return call.func.id, [constant(a) for a in call.args]
    except (ValueError, TypeError, ArithmeticError):
        return None


# Arguments may be small expressions of literals, such as `5 * 17`.
CONSTANT_NODES = (ast.Expression, ast.Constant, ast.BinOp, ast.UnaryOp, ast.List, ast.Tuple, ast.Dict,
                  ast.Set, ast.Load, ast.operator, ast.unaryop)


def constant(node):
    """The value of an argument made of literals and operators only."""
    tree = ast.Expression(node)
    if not all(isinstance(n, CONSTANT_NODES) for n in ast.walk(tree)):
        raise ValueError("not a constant expression")
    if any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) for n in ast.walk(tree)):
        raise ValueError("no powers: they can be huge")
    return eval(compile(tree, "<argument>", "eval"), {"__builtins__": {}}, {})


def task_of(pid):
    parts = pid.split("/")
    return int(parts[1]) if len(parts) >= 3 and parts[0] == "humaneval" and parts[1].isdigit() else None


def skips(language, root=TRANSLATIONS):
    path = root / language / "skip.txt"
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            pid, _, reason = line.partition(" ")
            out[pid] = reason.strip()
    return out


def translated(corpus, language, tasks=None, root=TRANSLATIONS):
    """(split, entry, program) for every corpus entry of a translated task,
    and what was left out as (id, reason)."""
    folder = root / language
    ext = EXTENSIONS[language]
    prelude = (folder / f"prelude.{ext}").read_text()
    skipped = skips(language, root)
    out, left = [], []
    for split in ("real", "train"):
        for line in (corpus / f"{split}.jsonl").read_text().splitlines():
            entry = json.loads(line)
            task = task_of(entry["id"])
            if task is None or (tasks is not None and task not in tasks):
                continue
            path = folder / f"{task}.{ext}"
            if not path.exists():
                continue
            if entry["id"] in skipped:
                left.append((entry["id"], skipped[entry["id"]]))
                continue
            call = call_of(entry["source"])
            if call is None:
                left.append((entry["id"], "its last statement is not print(repr(ENTRY(literals)))"))
                continue
            name, args = call
            try:
                written = ", ".join(literal(a, language) for a in args)
            except Unsupported as e:
                left.append((entry["id"], f"no {language} literal for {e}"))
                continue
            driver = PRINTS[language].format(call=f"{name}({written})")
            program = prelude.rstrip("\n") + "\n\n" + path.read_text().rstrip("\n") + "\n\n" + driver + "\n"
            out.append((split, entry, program))
    return out, left


def build(corpus, root=TRANSLATIONS):
    """Writes <language>-{real,train}.jsonl beside the corpus; returns counts."""
    counts = {}
    for language in EXTENSIONS:
        if not (root / language).is_dir():
            continue
        programs, left = translated(corpus, language, root=root)
        for split in ("real", "train"):
            rows = [{"id": e["id"], "language": language, "source": p, "input": e.get("input", "")}
                    for s, e, p in programs if s == split]
            with open(corpus / f"{language}-{split}.jsonl", "w") as f:
                for row in rows:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
            counts[f"{language}-{split}"] = len(rows)
        counts[f"{language}-left-out"] = len(left)
    return counts


def run(curio, language, source, stdin=""):
    done = subprocess.run([curio, "trace", "--language", language, "--json", "--input", stdin, "-"],
                          input=source, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return None, done.stderr.strip()
    report = json.loads(done.stdout)
    return report.get("stdout"), report.get("status")


def check(corpus, language, tasks, curio):
    programs, left = translated(corpus, language, tasks)

    def compare(item):
        _, entry, program = item
        want, want_status = run(curio, "python", entry["source"], entry.get("input", ""))
        got, got_status = run(curio, language, program, entry.get("input", ""))
        return entry["id"], want, got, want_status, got_status, program

    bad = 0
    with ThreadPoolExecutor(2) as pool:
        for pid, want, got, ws, gs, program in pool.map(compare, programs):
            if want != got or gs != "ok":
                bad += 1
                print(f"--- {pid}: python {ws} printed {want!r}; {language} {gs} printed {got!r}")
    for pid, reason in left:
        print(f"left out {pid}: {reason}")
    print(f"{len(programs) - bad} of {len(programs)} {language} programs print what Python prints; "
          f"{bad} differ; {len(left)} left out")
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write <language>-{real,train}.jsonl beside the corpus")
    b.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    c = sub.add_parser("check", help="run translations and their originals in the sandbox and compare")
    c.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    c.add_argument("--language", choices=sorted(EXTENSIONS), required=True)
    c.add_argument("--tasks", help="comma-separated task numbers (default: every translated task)")
    c.add_argument("--curio", default="bin/curio", help="the curio binary (default: bin/curio)")
    a = ap.parse_args(argv)
    for name in ("real.jsonl", "train.jsonl"):
        if not (a.corpus / name).exists():
            sys.exit(f"translate.py: no {a.corpus / name}: run `make corpus` first")
    if a.command == "build":
        print(json.dumps(build(a.corpus)))
        return
    tasks = {int(t) for t in a.tasks.split(",")} if a.tasks else None
    sys.exit(1 if check(a.corpus, a.language, tasks, a.curio) else 0)


if __name__ == "__main__":
    main()
