//! Embeds the Python guest component and its SHA-256 (the cache key of its
//! compiled form), so the binary runs anywhere and a start after the first
//! does not hash 18 MB.

use std::{env, fs, path::PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let wasm = env::var_os("CURIO_PYTHON_GUEST")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("guests/python/build/tracer.wasm"));
    println!("cargo:rerun-if-env-changed=CURIO_PYTHON_GUEST");
    println!("cargo:rerun-if-changed={}", wasm.display());
    let bytes = fs::read(&wasm).unwrap_or_else(|e| {
        panic!(
            "the Python guest component is missing ({}: {e}).\n\
             Build it with `make guest` (or run `make test` / `make run`, which do it for you).",
            wasm.display()
        )
    });
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=CURIO_PYTHON_GUEST_WASM={}", wasm.display());
    println!("cargo:rustc-env=CURIO_PYTHON_GUEST_SHA256={hex}");
}
