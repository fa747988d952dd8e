"""Step-by-step tracer for one Python program.

Runs a program compiled as the module ``<program>`` under ``sys.settrace`` and
hands every call/line/return/exception event of *user code only* to ``emit``
as soon as it happens, as a JSON array:

    [event, line, function, depth, [[name, repr], ...], stdout, value]

``stdout`` is what the program printed since the previous event; ``value`` is
the repr of the returned value (``return``) or the exception (``exception``).
Every repr is capped at ``repr_cap`` bytes (cut text ends with ``CUT``).

This module is pure Python so the same code runs inside the WebAssembly guest
(``app.py``) and under a native ``python3`` (``native.py``, for the benchmark's
per-step ratio). It must not import anything the guest snapshot lacks.
"""

import builtins
import io
import json
import random
import sys
import time
import types

PROGRAM = "<program>"
CUT = "\u2026"
# Pending output is handed to the host early once it grows past this, so the
# host's output cap fires on a flood printed between two events.
OUTPUT_FLUSH_BYTES = 64 * 1024

_settrace = sys.settrace
_SCALARS = (int, float, bool, complex, type(None), type(Ellipsis))


def _clean(text):
    """Text that survives UTF-8: lone surrogates become escapes."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _cut(text, cap):
    """`text` in at most `cap` UTF-8 bytes, with CUT appended when shortened."""
    if len(text) <= cap and text.isascii():
        return text
    raw = text.encode("utf-8", "backslashreplace")
    if len(raw) <= cap:
        return raw.decode("utf-8")
    return raw[:cap].decode("utf-8", "ignore") + CUT


class _Repr:
    """A repr that stops early: a list of a million items costs `cap` bytes of
    work, not a million reprs. Output equals ``repr(v)`` whenever it fits."""

    def __init__(self, cap):
        self.cap = cap
        self.active = set()

    def of(self, v):
        return _cut(self.text(v, self.cap), self.cap)

    def text(self, v, budget):
        t = type(v)
        if t is str or t is bytes or t is bytearray:
            # Slice before repr: repr of a 100 MB string would cost 100 MB.
            if len(v) > budget:
                return repr(v[:budget]) + CUT
            return repr(v)
        if t in _SCALARS:
            try:
                return repr(v)
            except ValueError:  # int too large to render as decimal
                return "<int of %d bits>" % v.bit_length()
        if t is list or t is tuple or t is set or t is frozenset or t is dict:
            return self.container(v, t, budget)
        if t is types.FunctionType or t is types.BuiltinFunctionType:
            return "<function %s>" % v.__qualname__
        if t is types.ModuleType:
            return "<module %s>" % v.__name__
        if t is type:
            return "<class %s>" % v.__qualname__
        try:
            r = repr(v)
        except BaseException as e:  # a user __repr__ may raise anything
            return "<repr failed: %s>" % type(e).__name__
        if type(r) is not str:
            return "<repr failed: not a str>"
        return _clean(r)

    def container(self, v, t, budget):
        if id(v) in self.active:
            return "{...}" if t is dict else "[...]" if t is list else "(...)"
        if not v:
            return {list: "[]", tuple: "()", dict: "{}", set: "set()", frozenset: "frozenset()"}[t]
        self.active.add(id(v))
        try:
            parts, used, cut = [], 2, False
            items = v.items() if t is dict else v
            for item in items:
                if used > budget:
                    cut = True
                    break
                if t is dict:
                    k = self.text(item[0], budget - used)
                    part = k + ": " + self.text(item[1], budget - used - len(k))
                else:
                    part = self.text(item, budget - used)
                parts.append(part)
                used += len(part) + 2
        finally:
            self.active.discard(id(v))
        body = ", ".join(parts) + (", " + CUT if cut else "")
        if t is list:
            return "[" + body + "]"
        if t is tuple:
            return "(" + body + ("," if len(v) == 1 else "") + ")"
        if t is frozenset:
            return "frozenset({" + body + "})"
        return "{" + body + "}"


class Output(io.TextIOBase):
    """Collects what the program prints; the tracer takes it at each event."""

    def __init__(self, overflow):
        super().__init__()
        self._parts = []
        self._size = 0
        self._overflow = overflow

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        self._parts.append(s)
        self._size += len(s)
        if self._size > OUTPUT_FLUSH_BYTES:
            self._overflow(self.take())
        return len(s)

    def take(self):
        if not self._parts:
            return ""
        text = _clean("".join(self._parts))
        self._parts.clear()
        self._size = 0
        return text


class Tracer:
    def __init__(self, emit, out, repr_cap):
        self.emit = emit
        self.out = out
        self.repr = _Repr(repr_cap)
        self.depth = 0
        self.full = False

    def on_call(self, frame, event, arg):
        if frame.f_code.co_filename != PROGRAM:
            return None
        self.depth += 1
        self.record(frame, "call", None)
        return self.on_event

    def on_event(self, frame, event, arg):
        if event == "line":
            self.record(frame, "line", None)
        elif event == "return":
            self.record(frame, "return", arg)
            self.depth -= 1
        elif event == "exception":
            self.record(frame, "exception", arg[1])
        return self.on_event

    def record(self, frame, event, value):
        stdout = self.out.take()
        code = frame.f_code
        line = code.co_firstlineno if event == "call" else frame.f_lineno
        if self.full:
            # The host keeps counting steps but stores no more of them.
            locals_, shown = None, None
        else:
            of = self.repr.of
            locals_ = [
                [name, of(v)]
                for name, v in frame.f_locals.items()
                if not (name[:2] == "__" and name[-2:] == "__")
            ]
            shown = None if event in ("call", "line") else of(value)
        event_json = json.dumps(
            [event, line, code.co_name, self.depth, locals_, stdout, shown],
            ensure_ascii=False,
        )
        if not self.emit(event_json):
            self.full = True


def _error(e, cap):
    line = e.lineno if isinstance(e, SyntaxError) else None
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == PROGRAM:
            line = tb.tb_lineno
        tb = tb.tb_next
    try:
        message = str(e)
    except BaseException:
        message = "<str failed>"
    return {"type": type(e).__name__, "message": _cut(_clean(message), cap), "line": line}


def run(source, input_text, seed, repr_cap, emit, output, sleep):
    """Runs `source` under the tracer; returns the summary as a dict."""
    out = Output(output)
    sys.stdout = out
    sys.stderr = Output(lambda _text: None)
    sys.stdin = io.StringIO(input_text)
    random.seed(seed)

    def read_input(prompt=""):
        out.write(str(prompt))
        line = sys.stdin.readline()
        if not line:
            raise EOFError("EOF when reading a line")
        return line[:-1] if line.endswith("\n") else line

    def sleep_for(seconds):
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        sleep(int(seconds * 1e9))

    builtins.input = read_input
    time.sleep = sleep_for

    try:
        code = compile(source, PROGRAM, "exec")
    except (SyntaxError, ValueError) as e:
        return {"status": "invalid_program", "error": _error(e, repr_cap), "stdout": ""}

    tracer = Tracer(emit, out, repr_cap)
    settrace = _settrace
    # The program may not switch tracing off or replace the tracer.
    sys.settrace = _refuse_settrace
    status, error = "ok", None
    settrace(tracer.on_call)
    try:
        exec(code, {"__name__": "__main__", "__builtins__": builtins})
    except SystemExit as e:
        if e.code not in (None, 0):
            status, error = "exception", _error(e, repr_cap)
    except BaseException as e:
        status, error = "exception", _error(e, repr_cap)
    finally:
        settrace(None)
    return {"status": status, "error": error, "stdout": out.take()}


def _refuse_settrace(_func):
    raise RuntimeError("sys.settrace is reserved for the Curio tracer")
