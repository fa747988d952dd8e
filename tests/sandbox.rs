//! The sandbox against real CPython: traces match the native interpreter,
//! every limit ends a run with its status and partial trace, nothing
//! escapes, and the same request always gives the same trace.

use std::time::{Duration, Instant};

use curio_interpreter_pool::{Event, Execution, Limits, Sandbox, SandboxConfig, Status, Trace};
use curio_tests::{as_events, native_python, native_trace, programs, run, sandbox, with_timeout};

const INPUT: &str = "ann\n3\n";

#[test]
fn traces_match_native_cpython_event_for_event() {
    let mut compared = 0;
    for (name, source) in programs() {
        if source.starts_with("# compare: stdout") {
            continue;
        }
        let trace = run(&source, INPUT, Limits::default());
        let native = native_trace(&source, INPUT, 0);
        let events = native["events"].as_array().unwrap();
        assert_eq!(as_events(&trace), *events, "{name}: the sandbox and native CPython disagree");
        assert_eq!(trace.status.as_str(), native["summary"]["status"], "{name}");
        compared += 1;
    }
    assert!(compared >= 5, "only {compared} programs compared");
}

#[test]
fn stdout_and_outcome_match_plain_python3() {
    for (name, source) in programs() {
        let trace = run(&source, INPUT, Limits::default());
        let (stdout, success) = native_python(&source, INPUT);
        assert_eq!(trace.stdout, stdout, "{name}: stdout differs from python3");
        assert_eq!(trace.status == Status::Ok, success, "{name}: {:?}", trace.error);
        let printed: String = trace.steps.iter().map(|s| s.stdout.as_str()).collect();
        assert_eq!(printed, trace.stdout, "{name}: per-step stdout does not add up to the whole");
    }
}

#[test]
fn recursion_shows_calls_returns_depth_and_values() {
    let source = "def fact(n):\n    if n <= 1:\n        return 1\n    return n * fact(n - 1)\n\nr = fact(3)\n";
    let t = run(source, "", Limits::default());
    assert_eq!(t.status, Status::Ok);
    let returns: Vec<_> = t
        .steps
        .iter()
        .filter(|s| s.event == Event::Return && s.function == "fact")
        .map(|s| (s.depth, s.value.clone().unwrap()))
        .collect();
    assert_eq!(returns, [(4, "1".into()), (3, "2".into()), (2, "6".into())]);
    let lines: Vec<u32> = t.steps.iter().filter(|s| s.event == Event::Line).map(|s| s.line).collect();
    assert_eq!(lines, [1, 6, 2, 4, 2, 4, 2, 3]);
    let last = t.steps.last().unwrap();
    assert_eq!((last.event, last.function.as_str()), (Event::Return, "<module>"));
    assert!(last.locals.contains(&("r".into(), "6".into())), "{:?}", last.locals);
}

#[test]
fn uncaught_exception_reports_type_message_and_line() {
    let t = run("x = 1\ny = {}\nz = y['missing']\n", "", Limits::default());
    assert_eq!(t.status, Status::Exception);
    let e = t.error.unwrap();
    assert_eq!((e.kind.as_str(), e.message.as_str(), e.line), ("KeyError", "'missing'", Some(3)));
    assert!(t.steps.iter().any(|s| s.event == Event::Exception && s.value.as_deref() == Some("KeyError('missing')")));
}

#[test]
fn syntax_error_is_invalid_program_with_its_line() {
    let t = run("x = 1\ndef f(:\n    pass\n", "", Limits::default());
    assert_eq!(t.status, Status::InvalidProgram);
    let e = t.error.unwrap();
    assert_eq!((e.kind.as_str(), e.line), ("SyntaxError", Some(2)));
    assert!(t.steps.is_empty());
}

#[test]
fn same_program_input_and_seed_give_the_same_trace_byte_for_byte() {
    let source = "import random, time\nxs = [random.random() for _ in range(3)]\nt = time.time()\nprint(xs, t)\n";
    let exec = Execution { seed: 42, ..Execution::python(source) };
    let a = sandbox().execute(&exec).unwrap().without_timings();
    let b = sandbox().execute(&exec).unwrap().without_timings();
    assert_eq!(serde_json::to_vec(&a).unwrap(), serde_json::to_vec(&b).unwrap());
    let other = sandbox().execute(&Execution { seed: 43, ..exec }).unwrap();
    assert_ne!(a.stdout, other.stdout, "the seed must reach `random`");
}

#[test]
fn input_is_on_stdin_and_input_builtin() {
    let t = run(
        "import sys\nname = input('who? ')\nrest = sys.stdin.read()\nprint(name, rest.split())\n",
        "bo\n1 2\n",
        Limits::default(),
    );
    assert_eq!(t.stdout, "who? bo ['1', '2']\n");
    let t = run("x = input()\n", "", Limits::default());
    assert_eq!(t.error.unwrap().kind, "EOFError");
}

#[test]
fn long_reprs_are_capped_with_a_marker() {
    let t = run("s = 'ab' * 10000\nxs = list(range(100000))\nn = 1\n", "", Limits::default());
    let last = &t.steps.last().unwrap().locals;
    for (name, repr) in last.iter().filter(|(n, _)| n == "s" || n == "xs") {
        assert!(repr.len() <= 200 + 3, "{name} repr is {} bytes", repr.len());
        assert!(repr.ends_with('\u{2026}'), "{name}: {repr}");
    }
    assert!(last.iter().any(|(n, r)| n == "xs" && r.starts_with("[0, 1, 2, ")));
}

#[test]
fn hostile_reprs_and_odd_text_do_not_break_the_tracer() {
    let source = "class Bad:\n    def __repr__(self):\n        raise RuntimeError('no')\nb = Bad()\ns = '\\ud800 é \\x00'\nprint(s)\nn = 2\n";
    let t = run(source, "", Limits::default());
    assert_eq!(t.status, Status::Ok, "{:?}", t.error);
    let last = &t.steps.last().unwrap().locals;
    assert!(last.contains(&("b".into(), "<repr failed: RuntimeError>".into())), "{last:?}");
    assert!(t.stdout.contains("\\ud800 é \0"), "{:?}", t.stdout);
}

#[test]
fn step_limit_stops_at_exactly_max_steps_with_the_trace() {
    let limits = Limits { max_steps: 50, ..Limits::default() };
    let t = run("i = 0\nwhile True:\n    i += 1\n", "", limits);
    assert_eq!(t.status, Status::StepLimit);
    assert_eq!((t.steps.len(), t.step_count), (50, 50));
    assert!(t.steps.last().unwrap().locals.iter().any(|(n, v)| n == "i" && v != "0"));
}

/// Runs `source` under a `ms` wall-clock limit and checks the status, a
/// partial trace, and that it ended within the limit plus a margin.
fn assert_stopped_in_time(source: &str, ms: u64, status: Status) -> Trace {
    // Loading the guest (once per test binary, and other tests wait on
    // it) is not the run's time.
    sandbox();
    let started = Instant::now();
    let t = run(source, "", Limits { max_steps: 1_000_000, ..with_timeout(ms) });
    let took = started.elapsed();
    assert_eq!(t.status, status, "{source}: {:?}", t.error);
    assert!(took < Duration::from_millis(ms + 400), "{source}: took {took:?} for a {ms} ms limit");
    assert!(!t.steps.is_empty(), "{source}: the partial trace is lost");
    t
}

#[test]
fn cpu_bomb_times_out() {
    assert_stopped_in_time("x = 1\ny = 10**10**8\n", 300, Status::Timeout);
}

#[test]
fn loop_without_trace_events_times_out() {
    // The loop runs inside one builtin call: no line events to count.
    assert_stopped_in_time("import itertools\nn = sum(itertools.repeat(1))\n", 300, Status::Timeout);
}

#[test]
fn sleep_past_the_deadline_times_out() {
    let t = assert_stopped_in_time("import time\nx = 1\ntime.sleep(30)\n", 300, Status::Timeout);
    assert!(t.steps.iter().any(|s| s.line == 3));
}

#[test]
fn short_sleep_finishes_normally() {
    let t = run("import time\ntime.sleep(0.01)\nprint('up')\n", "", Limits::default());
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "up\n"));
}

#[test]
fn busy_loop_with_events_hits_the_wall_clock_when_steps_allow() {
    assert_stopped_in_time("i = 0\nwhile True:\n    i += 1\n", 300, Status::Timeout);
}

#[test]
fn memory_bomb_hits_the_memory_limit_with_its_trace() {
    let limits = Limits { memory_bytes: 64 << 20, ..Limits::default() };
    let t = run("xs = []\nwhile True:\n    xs.append('x' * 1000000)\n", "", limits);
    assert_eq!(t.status, Status::MemoryLimit, "{:?}", t.error);
    assert!(t.steps.len() > 3);
}

#[test]
fn caught_memory_error_is_not_a_memory_limit() {
    let limits = Limits { memory_bytes: 64 << 20, ..Limits::default() };
    let t = run("try:\n    b = bytearray(1 << 30)\nexcept MemoryError:\n    b = None\nprint('fine')\n", "", limits);
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "fine\n"));
}

#[test]
fn output_flood_stops_at_exactly_the_output_limit() {
    let limits = Limits { output_bytes: 10_000, ..Limits::default() };
    let t = run("while True:\n    print('y' * 99)\n", "", limits);
    assert_eq!(t.status, Status::OutputLimit);
    assert_eq!((t.stdout.len(), t.stdout_bytes), (10_000, 10_000));
    let t = run("print('z' * 10**7)\n", "", limits);
    assert_eq!((t.status, t.stdout.len()), (Status::OutputLimit, 10_000));
}

#[test]
fn files_sockets_subprocesses_and_environment_are_out_of_reach() {
    let cases = [
        ("open('/etc/passwd').read()", "FileNotFoundError"),
        ("open('/tmp/curio-escape', 'w').write('x')", "FileNotFoundError"),
        ("import os\nos.listdir('/')", "FileNotFoundError"),
        ("import socket", "ModuleNotFoundError"),
        ("import subprocess", "ModuleNotFoundError"),
        ("import ctypes", "ModuleNotFoundError"),
        ("import os\nos.system('true')", "AttributeError"),
    ];
    for (source, kind) in cases {
        let t = run(source, "", Limits::default());
        assert_eq!(t.status, Status::Exception, "{source}");
        assert_eq!(t.error.as_ref().unwrap().kind, kind, "{source}: {:?}", t.error);
    }
    assert!(!std::path::Path::new("/tmp/curio-escape").exists());
    let t = run("import os\nprint(dict(os.environ))\n", "", Limits::default());
    assert_eq!(t.stdout, "{}\n");
}

#[test]
fn the_program_cannot_switch_the_tracer_off() {
    let t =
        run("import sys\ntry:\n    sys.settrace(None)\nexcept RuntimeError:\n    pass\nx = 1\n", "", Limits::default());
    assert_eq!(t.status, Status::Ok);
    assert!(t.steps.iter().any(|s| s.line == 6));
}

#[test]
fn full_trace_is_truncated_but_the_run_completes() {
    let small = Sandbox::new(SandboxConfig { slots: 1, max_trace_bytes: 4096, ..SandboxConfig::default() }).unwrap();
    let t = small.execute(&Execution::python("for i in range(200):\n    x = i\nprint(x)\n")).unwrap();
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "199\n"));
    assert!(t.truncated);
    assert!(t.trace_bytes <= 4096 && t.step_count > t.steps.len() as u64);
}

#[test]
fn a_worker_is_clean_after_a_hostile_run() {
    run(
        "xs = []\nwhile True:\n    xs.append('x' * 1000000)\n",
        "",
        Limits { memory_bytes: 64 << 20, ..Limits::default() },
    );
    run("import builtins\nbuiltins.print = None\nX = 1\n", "", Limits::default());
    let t = run("print('clean', 'X' in globals())\n", "", Limits::default());
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "clean False\n"));
}

#[test]
fn concurrent_executions_are_independent() {
    let handles: Vec<_> = (0..8u64)
        .map(|i| {
            std::thread::spawn(move || {
                let source = format!("acc = 0\nfor k in range({i} * 10):\n    acc += k\nprint(acc)\n");
                (i, run(&source, "", Limits::default()))
            })
        })
        .collect();
    for h in handles {
        let (i, t) = h.join().unwrap();
        let n = i * 10;
        let expected = if n == 0 { 0 } else { n * (n - 1) / 2 };
        assert_eq!(t.stdout, format!("{expected}\n"));
    }
}
