//! The Lua guest against a native Lua 5.4 running the same tracer: traces
//! match event for event on `tests/programs/lua`, every limit ends a run
//! with its status and partial trace, hostile programs are contained, and
//! the same request gives the same trace.

use std::time::{Duration, Instant};

use curio_interpreter_pool::{Event, Language, Limits, Status, Trace, run_native_lua};
use curio_tests::{lua_programs, printed_values, run_in, sandbox, with_timeout};

const INPUT: &str = "hello\n12 30\nabc\ndef\n";

fn lua(source: &str) -> Trace {
    run_in(Language::Lua, source, "", Limits::default())
}

#[test]
fn traces_match_native_lua_event_for_event() {
    let programs = lua_programs();
    assert!(programs.len() >= 12, "the Lua corpus is missing");
    for (name, source) in programs {
        let trace = run_in(Language::Lua, &source, INPUT, Limits::default());
        curio_tests::matches_native(&name, &source, INPUT, &trace, run_native_lua);
    }
}

#[test]
fn calls_tail_calls_and_returns_keep_the_depth() {
    let t = lua(
        "local function loop(n, acc)\n  if n == 0 then return acc end\n  return loop(n - 1, acc + n)\nend\nprint(loop(3, 0))\n",
    );
    assert_eq!(t.status, Status::Ok);
    assert_eq!(t.stdout, "6\n");
    let calls: Vec<_> =
        t.steps.iter().filter(|s| s.event == Event::Call).map(|s| (s.function.as_str(), s.depth)).collect();
    assert_eq!(calls, [("<module>", 1), ("loop", 2), ("loop", 3), ("loop", 4), ("loop", 5)]);
    // The innermost return hands back 6; each replaced caller returns it too.
    let returns: Vec<_> =
        t.steps.iter().filter(|s| s.event == Event::Return).map(|s| (s.depth, s.value.as_deref())).collect();
    assert_eq!(returns, [(5, Some("6")), (4, Some("6")), (3, Some("6")), (2, Some("6")), (1, Some("nil"))]);
    let first = &t.steps[t.steps.iter().position(|s| s.function == "loop").unwrap()];
    assert_eq!(first.locals, [("n".to_string(), "3".to_string()), ("acc".to_string(), "0".to_string())]);
}

#[test]
fn an_error_unwinds_every_frame_with_an_exception_and_a_return() {
    let t = lua(
        "local function f(n)\n  if n == 0 then error('deep') end\n  return f(n - 1) + 1\nend\nprint(pcall(f, 2))\nf(1)\n",
    );
    assert_eq!(t.status, Status::Exception);
    let error = t.error.as_ref().unwrap();
    assert_eq!((error.kind.as_str(), error.message.as_str(), error.line), ("error", "deep", Some(2)));
    assert_eq!(t.stdout, "false\t<program>:2: deep\n");
    // Each frame the caught error left: an exception where it passed, then a return of nil.
    let unwound: Vec<_> = t
        .steps
        .iter()
        .filter(|s| matches!(s.event, Event::Exception | Event::Return) && s.value.as_deref() != Some("1"))
        .map(|s| (s.event, s.line, s.depth))
        .collect();
    let caught = [
        (Event::Exception, 2, 4),
        (Event::Return, 2, 4),
        (Event::Exception, 3, 3),
        (Event::Return, 3, 3),
        (Event::Exception, 3, 2),
        (Event::Return, 3, 2),
    ];
    assert_eq!(unwound[..6], caught);
    assert_eq!(t.steps.last().map(|s| (s.event, s.depth)), Some((Event::Return, 1)));
}

#[test]
fn syntax_error_is_invalid_program_with_its_line() {
    let t = lua("local x = 1\nif x then\n  print(x\nend\n");
    assert_eq!(t.status, Status::InvalidProgram);
    let error = t.error.unwrap();
    assert_eq!((error.kind.as_str(), error.line), ("SyntaxError", Some(4)));
    assert!(error.message.contains("')' expected"), "{}", error.message);
    assert!(t.steps.is_empty());
}

#[test]
fn the_seed_decides_the_draws_and_the_same_request_the_same_trace() {
    let source = "local xs = {}\nfor i = 1, 8 do xs[i] = math.random(1000) end\nprint(table.concat(xs, ' '))\n";
    curio_tests::seeded_runs_agree(Language::Lua, source, run_native_lua);
}

#[test]
fn step_limit_stops_at_exactly_max_steps_with_the_trace() {
    let limits = Limits { max_steps: 50, ..Limits::default() };
    let t = run_in(Language::Lua, "local i = 0\nwhile true do\n  i = i + 1\nend\n", "", limits);
    assert_eq!(t.status, Status::StepLimit);
    assert_eq!((t.step_count, t.steps.len()), (50, 50));
}

fn stopped_in_time(source: &str, limits: Limits, status: Status) -> Trace {
    curio_tests::stopped_in_time(Language::Lua, source, limits, status)
}

#[test]
fn a_pattern_that_never_ends_times_out() {
    // Backtracking inside string.find: no trace events, only the wall clock.
    let source = "local s = string.rep('a', 40000)\nprint(s:find('.-.-.-.-b'))\n";
    stopped_in_time(source, with_timeout(300), Status::Timeout);
}

#[test]
fn memory_and_output_bombs_hit_their_limits() {
    let hoard = "local t = {}\nlocal i = 0\nwhile true do\n  i = i + 1\n  t[i] = string.rep('x', 100000) .. i\nend\n";
    let limits = Limits { max_steps: 1_000_000, memory_bytes: 64 << 20, ..Limits::default() };
    stopped_in_time(hoard, limits, Status::MemoryLimit);
    let huge = "local s = string.rep('x', 1 << 30)\n";
    stopped_in_time(huge, limits, Status::MemoryLimit);
    let flood = "while true do io.write(string.rep('x', 1000)) end\n";
    let limits = Limits { max_steps: 1_000_000, output_bytes: 100_000, ..Limits::default() };
    let t = stopped_in_time(flood, limits, Status::OutputLimit);
    assert_eq!(t.stdout.len(), 100_000);
}

#[test]
fn deep_recursion_ends_with_a_status_not_a_crash() {
    let source = "local function f(n) return 1 + f(n + 1) end\nf(0)\n";
    let limits = Limits { max_steps: 1_000_000, ..with_timeout(5_000) };
    sandbox(); // loaded once per test binary: not the run's time
    let started = Instant::now();
    let t = run_in(Language::Lua, source, "", limits);
    assert!(matches!(t.status, Status::Exception | Status::StepLimit | Status::Timeout), "{:?}", t.status);
    assert!(started.elapsed() < Duration::from_secs(8));
    // A wasm stack overflow in the C parser is contained the same way.
    let nested = format!("local x = {}1{}\n", "(".repeat(30_000), ")".repeat(30_000));
    let t = run_in(Language::Lua, &nested, "", Limits::default());
    assert!(matches!(t.status, Status::InvalidProgram | Status::Exception), "{:?}", t.status);
}

#[test]
fn files_os_load_and_the_debug_library_are_out_of_reach() {
    let probe = "local names = {'io.open', 'io.popen', 'os.execute', 'os.exit', 'os.getenv', 'os.remove', \
                 'os.rename', 'os.tmpname', 'require', 'load', 'loadstring', 'dofile', 'loadfile', 'debug', \
                 'package', 'string.dump', 'collectgarbage'}\n\
                 local reached = {}\n\
                 for _, name in ipairs(names) do\n\
                 \x20 local v = _G\n\
                 \x20 for part in name:gmatch('[^.]+') do v = v and v[part] end\n\
                 \x20 if v ~= nil then reached[#reached + 1] = name end\n\
                 end\n\
                 print(#reached, table.concat(reached, ' '))\n";
    let t = lua(probe);
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "0\t\n"));
    for attempt in ["io.open('/etc/passwd')", "os.execute('ls')", "require('socket')", "load('return 1')()"] {
        let t = lua(&format!("{attempt}\n"));
        assert_eq!(t.status, Status::Exception, "{attempt}");
        assert!(t.error.unwrap().message.contains("attempt to call a nil value"), "{attempt}");
    }
}

#[test]
fn the_program_cannot_blind_the_tracer_through_shared_metatables() {
    let source = "getmetatable('').__index = function() error('blinded') end\n\
                  setmetatable(_G, {__index = function(_, k) return k end})\n\
                  local s = 'abc'\n\
                  local t = setmetatable({1, 2}, {__index = error, __len = error, __pairs = error, __tostring = error})\n\
                  print(#s, rawlen(t))\n";
    let t = lua(source);
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "3\t2\n"), "{:?}", t.error);
    let last = t.steps.iter().rev().find(|s| s.event == Event::Line).unwrap();
    assert!(last.locals.contains(&("t".to_string(), "{1, 2}".to_string())), "{:?}", last.locals);
}

#[test]
fn long_values_and_odd_bytes_are_capped_and_valid_text() {
    let source = "local s = string.rep('é', 500)\nlocal b = '\\255\\0\\n'\nlocal t = {}\nfor i = 1, 1000 do t[i] = i end\nt.self = t\nio.write('\\255\\n')\n";
    let t = lua(source);
    assert_eq!(t.status, Status::Ok);
    let last = t.steps.last().unwrap();
    for (name, repr) in &last.locals {
        assert!(repr.len() <= 200 + 3, "{name}: {} bytes", repr.len());
    }
    let b = &last.locals.iter().find(|(n, _)| n == "b").unwrap().1;
    assert_eq!(b, r#""\255\0\n""#);
    assert!(t.stdout.starts_with('\u{FFFD}'), "{:?}", t.stdout);
}

#[test]
fn generated_lua_programs_run_and_compute_what_their_python_twins_do() {
    let config = curio_learner::GenConfig::default();
    let (mut twins, mut same) = (0, 0);
    for seed in 0..60 {
        let input = curio_learner::inputs(seed, 1).remove(0);
        let source = curio_learner::generate_in(Language::Lua, seed, &config);
        let t = run_in(Language::Lua, &source, &input, Limits::default());
        assert_eq!(t.status, Status::Ok, "seed {seed}: {:?}\n{source}", t.error);
        // The twins agree until a Lua loop's variable, gone after its loop,
        // would be read: compare those without loops.
        let python = curio_learner::generate(seed, &config);
        if python.contains("for ") {
            continue;
        }
        let twin = run_in(Language::Python, &python, &input, Limits::default());
        twins += 1;
        same += usize::from(printed_values(&twin.stdout) == printed_values(&t.stdout));
    }
    assert!(twins >= 10, "only {twins} programs without loops");
    assert_eq!(same, twins, "Lua twins that printed other values");
}

#[test]
fn tail_calls_into_the_library_and_handlers_keep_every_frame_and_status() {
    // `return print(x)` ends a program frame with a tail call into the
    // tracer's print: the frame still returns, and the module goes on at depth 1.
    let t = lua("local function show(x)\n  return print(x)\nend\nshow(1)\nlocal y = 2\nprint(y)\n");
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "1\n2\n"), "{:?}", t.error);
    let show: Vec<_> = t.steps.iter().filter(|s| s.function == "show").map(|s| (s.event, s.depth)).collect();
    assert_eq!(show, [(Event::Call, 2), (Event::Line, 2), (Event::Return, 2)]);
    let after = t.steps.iter().filter(|s| s.event == Event::Line && s.line >= 5).map(|s| (&*s.function, s.depth));
    assert_eq!(after.collect::<Vec<_>>(), [("<module>", 1), ("<module>", 1)]);
    // A program's xpcall handler runs on top of the error; it replaces no frame.
    let t =
        lua("local ok, e = xpcall(error, function(m) return 'handled ' .. m end, 'x')\nprint(ok, e)\nlocal z = 1\n");
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "false\thandled x\n"), "{:?}", t.error);
    assert!(t.steps.iter().any(|s| s.event == Event::Line && s.line == 3 && s.depth == 1));
}

#[test]
fn forged_positions_odd_line_ends_and_odd_names_end_as_they_deserve() {
    let t = lua("local x = 1\nerror('<program>:99999999999999999999: forged', 0)\n");
    let error = t.error.unwrap();
    assert_eq!((t.status, error.line), (Status::Exception, Some(2)), "{}", error.message);
    let t = lua("error('<program>:1: said so', 0)\n");
    assert_eq!(t.error.unwrap().message, "said so");
    // Lua ends a line at a lone carriage return too.
    let t = lua("local x = 1\rlocal y = x + 1\rprint(y)\r");
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "2\n"), "{:?}", t.error);
    // A function reached through a name written with escapes is anonymous.
    let t = lua("local t = {}\nt['\\102oo'] = function() return 1 end\nprint(t['\\102oo']())\n");
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "1\n"), "{:?}", t.error);
    // A program __eq on a library table does not run inside the tracer.
    let t = lua("setmetatable(math, {__eq = function() error('inside') end})\nmath = {}\nlocal k = 1\nprint(k)\n");
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "1\n"), "{:?}", t.error);
    // Numbers on stdin as io.read reads them.
    let t = run_in(
        Language::Lua,
        "print(io.read('n', 'n', 'n'))\nprint(io.read('a'))\n",
        "1e-2 0x10 12abc\n",
        Limits::default(),
    );
    assert_eq!(t.stdout, "0.01\t16\t12\nabc\n\n");
}
