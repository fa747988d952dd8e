# Shared by the Lua and JavaScript guests' build.sh (sourced, not run).

# Debian's clang-19, lld-19 and wasi-libc, installed when missing (as root;
# otherwise the command to run is printed). $1 names the guest in messages.
need_wasi_toolchain() {
  local packages="clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc"
  if ! command -v clang-19 >/dev/null || ! command -v wasm-ld-19 >/dev/null || [ ! -e /usr/lib/wasm32-wasi/libc.a ] \
      || [ ! -e /usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "$1: installing $packages"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages >/dev/null; }
    else
      echo "$1: needs $packages; run: sudo apt-get install $packages" >&2
      exit 1
    fi
  fi
}

# Unpacks crate $2 version $3 from crates.io into the folder $4, once,
# after checking it against SHA-256 $5. $1 names the guest in messages.
fetch_crate() {
  local guest="$1" name="$2" version="$3" into="$4" sha256="$5"
  local crate="$into/$name-$version.crate"
  mkdir -p "$into"
  curl -fsSL -A curio -o "$crate.tmp" "https://static.crates.io/crates/$name/$name-$version.crate"
  echo "$sha256  $crate.tmp" | sha256sum -c --quiet - \
    || { echo "$guest: $name-$version.crate does not match its SHA-256" >&2; rm -f "$crate.tmp"; exit 1; }
  tar xzf "$crate.tmp" -C "$into"
  rm -f "$crate.tmp"
}
