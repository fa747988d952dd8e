//! Helpers for Curio's end-to-end tests: one shared sandbox per test binary,
//! the shipped test programs, the native CPython reference, and real
//! `curio pool` and `curio learner` processes on free ports.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use curio_interpreter_pool::{Execution, Language, Limits, Sandbox, SandboxConfig, Status, Trace, run_native_tracer};

mod learner;
pub use learner::{LearnerProcess, TINY, database_url, resident_mib, wait_for};

/// One sandbox per test binary: the guest loads once (from the cache after
/// the first build), then every test gets fresh stores from it.
pub fn sandbox() -> Arc<Sandbox> {
    static SANDBOX: OnceLock<Arc<Sandbox>> = OnceLock::new();
    SANDBOX
        .get_or_init(|| Arc::new(Sandbox::new(SandboxConfig { slots: 8, ..SandboxConfig::default() }).unwrap()))
        .clone()
}

/// Runs `source` with the given input and limits.
pub fn run(source: &str, input: &str, limits: Limits) -> Trace {
    run_in(Language::Python, source, input, limits)
}

/// Runs `source`, written in `language`, with the given input and limits.
pub fn run_in(language: Language, source: &str, input: &str, limits: Limits) -> Trace {
    let exec = Execution { input: input.into(), limits, ..Execution::new(language, source) };
    exec.validate().expect("test request is valid");
    sandbox().execute(&exec).expect("sandbox runs the request")
}

/// Limits with a given wall-clock budget and defaults otherwise.
pub fn with_timeout(ms: u64) -> Limits {
    Limits { timeout: Duration::from_millis(ms), ..Limits::default() }
}

/// `tests/programs/*.py`, sorted by name: (file name, source).
pub fn programs() -> Vec<(String, String)> {
    programs_in("programs", "py")
}

/// `tests/programs/lua/*.lua`, sorted by name: (file name, source).
pub fn lua_programs() -> Vec<(String, String)> {
    programs_in("programs/lua", "lua")
}

/// `tests/programs/js/*.js`, sorted by name: (file name, source).
pub fn js_programs() -> Vec<(String, String)> {
    programs_in("programs/js", "js")
}

fn programs_in(folder: &str, extension: &str) -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(folder);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == extension))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    out
}

/// The same tracer under the machine's native CPython: its events (as the
/// guest encodes them) and summary.
pub fn native_trace(source: &str, input: &str, seed: u64) -> serde_json::Value {
    let request = serde_json::json!({"mode": "trace", "source": source, "input": input, "seed": seed, "repr_cap": 200});
    run_native_tracer(&request).expect("native python3 runs the tracer")
}

/// A trace's steps in the guest's wire form, to compare with native events.
pub fn as_events(trace: &Trace) -> Vec<serde_json::Value> {
    trace
        .steps
        .iter()
        .map(|s| {
            let locals: Vec<_> = s.locals.iter().map(|(k, v)| serde_json::json!([k, v])).collect();
            let event = serde_json::to_value(s.event).unwrap();
            serde_json::json!([event, s.line, s.function, s.depth, locals, s.stdout, s.value])
        })
        .collect()
}

/// Plain `python3 -c source` with `input` on stdin and `random` seeded with
/// 0 as the sandbox seeds it: (stdout, exit success).
pub fn native_python(source: &str, input: &str) -> (String, bool) {
    let source = format!("import random as _random; _random.seed(0); del _random\n{source}");
    use std::io::Write;
    let python = std::env::var("CURIO_NATIVE_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(python)
        .args(["-c", &source])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 on PATH");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), out.status.success())
}

/// The `curio` binary next to this test binary (`make test` builds it first).
pub fn curio_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("CURIO_BIN") {
        return path.into();
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("curio");
    assert!(bin.exists(), "{} is missing: run `make build` (or `cargo build --release --bins`)", bin.display());
    bin
}

/// The first two stdout lines of a `curio` service (the contract for
/// scripts): `<prefix>ADDR` and `metrics on ADDR`; returns both addresses.
pub fn announced(stdout: &mut impl BufRead, prefix: &str) -> (String, String) {
    let mut line = |prefix: &str| {
        let mut text = String::new();
        stdout.read_line(&mut text).unwrap();
        text.trim().strip_prefix(prefix).unwrap_or_else(|| panic!("expected '{prefix}…', got {text:?}")).to_string()
    };
    let addr = line(prefix);
    (addr, line("metrics on "))
}

/// A real `curio pool` process on a free loopback port; killed on drop.
#[derive(Debug)]
pub struct PoolProcess {
    pub child: Child,
    pub addr: String,
    /// host:port of its `/metrics`.
    pub metrics: String,
}

impl PoolProcess {
    pub fn start(workers: u32, max_queue: usize) -> Self {
        let mut child = Command::new(curio_bin())
            .args(["pool", "--listen", "127.0.0.1:0", "--workers", &workers.to_string()])
            .args(["--max-queue", &max_queue.to_string(), "--grace-s", "10", "--metrics-listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .env("CURIO_LOG", "warn")
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting curio pool");
        let (addr, metrics) = announced(&mut BufReader::new(child.stdout.take().unwrap()), "listening on ");
        PoolProcess { addr: format!("http://{addr}"), metrics, child }
    }

    /// Sends SIGTERM (a graceful stop).
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for PoolProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GETs `http://{addr}/metrics` and returns the body.
pub fn scrape(addr: &str) -> String {
    http_get(addr, "/metrics").unwrap_or_else(|| panic!("GET http://{addr}/metrics did not answer 200"))
}

/// The body of `GET path` from `addr` when it answers 200; HTTP/1.0, so
/// the body comes whole, never chunked.
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    (head.split_whitespace().nth(1) == Some("200")).then(|| body.to_string())
}

/// Stops `pg` in immediate mode (as a crash would), keeps it down for
/// `down`, and starts it again.
pub async fn crash_and_restart(pg: curio_store::EmbeddedPostgres, down: Duration) -> curio_store::EmbeddedPostgres {
    tokio::task::spawn_blocking(move || {
        pg.stop(true).unwrap();
        std::thread::sleep(down);
        pg.start_server().unwrap();
        pg
    })
    .await
    .unwrap()
}

/// Whether every kept step of `trace` could have come from `source`: lines
/// inside it, depths starting at 1 and moving by one. The host's checks
/// promise this whatever the guest sent.
pub fn plausible(source: &str, trace: &Trace) -> Result<(), String> {
    let lines = source.lines().count() as u32;
    let mut depth = 0u32;
    for s in &trace.steps {
        if s.line == 0 || s.line > lines {
            return Err(format!("step {} is at line {} of {lines}", s.step, s.line));
        }
        let expected = if s.event == curio_interpreter_pool::Event::Call { depth + 1 } else { depth };
        if s.depth != expected {
            return Err(format!("step {} is at depth {} where {expected} was due", s.step, s.depth));
        }
        depth = match s.event {
            curio_interpreter_pool::Event::Call => depth + 1,
            curio_interpreter_pool::Event::Return => depth - 1,
            _ => depth,
        };
    }
    Ok(())
}

/// What a generated program printed, as values: Python's, Lua's and JavaScript's print
/// separators and booleans made alike, containers' brackets and commas
/// dropped, and dicts (which the Lua twin does not print) left out.
pub fn printed_values(stdout: &str) -> Vec<String> {
    let mut text = stdout.replace("True", "true").replace("False", "false");
    while let Some(open) = text.find('{') {
        let close = text[open..].find('}').map_or(text.len(), |c| open + c + 1);
        text.replace_range(open..close, "");
    }
    text.replace(['[', ']', '(', ')', ','], " ").split_whitespace().map(str::to_string).collect()
}

/// Runs `source` under `limits`, which must stop it with `status` within
/// its timeout (and two seconds to spare).
pub fn stopped_in_time(language: Language, source: &str, limits: Limits, status: Status) -> Trace {
    let started = std::time::Instant::now();
    let t = run_in(language, source, "", limits);
    assert_eq!(t.status, status, "{source}: {:?}", t.error);
    let spare = limits.timeout + Duration::from_secs(2);
    assert!(started.elapsed() < spare, "{source} ran {:?}", started.elapsed());
    t
}

/// A guest's tracer under its native interpreter: (source, input, seed,
/// repr cap) to `{"events", "summary"}`.
pub type NativeRun = fn(&str, &str, u64, u32) -> Result<serde_json::Value, String>;

/// `source` (which draws random numbers) traces alike under one seed, twice
/// and natively, and prints otherwise under another.
pub fn seeded_runs_agree(language: Language, source: &str, native: NativeRun) {
    let seeded = |seed| sandbox().execute(&Execution { seed, ..Execution::new(language, source) }).unwrap();
    let (a, b, c) = (seeded(1), seeded(1), seeded(2));
    assert_eq!(as_events(&a), as_events(&b));
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
    let natively = native(source, "", 1, 200).unwrap();
    assert_eq!(as_events(&a), *natively["events"].as_array().unwrap(), "the native build draws the same with seed 1");
}

/// `trace` (of `source` on `input`, seed 0) is the native build's, event for
/// event, with the same status, output and error.
pub fn matches_native(name: &str, source: &str, input: &str, trace: &Trace, native: NativeRun) {
    let natively = native(source, input, 0, 200).expect("the native build runs the tracer");
    let events = natively["events"].as_array().unwrap();
    assert_eq!(as_events(trace), *events, "{name}: the sandbox and the native build disagree");
    let summary = &natively["summary"];
    assert_eq!(trace.status.as_str(), summary["status"], "{name}");
    let printed: String = events.iter().map(|e| e[5].as_str().unwrap()).collect();
    assert_eq!(trace.stdout, printed + summary["stdout"].as_str().unwrap(), "{name}");
    assert!(!trace.stdout.is_empty(), "{name} printed nothing");
    if let Some(error) = &trace.error {
        assert_eq!(error.message, summary["error"]["message"], "{name}");
        assert_eq!(error.line.map(u64::from), summary["error"]["line"].as_u64(), "{name}");
    }
}
