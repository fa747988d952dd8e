//! Embeds the guests (the Python component and the Lua module) and their
//! SHA-256s (the cache keys of their compiled forms), so the binary runs
//! anywhere and a start after the first does not hash 18 MB.

use std::{env, fs, path::PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    embed("PYTHON", "guests/python/build/tracer.wasm", "Python guest component");
    embed("LUA", "guests/lua/build/lua.wasm", "Lua guest module");
    embed("JS", "guests/js/build/js.wasm", "JavaScript guest module");
}

/// Sets `CURIO_<NAME>_GUEST_WASM` and `CURIO_<NAME>_GUEST_SHA256` for the
/// crate, from `$CURIO_<NAME>_GUEST` or the file `make guest` builds.
fn embed(name: &str, default: &str, what: &str) {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let var = format!("CURIO_{name}_GUEST");
    let wasm = env::var_os(&var).map(PathBuf::from).unwrap_or_else(|| dir.join(default));
    println!("cargo:rerun-if-env-changed={var}");
    println!("cargo:rerun-if-changed={}", wasm.display());
    let bytes = fs::read(&wasm).unwrap_or_else(|e| {
        panic!(
            "the {what} is missing ({}: {e}).\n\
             Build it with `make guest` (or run `make test` / `make run`, which do it for you).",
            wasm.display()
        )
    });
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env={var}_WASM={}", wasm.display());
    println!("cargo:rustc-env={var}_SHA256={hex}");
}
