//! The JavaScript guest against the native build of the same QuickJS-NG and
//! tracer: traces match event for event on `tests/programs/js`, every limit
//! ends a run with its status and partial trace, hostile programs are
//! contained, and the same request gives the same trace.

use std::time::{Duration, Instant};

use curio_interpreter_pool::{Event, Execution, Language, Limits, Status, Trace, run_native_js};
use curio_tests::{js_programs, printed_values, run_in, sandbox, with_timeout};

const INPUT: &str = "world\n12 30\nabc\ndef\n";

fn js(source: &str) -> Trace {
    run_in(Language::Js, source, "", Limits::default())
}

fn local<'a>(step: &'a curio_interpreter_pool::Step, name: &str) -> Option<&'a str> {
    step.locals.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn traces_match_native_quickjs_event_for_event() {
    let programs = js_programs();
    assert!(programs.len() >= 12, "the JavaScript corpus is missing");
    for (name, source) in programs {
        let trace = run_in(Language::Js, &source, INPUT, Limits::default());
        curio_tests::matches_native(&name, &source, INPUT, &trace, run_native_js);
        assert!(trace.steps.len() > 10, "{name}: {} steps", trace.steps.len());
    }
}

#[test]
fn lines_locals_and_values_follow_the_program() {
    let t = js("function fact(n) {\n  if (n <= 1) return 1;\n  return n * fact(n - 1);\n}\nlet total = 0;\n\
                for (let i = 0; i < 3; i++) {\n  total += i;\n}\nconsole.log(total, fact(3));\n");
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "3 6\n"), "{:?}", t.error);
    let lines: Vec<u32> =
        t.steps.iter().filter(|s| s.event == Event::Line && s.function == "<module>").map(|s| s.line).collect();
    // The loop's header comes back once a round, and once more to end it.
    assert_eq!(lines, [5, 6, 7, 6, 7, 6, 7, 6, 9]);
    let calls: Vec<_> =
        t.steps.iter().filter(|s| s.event == Event::Call).map(|s| (s.function.as_str(), s.depth)).collect();
    assert_eq!(calls, [("<module>", 1), ("fact", 2), ("fact", 3), ("fact", 4)]);
    let returns: Vec<_> =
        t.steps.iter().filter(|s| s.event == Event::Return).map(|s| (s.depth, s.value.as_deref())).collect();
    assert_eq!(returns, [(4, Some("1")), (3, Some("2")), (2, Some("6")), (1, Some("undefined"))]);
    let last_line = t.steps.iter().rev().find(|s| s.event == Event::Line && s.function == "<module>").unwrap();
    assert_eq!((local(last_line, "total"), local(last_line, "i")), (Some("3"), Some("3")));
    assert_eq!(local(last_line, "fact"), Some("[Function: fact]"));
    // A let before its line runs is not shown (it is in its dead zone).
    assert_eq!(local(&t.steps[1], "total"), None);
}

#[test]
fn values_read_as_javascript_literals() {
    let t = js("const a = [1, 'two', null, undefined, -0, 1.5, 10n];\nconst o = {x: {y: [true]}, 'k k': NaN};\n\
                const m = new Map([['a', 1]]);\nconst s = new Set([1]);\nconst e = new TypeError('bad');\n\
                class P { constructor() { this.v = 1; } }\nconst p = new P();\nconst c = {};\nc.self = c;\n\
                const q = 'it\\'s\\n';\nconsole.log('done');\n");
    assert_eq!(t.status, Status::Ok, "{:?}", t.error);
    let last = t.steps.iter().rev().find(|s| s.event == Event::Line).unwrap();
    let expected = [
        ("a", "[1, 'two', null, undefined, -0, 1.5, 10n]"),
        ("o", "{x: {y: [true]}, 'k k': NaN}"),
        ("m", "Map(1) {'a' => 1}"),
        ("s", "Set(1) {1}"),
        ("e", "TypeError: bad"),
        ("p", "P {v: 1}"),
        ("c", "{self: [Circular]}"),
        ("q", "'it\\'s\\n'"),
    ];
    for (name, repr) in expected {
        assert_eq!(local(last, name), Some(repr), "{name}");
    }
}

#[test]
fn an_exception_reaches_every_frame_it_passes_and_the_summary_names_it() {
    let t = js("function deep(n) {\n  if (n === 0) throw new RangeError('bottom');\n  return deep(n - 1);\n}\n\
                try {\n  deep(1);\n} catch (e) {\n  console.log(e.message);\n}\ndeep(0);\n");
    assert_eq!(t.status, Status::Exception);
    assert_eq!(t.stdout, "bottom\n");
    let error = t.error.as_ref().unwrap();
    assert_eq!((error.kind.as_str(), error.message.as_str(), error.line), ("RangeError", "bottom", Some(2)));
    let unwound: Vec<_> = t
        .steps
        .iter()
        .filter(|s| matches!(s.event, Event::Exception | Event::Return))
        .map(|s| (s.event, s.line, s.depth))
        .collect();
    let caught = [
        (Event::Exception, 2, 3),
        (Event::Return, 2, 3),
        (Event::Exception, 3, 2),
        (Event::Return, 3, 2),
        (Event::Exception, 6, 1),
    ];
    assert_eq!(unwound[..5], caught);
    let tail = [(Event::Exception, 2, 2), (Event::Return, 2, 2), (Event::Exception, 10, 1), (Event::Return, 10, 1)];
    assert_eq!(unwound[unwound.len() - 4..], tail);
    let thrown = t.steps.iter().find(|s| s.event == Event::Exception).unwrap();
    assert_eq!(thrown.value.as_deref(), Some("RangeError: bottom"));
}

#[test]
fn syntax_error_is_invalid_program_with_its_line() {
    let t = js("let x = 1;\nif (x) {\n  console.log(x;\n}\n");
    assert_eq!(t.status, Status::InvalidProgram);
    let error = t.error.unwrap();
    assert_eq!((error.kind.as_str(), error.line), ("SyntaxError", Some(3)));
    assert!(t.steps.is_empty());
}

#[test]
fn the_seed_decides_the_draws_and_the_same_request_the_same_trace() {
    let source = "const xs = [];\nfor (let i = 0; i < 8; i++) xs.push(Math.floor(Math.random() * 1000));\nconsole.log(xs.join(' '));\n";
    curio_tests::seeded_runs_agree(Language::Js, source, run_native_js);
}

#[test]
fn step_limit_stops_at_exactly_max_steps_with_the_trace() {
    let limits = Limits { max_steps: 50, ..Limits::default() };
    let t = run_in(Language::Js, "let i = 0;\nwhile (true) {\n  i++;\n}\n", "", limits);
    assert_eq!(t.status, Status::StepLimit);
    assert_eq!((t.step_count, t.steps.len()), (50, 50));
}

fn stopped_in_time(source: &str, limits: Limits, status: Status) -> Trace {
    curio_tests::stopped_in_time(Language::Js, source, limits, status)
}

#[test]
fn loops_without_events_time_out() {
    // No statement inside: no line events, only the wall clock.
    stopped_in_time("for (;;) {}\n", with_timeout(300), Status::Timeout);
    stopped_in_time("console.log(/(a+)+b/.test('a'.repeat(40)));\n", with_timeout(300), Status::Timeout);
}

#[test]
fn memory_and_output_bombs_hit_their_limits() {
    let hoard = "const t = [];\nwhile (true) t.push('x'.repeat(100000) + t.length);\n";
    let limits = Limits { max_steps: 1_000_000, memory_bytes: 64 << 20, ..Limits::default() };
    stopped_in_time(hoard, limits, Status::MemoryLimit);
    stopped_in_time("const s = 'a'.repeat(2 ** 29);\n", limits, Status::MemoryLimit);
    let flood = "while (true) console.log('x'.repeat(999));\n";
    let limits = Limits { max_steps: 1_000_000, output_bytes: 100_000, ..Limits::default() };
    let t = stopped_in_time(flood, limits, Status::OutputLimit);
    assert_eq!(t.stdout.len(), 100_000);
}

#[test]
fn deep_recursion_and_deep_nesting_end_with_a_status_not_a_crash() {
    let source = "function f(n) { return 1 + f(n + 1); }\nf(0);\n";
    let limits = Limits { max_steps: 1_000_000, ..with_timeout(5_000) };
    sandbox(); // loaded once per test binary: not the run's time
    let started = Instant::now();
    let t = run_in(Language::Js, source, "", limits);
    assert_eq!(t.status, Status::Exception, "{:?}", t.error);
    assert!(t.steps.len() > 1000, "{} steps before the stack ran out", t.steps.len());
    assert!(started.elapsed() < Duration::from_secs(8));
    let nested = format!("const x = {}1{};\n", "(".repeat(30_000), ")".repeat(30_000));
    let t = run_in(Language::Js, &nested, "", Limits::default());
    assert!(matches!(t.status, Status::InvalidProgram | Status::Exception), "{:?}", t.status);
}

#[test]
fn eval_function_import_and_the_outside_world_are_out_of_reach() {
    let t = js("const tries = [];\n\
                for (const f of [() => eval('1'), () => Function('return 1')(), () => (function () {}).constructor('return 1')()]) {\n\
                \x20 try { f(); tries.push('ran'); } catch (e) { tries.push(e.name); }\n\
                }\n\
                console.log(tries.join(' '), typeof process, typeof require, typeof std, typeof os, typeof fetch, typeof setTimeout);\n");
    assert_eq!(
        (t.status, t.stdout.as_str()),
        (Status::Ok, "TypeError TypeError TypeError undefined undefined undefined undefined undefined undefined\n"),
        "{:?}",
        t.error
    );
    let t = js("import('fs').then((m) => console.log('loaded', m), (e) => console.log(e.name));\n");
    assert_eq!(t.status, Status::Ok, "{:?}", t.error);
    assert!(!t.stdout.contains("loaded"), "{}", t.stdout);
    let t = js("import fs from 'fs';\n");
    assert_eq!(t.status, Status::InvalidProgram);
}

#[test]
fn getters_proxies_and_replaced_builtins_cannot_reach_the_tracer() {
    let t = js("const o = { get x() { throw new Error('no'); }, y: 1 };\n\
                const p = new Proxy({}, { ownKeys() { throw new Error('trap'); }, get() { throw new Error('trap'); } });\n\
                Object.prototype.toString = () => { throw 1; };\n\
                Array.prototype.join = null;\n\
                const xs = [1, 2];\n\
                console.log('ok', o.y);\n");
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "ok 1\n"), "{:?}", t.error);
    let last = t.steps.iter().rev().find(|s| s.event == Event::Line).unwrap();
    assert_eq!(local(last, "o"), Some("{x: [Getter], y: 1}"));
    assert_eq!(local(last, "p"), Some("[Proxy]"));
    assert_eq!(local(last, "xs"), Some("[1, 2]"));
}

#[test]
fn long_values_and_lone_surrogates_are_capped_and_valid_text() {
    let t = js("const s = 'é'.repeat(500);\nconst lone = '\\ud800x';\nconst big = [];\n\
                for (let i = 0; i < 1000; i++) big.push(i);\nconsole.log(lone);\n");
    assert_eq!(t.status, Status::Ok, "{:?}", t.error);
    let last = t.steps.last().unwrap();
    for (name, repr) in &last.locals {
        assert!(repr.len() <= 200 + '…'.len_utf8(), "{name}: {} bytes", repr.len());
    }
    assert!(local(last, "s").unwrap().ends_with('…'));
    assert_eq!(local(last, "lone"), Some("'\\ud800x'"));
    assert_eq!(t.stdout, "\u{fffd}x\n");
}

#[test]
fn readline_reads_the_input_and_then_null() {
    let exec = Execution {
        input: "7\n8\n".into(),
        ..Execution::new(
            Language::Js,
            "let a = readline();\nlet b = readline();\nlet c = readline();\nconsole.log(Number(a) + Number(b), c);\n",
        )
    };
    let t = curio_tests::sandbox().execute(&exec).unwrap();
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "15 null\n"), "{:?}", t.error);
}

#[test]
fn generated_javascript_programs_run_and_compute_what_their_python_twins_do() {
    let (mut twins, mut same) = (0, 0);
    for (config, seeds) in [(curio_learner::GenConfig::default(), 0..60), (curio_learner::GenConfig::harder(), 0..20)] {
        for seed in seeds {
            let input = curio_learner::inputs(seed, 1).remove(0);
            let source = curio_learner::generate_in(Language::Js, seed, &config);
            let t = run_in(Language::Js, &source, &input, Limits::default());
            assert_eq!(t.status, Status::Ok, "seed {seed}: {:?}\n{source}", t.error);
            // The twins agree until a loop's variable, gone after its loop in
            // JavaScript, would be read: compare those without loops.
            let python = curio_learner::generate(seed, &config);
            if python.contains("for ") {
                continue;
            }
            let twin = run_in(Language::Python, &python, &input, Limits::default());
            twins += 1;
            same += usize::from(printed_values(&twin.stdout) == printed_values(&t.stdout));
        }
    }
    assert!(twins >= 10, "only {twins} programs without loops");
    assert_eq!(same, twins, "JavaScript twins that printed other values");
}

#[test]
fn generators_report_what_they_yield_and_promises_what_they_settle() {
    let t = js("function* g() {\n  yield 'a';\n  return 'b';\n}\nconst seen = [...g()];\n\
                async function f() {\n  await 7;\n  return 42;\n}\nf().then((v) => console.log(v, seen));\n");
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "42 ['a']\n"), "{:?}", t.error);
    let returns = |name: &str| -> Vec<Option<&str>> {
        t.steps.iter().filter(|s| s.event == Event::Return && s.function == name).map(|s| s.value.as_deref()).collect()
    };
    // Creating the generator runs nothing of its body: no call before next().
    assert_eq!(returns("g"), [Some("'a'"), Some("'b'")]);
    assert_eq!(returns("f"), [Some("7"), Some("42")]);
    // The resumed frame is called again where it stopped.
    let g_calls: Vec<u32> =
        t.steps.iter().filter(|s| s.event == Event::Call && s.function == "g").map(|s| s.line).collect();
    assert_eq!(g_calls, [1, 2]);
}

#[test]
fn an_unhandled_rejection_ends_the_run_and_errors_name_the_line_they_were_thrown_on() {
    let t = js("async function main() {\n  throw new Error('boom');\n}\nmain();\n");
    assert_eq!(t.status, Status::Exception);
    let error = t.error.unwrap();
    assert_eq!((error.kind.as_str(), error.message.as_str(), error.line), ("Error", "boom", Some(2)));
    let t = js(
        "main().catch((e) => console.log('handled', e.message));\nasync function main() {\n  throw new Error('boom');\n}\n",
    );
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "handled boom\n"), "{:?}", t.error);
    // A primitive names the innermost line; a rethrow after a catch, its own.
    let t = js("function f() {\n  throw 'boom';\n}\nf();\n");
    let error = t.error.unwrap();
    assert_eq!((error.kind.as_str(), error.message.as_str(), error.line), ("Uncaught", "'boom'", Some(2)));
    let t = js("const e = new Error('x');\ntry {\n  throw e;\n} catch {}\nthrow e;\n");
    assert_eq!(t.error.unwrap().line, Some(5));
}

#[test]
fn long_strings_built_piece_by_piece_are_shown_from_their_start() {
    let t = js("let out = '';\nfor (let i = 0; i < 3000; i++) out += i + ',';\nconsole.log(out.length);\n");
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "13890\n"), "{:?}", t.error);
    let last = t.steps.iter().rev().find(|s| s.event == Event::Line).unwrap();
    assert!(local(last, "out").unwrap().starts_with("'0,1,2,3,"), "{:?}", local(last, "out"));
    let t = js("const big = 3n ** 5000n;\nconsole.log(big > 0n);\n");
    assert_eq!(t.stdout, "true\n");
    assert!(local(t.steps.last().unwrap(), "big").unwrap().starts_with("<bigint of "));
}
