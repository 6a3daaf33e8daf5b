// N-API glue: argument checks, buffers and (later) the engine's threadsafe function. No protocol logic.
#include <napi.h>

extern "C" {
#include "crypto/crypto.h"
}

namespace {

Napi::Value Version(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), "0.1.0"); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (ts_crypto_init() != 0) {
    Napi::Error::New(env, "tsnet: crypto initialisation failed").ThrowAsJavaScriptException();
    return exports;
  }
  exports.Set("version", Napi::Function::New(env, Version));
  return exports;
}

}  // namespace

NODE_API_MODULE(tsnet, Init)
