"""The same tracer under a native python3: the reference the guest is checked
against, and the baseline of the benchmark's per-step ratio.

Reads one JSON request on stdin and prints one JSON object:
- {"mode": "trace", "source", "input", "seed", "repr_cap"} ->
  {"events": [...], "summary": {...}}
- {"mode": "bench", "programs": [...], "repeat", "repr_cap"} ->
  {"steps": total events, "seconds": time spent in tracer.run}
"""

import sys
import time
# Bound now: the traced program shares this interpreter and may replace
# json.dumps/json.loads, as it may inside the guest.
from json import dumps, load, loads

import tracer


def trace(request):
    events = []
    summary = tracer.run(request["source"], request["input"], request["seed"], request["repr_cap"],
                         lambda e: events.append(e) or True, lambda _t: None, lambda _n: None)
    return {"events": [loads(e) for e in events], "summary": loads(summary)}


def bench(request):
    events = []
    steps, spent = 0, 0.0
    for _ in range(request["repeat"]):
        for source in request["programs"]:
            events.clear()
            start = time.perf_counter()
            tracer.run(source, "", 0, request["repr_cap"], lambda e: events.append(e) or True,
                       lambda _t: None, lambda _n: None)
            spent += time.perf_counter() - start
            steps += len(events)
    return {"steps": steps, "seconds": spent}


def main():
    request = load(sys.stdin)
    real_stdout = sys.stdout
    answer = trace(request) if request["mode"] == "trace" else bench(request)
    sys.stdout = real_stdout
    real_stdout.write(dumps(answer) + "\n")


if __name__ == "__main__":
    main()
