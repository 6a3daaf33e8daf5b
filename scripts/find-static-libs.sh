#!/usr/bin/env bash
# Prints the static libraries the addon links (libsodium, libb2), for binding.gyp. Linked with
# --exclude-libs,ALL so their symbols stay private to the addon and cannot clash with Electron's or
# another addon's copies.
set -euo pipefail
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
for lib in libsodium.a libb2.a; do
  found=""
  for d in /usr/lib/$multiarch /usr/lib /usr/local/lib /usr/lib64; do
    [ -f "$d/$lib" ] && { found="$d/$lib"; break; }
  done
  [ -n "$found" ] || { echo "find-static-libs: $lib not found; run: bash scripts/deps.sh" >&2; exit 1; }
  echo "$found"
done
