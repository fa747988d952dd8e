//! The hostile-program corpus: programs that try to exhaust, escape or
//! blind the sandbox. `tests/hostile.rs` runs it in the test suite and
//! `curio bench hostile --pool ADDR` against a live pool.

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
