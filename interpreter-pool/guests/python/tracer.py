"""Step-by-step tracer for one Python program.

Runs a program compiled as the module ``<program>`` under ``sys.settrace`` and
hands every call/line/return/exception event of *user code only* to ``emit``
as soon as it happens, as a JSON array:

    [event, line, function, depth, [[name, repr], ...], stdout, value]

``stdout`` is what the program printed since the previous event; ``value`` is
the repr of the returned value (``return``) or the exception (``exception``).
Every repr is capped at ``repr_cap`` bytes (cut text ends with ``CUT``) and
costs about that much work, whatever the size of the value.

The program shares this interpreter, so it can reach the tracer (through
frames, closures or ``gc``): the host checks every event and the summary, and
that is the guarantee. This module raises the bar and reports what it sees:

- what runs once the program has started (the trace functions, the reprs, the
  verdict) is made of closures whose every name was bound before it started,
  so rebinding a builtin, a module attribute (``json.dumps``) or a helper of
  this module changes nothing; the tests check that none of it looks up a
  global by name;
- the glue modules are hidden from ``import`` and ``sys.modules``, the
  program gets builtins of its own, and the sys functions that could switch
  tracing off refuse;
- the summary gets ``"tampered": reason`` when the trace function or
  anything it reaches was replaced, when a guard was, or when trace events
  went missing; ``"status"`` stays what it would have been.

This module is pure Python so the same code runs inside the WebAssembly guest
(``app.py``) and under a native ``python3`` (``native.py``, for the benchmark's
per-step ratio). It must not import anything the guest snapshot lacks.
"""

import _imp
import _json
import builtins
import collections
import io
import operator
import random
import sys
import time
import types

PROGRAM = "<program>"
CUT = "\u2026"
# Pending output is handed to the host early once it grows past this, so the
# host's output cap fires on a flood printed between two events.
OUTPUT_FLUSH_BYTES = 64 * 1024
# The host refuses an event with more locals, or a longer local or type name.
MAX_LOCALS = 1024
MAX_NAME_BYTES = 256
# Modules of the guest's glue and of this tracer: a program that imports them
# could forge events or rewire the tracer, so they do not exist for it.
HIDDEN = frozenset((
    "app", "tracer", "wit_world", "componentize_py_runtime",
    "componentize_py_types", "componentize_py_async_support", "poll_loop",
))
# sys functions that could switch tracing off or run code between events.
REFUSED = ("settrace", "setprofile", "_settraceallthreads", "_setprofileallthreads")

# Builtins as they are when the tracer loads, before any program ran.
_BUILTINS = dict(builtins.__dict__)
_type_name = type.__dict__["__name__"].__get__  # a metaclass cannot fake it
_mro = type.__dict__["__mro__"].__get__
_class_dict = type.__dict__["__dict__"].__get__
_factory_of = collections.defaultdict.__dict__["default_factory"].__get__
_maxlen_of = collections.deque.__dict__["maxlen"].__get__
_traceback_of = BaseException.__dict__["__traceback__"].__get__
# The C encoder behind json.dumps(..., ensure_ascii=False), made here so the
# program cannot reach json's module attributes that json.dumps goes through.
_encoder = _json.make_encoder(None, repr, _json.encode_basestring, None, ": ", ", ", False, False, True)


def _captured(names):
    """The builtins named (space-separated) as the tracer loaded them."""
    return [_BUILTINS[n] for n in names.split()]


def _text_helpers():
    """`clean(text)` (lone surrogates become escapes, so the text survives
    UTF-8) and `cut(text, cap)` (at most `cap` UTF-8 bytes, CUT appended when
    shortened)."""
    (len,) = _captured("len")
    cut_mark = CUT

    def clean(text):
        if text.isascii():
            return text
        return text.encode("utf-8", "backslashreplace").decode("utf-8")

    def cut(text, cap):
        if len(text) <= cap and text.isascii():
            return text
        raw = text.encode("utf-8", "backslashreplace")
        if len(raw) <= cap:
            return raw.decode("utf-8")
        return raw[:cap].decode("utf-8", "ignore") + cut_mark

    return clean, cut


def _make_repr(clean, cut):
    """`of(v, cap)`: a repr of at most `cap` bytes that stops early. A container
    of a million items costs about `cap` items of work, not a million reprs,
    subclasses included: those of the builtin containers, str, bytes and the
    collections types render like their base, in CPython 3.14's form and
    without calling their own `__repr__`. Output equals ``repr(v)`` whenever
    that fits. Every text gets a budget, never below 0; a child left with
    none is CUT and costs nothing."""
    len, type, repr, iter, sorted, slice, zip, id = _captured("len type repr iter sorted slice zip id")
    str_, bytes_, bytearray_, list_, tuple_, set_, frozenset_, dict_ = _captured(
        "str bytes bytearray list tuple set frozenset dict")
    MemoryError_, BaseException_, TypeError_, ValueError_ = _captured(
        "MemoryError BaseException TypeError ValueError")
    type_name, mro, class_dict, factory_of, maxlen_of = _type_name, _mro, _class_dict, _factory_of, _maxlen_of
    Counter, OrderedDict, defaultdict, deque = (collections.Counter, collections.OrderedDict,
                                                collections.defaultdict, collections.deque)
    function_types = (types.FunctionType, types.BuiltinFunctionType)
    module_type, type_repr, by_count = types.ModuleType, type.__repr__, operator.itemgetter(1)
    dict_items, odict_items = dict_.items, OrderedDict.items
    cut_mark, sep = CUT, ", "
    active = set_()
    scalars = frozenset_((int, float, bool, complex, type(None), type(Ellipsis)))
    empty = {list_: "[]", tuple_: "()", dict_: "{}", set_: "set()", frozenset_: "frozenset()"}

    def of(v, cap):
        try:
            return cut(text(v, cap), cap)
        except MemoryError_:
            raise
        except BaseException_ as e:  # e.g. a container the program's __eq__ mutated mid-walk
            return "<repr failed: %s>" % type_name(type(e))

    def text(v, budget):
        if budget <= 0:  # nothing more fits: say so and do no work
            return cut_mark
        t = type(v)
        if t is str_ or t is bytes_ or t is bytearray_:
            # Slice before repr: repr of a 100 MB string would cost 100 MB.
            return repr(v[:budget]) + cut_mark if len(v) > budget else repr(v)
        if t in scalars:
            try:
                return repr(v)
            except ValueError_:  # int too large to render as decimal
                return "<int of %d bits>" % v.bit_length()
        render = exact.get(t)
        if render is not None:
            return render(v, t, budget)
        if t in function_types:
            return "<function %s>" % v.__qualname__
        if t is module_type:
            return "<module %s>" % v.__name__
        if t is type:
            return "<class %s>" % v.__qualname__
        for base in mro(t):  # a subclass of a container renders like its base
            render = based.get(base)
            if render is not None:
                return render(v, t, budget)
        return foreign(v, budget)

    def foreign(v, budget):
        try:
            r = repr(v)
        except BaseException_ as e:  # a user __repr__ may raise anything
            return "<repr failed: %s>" % type_name(type(e))
        if type(r) is not str_:
            return "<repr failed: not a str>"
        return clean(r[:budget] + cut_mark if len(r) > budget else r)

    def join_items(it, budget, render):
        """What `it` yields, rendered and comma-separated within `budget`."""
        parts, used = [], 0
        for x in it:
            if used >= budget:
                parts.append(cut_mark)
                break
            part = render(x, budget - used)
            parts.append(part)
            used += len(part) + 2
        return sep.join(parts)

    def pair(kv, budget):
        k = text(kv[0], budget)
        return k + ": " + text(kv[1], budget - len(k) - 2)

    def guarded(v, open_, close, recursive, body):
        """`open_ + body() + close`; `recursive` when `v` is already being rendered."""
        if id(v) in active:
            return recursive
        active.add(id(v))
        try:
            return open_ + body() + close
        finally:
            active.discard(id(v))

    def shown(v, open_, close, recursive, it, budget, render):
        inner = budget - len(open_) - len(close)
        return guarded(v, open_, close, recursive, lambda: join_items(it, inner, render))

    def builtin_container(v, t, budget):
        if not v:
            return empty[t]
        if t is dict_:
            return shown(v, "{", "}", "{...}", v.items(), budget, pair)
        if t is list_:
            return shown(v, "[", "]", "[...]", v, budget, text)
        if t is tuple_:
            return shown(v, "(", ",)" if len(v) == 1 else ")", "(...)", v, budget, text)
        open_, close = ("{", "}") if t is set_ else ("frozenset({", "})")
        return shown(v, open_, close, "{...}", v, budget, text)

    def str_like(v, t, budget):
        base = str_ if str_ in mro(t) else bytes_
        n = base.__len__(v)
        exact_copy = base.__getitem__(v, slice(0, budget))  # the base type's, not the program's
        return repr(exact_copy) + cut_mark if n > budget else repr(exact_copy)

    def bytearray_like(v, t, budget):
        r = repr(bytearray_.__getitem__(v, slice(0, budget)))
        r = type_name(t) + r[9:]  # "bytearray(" becomes the subclass's name
        return r + cut_mark if bytearray_.__len__(v) > budget else r

    def list_like(v, t, budget):
        return shown(v, "[", "]", "[...]", list_.__iter__(v), budget, text)

    def tuple_like(v, t, budget):
        if "n_sequence_fields" in class_dict(t):  # a C struct sequence (sys.version_info): small
            return foreign(v, budget)
        n, fields = tuple_.__len__(v), class_attr(t, "_fields")
        if type(fields) is tuple_ and len(fields) == n:  # a namedtuple: Name(x=1, y=2)
            named = zip(fields, tuple_.__iter__(v))
            return shown(v, type_name(t) + "(", ")", "...", named, budget, field)
        if n == 0:
            return "()"
        return shown(v, "(", ",)" if n == 1 else ")", "(...)", tuple_.__iter__(v), budget, text)

    def field(fv, budget):
        name = fv[0] if type(fv[0]) is str_ else "?"
        return name + "=" + text(fv[1], budget - len(name) - 1)

    def set_like(v, t, budget):
        base = set_ if set_ in mro(t) else frozenset_
        if not base.__len__(v):
            return type_name(t) + "()"
        return shown(v, type_name(t) + "({", "})", "{...}", base.__iter__(v), budget, text)

    def dict_like(v, t, budget):
        if not dict_.__len__(v):
            return "{}"
        return shown(v, "{", "}", "{...}", dict_items(v), budget, pair)

    def counter_like(v, t, budget):
        name, n = type_name(t), dict_.__len__(v)
        if not n:
            return name + "()"
        items = dict_items(v)
        # Counter's repr sorts (most common first): only worth it when it may fit
        # ("k: v" is 4 bytes at least); a cut one keeps insertion order.
        if 6 * n - 2 <= budget:
            try:
                items = sorted(items, key=by_count, reverse=True)
            except TypeError_:
                pass
        return shown(v, name + "({", "})", "...", items, budget, pair)

    def ordered_like(v, t, budget):
        if not dict_.__len__(v):
            return type_name(t) + "()"
        return shown(v, type_name(t) + "({", "})", "...", odict_items(v), budget, pair)

    def default_like(v, t, budget):
        factory = factory_of(v)
        shown_factory = type_repr(factory) if type(factory) is type else text(factory, budget)
        open_ = type_name(t) + "(" + shown_factory + ", {"
        if not dict_.__len__(v):
            return open_ + "})"
        return shown(v, open_, "})", open_ + "...})", dict_items(v), budget, pair)

    def deque_like(v, t, budget):
        maxlen = maxlen_of(v)
        close = "])" if maxlen is None else "], maxlen=%d)" % maxlen
        return shown(v, type_name(t) + "([", close, "[...]", deque.__iter__(v), budget, text)

    def view(v, t, budget):
        return shown(v, type_name(t) + "([", "])", "...", iter(v), budget, text)

    def class_attr(t, name):
        """`t.name` from the classes' own dicts: no descriptor or metaclass runs."""
        for c in mro(t):
            d = class_dict(c)
            if name in d:
                return d[name]
        return None

    exact = {t: builtin_container for t in empty}
    exact.update({type({}.keys()): view, type({}.values()): view, type({}.items()): view})
    based = {str_: str_like, bytes_: str_like, bytearray_: bytearray_like, list_: list_like,
             tuple_: tuple_like, set_: set_like, frozenset_: set_like, dict_: dict_like,
             Counter: counter_like, OrderedDict: ordered_like, defaultdict: default_like,
             deque: deque_like, type(OrderedDict().items()): view, type(OrderedDict().keys()): view,
             type(OrderedDict().values()): view}
    return of


def _make_tracer(program, emit, take, cap, state):
    """The trace functions: `on_call` for the interpreter, `on_event` for each
    frame of the program. `state` is [depth, trace full]: the only thing in
    the machine that changes as it runs."""
    type, len, str_, MemoryError_, BaseException_ = _captured("type len str MemoryError BaseException")
    of, (clean, cut), encode, join = _of, _text, _encoder, "".join
    max_locals, max_name = MAX_LOCALS, MAX_NAME_BYTES

    def on_call(frame, event, arg):
        if frame.f_code.co_filename is not program:
            return None
        state[0] += 1
        record(frame, "call", None)
        return on_event

    def on_event(frame, event, arg):
        if event == "line":
            record(frame, "line", None)
        elif event == "return":
            record(frame, "return", arg)
            state[0] -= 1
        elif event == "exception":
            record(frame, "exception", arg[1])
        return on_event

    def record(frame, event, value):
        stdout = take()
        code = frame.f_code
        line = code.co_firstlineno if event == "call" else frame.f_lineno
        if line is None:  # an instruction with no line of its own
            line = code.co_firstlineno
        if state[1]:
            # The host keeps counting steps but stores no more of them.
            locals_, shown = None, None
        else:
            locals_ = local_reprs(frame.f_locals)
            shown = None if event == "call" or event == "line" else of(value, cap)
        event_json = join(encode([event, line, clean(code.co_name), state[0], locals_, stdout, shown], 0))
        if not emit(event_json):
            state[1] = True

    def local_reprs(names):
        shown = []
        try:
            for name, v in names.items():
                # Only names the host accepts: a program can put anything in globals().
                if type(name) is not str_ or not name or (name[:2] == "__" and name[-2:] == "__"):
                    continue
                if len(shown) == max_locals:
                    break
                shown.append([cut(name, max_name), of(v, cap)])
        except MemoryError_:
            raise
        except BaseException_:  # a class body's namespace may be any mapping (__prepare__)
            pass
        return shown

    return on_call


def _make_fingerprint():
    """`reach(root, known)`: the functions `root` reaches through closures,
    their cells, the dicts they hold and the functions of other modules among
    them, leaving out what `known` (ids) holds. `made_of(reached)`: what those
    are made of (code, cell contents, dict values and, for another module's
    function, the globals it looks up by name). The same list at the end of a
    run as at its start, item by item with `is`, means none of it was
    replaced."""
    type, id, set_, list_, map_, dict_ = _captured("type id set list map dict")
    function, module, own = types.FunctionType, types.ModuleType, globals()
    code_of, cell_value = operator.attrgetter("__code__"), operator.attrgetter("cell_contents")

    def reach(root, known):
        seen, todo, functions, cells, dicts, foreign = set_(), [root], [], [], [], []
        while todo:
            x = todo.pop()
            if id(x) in seen or id(x) in known:
                continue
            seen.add(id(x))
            if type(x) is function:
                functions.append(x)
                if x.__globals__ is not own:  # e.g. host.emit's componentize_py_runtime.call_import
                    foreign.append(x)
                for cell in x.__closure__ or ():
                    if id(cell) not in seen and id(cell) not in known:
                        seen.add(id(cell))
                        cells.append(cell)
                        todo.append(cell.cell_contents)
            elif type(x) is dict_:
                dicts.append(x)
                todo += x.values()
        return functions, cells, dicts, foreign

    def made_of(reached):
        functions, cells, dicts, foreign = reached
        parts = list_(map_(code_of, functions))
        parts += map_(cell_value, cells)
        for d in dicts:
            parts += d.values()
        for f in foreign:
            names, found = f.__code__.co_names, f.__globals__
            for name in names:
                x = found.get(name)
                parts.append(x)
                if type(x) is module:
                    parts += [x.__dict__.get(n) for n in names]
        return parts

    return reach, made_of


def _make_errors(program, cap, cut):
    """`error_info(e, line)`: an exception as the summary's error. It may run
    the program's code (`__str__`), so it runs after the verdict."""
    type, str_, BaseException_ = _captured("type str BaseException")
    type_name, traceback_of, max_name = _type_name, _traceback_of, MAX_NAME_BYTES

    def error_info(e, line):
        tb = traceback_of(e)
        while tb is not None:
            if tb.tb_frame.f_code.co_filename is program:
                line = tb.tb_lineno
            tb = tb.tb_next
        try:
            message = str_(e)
        except BaseException_:
            message = None
        if type(message) is not str_:
            message = "<str failed>"
        return {"type": cut(type_name(type(e)), max_name), "message": cut(message, cap), "line": line}

    return error_info


def _make_finish(on_call, state, take, error_info, hidden_modules, replaced, sys_again, static_start):
    """`finish(outcome)`: judges the run, switches tracing off, puts back what
    the run hid or replaced, and returns the summary as JSON. It is only ever
    held on the interpreter's stack, so the program cannot reach it (or what
    it compares against) short of `gc`."""
    type, isinstance, len, all_, map_, list_ = _captured("type isinstance len all map list")
    SystemExit_, BaseException_ = _captured("SystemExit BaseException")
    type_name, encode, join, is_, made_of = _type_name, _encoder, "".join, operator.is_, _made_of
    gettrace, settrace, modules = sys.__dict__["gettrace"], sys.__dict__["settrace"], sys.modules
    # The repr machine is the same every run (`static_start` is what it was
    # made of before the program started): only this run's parts are walked.
    # The lists are copies: the module's can be reached.
    static, new = [list_(part) for part in _STATIC], _reach(on_call, _STATIC_IDS)
    start = static_start + made_of(new)

    def finish(outcome):
        # The verdict is taken (and held on the stack) before the program's
        # code can run again: error_info may call its __str__. What the run
        # hid or replaced comes back only after that.
        return summary(judge(), *status_of(outcome))

    def judge():
        current = gettrace()
        settrace(None)
        return tampered(current)

    def tampered(current):
        now = made_of(static) + made_of(new)
        if len(now) != len(start) or not all_(map_(is_, now, start)):
            return "the tracer's functions or their captured state were replaced"
        for namespace, name, _was, put in replaced:
            if namespace.get(name) is not put:
                return "%s was replaced" % name
        if sys_again[0]:
            return "the program made the interpreter create sys again"
        if current is None:
            # Also what the interpreter does when calling the trace function
            # fails (at the recursion limit, out of memory), which a program
            # may catch and carry on from: not evidence of tampering.
            return None
        if current is not on_call:
            return "trace function replaced"
        if state[0] != 0:
            return "trace events went missing or were added (a frame's trace was changed?)"
        return None

    def status_of(outcome):
        if outcome is None:
            return "ok", None
        try:
            if isinstance(outcome, SystemExit_) and outcome.code in (None, 0):
                return "ok", None
            return "exception", error_info(outcome, None)
        except BaseException_ as e:  # a program's exception may misbehave in any way
            return "exception", {"type": "BrokenException", "message": type_name(type(e))[:64], "line": None}

    def summary(why, status, error):
        for namespace, name, was, _put in replaced:
            namespace[name] = was
        modules.update(hidden_modules)
        done = {"status": status, "error": error, "stdout": take()}
        if why is not None:
            done["tampered"] = why
        return join(encode(done, 0))

    return finish


# Built once (in the guest: into the snapshot), as they are the same every run.
_text = _text_helpers()
_of = _make_repr(*_text)
_reach, _made_of = _make_fingerprint()
_STATIC = _reach(_of, frozenset())
_STATIC_IDS = frozenset(id(x) for part in _STATIC[:3] for x in part)


def _make_take(parts, clean):
    """`take()`: what was printed since the last call, emptied."""
    join = "".join

    def take():
        if not parts:
            return ""
        text = clean(join(parts))
        parts.clear()
        return text

    return take


class Output(io.TextIOBase):
    """Collects what the program prints into `parts`, which the tracer takes
    at each event (it never calls this object, which the program can reach)."""

    def __init__(self, parts, take, overflow):
        super().__init__()
        self._parts, self._take, self._overflow = parts, take, overflow
        self._size = 0

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if not self._parts:  # the tracer took everything written so far
            self._size = 0
        self._parts.append(s)
        self._size += len(s)
        if self._size > OUTPUT_FLUSH_BYTES:
            self._overflow(self._take())
        return len(s)


def _make_import(program_builtins):
    """The program's `__import__`: the glue modules do not exist for it, and
    `import builtins` gives its own builtins, which it may change freely."""
    real_import, hidden = _BUILTINS["__import__"], HIDDEN
    type, str_, dict_, ModuleNotFoundError_ = _captured("type str dict ModuleNotFoundError")

    def __import__(name, globals=None, locals=None, fromlist=(), level=0):
        top = name.partition(".")[0] if type(name) is str_ and not level else None
        if level and type(globals) is dict_:  # relative: the importer's package decides
            package = globals.get("__package__") or globals.get("__name__")
            top = package.partition(".")[0] if type(package) is str_ else None
        if top == "builtins" and not level:
            return program_builtins
        if top in hidden:
            raise ModuleNotFoundError_("No module named %r" % top, name=top)
        return real_import(name, globals, locals, fromlist, level)

    return __import__


def _program_builtins():
    """A builtins module of the program's own, so what it changes there stays
    there."""
    mine = types.ModuleType("builtins")
    mine.__dict__.update(_BUILTINS)
    mine.__import__ = _make_import(mine)
    return mine


# What `prepare` made for the next run; that run takes it out.
_PREPARED = []


def prepare():
    """Does ahead of time what the next run would do first. app.py calls it
    at import, so in the guest the work is in the pre-initialised snapshot;
    the run takes it out of this module before the program starts."""
    hidden = [n for n in sys.modules if n.partition(".")[0] in HIDDEN]
    _PREPARED[:] = [(hidden, _program_builtins(), _made_of(_STATIC))]


def _take_prepared():
    if not _PREPARED:
        prepare()
    return _PREPARED.pop()


def _refuser(name):
    def refuse(*_args):
        raise RuntimeError("sys.%s is reserved for the Curio tracer" % name)
    return refuse


def _make_create_builtin(create, sys_module, sys_again):
    """`_imp.create_builtin` for the run, which every import path (the
    `import` statement, importlib, the real `__import__`) ends in for a
    builtin module: a sys made afresh (`del sys.modules["sys"]; import sys`)
    would carry the real sys.settrace, and componentize_py_runtime is the
    host's door."""
    getattr, type, str_, ModuleNotFoundError_ = _captured("getattr type str ModuleNotFoundError")
    hidden = HIDDEN

    def create_builtin(spec):
        name = getattr(spec, "name", None)
        if name == "sys":
            sys_again[0] = True
            return sys_module
        if type(name) is str_ and name.partition(".")[0] in hidden:
            raise ModuleNotFoundError_("No module named %r" % name, name=name)
        return create(spec)

    return create_builtin


def _start(on_call, state, take, error_info, hidden, static_start):
    """Hides the glue modules, puts the run's guards in place of the functions
    that could switch tracing off, switches it on and returns `finish`. The
    real functions end up only in `finish`, never in a global or a local the
    program can read through its frames."""
    sys_dict, imp_dict, sys_again = sys.__dict__, _imp.__dict__, [False]
    # (namespace, name, what was there, what the run puts there)
    replaced = [(sys_dict, n, sys_dict[n], _refuser(n)) for n in REFUSED if n in sys_dict]
    create = imp_dict["create_builtin"]
    replaced.append((imp_dict, "create_builtin", create, _make_create_builtin(create, sys, sys_again)))
    hidden = {n: sys.modules.pop(n) for n in hidden if n in sys.modules}
    settrace = sys_dict["settrace"]
    finish = _make_finish(on_call, state, take, error_info, hidden, replaced, sys_again, static_start)
    for namespace, name, _was, put in replaced:
        namespace[name] = put
    settrace(on_call)
    return finish


def _run_program(code, globals_):
    """The exception that ended the program, or None."""
    try:
        exec(code, globals_)
    except BaseException as e:
        return e
    return None


def _redirect(out, input_text, seed, sleep):
    """Gives the program its stdin, stdout, seed and clock; returns its `input`."""
    sys.stdout = out
    err_parts = []
    sys.stderr = Output(err_parts, _make_take(err_parts, str), lambda _text: None)
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
    return read_input


def run(source, input_text, seed, repr_cap, emit, output, sleep):
    """Runs `source` under the tracer; returns the summary as JSON text."""
    try:
        clean, cut = _text
        parts = []
        take = _make_take(parts, clean)
        read_input = _redirect(Output(parts, take, output), input_text, seed, sleep)
        try:
            code = compile(source, PROGRAM, "exec")
        except (SyntaxError, ValueError) as e:
            line = e.lineno if isinstance(e, SyntaxError) else None
            error = _make_errors(None, repr_cap, cut)(e, line)
            return "".join(_encoder({"status": "invalid_program", "error": error, "stdout": ""}, 0))
        program, state = code.co_filename, [0, False]
        on_call = _make_tracer(program, emit, take, repr_cap, state)
        error_info = _make_errors(program, repr_cap, cut)
        hidden, builtins_, static_start = _take_prepared()
        builtins_.input = read_input
        globals_ = {"__name__": "__main__", "__builtins__": builtins_}
        # `finish` stays on this frame's stack while the program runs, where
        # the program cannot reach it (a local it could, through its frames;
        # `static_start` it can, but by then `finish` holds a copy).
        return _start(on_call, state, take, error_info, hidden, static_start)(_run_program(code, globals_))
    except:  # noqa: E722 -- a bare except names nothing the program could have rebound
        return '{"status": "ok", "error": null, "stdout": "", "tampered": "the tracer itself failed"}'
