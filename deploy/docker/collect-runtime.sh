#!/usr/bin/env bash
# What the image's runtime stage needs from a build: the `curio` binary and
# every shared library it loads from the venv's torch wheel (libtorch and
# the CUDA runtime libraries it links, from site-packages/nvidia), flat in
# OUT/lib for LD_LIBRARY_PATH. Used by the Dockerfile and by
# check-runtime.sh, so both ship the same files.
#
#   deploy/docker/collect-runtime.sh OUT [BINARY]
set -euo pipefail
out=${1:?usage: collect-runtime.sh OUT [BINARY]}
binary=${2:-${CARGO_TARGET_DIR:-target}/release/curio}
[ -x "$binary" ] || { echo "no curio binary at $binary: run 'make build' first" >&2; exit 1; }
site=$(readlink -f .venv/torch/..)
[ -d "$site/torch/lib" ] || { echo "no torch wheel under .venv: run 'make build' first" >&2; exit 1; }
mkdir -p "$out/lib"
cp "$binary" "$out/curio"
cp -L "$site"/torch/lib/*.so* "$out/lib/"
if [ -d "$site/nvidia" ]; then
    find "$site/nvidia" -name '*.so*' -type f -exec cp -L {} "$out/lib/" \;
fi
echo "collected $(ls "$out/lib" | wc -l) libraries ($(du -sh "$out" | cut -f1)) in $out"
