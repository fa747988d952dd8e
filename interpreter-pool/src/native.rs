//! The guests' tracers under native interpreters (`python3`, `lua5.4`): the
//! references the sandbox is checked against, and the baselines of `curio
//! bench pool`'s per-step ratio.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

const PYTHON_FILES: [(&str, &str); 2] = [
    ("tracer.py", include_str!("../guests/python/tracer.py")),
    ("native.py", include_str!("../guests/python/native.py")),
];
const LUA_FILES: [(&str, &str); 2] = [
    ("tracer.lua", include_str!("../guests/lua/tracer.lua")),
    ("native.lua", include_str!("../guests/lua/native.lua")),
];

/// A scratch folder holding `files`, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(files: &[(&str, &str)]) -> Result<Self, String> {
        static RUN: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "curio-native-{}-{}",
            std::process::id(),
            RUN.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let scratch = Scratch(dir);
        for (name, text) in files {
            scratch.write(name, text)?;
        }
        Ok(scratch)
    }

    fn write(&self, name: &str, text: &str) -> Result<PathBuf, String> {
        let path = self.0.join(name);
        std::fs::write(&path, text).map_err(|e| format!("writing {name}: {e}"))?;
        Ok(path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `native.py` with one JSON request and returns its JSON answer. The
/// interpreter is `$CURIO_NATIVE_PYTHON`, else `python3`.
pub fn run_native_tracer(request: &serde_json::Value) -> Result<serde_json::Value, String> {
    let scratch = Scratch::new(&PYTHON_FILES)?;
    let python = std::env::var("CURIO_NATIVE_PYTHON").unwrap_or_else(|_| "python3".into());
    let stdout = run(&python, &[scratch.path("native.py")], Some(request.to_string().as_bytes()), "native.py")?;
    serde_json::from_slice(&stdout).map_err(|e| format!("native.py answered something other than JSON: {e}"))
}

/// The interpreter for `native.lua`: `$CURIO_NATIVE_LUA`, else the native
/// build of the guest's own Lua release (`make guest` builds it beside the
/// module, with the guest's fixed hash seed), else `lua5.4`.
fn lua() -> String {
    if let Ok(path) = std::env::var("CURIO_NATIVE_LUA") {
        return path;
    }
    let built = concat!(env!("CARGO_MANIFEST_DIR"), "/guests/lua/build/lua");
    if Path::new(built).exists() { built.into() } else { "lua5.4".into() }
}

/// tracer.lua under a native Lua 5.4: `{"events": [...], "summary": {...}}`,
/// the same answer as `run_native_tracer`'s trace mode.
pub fn run_native_lua(source: &str, input: &str, seed: u64, repr_cap: u32) -> Result<serde_json::Value, String> {
    let scratch = Scratch::new(&LUA_FILES)?;
    let source = scratch.write("program.lua", source)?;
    let input = scratch.write("input.txt", input)?;
    let args = [
        scratch.path("native.lua"),
        "trace".into(),
        scratch.path("tracer.lua"),
        source,
        input,
        (seed as i64).to_string().into(),
        repr_cap.to_string().into(),
    ];
    events_and_summary(run(&lua(), &args, None, "native.lua")?, "native.lua")
}

/// The native build of the JavaScript guest's engine and tracer
/// (`guests/js/build/qjs`, which `make guest` builds), or `$CURIO_NATIVE_QJS`.
fn qjs() -> String {
    std::env::var("CURIO_NATIVE_QJS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/guests/js/build/qjs").into())
}

/// The JavaScript tracer under the native build of the same QuickJS:
/// `{"events": [...], "summary": {...}}`, as `run_native_lua` answers.
pub fn run_native_js(source: &str, input: &str, seed: u64, repr_cap: u32) -> Result<serde_json::Value, String> {
    let scratch = Scratch::new(&[])?;
    let source = scratch.write("program.js", source)?;
    let input = scratch.write("input.txt", input)?;
    let args = ["trace".into(), source, input, (seed as i64).to_string().into(), repr_cap.to_string().into()];
    events_and_summary(run(&qjs(), &args, None, "qjs trace")?, "qjs trace")
}

/// The JavaScript tracer's own time natively over `programs`, each run
/// `repeat` times: (events, seconds).
pub fn bench_native_js(programs: &[String], repeat: u32, repr_cap: u32) -> Result<(u64, f64), String> {
    let scratch = Scratch::new(&[])?;
    let mut args: Vec<PathBuf> = vec!["bench".into(), repeat.to_string().into(), repr_cap.to_string().into()];
    for (i, source) in programs.iter().enumerate() {
        args.push(scratch.write(&format!("program{i}.js"), source)?);
    }
    events_and_seconds(run(&qjs(), &args, None, "qjs bench")?, "qjs bench")
}

/// A bench's one line "<events> <seconds>".
fn events_and_seconds(stdout: Vec<u8>, what: &str) -> Result<(u64, f64), String> {
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let mut parts = stdout.split_whitespace();
    let events = parts.next().and_then(|s| s.parse().ok());
    let seconds = parts.next().and_then(|s| s.parse().ok());
    events.zip(seconds).ok_or_else(|| format!("{what} printed {stdout:?}"))
}

/// Lines of "E <event>" and one "S <summary>" as one JSON answer.
fn events_and_summary(stdout: Vec<u8>, what: &str) -> Result<serde_json::Value, String> {
    let stdout = String::from_utf8(stdout).map_err(|e| format!("{what} printed non-UTF-8: {e}"))?;
    let (mut events, mut summary) = (vec![], None);
    for line in stdout.lines() {
        let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).map_err(|e| format!("{e}: {text}"));
        match line.split_at_checked(2) {
            Some(("E ", event)) => events.push(parse(event)?),
            Some(("S ", text)) => summary = Some(parse(text)?),
            _ => return Err(format!("{what} printed an unexpected line: {line}")),
        }
    }
    let summary = summary.ok_or_else(|| format!("{what} printed no summary"))?;
    Ok(serde_json::json!({"events": events, "summary": summary}))
}

/// tracer.lua's own time under a native Lua 5.4 over `programs`, each run
/// `repeat` times: (events, seconds).
pub fn bench_native_lua(programs: &[String], repeat: u32, repr_cap: u32) -> Result<(u64, f64), String> {
    let scratch = Scratch::new(&LUA_FILES)?;
    let mut args = vec![scratch.path("native.lua"), "bench".into(), scratch.path("tracer.lua")];
    args.push(repeat.to_string().into());
    args.push(repr_cap.to_string().into());
    for (i, source) in programs.iter().enumerate() {
        args.push(scratch.write(&format!("program{i}.lua"), source)?);
    }
    events_and_seconds(run(&lua(), &args, None, "native.lua")?, "native.lua bench")
}

/// Runs `program args`, feeding `stdin`; its stdout, or why it failed.
fn run(program: &str, args: &[PathBuf], stdin: Option<&[u8]>, what: &str) -> Result<Vec<u8>, String> {
    let hint = if program.contains("lua") {
        "run `make guest`, which builds the native Lua beside the guest, or set CURIO_NATIVE_LUA"
    } else if program.contains("qjs") {
        "run `make guest`, which builds the native QuickJS beside the guest, or set CURIO_NATIVE_QJS"
    } else {
        "set CURIO_NATIVE_PYTHON to a python3"
    };
    let mut child = Command::new(program)
        .args(args.iter().map(PathBuf::as_path).map(Path::as_os_str))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {program}: {e} ({hint})"))?;
    let mut pipe = child.stdin.take().expect("piped stdin");
    if let Some(bytes) = stdin {
        pipe.write_all(bytes).map_err(|e| e.to_string())?;
    }
    drop(pipe);
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{program} {what} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout)
}
