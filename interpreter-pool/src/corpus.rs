//! The hostile-program corpus: programs that try to exhaust, escape or
//! blind the sandbox, or forge its trace. `tests/hostile.rs` runs it in the test suite and
//! `curio bench hostile --pool ADDR` against a live pool.

use curio_trace::Status;

/// Programs that must not finish normally: name, source.
pub const BOMBS: [(&str, &str); 11] = [
    ("huge power", "x = 10 ** 10 ** 8\n"),
    ("three-argument pow without modulus shortcut", "x = pow(7, 10 ** 9)\n"),
    ("growing list", "xs = []\nwhile True:\n    xs.append('x' * 1000)\n"),
    ("huge string", "s = 'a' * (10 ** 9)\n"),
    ("huge bytearray", "b = bytearray(10 ** 9)\n"),
    ("output flood", "while True:\n    print('x' * 1000)\n"),
    ("infinite generator drained", "def g():\n    while True:\n        yield 1\nxs = list(g())\n"),
    (
        "repr that never returns",
        "class C:\n    def __repr__(self):\n        while True:\n            pass\nc = C()\ny = 1\n",
    ),
    (
        "deep recursion past the raised limit",
        "import sys\nsys.setrecursionlimit(10 ** 6)\ndef f(n):\n    return f(n + 1)\nf(0)\n",
    ),
    ("busy loop without events", "x = sum(range(10 ** 12))\n"),
    ("exception storm", "while True:\n    try:\n        raise ValueError('x')\n    except ValueError:\n        pass\n"),
];

/// Programs that attack the tracer or the sandbox but must end normally
/// (their own attempts failing inside the guest): name, source, stdout.
pub const SURVIVED: [(&str, &str, &str); 9] = [
    (
        "__repr__ raises",
        "class A:\n    def __repr__(self):\n        raise ValueError('no')\na = A()\nprint('ok')\n",
        "ok\n",
    ),
    (
        "__eq__ and __hash__ raise",
        "class E:\n    def __eq__(self, o):\n        raise RuntimeError\n    def __hash__(self):\n        raise RuntimeError\ne = E()\nprint('ok')\n",
        "ok\n",
    ),
    (
        "__del__ raises",
        "class D:\n    def __del__(self):\n        raise ValueError\nd = D()\ndel d\nprint('ok')\n",
        "ok\n",
    ),
    (
        "enormous repr",
        "class B:\n    def __repr__(self):\n        return 'x' * 10 ** 7\nb = B()\nprint('ok')\n",
        "ok\n",
    ),
    (
        "settrace(None)",
        "import sys\ntry:\n    sys.settrace(None)\nexcept Exception:\n    pass\nx = 1\nprint('ok')\n",
        "ok\n",
    ),
    (
        "files, sockets, subprocesses",
        "out = []\nfor attempt in [lambda: open('/etc/passwd').read(), lambda: __import__('socket').create_connection(('1.1.1.1', 80)), lambda: __import__('subprocess').run(['ls'])]:\n    try:\n        attempt()\n        out.append('reached')\n    except Exception:\n        out.append('denied')\nprint(out)\n",
        "['denied', 'denied', 'denied']\n",
    ),
    ("environment is empty", "import os\nprint(len(os.environ))\n", "0\n"),
    ("odd bytes and unicode in output", "print('\\u202e\\x00\\ud7ff é 🎲 \\t')\n", "\u{202e}\u{0}\u{d7ff} é 🎲 \t\n"),
    (
        "ctypes is unavailable",
        "try:\n    import ctypes\n    print('loaded')\nexcept ImportError:\n    print('no ctypes')\n",
        "no ctypes\n",
    ),
];

/// A plain program run after each hostile one: (source, stdout). It also
/// checks that a raised recursion limit did not leak into the next run.
pub const CANARY: (&str, &str) =
    ("import sys\nx = [1, 2, 3]\nprint(sum(x), sys.getrecursionlimit() < 10 ** 6)\n", "6 True\n");

/// Programs that try to forge, break or silence their own trace, each with
/// the status it deserves: an attempt that fails inside the guest is an
/// ordinary exception; one that gets a forged report to the host, or
/// replaces the tracer, ends `tampered`. None may end `ok`.
pub const FORGERIES: [(&str, &str, Status); 9] = [
    (
        "host import, forged depth",
        "from wit_world.imports import host\nhost.emit('[\"line\", 1, \"<module>\", 4000000000, [], \"\", null]')\n",
        Status::Exception,
    ),
    (
        "tracer module, replaced error helper",
        "import tracer\ntracer._error = lambda e, cap: {'type': 'X', 'message': '', 'line': 4294967295}\n1 / 0\n",
        Status::Exception,
    ),
    (
        "trace function's object",
        "import sys\nsys.gettrace().__self__.emit = lambda e: True\nx = 1\n",
        Status::Exception,
    ),
    ("emit found through closures, forged depth", FORGE_THROUGH_CLOSURES_DEPTH, Status::Tampered),
    ("emit found through closures, line past the source", FORGE_THROUGH_CLOSURES_LINE, Status::Tampered),
    ("emit found through closures, forged stdout and function", FORGE_THROUGH_CLOSURES_FUNCTION, Status::Tampered),
    (
        "module frame's trace function removed",
        "import sys\nsys._getframe().f_trace = None\nx = 1\ny = 2\n",
        Status::Tampered,
    ),
    (
        "trace function replaced",
        "import sys\nf = sys._getframe()\nf.f_trace = lambda *a: None\nx = 1\n",
        Status::Tampered,
    ),
    ("settrace(None) uncaught", "import sys\nsys.settrace(None)\nx = 1\n", Status::Exception),
];

/// Walks the trace function's closures to the host import and hands it an
/// event: hiding cannot stop this, the host's checks do.
macro_rules! through_closures {
    ($event:literal) => {
        concat!(
            "import sys\ntodo, seen, found = [sys.gettrace()], set(), []\n",
            "while todo and len(seen) < 300:\n    f = todo.pop()\n    if id(f) in seen:\n        continue\n",
            "    seen.add(id(f))\n    if getattr(f, '__name__', '') == 'emit':\n        found.append(f)\n",
            "    for c in getattr(f, '__closure__', None) or ():\n        try:\n            todo.append(c.cell_contents)\n",
            "        except ValueError:\n            pass\n",
            "for emit in found:\n    emit('", $event, "')\nprint(len(found))\n"
        )
    };
}
const FORGE_THROUGH_CLOSURES_DEPTH: &str = through_closures!(r#"["line", 1, "<module>", 4000000000, [], "", null]"#);
const FORGE_THROUGH_CLOSURES_LINE: &str = through_closures!(r#"["line", 999, "<module>", 1, [], "", null]"#);
const FORGE_THROUGH_CLOSURES_FUNCTION: &str = through_closures!(r#"["call", 1, "evil", 2, [], "forged output", null]"#);

/// Ordinary programs whose values are big or subclassed containers: each
/// must end `ok` with its output, its reprs costing what they show.
pub const COSTLY_REPRS: [(&str, &str, &str); 5] = [
    (
        "Counter of 200 000",
        "import collections\nc = collections.Counter(range(200000))\nfor i in range(20):\n    x = i\nprint(len(c))\n",
        "200000\n",
    ),
    (
        "8 MiB bytes behind a long key",
        "d = {'k' * 300: b'x' * (8 << 20)}\nfor i in range(20):\n    x = i\nprint(len(d))\n",
        "1\n",
    ),
    (
        "list subclass of a million",
        "class L(list):\n    pass\nxs = L(range(10 ** 6))\nfor i in range(20):\n    x = i\nprint(len(xs))\n",
        "1000000\n",
    ),
    (
        "str and dict subclasses",
        "class S(str):\n    pass\nclass D(dict):\n    pass\ns = S('a' * (1 << 22))\nd = D(zip(range(100000), range(100000)))\nfor i in range(20):\n    x = i\nprint(len(s), len(d))\n",
        "4194304 100000\n",
    ),
    (
        "deque, OrderedDict, defaultdict",
        "import collections\nq = collections.deque(range(300000))\nr = range(100000)\no = collections.OrderedDict(zip(r, r))\nd = collections.defaultdict(list, zip(r, map(list, zip(r))))\nfor i in range(20):\n    x = i\nprint(len(q), len(o), len(d))\n",
        "300000 100000 100000\n",
    ),
];

/// Lua programs that must not finish normally: name, source.
pub const LUA_BOMBS: [(&str, &str); 9] = [
    ("growing table", "local t = {}\nwhile true do\n  t[#t + 1] = string.rep('x', 100000) .. #t\nend\n"),
    ("huge string", "local s = string.rep('a', 1 << 30)\n"),
    ("output flood", "while true do\n  io.write(string.rep('x', 1000))\nend\n"),
    ("empty loop", "while true do end\n"),
    ("deep recursion", "local function f(n)\n  return 1 + f(n + 1)\nend\nf(0)\n"),
    ("error storm", "while true do\n  pcall(error, 'x')\nend\n"),
    ("pattern backtracking", "local s = string.rep('a', 40000)\nprint(s:find('.-.-.-.-b'))\n"),
    ("loop inside an untraced coroutine", "local co = coroutine.wrap(function()\n  while true do end\nend)\nco()\n"),
    (
        "loop inside a finalizer",
        "setmetatable({}, {__gc = function()\n  while true do end\nend})\nlocal t = {}\nfor i = 1, 100 do\n  t[i] = string.rep('y', 1000000) .. i\nend\n",
    ),
];

/// Lua programs that attack the tracer but must end normally: name,
/// source, stdout.
pub const LUA_SURVIVED: [(&str, &str, &str); 5] = [
    (
        "metamethods that raise",
        "local t = setmetatable({1}, {__tostring = error, __index = error, __len = error, __pairs = error, __eq = error})\nlocal x = 1\nprint('ok')\n",
        "ok\n",
    ),
    (
        "the string metatable replaced",
        "getmetatable('').__index = function() error('blinded') end\nlocal s = 'abc'\nprint(#s)\n",
        "3\n",
    ),
    (
        "globals behind raising metamethods",
        "setmetatable(_G, {__index = function() error('no') end, __newindex = function() error('no') end})\nlocal y = 2\nprint('ok')\n",
        "ok\n",
    ),
    (
        "files, os, load and debug",
        "print(io.open, os.execute, os.exit, require, load, debug, package, string.dump)\n",
        "nil\tnil\tnil\tnil\tnil\tnil\tnil\tnil\n",
    ),
    (
        "ten megabytes behind one local",
        "local s = string.rep('x', 10000000)\nlocal t = {s, s, s}\nlocal n = 0\nfor i = 1, 10 do n = n + i end\nprint(#s, n)\n",
        "10000000\t55\n",
    ),
];

/// JavaScript programs that must not finish normally: name, source.
pub const JS_BOMBS: [(&str, &str); 10] = [
    ("growing array", "const t = [];\nwhile (true) {\n  t.push('x'.repeat(100000) + t.length);\n}\n"),
    ("huge string", "const s = 'a'.repeat(2 ** 29);\n"),
    ("output flood", "while (true) {\n  console.log('x'.repeat(1000));\n}\n"),
    ("empty loop", "for (;;) {}\n"),
    ("deep recursion", "function f(n) {\n  return 1 + f(n + 1);\n}\nf(0);\n"),
    ("error storm", "while (true) {\n  try {\n    throw new Error('x');\n  } catch (e) {}\n}\n"),
    ("regex backtracking", "console.log(/(a+)+b/.test('a'.repeat(40)));\n"),
    ("endless promise chain", "const spin = () => Promise.resolve().then(spin);\nspin();\n"),
    (
        "endless generator",
        "function* g() {\n  let i = 0;\n  while (true) yield i++;\n}\nconsole.log([...g()].length);\n",
    ),
    ("sort with a comparator that never returns", "[3, 1, 2].sort(() => {\n  for (;;) {}\n});\n"),
];

/// JavaScript programs that attack the tracer or reach for the outside
/// world but must end normally: name, source, stdout.
pub const JS_SURVIVED: [(&str, &str, &str); 5] = [
    (
        "getters, proxies and toString that raise",
        "const o = { get x() { throw new Error('no'); } };\nconst p = new Proxy({}, { ownKeys() { throw 1; }, get() { throw 2; } });\nconst t = { toString() { throw 3; }, valueOf() { throw 4; } };\nlet n = 1;\nconsole.log('ok');\n",
        "ok\n",
    ),
    (
        "replaced built-ins",
        "Object.prototype.toString = () => { throw 1; };\nArray.prototype.join = null;\nObject.keys = null;\nJSON.stringify = null;\nconst xs = [1, 2];\nconsole.log('ok');\n",
        "ok\n",
    ),
    (
        "eval, Function and the outside world",
        "const out = [];\nfor (const f of [() => eval('1'), () => Function('1')(), () => (() => {}).constructor('1')()]) {\n  try { f(); out.push('ran'); } catch (e) { out.push(e.name); }\n}\nconsole.log(out.join(' '), typeof process, typeof require, typeof std, typeof os);\n",
        "TypeError TypeError TypeError undefined undefined undefined undefined\n",
    ),
    ("dynamic import", "import('fs').then(() => console.log('loaded'), (e) => console.log('refused'));\n", "refused\n"),
    (
        "ten megabytes behind one local",
        "const s = 'x'.repeat(10000000);\nconst t = [s, s, s];\nlet n = 0;\nfor (let i = 1; i <= 10; i++) n += i;\nconsole.log(s.length, n);\n",
        "10000000 55\n",
    ),
];

/// A plain JavaScript program run after each hostile one: (source, stdout).
pub const JS_CANARY: (&str, &str) = (
    "const xs = [1, 2, 3];\nconsole.log(xs.length, 'ab'.toUpperCase(), typeof Object.prototype.toString);\n",
    "3 AB function\n",
);

/// A plain Lua program run after each hostile one: (source, stdout). It also
/// checks that a replaced string metatable did not leak into the next run.
pub const LUA_CANARY: (&str, &str) =
    ("local xs = {1, 2, 3}\nprint(#xs, ('ab'):upper(), getmetatable('').__index == string)\n", "3\tAB\ttrue\n");
