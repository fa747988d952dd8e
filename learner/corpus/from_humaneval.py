"""The HumanEval corpus: each problem's canonical solution, called with the
literal arguments of its tests. A hash of the task id holds a problem out as
the real suite; the others go to training with mutations of their arguments.
"""

import ast
import gzip
import hashlib
import json
import random

from allowlist import disallowed
from inputs import call_args, calls_to, mutations
from probe import print_line, probe_all

HELD_OUT = 0.4          # fraction of HumanEval problems in the real suite
REAL_CALLS = 3          # programs per held-out problem
MUTATIONS = 4           # kept mutations per HumanEval call


def held_out(task_id):
    return int(hashlib.sha256(task_id.encode()).hexdigest()[:8], 16) / 2**32 < HELD_OUT


def load_humaneval(path, limit):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        problems = [json.loads(line) for line in f if line.strip()]
    problems.sort(key=lambda p: int(p["task_id"].split("/")[1]))
    return problems[:limit] if limit else problems


def humaneval(path, allow, limit, jobs, corpus):
    """Plans, probes and writes HumanEval; `corpus` collects the results."""
    plans, requests = [], []
    for p in load_humaneval(path, limit):
        n = p["task_id"].split("/")[1]
        corpus.seen += 1
        source = p["prompt"] + p["canonical_solution"]
        bad = disallowed(ast.parse(source), allow)
        if bad:
            corpus.skip(f"humaneval/{n}", "import outside allowlist", ", ".join(bad))
            continue
        calls, skipped = calls_to(ast.parse(p["test"]), p["test"], "candidate")
        for call in skipped:
            corpus.skip(f"humaneval/{n}", "non-literal arguments", call)
        corpus.functions += 1
        if not calls:
            corpus.skip(f"humaneval/{n}", "no usable inputs")
            continue
        real = held_out(p["task_id"])
        if real:
            groups = [{"calls": [call_args(a) for a in calls], "need": REAL_CALLS}]
        else:
            rng = random.Random(f"humaneval/{n}")
            groups = [{"calls": [call_args(a)] + [call_args(m) for m in mutations(a, rng)],
                       "need": 1 + MUTATIONS} for a in calls]
        groups = [dict(g, calls=[f"{p['entry_point']}({c})" for c in g["calls"]])
                  for g in groups]
        plans.append((n, source.rstrip() + "\n\n\n", real, groups))
        requests.append({"source": source, "groups": groups})
    for (n, source, real, groups), results in zip(plans, probe_all(requests, jobs, "humaneval")):
        if real:
            keep_real(corpus, n, source, groups[0]["calls"], results[0])
        else:
            for k, (g, res) in enumerate(zip(groups, results)):
                keep_train(corpus, f"humaneval/{n}/{k}", source, g["calls"], res)


def keep_real(corpus, n, source, calls, results):
    kept = 0
    for k, (call, r) in enumerate(zip(calls, results)):
        if r["s"] == "ok" and kept < REAL_CALLS:
            corpus.write("real", f"humaneval/{n}/{k}", source + print_line(call, r) + "\n")
            kept += 1
        elif r["s"] != "ok":
            corpus.skip(f"humaneval/{n}", f"call fails natively ({r['s']})", call)
    if not kept:
        corpus.skip(f"humaneval/{n}", "no usable inputs")


def keep_train(corpus, pid, source, calls, results):
    """The original call, then up to MUTATIONS of its mutations that run (at
    most one of them raising: a raise is a trace too, but a dull one)."""
    first = results[0] if results else {"s": "missing"}
    if first["s"] == "ok":
        corpus.write("train", pid, source + print_line(calls[0], first) + "\n")
    else:
        corpus.skip(pid, f"call fails natively ({first['s']})", calls[0])
    kept, raised = 0, 0
    for call, r in zip(calls[1:], results[1:]):
        if kept == MUTATIONS:
            break
        if r["s"] == "raise" and not raised:
            raised += 1
        elif r["s"] != "ok":
            continue
        corpus.write("train", f"{pid}/m{kept}", source + print_line(call, r) + "\n")
        corpus.mutations += 1
        kept += 1
