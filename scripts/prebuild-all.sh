#!/usr/bin/env bash
# Builds the prebuilt addons that ship in the npm tarball, for Linux, macOS and Windows, on this (x86_64
# Debian) machine with one cross toolchain: zig's clang (the `ziglang` wheel from PyPI, pinned below), which
# brings glibc stubs for an old glibc, musl, macOS's libSystem stubs, mingw-w64's headers (Windows' UCRT),
# and a static libc++ for each target. libsodium and libb2 are built from Debian's source packages with the
# same compiler; lwIP and libuv come from scripts/deps.sh as for a node-gyp build. Everything third-party
# lands in ignored folders (build-prebuilds/, and a cache below $XDG_CACHE_HOME for the toolchain and the
# target libraries). docs/build.md, "Prebuilt binaries".
#
# Usage: bash scripts/prebuild-all.sh [target...]   (default: all of them)
#   targets: linux-x64-glibc linux-arm64-glibc linux-x64-musl linux-arm64-musl darwin-x64 darwin-arm64 win32-x64
# Writes prebuilds/linux-<arch>/node.napi.<libc>.node, prebuilds/darwin-<arch>/node.napi.node and
# prebuilds/win32-x64/node.napi.node (the names node-gyp-build resolves) and checks each one (ELF:
# architecture, needed libraries, newest GLIBC_ symbol version; Mach-O: CPU, minimum macOS, linked dylibs,
# imports; PE: machine, imported DLLs; all: nothing exported but the Node-API entry points); any deviation
# fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/build-prebuilds
CACHE=${TSNET_PREBUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tsnet-prebuilds}
ZIG_VERSION=0.17.1
GLIBC_FLOOR=2.17
# The oldest macOS each darwin build runs on (LC_BUILD_VERSION minos): 10.15 is Node 20's floor on x64; 11.0
# is the first macOS for arm64.
MACOS_X64_MIN=10.15
MACOS_ARM64_MIN=11.0
JOBS=${JOBS:-2}
all_targets=(linux-x64-glibc linux-arm64-glibc linux-x64-musl linux-arm64-musl darwin-x64 darwin-arm64 win32-x64)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

die() { echo "prebuild-all: $*" >&2; exit 1; }
log() { echo "prebuild-all: $*" >&2; }

# npm pack runs this as "prepack"; TSNET_PREBUILDS=skip packs whatever prebuilds/ holds (the tests do).
if [ "${TSNET_PREBUILDS:-}" = skip ]; then log "TSNET_PREBUILDS=skip: packing prebuilds/ as it is"; exit 0; fi

bash scripts/deps.sh
[ -d node_modules/node-addon-api ] || npm install --ignore-scripts --no-audit --no-fund >&2

# The toolchain: zig from PyPI, kept in the cache (a wheel is a zip; pip unpacks it without building).
ZIG=$CACHE/zig-$ZIG_VERSION/ziglang/zig
if [ ! -x "$ZIG" ]; then
  log "installing ziglang $ZIG_VERSION from PyPI"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --target "$CACHE/zig-$ZIG_VERSION" "ziglang==$ZIG_VERSION" >&2
fi
export ZIG_GLOBAL_CACHE_DIR=$CACHE/zig-cache ZIG_LOCAL_CACHE_DIR=$CACHE/zig-cache

# Debian's source packages of libsodium and libb2 (deps.sh already added the deb-src entry).
SRC=$WORK/src
src_dir() { find "$SRC" -maxdepth 1 -mindepth 1 -type d -name "$1-*" | head -1; }
if [ -z "$(src_dir libsodium)" ] || [ -z "$(src_dir libb2)" ]; then
  command -v autoreconf >/dev/null && command -v libtoolize >/dev/null ||
    { [ "$(id -u)" = 0 ] || die "needs autoconf, automake and libtool"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends autoconf automake libtool >/dev/null; }
  rm -rf "$SRC"; mkdir -p "$SRC"
  (cd "$SRC" && apt-get source -qq libsodium libb2 >/dev/null 2>&1) || die "apt-get source libsodium libb2 failed"
  for p in libsodium libb2; do (cd "$(src_dir $p)" && autoreconf -fi >/dev/null 2>&1) || die "autoreconf $p failed"; done
fi
SODIUM_SRC=$(src_dir libsodium); B2_SRC=$(src_dir libb2)
SODIUM_VER=$(basename "$SODIUM_SRC"); B2_VER=$(basename "$B2_SRC")

zig_target() {
  case $1 in
    linux-x64-glibc) echo "x86_64-linux-gnu.$GLIBC_FLOOR" ;;
    linux-arm64-glibc) echo "aarch64-linux-gnu.$GLIBC_FLOOR" ;;
    linux-x64-musl) echo x86_64-linux-musl ;;
    linux-arm64-musl) echo aarch64-linux-musl ;;
    darwin-x64) echo "x86_64-macos.$MACOS_X64_MIN" ;;
    darwin-arm64) echo "aarch64-macos.$MACOS_ARM64_MIN" ;;
    win32-x64) echo x86_64-windows-gnu ;;
    *) die "unknown target $1 (known: ${all_targets[*]})" ;;
  esac
}

# Compiler wrappers: configure scripts and the compile driver take one word per tool.
wrappers() { # <target> <zig triple>
  local bin=$WORK/bin/$1
  mkdir -p "$bin"
  # zig's cache (its libc and libc++ per target) is named in them, so they are quick when run by hand too.
  local env="ZIG_GLOBAL_CACHE_DIR='$CACHE/zig-cache' ZIG_LOCAL_CACHE_DIR='$CACHE/zig-cache'"
  printf '#!/bin/sh\n%s exec "%s" cc -target %s "$@"\n' "$env" "$ZIG" "$2" > "$bin/cc"
  printf '#!/bin/sh\n%s exec "%s" c++ -target %s "$@"\n' "$env" "$ZIG" "$2" > "$bin/c++"
  printf '#!/bin/sh\nexec "%s" ar "$@"\n' "$ZIG" > "$bin/ar"
  printf '#!/bin/sh\nexec "%s" ranlib "$@"\n' "$ZIG" > "$bin/ranlib"
  [ "$1" != win32-x64 ] || win_cc "$bin/cc" "$env" "$2"
  chmod +x "$bin"/*
  echo "$bin"
}

# zig builds mingw-w64's C runtime anew for each set of CPU features it links for, and libsodium's configure
# links one test program per -m<feature> flag it tries: about 2 min each on this machine. So for Windows a
# link (no -c/-S/-E) that names -m flags compiles its C sources with every flag and links without the -m
# ones: configure gets the same answers and zig builds one C runtime. Arguments hold no spaces here.
win_cc() { # <file> <env> <zig triple>
  cat > "$1" <<WRAPPER
#!/bin/sh
$2
export ZIG_GLOBAL_CACHE_DIR ZIG_LOCAL_CACHE_DIR
cc() { "$ZIG" cc -target $3 "\$@"; }
case " \$* " in *" -c "*|*" -S "*|*" -E "*) cc "\$@"; exit \$? ;; esac
case " \$* " in *" -m"*) ;; *) cc "\$@"; exit \$? ;; esac
tmp=\$(mktemp -d) || exit 1
trap 'rm -rf "\$tmp"' EXIT
cflags= ldargs= srcs= out=a.exe next=
for a in "\$@"; do
  if [ -n "\$next" ]; then out=\$a next=; continue; fi
  case \$a in
    -o) next=1 ;;
    *.c) srcs="\$srcs \$a" ;;
    *.o|*.a|*.obj|*.lib) ldargs="\$ldargs \$a" ;;
    -Wl,*|-l*|-L*) ldargs="\$ldargs \$a" ;;
    -pthread|-shared|-static*|-s|-g|-O*) cflags="\$cflags \$a" ldargs="\$ldargs \$a" ;;
    *) cflags="\$cflags \$a" ;;
  esac
done
objs= i=0
for s in \$srcs; do
  i=\$((i + 1))
  cc \$cflags -c "\$s" -o "\$tmp/\$i.o" || exit 1
  objs="\$objs \$tmp/\$i.o"
done
cc \$ldargs \$objs -o "\$out"
WRAPPER
}

# libsodium and libb2 for a target, static, position-independent, built once per (zig, library, target).
third_party() { # <target> <zig triple> <bin> -> prints the two archives
  local t=$1 triple=$2 bin=$3 host prefix
  host=${triple%%.*}
  case $host in
    *-macos) host=${host%-macos}-apple-darwin ;;  # the spelling config.sub knows
    x86_64-windows-gnu) host=x86_64-w64-mingw32 ;;  # configure's name for it
  esac
  prefix=$CACHE/libs/zig-$ZIG_VERSION/$t
  local common=(--host="$host" --disable-shared --enable-static --with-pic CC="$bin/cc" AR="$bin/ar" RANLIB="$bin/ranlib")
  if [ ! -f "$prefix/$SODIUM_VER/lib/libsodium.a" ]; then
    log "$t: building $SODIUM_VER"
    rm -rf "$WORK/obj/$t/sodium"; mkdir -p "$WORK/obj/$t/sodium"
    (cd "$WORK/obj/$t/sodium" && "$SODIUM_SRC/configure" -q "${common[@]}" --prefix="$prefix/$SODIUM_VER" &&
      make -s -j"$JOBS" install) >"$WORK/obj/$t/sodium.log" 2>&1 || { tail -30 "$WORK/obj/$t/sodium.log" >&2; die "$t: libsodium build failed"; }
  fi
  if [ ! -f "$prefix/$B2_VER/lib/libb2.a" ]; then
    log "$t: building $B2_VER"
    local simd=(--disable-fat --disable-native)
    [ "${host%%-*}" = x86_64 ] && simd=(--enable-fat --disable-native)  # as Debian's rules do
    rm -rf "$WORK/obj/$t/b2"; mkdir -p "$WORK/obj/$t/b2"
    # libb2's src/Makefile.am passes a bare directory among its CPPFLAGS, which gcc ignores and clang refuses.
    (cd "$WORK/obj/$t/b2" && "$B2_SRC/configure" -q "${common[@]}" "${simd[@]}" --prefix="$prefix/$B2_VER" &&
      make -s -j"$JOBS" install libb2_la_CPPFLAGS=-DSUFFIX=) >"$WORK/obj/$t/b2.log" 2>&1 || { tail -30 "$WORK/obj/$t/b2.log" >&2; die "$t: libb2 build failed"; }
  fi
  echo "$prefix/$SODIUM_VER/lib/libsodium.a $prefix/$B2_VER/lib/libb2.a"
}

# A Windows DLL: x86-64 PE, imports only from system DLLs (no node.exe: the Node-API functions are found at
# load time, scripts/prebuild-compile.mjs; no C++ runtime or pthread DLL: those are static), exports only the
# Node-API entry points.
system_dlls='^(kernel32|ws2_32|advapi32|user32|iphlpapi|userenv|psapi|ntdll|bcrypt|ucrtbase|api-ms-win-[a-z0-9-]+)\.dll$'
check_pe() { # <target> <file>
  local t=$1 f=$2 info format dlls bad exported
  info=$(objdump -p "$f")
  format=$(echo "$info" | sed -n 's/.*file format //p' | head -1)
  [ "$format" = pei-x86-64 ] || die "$t: $f is '$format', want pei-x86-64"
  grep -qx '[[:space:]]*DLL' <<<"$info" || die "$t: $f is not a DLL"
  dlls=$(echo "$info" | sed -n 's/^[[:space:]]*DLL Name: //p' | tr 'A-Z' 'a-z' | sort -u)
  bad=$(echo "$dlls" | grep -Ev "$system_dlls" || true)
  [ -z "$bad" ] || die "$t: imports from non-system DLLs: $(echo "$bad" | tr '\n' ' ')"
  exported=$(echo "$info" | sed -n '/^\[Ordinal\/Name Pointer\] Table\|^\[Name Pointer\/Ordinal\] Table/,/^$/p' |
    sed -n 's/^[[:space:]]*\[ *[0-9]*\] \([A-Za-z_][A-Za-z0-9_]*\)$/\1/p' | sort)
  bad=$(echo "$exported" | grep -Ev '^(napi_register_module_v1|node_api_module_get_api_version_v1)$' || true)
  [ -z "$bad" ] || die "$t: exports more than the Node-API entry points: $(echo "$bad" | head -5 | tr '\n' ' ')"
  grep -qx napi_register_module_v1 <<<"$exported" || die "$t: does not export napi_register_module_v1"
  echo "$t: $(stat -c %s "$f") bytes, $format, needs [$(echo "$dlls" | tr '\n' ' ' | sed 's/ $//')], exports $(echo "$exported" | tr '\n' ' ')"
}

# Checks one binary; prints a one-line summary.
check() { # <target> <file>
  case $1 in darwin-*) check_macho "$@"; return ;; esac
  local t=$1 f=$2 machine want exported bad needed glibc
  [ "$t" != win32-x64 ] || { check_pe "$t" "$f"; return; }
  case $t in *x64*) want='Advanced Micro Devices X86-64' ;; *arm64*) want='AArch64' ;; esac
  machine=$(readelf -h "$f" | sed -n 's/^ *Machine: *//p')
  [ "$machine" = "$want" ] || die "$t: $f is for '$machine', want '$want'"
  # Only the Node-API entry points are exported: no sodium_, blake2, uv_, lwIP or C++ runtime symbols.
  exported=$(nm -D --defined-only "$f" | awk '{print $3}' | sort)
  bad=$(echo "$exported" | grep -Ev '^(napi_register_module_v1|node_api_module_get_api_version_v1)$' || true)
  [ -z "$bad" ] || die "$t: exports more than the Node-API entry points: $(echo "$bad" | head -5 | tr '\n' ' ')"
  # Every undefined symbol is either Node-API (from the host) or from libc with a version.
  bad=$(objdump -T "$f" | awk '$3 == "*UND*" || $4 == "*UND*"' | grep -v 'GLIBC_' | awk '{print $NF}' |
    grep -Ev '^(napi_|node_api_)' || true)
  if [ "${t##*-}" = glibc ] && [ -n "$bad" ]; then die "$t: unversioned undefined symbols: $(echo "$bad" | head -5 | tr '\n' ' ')"; fi
  needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  glibc=$(objdump -T "$f" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1 || true)
  if [ "${t##*-}" = glibc ]; then
    [ "$(printf '%s\n%s\n' "$glibc" "GLIBC_$GLIBC_FLOOR" | sort -V | tail -1)" = "GLIBC_$GLIBC_FLOOR" ] ||
      die "$t: needs $glibc, above the floor GLIBC_$GLIBC_FLOOR"
  else
    [ -z "$glibc" ] || die "$t: a musl build references $glibc"
  fi
  echo "$t: $(stat -c %s "$f") bytes, $machine, needs [${needed% }], newest libc symbol ${glibc:-none (musl)}, exports $(echo "$exported" | tr '\n' ' ')"
}

# The Mach-O checks read the load commands and symbol tables with LLVM's tools (Debian's llvm-14: binutils
# reads no Mach-O).
OBJDUMP_MACHO=llvm-objdump-14 NM_MACHO=llvm-nm-14
check_macho() { # <target> <file>
  local t=$1 f=$2 hdr cpu want wantos lc minos dylibs exported bad binds flat weak sig
  command -v $OBJDUMP_MACHO >/dev/null ||
    { [ "$(id -u)" = 0 ] || die "needs $OBJDUMP_MACHO (Debian: apt-get install llvm-14)"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends llvm-14 >/dev/null; }
  case $t in darwin-x64) want=X86_64 wantos=$MACOS_X64_MIN ;; darwin-arm64) want=ARM64 wantos=$MACOS_ARM64_MIN ;; esac
  # "MH_MAGIC_64 ARM64 ALL 0x00 DYLIB ncmds size flags": a 64-bit dynamic library for the target's CPU, with
  # no weak definitions (MH_WEAK_DEFINES would let dyld merge our operator new with the host's).
  hdr=$($OBJDUMP_MACHO --macho --private-header "$f" | awk '$1 == "MH_MAGIC_64"')
  cpu=$(echo "$hdr" | awk '{print $2}')
  [ "$cpu" = "$want" ] && [ "$(echo "$hdr" | awk '{print $5}')" = DYLIB ] || die "$t: $f is not a $want Mach-O dylib: '$hdr'"
  case $hdr in *WEAK_DEFINES* | *BINDS_TO_WEAK*) die "$t: weak definitions or bindings: '$hdr'" ;; esac
  lc=$($OBJDUMP_MACHO --macho --private-headers "$f")
  # The oldest macOS it loads on: LC_BUILD_VERSION, platform macos.
  minos=$(echo "$lc" | awk '$1 == "cmd" {c=$2} c == "LC_BUILD_VERSION" && $1 == "platform" {p=$2} c == "LC_BUILD_VERSION" && $1 == "minos" {print p, $2}')
  [ "$minos" = "macos $wantos" ] || die "$t: LC_BUILD_VERSION says '$minos', want 'macos $wantos'"
  # Libraries it loads (every LC_*_DYLIB but its own LC_ID_DYLIB): libSystem only; libc++ is linked in.
  dylibs=$(echo "$lc" | awk '$1 == "cmd" {c=$2} c ~ /^LC_(LOAD|LOAD_WEAK|REEXPORT|LAZY_LOAD|LOAD_UPWARD)_DYLIB$/ && $1 == "name" {print $2}' | tr '\n' ' ')
  [ "$dylibs" = "/usr/lib/libSystem.B.dylib " ] || die "$t: loads [$dylibs], want only /usr/lib/libSystem.B.dylib"
  # Exported: the two Node-API entry points, and the two names zig's linker gives the image's own Mach-O
  # header (__mh_dylib_header and ___dso_handle; every image has its own, so they clash with nothing).
  exported=$($OBJDUMP_MACHO --macho --exports-trie "$f" | awk '$1 ~ /^0x/ {print $2}' | sort)
  bad=$(echo "$exported" | grep -Ev '^_(napi_register_module_v1|node_api_module_get_api_version_v1)$|^(__mh_dylib_header|___dso_handle)$' || true)
  [ -z "$bad" ] || die "$t: exports more than the Node-API entry points: $(echo "$bad" | head -5 | tr '\n' ' ')"
  # Imported (the bind tables: dylib, symbol): Node-API looked up in the host process at load (flat
  # namespace, -undefined dynamic_lookup), everything else bound to libSystem by name; none weak, so a
  # function the oldest macOS lacks fails the load instead of leaving a null pointer to call. The one
  # exception is macOS 11's ___darwin_check_fd_set_overflow below 11.0 (libuv's FD_SET), which the SDK's
  # own FD_SET tests for null before calling.
  binds=$($OBJDUMP_MACHO --macho --bind --lazy-bind "$f" | awk '$1 ~ /^__/ {print $(NF-1), $NF}' | sort -u)
  flat=$(echo "$binds" | awk '$1 == "flat-namespace" {print $2}')
  bad=$(echo "$flat" | grep -Ev '^_(napi|node_api)_[a-z0-9_]+$' || true)
  [ -z "$bad" ] || die "$t: looks up more than Node-API in the host: $(echo "$bad" | head -5 | tr '\n' ' ')"
  bad=$(echo "$binds" | awk '$1 != "flat-namespace" && $1 != "libSystem"' || true)
  [ -z "$bad" ] || die "$t: binds to other than libSystem: $(echo "$bad" | head -5 | tr '\n' ' ')"
  bad=$(echo "$binds" | awk '$1 == "libSystem" && $2 ~ /^_(napi|node_api)_/')
  [ -z "$bad" ] || die "$t: Node-API bound to libSystem: $(echo "$bad" | head -3 | tr '\n' ' ')"
  weak=$($OBJDUMP_MACHO --macho --weak-bind "$f" | awk '$1 ~ /^__/' ; $NM_MACHO -m -u "$f" | grep 'weak' |
    grep -v ' ___darwin_check_fd_set_overflow (from libSystem)$' || true)
  [ -z "$weak" ] || die "$t: weak imports or bindings: $(echo "$weak" | head -5 | tr '\n' ' ')"
  # macOS on arm64 maps no unsigned code: zig's linker signs ad hoc; every page hash is checked against the
  # file (scripts/macho.mjs). zig signs none for x64, where macOS loads unsigned code (as a node-gyp build).
  sig="unsigned"
  if [ "$t" = darwin-arm64 ]; then sig=$(node scripts/macho.mjs verify-signature "$f") || die "$t: code signature: $sig"; fi
  echo "$t: $(stat -c %s "$f") bytes, Mach-O $cpu dylib, $sig, minos $wantos, loads [${dylibs% }], binds $(echo "$binds" | grep -c '^libSystem ') symbols to libSystem and looks up $(echo "$flat" | grep -c .) Node-API in the host, exports $(echo "$exported" | tr '\n' ' ')"
}

# A target is rebuilt only when its inputs changed: the native sources, binding.gyp, these scripts, the
# third-party versions and the toolchain.
inputs_sum() {
  { find native -type f -not -path 'native/test/*' -not -path 'native/fuzz/*' | sort | xargs sha256sum
    sha256sum binding.gyp native/sources.json scripts/prebuild-all.sh scripts/prebuild-compile.mjs scripts/macho.mjs
    cat deps/lwip/.version deps/libuv/.version deps/openssl-asm/.version
    echo "$ZIG_VERSION $SODIUM_VER $B2_VER $GLIBC_FLOOR $MACOS_X64_MIN $MACOS_ARM64_MIN"; } | sha256sum | cut -c1-32
}
sum=$(inputs_sum)
# A full run leaves prebuilds/ holding exactly its targets' files (no stale host-only build gets packed).
if [ "${targets[*]}" = "${all_targets[*]}" ]; then
  for f in prebuilds/*/*.node; do
    [ -f "$f" ] || continue
    case $f in prebuilds/linux-x64/node.napi.glibc.node | prebuilds/linux-arm64/node.napi.glibc.node | \
      prebuilds/linux-x64/node.napi.musl.node | prebuilds/linux-arm64/node.napi.musl.node | \
      prebuilds/darwin-x64/node.napi.node | prebuilds/darwin-arm64/node.napi.node) ;;
      prebuilds/win32-x64/node.napi.node) ;;
      *) log "removing $f (not built by this script)"; rm -f "$f" ;;
    esac
  done
fi
mkdir -p "$WORK/stamps"

# node-gyp-build's names: linux-<arch>/node.napi.<libc>.node; darwin-<arch> and win32-x64: node.napi.node.
out_of() {
  case $1 in
    darwin-* | win32-*) echo "$ROOT/prebuilds/$1/node.napi.node" ;;
    *) echo "$ROOT/prebuilds/${1%-*}/node.napi.${1##*-}.node" ;;
  esac
}
stale=()
for t in "${targets[@]}"; do
  zig_target "$t" >/dev/null
  if [ -f "$(out_of "$t")" ] && [ "$(cat "$WORK/stamps/$t" 2>/dev/null)" = "$sum" ]; then
    check "$t" "$(out_of "$t")"
  else
    stale+=("$t")
  fi
done
[ ${#stale[@]} -gt 0 ] || exit 0

# The targets' libsodium and libb2 build side by side: their configure scripts run one check at a time.
mkdir -p "$WORK/obj"
pids=()
for t in "${stale[@]}"; do
  (third_party "$t" "$(zig_target "$t")" "$(wrappers "$t" "$(zig_target "$t")")" > "$WORK/obj/libs-$t") &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "building the third-party libraries failed"; done

for t in "${stale[@]}"; do
  triple=$(zig_target "$t")
  out=$(out_of "$t")
  bin=$WORK/bin/$t
  libs=$(cat "$WORK/obj/libs-$t")
  # musl's CMSG_NXTHDR compares a size_t with a ptrdiff_t inside the macro, which -Wsign-compare flags in
  # the code that uses it (native/core/net/udp.c); it stays a warning there.
  extra="" os=linux
  [ "${t##*-}" = musl ] && extra="-Wno-error=sign-compare"
  case $t in darwin-*) os=mac ;; win32-*) os=win ;; esac
  log "$t: compiling the addon ($triple)"
  node scripts/prebuild-compile.mjs --cc "$bin/cc" --cxx "$bin/c++" --ar "$bin/ar" --objdir "$WORK/obj/$t/addon" \
    --out "$out" --libs "$libs" --cflags "$extra" --jobs "$JOBS" --os "$os" >&2
  check "$t" "$out"
  echo "$sum" > "$WORK/stamps/$t"
done
