{
  # Source lists come from native/sources.json (shared with CMakeLists.txt) through scripts/sources.js.
  "target_defaults": {
    "defines": ["_GNU_SOURCE"],
    "cflags": ["-O2", "-fvisibility=hidden"],
    "cflags_c": ["-std=c11"],
    # deps/libuv/include comes before Node's headers: the engine and the addon are compiled against the
    # libuv they link (docs/architecture.md, "The engine's own libuv").
    "include_dirs": ["deps/libuv/include", "native/core", "native/core/stack", "deps/lwip/src/include",
                     "deps/openssl-asm"],
    # Windows (win32-x64 prebuild, mingw-w64 through zig, whose headers target Windows 10: docs/build.md):
    # libsodium linked statically, node_api.h's dllimport declarations (resolved by
    # scripts/prebuild-compile.mjs).
    "conditions": [
      ["OS=='win'", {"defines": ["WIN32_LEAN_AND_MEAN", "SODIUM_STATIC",
                                 "BUILDING_NODE_EXTENSION"]}]
    ]
  },
  "targets": [{
    # lwIP from Debian's source package, configured by native/core/stack/lwipopts.h; third-party code, so
    # its warnings do not fail our build.
    "target_name": "tslwip",
    "type": "static_library",
    "dependencies": ["tslwip_ours"],
    "sources": ["<!@(node scripts/sources.js lwip)"],
    "cflags": ["-w"]
  }, {
    # Our code that lwIP calls through lwipopts.h's hooks (the checksum routine), built with our warnings.
    "target_name": "tslwip_ours",
    "type": "static_library",
    "sources": ["<!@(node scripts/sources.js lwip_ours)"],
    "cflags": ["-Wall", "-Wextra", "-Werror"]
  }, {
    # libuv from Debian's source package: the engine's own loop, linked privately (its symbols are hidden
    # by --exclude-libs below), so the addon imports no uv_* symbol from its host.
    "target_name": "tsuv",
    "type": "static_library",
    "sources": ["<!@(node scripts/sources.js uv)"],
    "include_dirs": ["deps/libuv/src"],
    "defines": ["_FILE_OFFSET_BITS=64", "_LARGEFILE_SOURCE"],
    "cflags": ["-w", "-fno-strict-aliasing"],
    "conditions": [
      ["OS=='linux'", {"sources": ["<!@(node scripts/sources.js uv_linux)"]}],
      ["OS=='mac'", {"sources": ["<!@(node scripts/sources.js uv_darwin)"],
                     "defines": ["_DARWIN_UNLIMITED_SELECT=1", "_DARWIN_USE_64_BIT_INODE=1"]}],
      ["OS=='win'", {"sources": ["<!@(node scripts/sources.js uv_win)"]}]
    ]
  }, {
    # The sans-I/O protocol code (crypto, wg, derp, disco, magicsock, filter): CMakeLists.txt builds the same
    # list as tsproto and checks that it links without libuv or sockets.
    "target_name": "tsproto",
    "type": "static_library",
    "sources": ["<!@(node scripts/sources.js proto)"],
    "cflags": ["-Wall", "-Wextra", "-Werror"]
  }, {
    # OpenSSL's ChaCha20 and Poly1305 assembly (scripts/openssl-asm.sh), under native/core/crypto/aead.c:
    # generated third-party code; its symbols are renamed and hidden (docs/dependencies.md).
    "target_name": "tsaead_asm",
    "type": "static_library",
    "sources": ["<!@(node scripts/sources.js aead_asm)"],
    "cflags": ["-w"]
  }, {
    "target_name": "tsnet",
    "dependencies": ["tslwip", "tsuv", "tsproto", "tsaead_asm"],
    "sources": ["<!@(node scripts/sources.js addon core)"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: events still queued when Node tears the environment down are
    # dropped quietly instead of aborting the process (an N-API call then cannot throw any more).
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_DISABLE_CPP_EXCEPTIONS",
                "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
    "cflags": ["-Wall", "-Wextra", "-Werror"],
    "cflags_cc": ["-std=c++17"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
    "conditions": [
      ["OS=='linux'", {
        "libraries": ["-Wl,--exclude-libs,ALL", "<!@(bash scripts/find-static-libs.sh)", "-lpthread", "-ldl"]
      }],
      # macOS spellings of the socket calls (native/core/port/darwin.h). Read by scripts/prebuild-compile.mjs
      # for the darwin prebuilds; a node-gyp build on macOS is not supported (docs/build.md).
      ["OS=='mac'", {"cflags": ["-include", "port/darwin.h"]}],
      ["OS=='win'", {
        "libraries": ["-lws2_32", "-liphlpapi", "-luserenv", "-lpsapi", "-luser32", "-ladvapi32"]
      }]
    ]
  }]
}
