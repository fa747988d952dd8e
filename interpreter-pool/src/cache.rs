//! The compiled guest, cached on disk: compiling the 18 MB CPython component
//! takes ~16 s, loading its serialized form takes milliseconds.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::sandbox::SandboxError;

/// The Python guest component, built by `make guest`.
pub(crate) const PYTHON_GUEST: &[u8] = include_bytes!(env!("CURIO_PYTHON_GUEST_WASM"));
const PYTHON_GUEST_SHA256: &str = env!("CURIO_PYTHON_GUEST_SHA256");

/// `$CURIO_CACHE_DIR`, else `$XDG_CACHE_HOME/curio`, else `~/.cache/curio`.
pub(crate) fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CURIO_CACHE_DIR") {
        return dir.into();
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("curio");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache/curio")
}

/// Loads the compiled guest from `dir`, or compiles and stores it there.
/// Returns the component and whether it came from the cache.
pub(crate) fn load_guest(engine: &Engine, dir: &Path) -> Result<(Component, bool), SandboxError> {
    // The key covers the guest bytes and every engine setting that changes
    // compiled code, so a stale or foreign artifact is never picked up.
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let path = dir.join(format!("python-{}-{:016x}.cwasm", &PYTHON_GUEST_SHA256[..16], h.finish()));
    if path.exists() {
        // SAFETY: the file was written by `Component::serialize` of an engine
        // with the same compatibility hash (it is in the name), into the
        // user's own cache folder; wasmtime checks its header on load.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok((component, true)),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cached guest unusable; recompiling"),
        }
    }
    let component = Component::new(engine, PYTHON_GUEST).map_err(|e| SandboxError::Guest(format!("{e:#}")))?;
    if let Err(e) = store(&component, dir, &path) {
        tracing::warn!(path = %path.display(), error = %e, "could not cache the compiled guest; next start compiles again");
    }
    remove_stale(dir, &path);
    Ok((component, false))
}

/// Deletes compiled guests of other builds (each is ~40 MB). A process still
/// running one keeps its mapping; only the directory entry goes.
fn remove_stale(dir: &Path, keep: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path != keep && name.starts_with("python-") && name.ends_with(".cwasm") {
            let _ = fs::remove_file(&path);
        }
    }
}

fn store(component: &Component, dir: &Path, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    fs::create_dir_all(dir)?;
    let bytes = component.serialize()?;
    // Write then rename, so concurrent starts never read half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)?;
    Ok(())
}
