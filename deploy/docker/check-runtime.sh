#!/usr/bin/env bash
# The image's runtime stage, checked without a container engine: a Debian
# bookworm root made by debootstrap with the runtime stage's packages, the
# files collect-runtime.sh gathers from this checkout's build, and the
# image's environment and user. Inside it (chroot) the binary must start,
# run programs in the sandbox and train the model on libtorch.
# Needs root and Debian's mirrors; the root is kept for the next run.
#
#   deploy/docker/check-runtime.sh [ROOT]      (default /tmp/curio-runtime-root)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=${1:-/tmp/curio-runtime-root}
[ "$(id -u)" = 0 ] || { echo "check-runtime.sh needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
if [ ! -f "$root/etc/debian_version" ]; then
    echo "debootstrap: Debian bookworm with the runtime stage's packages into $root"
    debootstrap --variant=minbase --include=ca-certificates,libgomp1 bookworm "$root" http://deb.debian.org/debian >/dev/null
fi
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
deploy/docker/collect-runtime.sh "$stage" "${CARGO_TARGET_DIR:-$HOME/.cache/curio/target}/release/curio"
# The runtime stage's COPY and RUN lines.
rm -rf "$root/opt/libtorch" && mkdir -p "$root/opt/libtorch" "$root/var/lib/curio"
cp "$stage/curio" "$root/usr/local/bin/curio"
cp -r "$stage/lib" "$root/opt/libtorch/lib"
chroot "$root" id curio >/dev/null 2>&1 || chroot "$root" useradd --system --uid 10001 --home /var/lib/curio curio
chroot "$root" chown curio /var/lib/curio
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null; rm -rf "$stage"' EXIT
run() {
    chroot --userspec=10001:10001 "$root" env -i HOME=/var/lib/curio PATH=/usr/local/bin:/usr/bin:/bin \
        LD_LIBRARY_PATH=/opt/libtorch/lib CURIO_DATA_DIR=/var/lib/curio CURIO_CACHE_DIR=/var/lib/curio/cache \
        CURIO_LOG_FORMAT=json sh -c "cd /var/lib/curio && $*"
}
echo "== libraries the binary loads inside the root"
if run "ldd /usr/local/bin/curio" | grep "not found"; then
    echo "FAIL: the runtime stage lacks the libraries above" >&2
    exit 1
fi
echo "== curio --version"
run "curio --version"
echo "== the sandbox behind gRPC: curio bench load"
run "curio bench load --seconds 1" | tail -3
echo "== libtorch: curio bench learner (two steps)"
run "curio bench learner --steps 2 --rounds 1 --python /nonexistent" | tail -3
echo "runtime stage OK"
