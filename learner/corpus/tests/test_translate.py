"""Tests for learner/corpus/translate.py: the literals, the calls it reads
and the programs it writes. (That every translation prints what its
Python original prints is asserted in the sandbox by tests/translations.rs.)

    .venv/bin/python -m unittest discover -s learner/corpus/tests
"""

import json
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import translate  # noqa: E402


class Literals(unittest.TestCase):
    def test_nested_values_in_both_languages(self):
        value = [1, -2, 2.5, "a\"b\\\n", (True, False), {"k": [0]}]
        self.assertEqual(translate.literal(value, "lua"),
                         '{1, -2, 2.5, "a\\"b\\\\\\n", {true, false}, {["k"] = {0}}}')
        self.assertEqual(translate.literal(value, "js"),
                         '[1, -2, 2.5, "a\\"b\\\\\\n", [true, false], {"k": [0]}]')

    def test_values_without_a_literal_are_refused(self):
        for value, language in [(None, "lua"), ([1, None], "lua"), (float("inf"), "js"), (2**60, "js"),
                                ({1: 2}, "js"), ({1, 2}, "lua")]:
            with self.assertRaises(translate.Unsupported, msg=repr(value)):
                translate.literal(value, language)
        self.assertEqual(translate.literal([None], "js"), "[null]")

    def test_control_characters_in_lua_strings(self):
        self.assertEqual(translate.literal("\x01\t", "lua"), '"\\001\\t"')


class Calls(unittest.TestCase):
    def test_the_last_statement_must_print_the_repr_of_one_call(self):
        self.assertEqual(translate.call_of("def f(x):\n    return x\n\nprint(repr(f([1, 2], 'a')))\n"),
                         ("f", [[1, 2], "a"]))
        self.assertEqual(translate.call_of("print(repr(is_prime(13441 * 19)))"), ("is_prime", [255379]))
        for source in ["print(f(1))", "print(repr(f(x)))", "print(repr(f(k=1)))", "x = 1",
                       "print(repr(f(2 ** 100000)))", "print(repr(f(open('x'))))", "def f(:"]:
            self.assertIsNone(translate.call_of(source), source)


class Programs(unittest.TestCase):
    def test_prelude_task_and_driver_make_each_program_and_skips_are_kept_out(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            corpus, root = tmp / "corpus", tmp / "translations"
            (corpus).mkdir()
            (root / "lua").mkdir(parents=True)
            (root / "lua" / "prelude.lua").write_text("function repr(x) return tostring(x) end\n")
            (root / "lua" / "7.lua").write_text("function double(x)\n  return 2 * x\nend\n")
            (root / "lua" / "skip.txt").write_text("humaneval/7/2 a reason\n")
            rows = {
                "real": [("humaneval/7/0", "print(repr(double(3)))"), ("humaneval/8/0", "print(repr(g(1)))")],
                "train": [("humaneval/7/1", "print(repr(double(None)))"), ("humaneval/7/2", "print(repr(double(1)))"),
                          ("humaneval/7/3/m0", "print(repr(double(4)))"), ("algorithms/x", "print(1)")],
            }
            for split, entries in rows.items():
                (corpus / f"{split}.jsonl").write_text(
                    "".join(json.dumps({"id": i, "source": s, "input": ""}) + "\n" for i, s in entries))
            counts = translate.build(corpus, root)
            self.assertEqual(counts, {"lua-real": 1, "lua-train": 1, "lua-left-out": 2})
            real = [json.loads(line) for line in (corpus / "lua-real.jsonl").read_text().splitlines()]
            self.assertEqual(real[0]["id"], "humaneval/7/0")
            self.assertEqual(real[0]["language"], "lua")
            self.assertEqual(real[0]["source"], "function repr(x) return tostring(x) end\n\n"
                                                "function double(x)\n  return 2 * x\nend\n\nprint(repr(double(3)))\n")
            train = [json.loads(line)["id"] for line in (corpus / "lua-train.jsonl").read_text().splitlines()]
            self.assertEqual(train, ["humaneval/7/3/m0"], "None has no Lua literal; 7/2 is skipped")


if __name__ == "__main__":
    unittest.main()
