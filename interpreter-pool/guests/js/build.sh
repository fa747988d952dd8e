#!/usr/bin/env bash
# Builds the JavaScript guest, build/js.wasm: QuickJS-NG (the copy the
# `rquickjs-sys` crate vendors, checked by its SHA-256) with quickjs.patch
# (a line hook) and curio_trace.c (the tracer), compiled to wasm32-wasi by
# Debian's clang-19, and build/qjs, the same engine and tracer built natively:
# the reference the guest is tested against. Downloads are kept in the cache
# folder; a rebuild takes about a minute.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="${CURIO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/curio}"
CRATE=0.14.0
CRATE_SHA256=cee271d0eeba64f0915b846cb7ae02e16faf3dfdffdca91731101d9d30fe3423
. "$here/../wasi.sh"

need_wasi_toolchain "js guest"
command -v patch >/dev/null || { echo "js guest: needs patch; run: apt-get install patch" >&2; exit 1; }

mkdir -p "$cache"
vendored="$cache/rquickjs-sys-$CRATE/quickjs"
if [ ! -e "$vendored/quickjs.c" ]; then
  fetch_crate "js guest" rquickjs-sys "$CRATE" "$cache" "$CRATE_SHA256"
fi

out="$here/build"
src="$out/src"
obj="$out/obj"
rm -rf "$src"
mkdir -p "$src" "$obj"
cp "$vendored"/*.c "$vendored"/*.h "$vendored"/builtin-*.js "$src/"
(cd "$src" && patch -p1 -s --no-backup-if-mismatch < "$here/quickjs.patch")
cp "$here/curio_trace.c" "$here/curio_trace.h" "$src/"

units="quickjs libregexp libunicode dtoa"
native=()
for f in $units; do native+=("$src/$f.c"); done
# The engine ships three built-ins as precompiled bytecode, whose opcode
# numbers the patch's new opcode moves: a compiler built from the patched
# sources compiles them again.
gcc -O2 -w -D_GNU_SOURCE -DNDEBUG -I"$src" -o "$out/qjsc" "${native[@]}" "$src/qjsc.c" "$src/quickjs-libc.c" -lm -lpthread
for js in builtin-array-fromasync builtin-iterator-zip builtin-iterator-zip-keyed; do
  (cd "$src" && "$out/qjsc" -C -ss -o "$js.h" "$js.js")
done
gcc -O2 -Wall -Wno-unused-function -D_GNU_SOURCE -DNDEBUG -I"$src" -o "$out/qjs.tmp" "${native[@]}" "$here/native_main.c" -lm \
  2> "$out/warnings.txt" || { cat "$out/warnings.txt" >&2; exit 1; }
grep -A3 "curio_trace.c" "$out/warnings.txt" >&2 || true
mv "$out/qjs.tmp" "$out/qjs"
echo "js guest: $out/qjs (the native reference)"

flags=(--target=wasm32-wasi --sysroot=/usr -O2 -D_GNU_SOURCE -DNDEBUG -DEMSCRIPTEN=1 -DFE_DOWNWARD=0 -DFE_UPWARD=0
  -I"$src" -w)
printf '%s\n' $units | xargs -P "$(nproc)" -I{} clang-19 "${flags[@]}" -c "$src/{}.c" -o "$obj/{}.o"
clang-19 "${flags[@]}" -c "$here/guest.c" -o "$obj/guest.o"
clang-19 --target=wasm32-wasi --sysroot=/usr -fuse-ld=lld -mexec-model=reactor \
  -Wl,--stack-first -Wl,-z,stack-size=1048576 -o "$out/js.wasm.tmp" "$obj"/*.o -lm
mv "$out/js.wasm.tmp" "$out/js.wasm"
echo "js guest: $out/js.wasm ($(stat -c %s "$out/js.wasm") bytes)"
