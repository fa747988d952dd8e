//! Hostile programs against a real one-worker `curio pool` over gRPC: each
//! ends within its limits with a status, the pool keeps serving, and the
//! next execution on the same worker sees none of it.

use std::time::{Duration, Instant};

use curio_interpreter_pool::{Execution, Limits, Status, Trace, execution_to_proto, trace_from_proto};
use curio_proto::v1 as pb;
use curio_proto::v1::interpreter_pool_client::InterpreterPoolClient;
use curio_tests::PoolProcess;
use tonic::transport::Channel;

const TIMEOUT_MS: u64 = 1500;

/// Programs that must not finish normally: name, source.
const BOMBS: [(&str, &str); 11] = [
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
const SURVIVED: [(&str, &str, &str); 9] = [
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

async fn run(c: &mut InterpreterPoolClient<Channel>, id: &str, source: &str) -> (Trace, Duration) {
    let limits = Limits { timeout: Duration::from_millis(TIMEOUT_MS), ..Limits::default() };
    let exec = Execution { request_id: id.into(), limits, ..Execution::python(source) };
    let started = Instant::now();
    let result = c.execute(execution_to_proto(&exec)).await.expect("the pool answers").into_inner();
    let took = started.elapsed();
    match result.outcome {
        Some(pb::execution_result::Outcome::Trace(t)) => (trace_from_proto(result.request_id, t).unwrap(), took),
        other => panic!("{id}: unexpected outcome {other:?}"),
    }
}

/// The same worker runs a plain program correctly right after.
async fn canary(c: &mut InterpreterPoolClient<Channel>, after: &str) {
    let (t, _) =
        run(c, "canary", "import sys\nx = [1, 2, 3]\nprint(sum(x), sys.getrecursionlimit() < 10 ** 6)\n").await;
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "6 True\n"), "after {after}: {:?}", t.error);
}

#[tokio::test]
async fn hostile_programs_end_with_a_status_and_leave_the_worker_clean() {
    let pool = PoolProcess::start(1, 4);
    let mut c = InterpreterPoolClient::connect(pool.addr.clone()).await.unwrap();
    for (name, source) in BOMBS {
        let (t, took) = run(&mut c, name, source).await;
        assert_ne!(t.status, Status::Ok, "{name} finished normally");
        if t.status == Status::Exception {
            let kind = t.error.as_ref().map(|e| e.kind.as_str()).unwrap_or_default();
            assert!(["MemoryError", "StackOverflow", "RecursionError"].contains(&kind), "{name}: {:?}", t.error);
        }
        assert!(took < Duration::from_millis(TIMEOUT_MS + 3000), "{name} took {took:?}");
        canary(&mut c, name).await;
    }
    for (name, source, stdout) in SURVIVED {
        let (t, took) = run(&mut c, name, source).await;
        assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, stdout), "{name}: {:?}", t.error);
        assert!(!t.steps.is_empty(), "{name}: the tracer kept tracing");
        assert!(took < Duration::from_millis(TIMEOUT_MS + 3000), "{name} took {took:?}");
        canary(&mut c, name).await;
    }
}
