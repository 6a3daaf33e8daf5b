#!/usr/bin/env bash
# Obtains the native build's third-party inputs from Debian, into ignored folders:
#   deps/lwip/          lwIP 2.1.3 source (apt-get source lwip) with our patches (native/core/stack/patches),
#                       compiled later with our lwipopts.h
#   libsodium-dev       ChaCha20-Poly1305, XChaCha20-Poly1305, X25519, NaCl box (static lib, linked privately)
#   libb2-dev           BLAKE2s (reference library with SIMD)
# Idempotent and quick when everything is present. Test-only tools (wireguard-go, iperf3, ...) are in
# scripts/test-deps.sh, so that a user building from source installs only what the build needs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEPS=$ROOT/deps
LWIP_VERSION=2.1.3

need_pkgs=()
for p in libsodium-dev libb2-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
PATCHES=$ROOT/native/core/stack/patches
patch_sum=$(cat "$PATCHES"/*.patch 2>/dev/null | sha256sum | cut -c1-16)
have_lwip=0
[ -f "$DEPS/lwip/src/core/tcp.c" ] && [ -f "$DEPS/lwip/.version" ] &&
  [ "$(cat "$DEPS/lwip/.version")" = "$LWIP_VERSION $patch_sum" ] && have_lwip=1

if [ ${#need_pkgs[@]} -eq 0 ] && [ $have_lwip = 1 ]; then
  exit 0
fi

die() { echo "scripts/deps.sh: $*" >&2; exit 1; }
command -v apt-get >/dev/null || die "needs Debian's apt-get to fetch ${need_pkgs[*]} ${have_lwip/1/}lwip source; on other systems install libsodium and libb2 (static libraries and headers) and put lwIP $LWIP_VERSION's source in deps/lwip, or use a prebuilt binary (npm install picks one from prebuilds/)."
[ "$(id -u)" = 0 ] || die "must run as root to apt-get install ${need_pkgs[*]} and to add a deb-src entry (or install them yourself and re-run)."

export DEBIAN_FRONTEND=noninteractive
updated=0
apt_update() { [ $updated = 1 ] || { apt-get update -qq >/dev/null; updated=1; }; }

if [ ${#need_pkgs[@]} -gt 0 ]; then
  apt_update
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if [ $have_lwip = 0 ]; then
  # apt-get source needs deb-src entries: add a copy of the deb822 Debian entry with Types: deb-src.
  if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    src=/etc/apt/sources.list.d/debian.sources
    [ -f "$src" ] || die "no deb-src entry and no $src to copy one from; add a deb-src line for Debian main."
    sed 's/^Types:.*/Types: deb-src/' "$src" > /etc/apt/sources.list.d/tsnet-deb-src.sources
    updated=0
  fi
  apt_update
  command -v dpkg-source >/dev/null || apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get source -qq lwip >/dev/null 2>&1)
  dir=$(find "$tmp" -maxdepth 1 -mindepth 1 -type d -name 'lwip*' | head -1)
  [ -n "$dir" ] && [ -f "$dir/src/core/tcp.c" ] || die "apt-get source lwip gave no usable tree"
  grep -Eq 'LWIP_VERSION_MINOR +1\b' "$dir/src/include/lwip/init.h" || echo "scripts/deps.sh: warning: lwIP is not 2.1.x" >&2
  command -v patch >/dev/null || apt-get install -y -qq --no-install-recommends patch >/dev/null
  for p in "$PATCHES"/*.patch; do
    [ -f "$p" ] || continue
    patch -d "$dir" -p1 --quiet --forward < "$p" || die "patch $(basename "$p") does not apply to lwIP $LWIP_VERSION"
  done
  rm -rf "$DEPS/lwip"; mkdir -p "$DEPS"
  mv "$dir" "$DEPS/lwip"
  echo "$LWIP_VERSION $patch_sum" > "$DEPS/lwip/.version"
  rm -rf "$tmp"
fi
echo "scripts/deps.sh: native dependencies ready (lwIP $LWIP_VERSION in deps/lwip, libsodium, libb2)"
