#!/usr/bin/env bash
# Obtains the native build's third-party inputs from Debian, into ignored folders:
#   deps/lwip/          lwIP 2.1.3 source (apt-get source lwip) with our patches (native/core/stack/patches),
#                       compiled later with our lwipopts.h
#   deps/libuv/         libuv 1.44 source (apt-get source libuv1): the engine's own event loop, compiled into
#                       the addon and kept private, so the addon needs no libuv from its host (Bun and Deno
#                       have none; docs/architecture.md, "The engine's own libuv")
#   deps/openssl/       the perlasm subset of OpenSSL 3.0's source (apt-get source --tar-only openssl):
#                       deps/openssl-asm/ is generated from it by scripts/openssl-asm.sh (ChaCha20 and Poly1305
#                       assembly for WireGuard's AEAD, native/core/crypto/aead.c; docs/dependencies.md)
#   libsodium-dev       XChaCha20-Poly1305, X25519, NaCl box, random (static lib, linked privately)
#   libb2-dev           BLAKE2s (reference library with SIMD)
# Idempotent and quick when everything is present. Test-only tools (wireguard-go, iperf3, ...) are in
# scripts/test-deps.sh, so that a user building from source installs only what the build needs.
# --check: installs and fetches nothing; prints what is missing (one item a line) and exits 1 if anything is.
# The package's install step (scripts/install.js) uses only this form: installing never runs apt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEPS=$ROOT/deps
LWIP_VERSION=2.1.3
UV_VERSION=1.44

need_pkgs=()
for p in libsodium-dev libb2-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
PATCHES=$ROOT/native/core/stack/patches
patch_sum=$( (cat "$PATCHES"/*.patch 2>/dev/null || true) | sha256sum | cut -c1-16)
have_lwip=0
[ -f "$DEPS/lwip/src/core/tcp.c" ] && [ -f "$DEPS/lwip/.version" ] &&
  [ "$(cat "$DEPS/lwip/.version")" = "$LWIP_VERSION $patch_sum" ] && have_lwip=1

have_uv=0
[ -f "$DEPS/libuv/src/unix/core.c" ] && [ "$(cat "$DEPS/libuv/.version" 2>/dev/null)" = "$UV_VERSION" ] && have_uv=1

# OpenSSL's perlasm: the generated assembly must be there and come from the script as it is now (its
# .version: "<OpenSSL version> <the script's checksum>", written by scripts/openssl-asm.sh).
OSSL_MAJOR=3.0
asm_sum=$(sha256sum scripts/openssl-asm.sh | cut -c1-16)
have_ossl=0
[ -f "$DEPS/openssl-asm/elf/chacha-x86_64.s" ] &&
  [ "$(cut -d' ' -f2 "$DEPS/openssl-asm/.version" 2>/dev/null)" = "$asm_sum" ] && have_ossl=1

if [ ${#need_pkgs[@]} -eq 0 ] && [ $have_lwip = 1 ] && [ $have_uv = 1 ] && [ $have_ossl = 1 ]; then
  exit 0
fi
if [ "${1:-}" = --check ]; then
  # Static libraries count wherever they are (another distribution, /usr/local), not only as Debian packages.
  if [ ${#need_pkgs[@]} -gt 0 ] && bash "$ROOT/scripts/find-static-libs.sh" >/dev/null 2>&1; then need_pkgs=(); fi
  for p in "${need_pkgs[@]}"; do echo "$p (static library and headers)"; done
  [ $have_lwip = 1 ] || echo "lwIP $LWIP_VERSION source in deps/lwip, with native/core/stack/patches applied"
  [ $have_uv = 1 ] || echo "libuv $UV_VERSION source in deps/libuv"
  [ $have_ossl = 1 ] || echo "OpenSSL $OSSL_MAJOR's ChaCha20/Poly1305 perlasm in deps/openssl, generated into deps/openssl-asm by scripts/openssl-asm.sh"
  [ ${#need_pkgs[@]} -eq 0 ] && [ $have_lwip = 1 ] && [ $have_uv = 1 ] && [ $have_ossl = 1 ] && exit 0
  exit 1
fi

die() { echo "scripts/deps.sh: $*" >&2; exit 1; }
command -v apt-get >/dev/null || die "needs Debian's apt-get to fetch ${need_pkgs[*]} and the lwIP and libuv sources; on other systems install libsodium and libb2 (static libraries and headers), put lwIP $LWIP_VERSION's source in deps/lwip and libuv $UV_VERSION's in deps/libuv, OpenSSL $OSSL_MAJOR's crypto/perlasm, crypto/chacha/asm and crypto/poly1305/asm in deps/openssl (then bash scripts/openssl-asm.sh), or use a prebuilt binary (npm install picks one from prebuilds/)."
[ "$(id -u)" = 0 ] || die "must run as root to apt-get install ${need_pkgs[*]} and to add a deb-src entry (or install them yourself and re-run)."

export DEBIAN_FRONTEND=noninteractive
updated=0
apt_update() { [ $updated = 1 ] || { apt-get update -qq >/dev/null; updated=1; }; }

if [ ${#need_pkgs[@]} -gt 0 ]; then
  apt_update
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# Debian source packages need deb-src entries: add a copy of the deb822 Debian entry with Types: deb-src.
ensure_deb_src() {
  if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    src=/etc/apt/sources.list.d/debian.sources
    [ -f "$src" ] || die "no deb-src entry and no $src to copy one from; add a deb-src line for Debian main."
    sed 's/^Types:.*/Types: deb-src/' "$src" > /etc/apt/sources.list.d/tsnet-deb-src.sources
    updated=0
  fi
  apt_update
}
source_into() { # <source package> <tree that must exist> -> prints the unpacked directory
  ensure_deb_src
  command -v dpkg-source >/dev/null || apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
  local tmp dir
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get source -qq "$1" >/dev/null 2>&1)
  dir=$(find "$tmp" -maxdepth 1 -mindepth 1 -type d -name "$1*" | head -1)
  [ -n "$dir" ] && [ -f "$dir/$2" ] || die "apt-get source $1 gave no usable tree"
  echo "$dir"
}

if [ $have_lwip = 0 ]; then
  dir=$(source_into lwip src/core/tcp.c)
  grep -Eq 'LWIP_VERSION_MINOR +1\b' "$dir/src/include/lwip/init.h" || echo "scripts/deps.sh: warning: lwIP is not 2.1.x" >&2
  command -v patch >/dev/null || apt-get install -y -qq --no-install-recommends patch >/dev/null
  for p in "$PATCHES"/*.patch; do
    [ -f "$p" ] || continue
    patch -d "$dir" -p1 --quiet --forward < "$p" || die "patch $(basename "$p") does not apply to lwIP $LWIP_VERSION"
  done
  rm -rf "$DEPS/lwip"; mkdir -p "$DEPS"
  mv "$dir" "$DEPS/lwip"
  echo "$LWIP_VERSION $patch_sum" > "$DEPS/lwip/.version"
  rm -rf "$(dirname "$dir")"
fi

if [ $have_uv = 0 ]; then
  dir=$(source_into libuv1 src/unix/core.c)
  grep -Eq 'UV_VERSION_MINOR +44\b' "$dir/include/uv/version.h" || echo "scripts/deps.sh: warning: libuv is not 1.44" >&2
  rm -rf "$DEPS/libuv"; mkdir -p "$DEPS"
  mv "$dir" "$DEPS/libuv"
  echo "$UV_VERSION" > "$DEPS/libuv/.version"
  rm -rf "$(dirname "$dir")"
fi
if [ $have_ossl = 0 ]; then
  # Only the orig tarball (--tar-only): the perlasm files are upstream's, and Debian's packaging is not needed.
  if [ ! -f "$DEPS/openssl/crypto/chacha/asm/chacha-x86_64.pl" ]; then
    ensure_deb_src
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get source --tar-only -qq openssl >/dev/null 2>&1) || true
    tarball=$(find "$tmp" -maxdepth 1 -name 'openssl_*.orig.tar.*' | head -1)
    [ -n "$tarball" ] || die "apt-get source --tar-only openssl gave no tarball"
    ver=$(basename "$tarball" | sed -E 's/^openssl_([0-9.]+)\.orig.*/\1/')
    case $ver in "$OSSL_MAJOR".*) ;; *) echo "scripts/deps.sh: warning: OpenSSL is $ver, not $OSSL_MAJOR.x" >&2 ;; esac
    rm -rf "$DEPS/openssl"; mkdir -p "$DEPS/openssl"
    tar -xf "$tarball" -C "$DEPS/openssl" --strip-components=1 --wildcards \
      '*/LICENSE.txt' '*/crypto/perlasm/*' '*/crypto/chacha/asm/*' '*/crypto/poly1305/asm/*'
    echo "$ver" > "$DEPS/openssl/.version"
    rm -rf "$tmp"
  fi
  bash "$ROOT/scripts/openssl-asm.sh" "$DEPS/openssl" "$DEPS/openssl-asm"
fi
echo "scripts/deps.sh: native dependencies ready (lwIP $LWIP_VERSION in deps/lwip, libuv $UV_VERSION in deps/libuv, OpenSSL $(cut -d' ' -f1 "$DEPS/openssl-asm/.version")'s ChaCha20/Poly1305 assembly in deps/openssl-asm, libsodium, libb2)"
