//! The compiled guests, cached on disk: compiling the 18 MB CPython component
//! takes ~16 s, loading its serialized form takes milliseconds.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::{Engine, Module};

use crate::sandbox::SandboxError;

/// A guest's WebAssembly, embedded at build time (`make guest` builds them).
pub(crate) struct Guest {
    /// Prefix of its cached files.
    name: &'static str,
    bytes: &'static [u8],
    sha256: &'static str,
}

/// The Python guest: CPython and tracer.py as a component.
pub(crate) const PYTHON: Guest = Guest {
    name: "python",
    bytes: include_bytes!(env!("CURIO_PYTHON_GUEST_WASM")),
    sha256: env!("CURIO_PYTHON_GUEST_SHA256"),
};

/// The Lua guest: Lua 5.4 and tracer.lua as a core module.
pub(crate) const LUA: Guest =
    Guest { name: "lua", bytes: include_bytes!(env!("CURIO_LUA_GUEST_WASM")), sha256: env!("CURIO_LUA_GUEST_SHA256") };

pub(crate) const JS: Guest =
    Guest { name: "js", bytes: include_bytes!(env!("CURIO_JS_GUEST_WASM")), sha256: env!("CURIO_JS_GUEST_SHA256") };

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

/// What a compiled guest is: a component or a core module.
pub(crate) trait Compiled: Sized {
    fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Self>;
    /// # Safety
    /// `path` must hold what `serialize` wrote for an engine of the same
    /// compatibility hash.
    unsafe fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Self>;
    fn serialize(&self) -> wasmtime::Result<Vec<u8>>;
}

impl Compiled for Component {
    fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Self> {
        Component::new(engine, bytes)
    }
    unsafe fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Self> {
        // SAFETY: as the trait requires of the caller.
        unsafe { Component::deserialize_file(engine, path) }
    }
    fn serialize(&self) -> wasmtime::Result<Vec<u8>> {
        Component::serialize(self)
    }
}

impl Compiled for Module {
    fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Self> {
        Module::new(engine, bytes)
    }
    unsafe fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Self> {
        // SAFETY: as the trait requires of the caller.
        unsafe { Module::deserialize_file(engine, path) }
    }
    fn serialize(&self) -> wasmtime::Result<Vec<u8>> {
        Module::serialize(self)
    }
}

/// Loads `guest` compiled from `dir`, or compiles and stores it there.
/// Returns it and whether it came from the cache.
pub(crate) fn load<T: Compiled>(engine: &Engine, dir: &Path, guest: &Guest) -> Result<(T, bool), SandboxError> {
    // The key covers the guest bytes and every engine setting that changes
    // compiled code, so a stale or foreign artifact is never picked up.
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let path = dir.join(format!("{}-{}-{:016x}.cwasm", guest.name, &guest.sha256[..16], h.finish()));
    if path.exists() {
        // SAFETY: the file was written by `serialize` of an engine with the
        // same compatibility hash (it is in the name), into the user's own
        // cache folder; wasmtime checks its header on load.
        match unsafe { T::deserialize(engine, &path) } {
            Ok(compiled) => return Ok((compiled, true)),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cached guest unusable; recompiling"),
        }
    }
    let compiled = T::compile(engine, guest.bytes).map_err(|e| SandboxError::Guest(format!("{e:#}")))?;
    if let Err(e) = store(&compiled, dir, &path) {
        tracing::warn!(path = %path.display(), error = %e, "could not cache the compiled guest; next start compiles again");
    }
    remove_stale(dir, guest.name, &path);
    Ok((compiled, false))
}

/// Deletes compiled guests of other builds (the Python one is ~40 MB). A
/// process still running one keeps its mapping; only the directory entry goes.
fn remove_stale(dir: &Path, name: &str, keep: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let prefix = format!("{name}-");
    for entry in entries.flatten() {
        let path = entry.path();
        let file = entry.file_name().to_string_lossy().into_owned();
        if path != keep && file.starts_with(&prefix) && file.ends_with(".cwasm") {
            let _ = fs::remove_file(&path);
        }
    }
}

fn store<T: Compiled>(compiled: &T, dir: &Path, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    fs::create_dir_all(dir)?;
    let bytes = compiled.serialize()?;
    // Write then rename, so concurrent starts never read half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)?;
    Ok(())
}
