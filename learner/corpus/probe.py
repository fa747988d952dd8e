"""Runs candidate calls natively before any is kept: one fresh interpreter
per program, a fork per call, a wall-clock limit and an address-space cap.
Only the standard library.
"""

import concurrent.futures
import json
import os
import subprocess
import sys
import time

CALL_TIMEOUT_S = 2.0
OUTPUT_CAP = 8192       # a printed result longer than this makes no good trace

# Runs in a fresh interpreter: execs one program's body once, then forks per
# call so each call sees the state a standalone run would, and a hang, a crash
# or a memory blow-up costs only that call.
PROBE = r'''
import builtins, collections.abc, json, os, re, resource, select, signal, sys, time
req = json.loads(sys.stdin.read())
out, addr = sys.stdout, re.compile(r" at 0x[0-9a-fA-F]+")
sys.stdin, sys.stdout = open(os.devnull), open(os.devnull, "w")
ns = {"__name__": "__main__", "__builtins__": builtins}
try:
    exec(compile(req["source"], "<program>", "exec"), ns)
except BaseException as e:
    out.write(json.dumps({"module_error": type(e).__name__}))
    sys.exit(0)

def child(call, w):
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    try:
        v = eval(compile(call, "<call>", "eval"), ns)
        it = isinstance(v, collections.abc.Iterator)
        text = repr(list(v) if it else v)
        s = "unstable" if addr.search(text) else "big" if len(text) > req["cap"] else "ok"
        r = {"s": s, "it": it}
    except BaseException as e:
        r = {"s": "raise", "e": type(e).__name__}
    os.write(w, json.dumps(r).encode())
    os._exit(0)

def probe(call):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        child(call, w)
    os.close(w)
    data, end = b"", req["timeout"] + time.monotonic()
    while True:
        left = end - time.monotonic()
        if left <= 0 or not select.select([r], [], [], left)[0]:
            os.kill(pid, signal.SIGKILL)
            data = b'{"s": "timeout"}'
            break
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data or b'{"s": "crash"}')

groups = []
for g in req["groups"]:
    res = []
    for call in g["calls"]:
        if sum(x["s"] == "ok" for x in res) >= g["need"]:
            break
        res.append(probe(call))
    groups.append(res)
out.write(json.dumps({"groups": groups}))
'''


def run_probe(request):
    """One probe process; returns per group the results of the calls it ran
    (a group stops once `need` calls returned)."""
    n = sum(len(g["calls"]) for g in request["groups"])
    env = {"PYTHONHASHSEED": "0", "PATH": os.environ.get("PATH", "")}
    request = dict(request, timeout=CALL_TIMEOUT_S, cap=OUTPUT_CAP)
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", PROBE], input=json.dumps(request),
            capture_output=True, text=True, env=env, timeout=10 + 2.5 * n)
        reply = json.loads(done.stdout)
    except (subprocess.TimeoutExpired, ValueError):
        reply = {"module_error": "ProbeFailed"}
    if "module_error" in reply:
        bad = {"s": "module_error", "e": reply["module_error"]}
        return [[bad] * len(g["calls"]) for g in request["groups"]]
    return reply["groups"]


def probe_all(requests, jobs, label):
    """Probes in order, `jobs` processes at a time; a progress line per 50."""
    start, results = time.monotonic(), []
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for i, res in enumerate(pool.map(run_probe, requests), 1):
            results.append(res)
            if i % 50 == 0 or i == len(requests):
                print(f"{label}: {i}/{len(requests)} probed "
                      f"({time.monotonic() - start:.1f} s)", file=sys.stderr)
    return results


def print_line(call, result):
    """The program's last line; an iterator is listed, as the probe did, so
    the program prints what the probe saw."""
    return f"print(repr(list({call})))" if result.get("it") else f"print(repr({call}))"
