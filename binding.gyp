{
  # Source lists come from native/sources.json (shared with CMakeLists.txt) through scripts/sources.js.
  "targets": [{
    "target_name": "tsnet",
    "sources": [
      "<!@(node scripts/sources.js addon core)"
    ],
    "include_dirs": [
      "<!(node -p \"require('node-addon-api').include_dir\")",
      "native/core"
    ],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
    "cflags": ["-Wall", "-Wextra", "-Werror", "-O2", "-fvisibility=hidden"],
    "cflags_c": ["-std=c11"],
    "cflags_cc": ["-std=c++17"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
    "conditions": [
      ["OS=='linux'", {
        "libraries": [
          "-Wl,--exclude-libs,ALL",
          "<!@(bash scripts/find-static-libs.sh)"
        ]
      }]
    ]
  }]
}
