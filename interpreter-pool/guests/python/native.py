"""The same tracer under a native python3, for the benchmark's per-step ratio.

Reads a JSON list of programs on stdin, runs each `repeat` times with the
host callbacks replaced by in-process ones, and prints one JSON object:
{"steps": total events, "seconds": total time}.
"""

import json
import sys
import time

import tracer


def main():
    request = json.load(sys.stdin)
    events = []
    real_stdout = sys.stdout
    steps, spent = 0, 0.0
    for _ in range(request["repeat"]):
        for source in request["programs"]:
            events.clear()
            start = time.perf_counter()
            tracer.run(source, "", 0, request["repr_cap"], lambda e: events.append(e) or True,
                       lambda _t: None, lambda _n: None)
            spent += time.perf_counter() - start
            steps += len(events)
    sys.stdout = real_stdout
    print(json.dumps({"steps": steps, "seconds": spent}))


if __name__ == "__main__":
    main()
