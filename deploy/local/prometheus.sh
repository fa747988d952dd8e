#!/usr/bin/env bash
# Prints the path of a Prometheus server binary for the test that has one
# scrape a live run: $PROMETHEUS if set, one on the PATH, else Debian's
# package unpacked into the cache (no service installed or started).
set -euo pipefail

if [ -n "${PROMETHEUS:-}" ]; then
  echo "$PROMETHEUS"
  exit 0
fi
if command -v prometheus >/dev/null; then
  command -v prometheus
  exit 0
fi
dir=${CURIO_CACHE_DIR:-$HOME/.cache/curio}/prometheus
if [ ! -x "$dir/usr/bin/prometheus" ]; then
  echo "fetching Debian's prometheus package into $dir..." >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # apt-get download writes into the current folder, as the _apt user where it can.
  chmod 777 "$tmp"
  (cd "$tmp" && { apt-get download -qq prometheus >&2 || { apt-get update -qq >&2 && apt-get download -qq prometheus >&2; }; })
  mkdir -p "$dir"
  dpkg-deb -x "$tmp"/prometheus_*.deb "$dir"
fi
echo "$dir/usr/bin/prometheus"
