#!/usr/bin/env bash
# Builds the interop tier's Go programs (docs/interop.md) into build-interop/ (ignored by git):
#   build-interop/tsinterop  test/interop/go: tsnet node, testcontrol server, DERP relay (tailscale.com, pinned)
#   build-interop/headscale  test/interop/headscale: Headscale (pinned), in its own module
#   build-interop/tailscale  Tailscale's CLI (cmd/tailscale, same pinned module: a tool line in its go.mod)
# Each is rebuilt only when its module's go.mod, go.sum, sources or the Go version change (a stamp of their
# hashes sits beside the binary). Modules come from the Go module proxy into the usual Go caches.
# Usage: scripts/interop.sh [tsinterop|headscale]...   (default: both). GO names the toolchain (default go);
# INTEROP_OUT another output directory (relative to the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
out=${INTEROP_OUT:-build-interop}
mkdir -p "$out"
# Test files build at once when run in parallel: one builds, the others wait and then find it up to date.
exec 9>"$out/.lock"
flock 9

build() { # name, module dir, package
  local name=$1 dir=$2 pkg=$3 stamp
  stamp=$( { "$GO" version; cd "$dir" && find . -name '*.go' -o -name go.mod -o -name go.sum | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -d' ' -f1)
  if [ -x "$out/$name" ] && [ "$(cat "$out/$name.stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  echo "interop: building $name ($dir)" >&2
  (cd "$dir" && GOFLAGS="-mod=readonly -buildvcs=false" "$GO" build -o "$root/$out/$name.tmp" "$pkg")
  mv "$out/$name.tmp" "$out/$name"
  echo "$stamp" >"$out/$name.stamp"
}

[ $# -gt 0 ] || set -- tsinterop headscale
for what in "$@"; do
  case $what in
    tsinterop) build tsinterop test/interop/go . ;;
    headscale) build headscale test/interop/headscale github.com/juanfont/headscale/cmd/headscale ;;
    tailscale) build tailscale test/interop/go tailscale.com/cmd/tailscale ;; # its CLI, for test/localapi-cli.test.ts
    derper) build derper test/interop/go tailscale.com/cmd/derper ;; # Tailscale's own relay, for bench/derp-real.mjs
    *) echo "interop.sh: unknown program $what" >&2; exit 2 ;;
  esac
done
