// N-API glue: argument checks, buffers and (later) the engine's threadsafe function. No protocol logic.
#include <napi.h>

extern "C" {
#include "crypto/crypto.h"
}

namespace {

// The interface version between lib/native.ts and this addon; both sides must agree (a stale prebuild
// next to newer JavaScript is refused with a clear error instead of misbehaving).
constexpr uint32_t kNativeAbi = 1;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (ts_crypto_init() != 0) {
    Napi::Error::New(env, "tsnet: crypto initialisation failed").ThrowAsJavaScriptException();
    return exports;
  }
  exports.Set("abi", Napi::Number::New(env, kNativeAbi));
  return exports;
}

}  // namespace

NODE_API_MODULE(tsnet, Init)
