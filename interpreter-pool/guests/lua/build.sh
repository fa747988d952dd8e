#!/usr/bin/env bash
# Builds the Lua guest, build/lua.wasm: Lua 5.4 (the `lua-src` crate's copy,
# checked by its SHA-256) and tracer.lua, compiled to wasm32-wasi by Debian's
# clang-19, with Lua's setjmp/longjmp as WebAssembly exceptions. binaryen's
# wasm-opt (from npm) then rewrites them into the exnref form wasmtime runs.
# Downloads are kept in the cache folder; a rebuild takes about 30 s.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="${CURIO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/curio}"
LUA_SRC=551.1.0
LUA_SRC_SHA256=41d22b201501a536c0f5a96c7589b268b559172b20fb029064434e38ddcecb1f
LUA=lua-5.4.9
BINARYEN=132.0.0
. "$here/../wasi.sh"

need_wasi_toolchain "lua guest"
command -v npm >/dev/null || { echo "lua guest: needs npm for binaryen; run: apt-get install nodejs npm" >&2; exit 1; }

mkdir -p "$cache"
src="$cache/lua-src-$LUA_SRC/$LUA"
if [ ! -e "$src/lua.h" ]; then
  fetch_crate "lua guest" lua-src "$LUA_SRC" "$cache" "$LUA_SRC_SHA256"
fi
wasm_opt="$cache/binaryen-$BINARYEN/node_modules/binaryen/bin/wasm-opt"
if [ ! -e "$wasm_opt" ]; then
  npm install --prefix "$cache/binaryen-$BINARYEN" --no-save --no-audit --no-fund --silent "binaryen@$BINARYEN"
fi

out="$here/build"
obj="$out/obj"
mkdir -p "$obj"

# luai_makeseed: a fixed string-hash seed, so tables iterate alike every run.
core="lapi lcode lctype ldebug ldo ldump lfunc lgc llex lmem lobject lopcodes lparser lstate lstring ltable ltm
  lundump lvm lzio lauxlib lbaselib lcorolib ldblib lmathlib loslib lstrlib ltablib lutf8lib"
seed="-Dluai_makeseed(L)=0u"

# The reference the guest is tested against: the same Lua release, natively,
# with the same fixed hash seed, so tables iterate in the same order.
native=()
for f in $core; do native+=("$src/$f.c"); done
gcc -O2 -w -DLUA_USE_POSIX "$seed" -I"$src" -o "$out/lua.tmp" "${native[@]}" "$src/linit.c" \
  "$src/liolib.c" "$src/loadlib.c" -I"$here" "$here/native_main.c" -lm
mv "$out/lua.tmp" "$out/lua"
echo "lua guest: $out/lua (the native reference)"

# tracer.lua precompiled by the same release (same integer and float sizes),
# so a run loads it as a binary chunk instead of parsing it.
"$out/lua" "$here/dump.lua" "$here/tracer.lua" "$out/tracer.luac"
python3 - "$out/tracer.luac" "$out/tracer_lua.h" <<'PY'
import sys
data = open(sys.argv[1], "rb").read() + b"\0"
rows = (", ".join(str(b) for b in data[i:i + 24]) for i in range(0, len(data), 24))
open(sys.argv[2], "w").write("static const char TRACER_LUA[] = {\n" + ",\n".join(rows) + "\n};\n")
PY

flags=(--target=wasm32-wasi --sysroot=/usr -O2 -I"$here" -I"$here/shim" -I"$src" -I"$out" -Dl_signalT=int "$seed"
  -mllvm -wasm-enable-sjlj -mllvm -wasm-enable-eh -Wno-deprecated-declarations)
# -w: Lua's own sources warn about the os functions the tracer removes.
printf '%s\n' $core | xargs -P "$(nproc)" -I{} clang-19 "${flags[@]}" -w -c "$src/{}.c" -o "$obj/{}.o"
clang-19 "${flags[@]}" -c "$here/guest.c" -o "$obj/guest.o"
clang-19 --target=wasm32-wasi --sysroot=/usr -fuse-ld=lld -mexec-model=reactor \
  -Wl,--stack-first -Wl,-z,stack-size=1048576 -o "$out/lua.raw.wasm" "$obj"/*.o
node "$wasm_opt" --enable-exception-handling --translate-to-exnref -O2 "$out/lua.raw.wasm" -o "$out/lua.wasm.tmp"
mv "$out/lua.wasm.tmp" "$out/lua.wasm"
echo "lua guest: $out/lua.wasm ($(stat -c %s "$out/lua.wasm") bytes)"
