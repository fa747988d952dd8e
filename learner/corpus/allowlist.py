"""The guest interpreter's import allowlist, read from its app.py, and the
check that a program imports only from it."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "interpreter-pool" / "guests" / "python" / "app.py"


def allowlist(app=APP):
    """The guest's importable modules: the `import X  # noqa: F401` lines at
    the top of app.py, before `import tracer`."""
    names = []
    for line in app.read_text().splitlines():
        if line.startswith("import tracer"):
            break
        m = re.match(r"import ([\w.]+)\s+# noqa: F401", line)
        if m:
            names.append(m.group(1))
    return frozenset(names)


def imported(tree):
    """(module, level) for every import statement anywhere in the tree."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((a.name, 0) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level


def disallowed(tree, allow):
    return sorted({m for m, level in imported(tree) if level or m not in allow})
