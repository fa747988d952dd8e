"""The client against a real learner: `cargo test --test client` (part of
`make test`) starts one with a token and runs these with CURIO_LEARNER,
CURIO_TOKEN_FILE and CURIO_TEST_RUN_ID set."""

import contextlib
import io
import math
import os
import tempfile
import unittest
from unittest import mock

import grpc

from curio_client import Learner, read_token

ADDRESS = os.environ.get("CURIO_LEARNER")


class TokenFile(unittest.TestCase):
    def test_reads_a_bare_token_or_a_named_one_past_comments(self):
        with tempfile.TemporaryDirectory() as d:
            named, bare, empty = (os.path.join(d, n) for n in ("named", "bare", "empty"))
            for path, text in ((named, "# tokens\n\nalice:0123456789abcdef0123\n"),
                               (bare, "  0123456789abcdef0123  \n"), (empty, "# nothing\n")):
                with open(path, "w") as f:
                    f.write(text)
            self.assertEqual(read_token(named), "0123456789abcdef0123")
            self.assertEqual(read_token(bare), "0123456789abcdef0123")
            with self.assertRaises(ValueError):
                read_token(empty)


@unittest.skipUnless(ADDRESS, "needs a learner: run through `cargo test --test client`")
class AgainstALearner(unittest.TestCase):
    def setUp(self):
        self.learner = Learner(ADDRESS)

    def tearDown(self):
        self.learner.close()

    def test_status_names_the_run(self):
        status = self.learner.status()
        self.assertEqual(status.run_id, os.environ["CURIO_TEST_RUN_ID"])
        self.assertGreater(status.budget, 0)

    def test_a_submitted_program_comes_back_run_and_its_surprise_can_be_asked(self):
        [run] = self.learner.submit("x = int(input())\nprint(x * 2)\n", ["21\n"], submitter="python")
        self.assertEqual(run.trace.stdout, "42\n")
        with self.assertRaises(TypeError):
            self.learner.submit("print(1)\n", "21\n")
        surprise = self.learner.ask_surprise(run.execution_id, top=2)
        self.assertGreaterEqual(surprise.steps, 2)
        self.assertEqual(len(surprise.top), 2)
        self.assertGreaterEqual(surprise.top[0].nats, surprise.top[1].nats)
        with self.assertRaises(grpc.RpcError) as refused:
            self.learner.ask_surprise("00000000-0000-0000-0000-000000000000")
        self.assertEqual(refused.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_a_lua_program_runs_as_lua(self):
        [run] = self.learner.submit("local x = tonumber(io.read())\nprint(x * 2)\n", ["21\n"], language="lua")
        self.assertEqual(run.trace.stdout, "42\n")
        self.assertEqual(run.trace.steps[0].function, "<module>")
        with self.assertRaises(ValueError):
            self.learner.submit("print(1)\n", language="cobol")

    def test_a_javascript_program_runs_as_javascript(self):
        [run] = self.learner.submit("const x = Number(readline());\nconsole.log(x * 2);\n", ["21\n"], language="js")
        self.assertEqual(run.trace.stdout, "42\n")
        self.assertEqual(run.trace.steps[0].function, "<module>")

    def test_the_model_answers_what_it_is_asked(self):
        predicted = self.learner.predict("a = 1\nprint(a + 1)\n", horizon=4, samples=3, seed=2)
        self.assertLessEqual(len(predicted.steps), 4)
        self.assertEqual(len(predicted.samples), 3)
        output = self.learner.ask_output("a = 1\nprint(a + 1)\n", samples=4, horizon=6)
        self.assertTrue(math.isclose(sum(o.probability for o in output.outputs), 1.0))
        self.assertTrue(0.0 <= output.confidence <= 1.0)
        sources = ["print(1)\n", "print(2)\n", "x = 1\nprint(x)\n"]
        ranking = self.learner.ask_rank(sources, "1", samples=2, horizon=4)
        self.assertEqual(sorted(r.index for r in ranking), [0, 1, 2])
        self.assertEqual(sorted(ranking, key=lambda r: -(r.probability + r.closeness / 3)), ranking)
        lua = self.learner.ask_output("local a = 1\nprint(a + 1)\n", samples=2, horizon=4, language="lua")
        self.assertLessEqual(lua.steps, 4)
        js = self.learner.predict("let a = 1;\nconsole.log(a + 1);\n", horizon=3, language="js")
        self.assertLessEqual(len(js.steps), 3)
        with self.assertRaises(grpc.RpcError) as refused:
            self.learner.ask_output("print(1)\n", samples=65)
        self.assertEqual(refused.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("samples", refused.exception.details())

    def test_an_input_search_runs_what_it_proposes_on_the_pool(self):
        source = "def triple(n):\n    return n * 3\n\nprint(triple(2), 'x')\n"
        found = self.learner.ask_input(source, "9 x", checks=6, proposals=8, samples=1, horizon=12, seed=4)
        self.assertTrue(1 <= len(found.tried) <= 6, found)
        self.assertEqual(found.found, found.tried[-1].right)
        for t in found.tried:
            # Only the call's literals change; the function is as given.
            self.assertTrue(t.source.startswith("def triple(n):\n    return n * 3\n\nprint(triple("), t.source)
            self.assertNotEqual(t.source, source)
            # What the pool printed is what Python prints for that program.
            printed = io.StringIO()
            try:
                with contextlib.redirect_stdout(printed):
                    exec(compile(t.source, "<tried>", "exec"), {})
                ended = True
            except Exception:
                ended = False
            self.assertEqual(t.ended, ended, t.source)
            if ended:
                self.assertEqual(t.stdout, printed.getvalue(), t.source)
            self.assertEqual(t.right, ended and t.stdout.rstrip() == "9 x")
        self.assertEqual(len({t.source for t in found.tried}), len(found.tried), "no input is run twice")
        with self.assertRaises(grpc.RpcError) as refused:
            self.learner.ask_input(source, "9", checks=33)
        self.assertEqual(refused.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("checks", refused.exception.details())

    def test_the_curve_so_far_is_a_data_frame(self):
        frame = self.learner.curve(metric="delta_exact", wait=2.0)
        self.assertEqual(list(frame.columns), ["run_id", "strategy", "queries_used", "metric", "value"])
        self.assertGreaterEqual(len(frame), 1)
        self.assertEqual(set(frame.metric), {"delta_exact"})
        self.assertTrue(frame.value.between(0, 1).all())
        points = list(self.learner.watch_curve("action_accuracy", timeout=1.0))
        self.assertTrue(points and all(p.metric == "action_accuracy" for p in points))

    def test_an_unreachable_learner_is_an_error(self):
        with Learner("127.0.0.1:9", timeout=1.0) as nowhere, self.assertRaises(grpc.FutureTimeoutError):
            nowhere.curve(wait=0.5)

    def test_a_call_without_the_token_is_refused(self):
        self.assertIn("CURIO_TOKEN_FILE", os.environ, "the learner requires a token")
        with mock.patch.dict(os.environ):
            del os.environ["CURIO_TOKEN_FILE"]
            with Learner(ADDRESS) as anonymous, self.assertRaises(grpc.RpcError) as refused:
                anonymous.status()
        self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAUTHENTICATED)


if __name__ == "__main__":
    unittest.main()
