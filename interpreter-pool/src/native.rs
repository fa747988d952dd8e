//! The guest's tracer under a native `python3`: the reference the sandbox is
//! checked against, and the baseline of `curio bench pool`'s per-step ratio.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

const FILES: [(&str, &str); 2] = [
    ("tracer.py", include_str!("../guests/python/tracer.py")),
    ("native.py", include_str!("../guests/python/native.py")),
];

/// Runs `native.py` with one JSON request and returns its JSON answer. The
/// interpreter is `$CURIO_NATIVE_PYTHON`, else `python3`.
pub fn run_native_tracer(request: &serde_json::Value) -> Result<serde_json::Value, String> {
    static RUN: AtomicU32 = AtomicU32::new(0);
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "curio-native-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    for (name, text) in FILES {
        std::fs::write(dir.join(name), text).map_err(|e| format!("writing {name}: {e}"))?;
    }
    let python = std::env::var("CURIO_NATIVE_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .arg(dir.join("native.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {python}: {e} (set CURIO_NATIVE_PYTHON to a python3)"))?;
    let body = request.to_string();
    child.stdin.take().expect("piped stdin").write_all(body.as_bytes()).map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        return Err(format!("{python} native.py failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("native.py answered something other than JSON: {e}"))
}
