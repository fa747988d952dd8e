#!/usr/bin/env python3
"""Prints the experiments in this folder as Markdown tables.

    python3 experiments/render.py           every experiment
    python3 experiments/render.py NAME      one (NAME.json; the name alone)

Each NAME.json is one object:

- title, about: what was measured and how to read it;
- command, date, machine (optional): shared by every record, where they are;
- table: the columns, each {"header": ..., "field": ...} and optionally a
  "format" for its numbers (".3f", or "," for 12 528); a field is a key of a record, or a
  dotted path into it (delta_exact_by_type.int);
- records: the measurements. Each holds the command that produced it and
  the date it was recorded unless the file holds them for all. Numbers are
  numbers; a [rate, count] pair (as `curio eval --json` writes them) shows
  as "rate (count)", a [low, high] pair under a header ending in "range"
  as "low–high", null as an empty cell.

Anything else a file or a record holds is printed below its table. Standard
library only.
"""

import json
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = ("title", "about", "table", "records")
# Where every record has them, they are provenance: in the JSON, not the table.
QUIET = ("command", "commit")


def lookup(record, field):
    value = record
    for key in field.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def number(v, fmt=""):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if fmt == ",":
        # 12 528, as the prose writes large counts.
        return format(v, ",").replace(",", " ")
    if isinstance(v, int) or not fmt:
        return repr(v)
    return format(v, fmt)


def cell(v, col=None):
    col = col or {}
    fmt, header = col.get("format", ""), col.get("header", "")
    if v is None:
        return ""
    if isinstance(v, list) and len(v) == 2 and header.endswith("range"):
        return f"{number(v[0], fmt)}–{number(v[1], fmt)}"
    if isinstance(v, list) and len(v) == 2 and isinstance(v[0], float) and (v[1] is None or type(v[1]) is int):
        return number(v[0], fmt) if v[1] is None else f"{number(v[0], fmt)} ({v[1]})"
    if isinstance(v, list):
        return ", ".join(cell(x, col) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {cell(x, col)}" for k, x in v.items())
    return number(v, fmt).replace("|", "\\|")


def used(table):
    """Top-level keys and dotted paths the table shows."""
    return {c["field"] for c in table}


def rest(record, shown, prefix=""):
    """(path, value) of everything in `record` the table does not show."""
    for key, value in record.items():
        path = prefix + key
        if path in shown or key in QUIET:
            continue
        if isinstance(value, dict) and any(p.startswith(path + ".") for p in shown):
            yield from rest(value, shown, path + ".")
        else:
            yield path, value


def render(name, exp):
    out = [f"## {exp['title']}", "", exp["about"], ""]
    for key, value in exp.items():
        if key not in SHARED:
            out.append(f"- {key}: {cell(value) if not isinstance(value, str) else value}")
    if len(out) > 4:
        out.append("")
    table, shown = exp["table"], used(exp["table"])
    out.append("| # | " + " | ".join(c["header"] for c in table) + " |")
    out.append("|---|" + "---|" * len(table))
    extras = []
    for i, r in enumerate(exp["records"]):
        out.append(f"| {i} | " + " | ".join(cell(lookup(r, c["field"]), c) for c in table) + " |")
        more = [f"{p}: {v}" if isinstance(v, str) else f"{p}: {cell(v)}" for p, v in rest(r, shown)]
        if more:
            extras.append(f"- {i}: " + "; ".join(more))
    if extras:
        out += ["", *extras]
    return "\n".join(out) + "\n"


def main(argv):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` is not an error
    names = [a.removesuffix(".json") for a in argv[1:]] or sorted(p.stem for p in HERE.glob("*.json"))
    for n, name in enumerate(names):
        path = HERE / f"{name}.json"
        if not path.exists():
            known = ", ".join(sorted(p.stem for p in HERE.glob("*.json")))
            sys.exit(f"no experiment {name!r} in {HERE}; there are: {known}")
        if n:
            print()
        print(render(name, json.loads(path.read_text())), end="")


if __name__ == "__main__":
    main(sys.argv)
