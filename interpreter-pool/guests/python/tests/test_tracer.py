"""The tracer under this machine's python3, as native.py runs it: reprs cost
what they show, hostile programs cannot break the protocol or silence the
trace unnoticed, and the machine looks up no name a program could rebind.

Run from the repository root:
    .venv/bin/python -m unittest discover -s interpreter-pool/guests/python/tests -v
"""

import collections
import dis
import json
import os
import random
import subprocess
import sys
import time
import types
import unittest

GUEST = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, GUEST)
import tracer  # noqa: E402

CAP = 200
CUT = "\u2026"
CUT_BYTES = len(CUT.encode())
EVENTS = {"call", "line", "return", "exception"}


def of(v, cap=CAP):
    return tracer._of(v, cap)


def native(request):
    """native.py's answer to one request, in a fresh interpreter (hostile
    programs change the one they run in)."""
    out = subprocess.run([sys.executable, os.path.join(GUEST, "native.py")], input=json.dumps(request),
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError("native.py failed:\n" + out.stderr)
    return json.loads(out.stdout)


def trace(source, cap=CAP, input_text=""):
    answer = native({"mode": "trace", "source": source, "input": input_text, "seed": 0, "repr_cap": cap})
    return answer["events"], answer["summary"]


def capped(text, cap):
    return len(text.encode("utf-8")) <= cap + CUT_BYTES


class Counting:
    """An element that counts how often the tracer renders it."""
    calls = 0

    def __repr__(self):
        Counting.calls += 1
        return "c"


def random_value(rng, depth=0):
    kinds = ["int", "str", "bytes", "none", "float"] + (["list", "tuple", "dict", "set"] if depth < 3 else [])
    kind = rng.choice(kinds)
    n = rng.randrange(0, 8)
    if kind == "int":
        return rng.randrange(-10 ** rng.randrange(1, 30), 10 ** 6)
    if kind == "str":
        return "".join(rng.choice("ab'\"\\\n\u00e9\u2603\U0001f3b2") for _ in range(rng.randrange(0, 40)))
    if kind == "bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
    if kind == "none":
        return None
    if kind == "float":
        return rng.random() * 1e6
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(n)]
    if kind == "tuple":
        return tuple(random_value(rng, depth + 1) for _ in range(n))
    if kind == "set":
        return {rng.randrange(100) for _ in range(n)}
    return {rng.randrange(100): random_value(rng, depth + 1) for _ in range(n)}


class ReprTest(unittest.TestCase):
    def test_builtin_values_render_exactly_as_repr_when_they_fit(self):
        rng = random.Random(7)
        for _ in range(3000):
            v = random_value(rng)
            cap = rng.choice([0, 1, 5, 20, 60, 200, 1000])
            shown, full = of(v, cap), repr(v)
            self.assertTrue(capped(shown, cap), (shown, cap))
            if len(full.encode()) <= cap:
                self.assertEqual(shown, full)
            else:
                self.assertTrue(shown.endswith(CUT), (shown, full, cap))

    def test_collections_and_subclasses_render_as_cpython_314_prints_them(self):
        class S(set):
            pass

        class FS(frozenset):
            pass

        class BA(bytearray):
            pass

        class DQ(collections.deque):
            pass

        class DD(collections.defaultdict):
            pass

        class C(collections.Counter):
            pass

        class OD(collections.OrderedDict):
            pass

        point = collections.namedtuple("Point", "x y")
        od = collections.OrderedDict([("b", 1), ("a", 2)])
        od.move_to_end("b")
        cases = [
            (S(), "S()"), (S([1]), "S({1})"), (FS(), "FS()"), (FS([1]), "FS({1})"),
            (BA(b"a"), "BA(b'a')"), (type("B", (bytes,), {})(b"a"), "b'a'"),
            (type("T", (str,), {})("a"), "'a'"), (type("L", (list,), {})([1]), "[1]"),
            (type("D", (dict,), {})(a=1), "{'a': 1}"), (type("Tu", (tuple,), {})((1,)), "(1,)"),
            (DQ([1]), "DQ([1])"), (DQ([1], 2), "DQ([1], maxlen=2)"), (collections.deque(), "deque([])"),
            (DD(int), "DD(<class 'int'>, {})"), (DD(None, {1: 2}), "DD(None, {1: 2})"),
            (collections.defaultdict(list, a=[1]), "defaultdict(<class 'list'>, {'a': [1]})"),
            (collections.Counter("abbccc"), "Counter({'c': 3, 'b': 2, 'a': 1})"), (C(), "C()"),
            (collections.Counter({"x": 1.5, "y": "no"}), "Counter({'x': 1.5, 'y': 'no'})"),
            (od, "OrderedDict({'a': 2, 'b': 1})"), (OD(), "OD()"), (point(1, 2), "Point(x=1, y=2)"),
            ({1: 2}.keys(), "dict_keys([1])"), ({1: 2}.items(), "dict_items([(1, 2)])"),
            (od.values(), "odict_values([2, 1])"), (sys.version_info, repr(sys.version_info)),
        ]
        for v, expected in cases:
            self.assertEqual(of(v, 1000), expected)
            if not isinstance(v, collections.OrderedDict) or sys.version_info >= (3, 12):
                self.assertEqual(expected, repr(v), "the expectation is CPython's own")

    def test_recursive_containers_render_as_repr(self):
        xs = [1]
        xs.append(xs)
        d = {1: 2}
        d[3] = d
        dq = collections.deque([1])
        dq.append(dq)
        dd = collections.defaultdict(list)
        dd["x"] = dd
        od = collections.OrderedDict(a=1)
        od["me"] = od
        for v in (xs, d, dq, dd):
            self.assertEqual(of(v, 1000), repr(v))
        self.assertEqual(of(od, 1000), "OrderedDict({'a': 1, 'me': ...})")

    def test_a_subclass_renders_like_its_base_without_calling_its_repr(self):
        class Loud(list):
            def __repr__(self):
                raise AssertionError("called")

        self.assertEqual(of(Loud([1, 2])), "[1, 2]")

    def test_failing_reprs_are_reported_not_raised(self):
        class Bad:
            def __repr__(self):
                raise ValueError("no")

        class NotStr:
            def __repr__(self):
                return 3

        class Weird(str):
            pass

        class WeirdRepr:
            def __repr__(self):
                return Weird("w")

        self.assertEqual(of(Bad()), "<repr failed: ValueError>")
        self.assertEqual(of([NotStr()]), "[<repr failed: TypeError>]")
        self.assertEqual(of(WeirdRepr()), "<repr failed: not a str>")

    def test_work_is_bounded_by_the_cap_not_the_size(self):
        many = [Counting() for _ in range(100_000)]
        values = [
            many, tuple(many), collections.deque(many), dict.fromkeys(range(100_000), Counting()),
            collections.OrderedDict.fromkeys(range(100_000), Counting()),
            collections.defaultdict(int, dict.fromkeys(range(100_000), Counting())),
            type("L", (list,), {})(many), {i: many for i in range(1000)}, [many] * 1000,
        ]
        for v in values:
            Counting.calls = 0
            shown = of(v)
            self.assertTrue(capped(shown, CAP) and shown.endswith(CUT), shown)
            self.assertLessEqual(Counting.calls, CAP, type(v).__name__)

    def test_a_long_key_leaves_its_value_no_budget(self):
        Counting.calls = 0
        shown = of({"k" * 300: Counting()})
        self.assertEqual(Counting.calls, 0)
        self.assertTrue(capped(shown, CAP) and shown.endswith(CUT))
        started = time.perf_counter()
        for _ in range(100):
            shown = of({"k" * 300: b"x" * (8 << 20)})
        self.assertLess(time.perf_counter() - started, 0.5, "each repr is cheap")

    def test_huge_strings_and_counters_are_cut_cheaply(self):
        class Text(str):
            pass

        values = [Text("x" * 10 ** 7), type("B", (bytearray,), {})(10 ** 7), "\x00" * 10 ** 7,
                  collections.Counter(range(200_000)), set(range(200_000)), frozenset(range(200_000))]
        started = time.perf_counter()
        for v in values:
            for _ in range(20):
                shown = of(v)
            self.assertTrue(capped(shown, CAP) and shown.endswith(CUT), shown[:80])
        self.assertLess(time.perf_counter() - started, 0.5)
        self.assertTrue(of(values[3]).startswith("Counter({0: 1, 1: 1, 2: 1"))


def depth_rule(test, events):
    """The host's depth rule: a call goes one deeper, a return one back."""
    depth = 0
    for e in events:
        expected = depth + 1 if e[0] == "call" else depth
        test.assertEqual(e[3], expected, e)
        depth = expected - 1 if e[0] == "return" else expected


# Hostile programs the tracer contains: source -> the exception the program gets.
CONTAINED = {
    "from wit_world.imports import host\n"
    "host.emit('[\"line\", 1, \"<module>\", 4000000000, [], \"\", null]')\n": "ModuleNotFoundError",
    "import tracer\ntracer._error = lambda e, cap: {'type': 'X', 'message': '', 'line': 4294967295}\n1/0\n":
        "ModuleNotFoundError",
    "import componentize_py_runtime\n": "ModuleNotFoundError",
    "import importlib\nimportlib.import_module('componentize_py_runtime')\n": "ModuleNotFoundError",
    "__package__ = 'wit_world'\nfrom . import imports\n": "ModuleNotFoundError",
    "import sys\nsys.gettrace().__self__.emit = lambda e: True\nx = 1\n": "AttributeError",
    "import sys\nsys.settrace(None)\n": "RuntimeError",
    "import sys\nsys.setprofile(print)\n": "RuntimeError",
    "import sys\nsys.settrace(print)\n": "RuntimeError",
}
if hasattr(sys, "_settraceallthreads"):
    CONTAINED["import sys\nsys._settraceallthreads(None)\n"] = "RuntimeError"

# Hostile programs the tracer reports: source -> words of the "tampered" reason.
REPORTED = {
    "import sys\nt = sys.gettrace()\nfor c in t.__closure__:\n"
    "    if getattr(c.cell_contents, '__name__', '') == 'record':\n"
    "        c.cell_contents = lambda *a: None\nx = 1\ny = 2\n": "replaced",
    "import sys\nf = sys.gettrace()\nfor c in f.__closure__:\n    if isinstance(c.cell_contents, list):\n"
    "        c.cell_contents = [0, True]\nx = 1\n": "replaced",
    "import sys\nsys._getframe().f_trace = None\nx = 1\n": "missing",
    "import sys\nsys.gettrace()(sys._getframe(), 'call', None)\nx = 1\n": "missing",
    "import sys\ndel sys.modules['sys']\nimport sys\nsys.settrace(None)\n": "create sys again",
    "import sys\nsys.settrace = print\n": "settrace was replaced",
    "len.__self__.BaseException = KeyError\n1/0\n": "the tracer itself failed",
    "import sys\nsys._getframe(1).f_globals['BaseException'] = KeyError\n1/0\n": "the tracer itself failed",
    "import gc\nfor o in gc.get_objects():\n    if type(o) is type(len) and o.__name__ == 'settrace':\n"
    "        o(lambda *a: None)\nx = 1\n": "trace function replaced",
}

# Ordinary programs near the edges the checks look at: never reported.
ORDINARY = [
    "def f(n):\n    return f(n + 1)\ntry:\n    f(0)\nexcept RecursionError:\n    print('deep')\n",
    "import copy\nx = []\nfor _ in range(2000):\n    x = [x]\n"
    "try:\n    copy.deepcopy(x)\nexcept RecursionError:\n    print('deep')\nx = None\n",
    "def g():\n    yield 1\n    yield 2\nit = g()\nnext(it)\nys = [i * i for i in range(3)]\n",
    "import sys\nsys.exit(0)\n",
    "class A:\n    x = 1\n    def m(self):\n        return self.x\nA().m()\n",
    "g = globals()\ng[1] = 2\ng[''] = 3\ng['\\ud800'] = 4\nx = 5\n",
    "\n".join("v%d = %d" % (i, i) for i in range(2000)) + "\n",
    "name = input('who? ')\nprint('hi', name)\n",
    "import io, sys\nold = sys.stdout\nsys.stdout = io.StringIO()\nprint('x')\nsys.stdout = old\n",
    "raise ValueError('bad')\n",
    "class Meta(type):\n    @classmethod\n    def __prepare__(m, name, bases):\n        return Odd()\n"
    "class Odd(dict):\n    def items(self):\n        raise KeyError('no')\n"
    "class C(metaclass=Meta):\n    a = 1\n    b = 2\nx = 3\n",
]


class ProtocolTest(unittest.TestCase):
    def assert_protocol(self, source, events, summary, cap=CAP):
        lines = max(1, source.count("\n") + (not source.endswith("\n")))
        for e in events:
            self.assertEqual(len(e), 7, e)
            event, line, function, _depth, locals_, stdout, value = e
            self.assertIn(event, EVENTS)
            self.assertTrue(type(line) is int and 1 <= line <= lines, e)
            self.assertIs(type(function), str)
            self.assertIs(type(stdout), str)
            # A return or exception value is None only once the trace is full.
            self.assertTrue(value is None or event not in ("call", "line") and capped(value, cap), e)
            for name, shown in locals_ or ():
                self.assertTrue(name and capped(name, tracer.MAX_NAME_BYTES) and capped(shown, cap), e)
            self.assertLessEqual(len(locals_ or ()), tracer.MAX_LOCALS)
        self.assertLessEqual(set(summary), {"status", "error", "stdout", "tampered"})
        self.assertIn(summary["status"], ("ok", "exception", "invalid_program"))
        if summary["error"] is not None and summary["error"]["line"] is not None:
            self.assertTrue(1 <= summary["error"]["line"] <= lines + 1)

    def run_checked(self, source):
        events, summary = trace(source)
        self.assert_protocol(source, events, summary)
        if "tampered" not in summary:
            depth_rule(self, events)
        return events, summary

    def test_hostile_programs_are_contained_or_reported(self):
        for source, kind in CONTAINED.items():
            with self.subTest(source=source):
                events, summary = self.run_checked(source)
                self.assertEqual((summary["status"], summary["error"]["type"]), ("exception", kind))
                self.assertNotIn("tampered", summary)
                self.assertEqual(events[-1][0], "return", "the trace went on to the end")

        for source, words in REPORTED.items():
            with self.subTest(source=source):
                _events, summary = self.run_checked(source)
                self.assertIn(words, summary.get("tampered", ""), summary)

    def test_a_tampered_run_keeps_the_status_it_would_have(self):
        _events, summary = self.run_checked("import sys\nsys.settrace = print\n1/0\n")
        self.assertEqual((summary["status"], summary["error"]["type"]), ("exception", "ZeroDivisionError"))
        self.assertEqual(summary["tampered"], "settrace was replaced")

    def test_replacing_json_or_builtins_changes_nothing_for_the_trace(self):
        source = ("import json\njson.dumps = lambda *a, **k: 'x'\njson.loads = lambda *a, **k: 1\n"
                  "import json.encoder\njson.encoder.c_make_encoder = None\n"
                  "import builtins\nbuiltins.print = lambda *a, **k: None\nbuiltins.len = None\n"
                  "print('hidden')\n"
                  "x = [1, 2]\ny = {'a': x}\n")
        events, summary = self.run_checked(source)
        self.assertEqual(summary, {"status": "ok", "error": None, "stdout": ""})
        self.assertEqual(events[-1][4][-1], ["y", "{'a': [1, 2]}"])

    def test_ordinary_programs_are_not_reported(self):
        for source in ORDINARY:
            with self.subTest(source=source[:60]):
                events, summary = self.run_checked(source)
                self.assertNotIn("tampered", summary)
                self.assertTrue(events)

    def test_syntax_errors_are_invalid_programs(self):
        events, summary = trace("x = (\n")
        self.assertEqual(events, [])
        self.assertEqual((summary["status"], summary["error"]["type"]), ("invalid_program", "SyntaxError"))


class MachineTest(unittest.TestCase):
    def machine(self):
        clean, cut = tracer._text
        take = tracer._make_take([], clean)
        state = [0, False]
        on_call = tracer._make_tracer(PROGRAM_NAME, lambda e: True, take, CAP, state)
        error_info = tracer._make_errors(PROGRAM_NAME, CAP, cut)
        static_start = tracer._made_of(tracer._STATIC)
        finish = tracer._make_finish(on_call, state, take, error_info, {}, [], [False], static_start)
        importer = tracer._program_builtins().__import__
        create = tracer._make_create_builtin(lambda spec: None, sys, [False])
        return on_call, finish, importer, create

    def test_nothing_the_program_calls_through_looks_up_a_global(self):
        roots = self.machine()
        functions = []
        for root in roots:
            functions += tracer._reach(root, frozenset())[0]
        self.assertGreater(len(functions), 30)
        for f in functions:
            codes = [f.__code__]
            while codes:
                code = codes.pop()
                codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
                loads = ("LOAD_GLOBAL", "LOAD_NAME")
                names = [i.argval for i in dis.get_instructions(code) if i.opname in loads]
                self.assertEqual(names, [], "%s looks up %s" % (code.co_name, names))

    def test_nothing_the_program_calls_through_takes_defaults(self):
        # A function that has none cannot be given any that matter.
        on_call, finish, _importer, create = self.machine()
        for root in (on_call, finish, create):
            for f in tracer._reach(root, frozenset())[0]:
                if f.__globals__ is vars(tracer):
                    self.assertIsNone(f.__defaults__, f.__qualname__)
                    self.assertIsNone(f.__kwdefaults__, f.__qualname__)

    def test_the_trace_function_is_a_plain_function(self):
        on_call = self.machine()[0]
        self.assertIs(type(on_call), types.FunctionType)
        self.assertFalse(hasattr(on_call, "__self__"))


PROGRAM_NAME = "<program>"


class SlowProgramTest(unittest.TestCase):
    """Values that used to cost their full size on every event."""

    PROGRAMS = {
        "counter":
            "import collections\nc = collections.Counter(range(200000))\nfor i in range(20):\n    x = i\n",
        "long key, big value": "d = {'k' * 300: b'x' * (8 * 1024 * 1024)}\nfor i in range(20):\n    x = i\n",
    }

    def test_they_trace_in_about_the_time_they_run(self):
        for name, source in self.PROGRAMS.items():
            answer = native({"mode": "bench", "programs": [source], "repeat": 1, "repr_cap": CAP})
            started = time.perf_counter()
            exec(compile(source, "<plain>", "exec"), {})
            plain = time.perf_counter() - started
            print("\n%s: traced %.3f s, plain %.3f s" % (name, answer["seconds"], plain), file=sys.stderr)
            self.assertGreater(answer["steps"], 40)
            self.assertLess(answer["seconds"], 1.0, name)


if __name__ == "__main__":
    unittest.main()
