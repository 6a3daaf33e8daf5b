// The addon's exports: Context (one per Node environment), whose createDevice() makes Devices, and two
// process-wide queries. The glue lives beside this file (addon.h lists it); no protocol logic lives here.
#include "addon.h"
#include "crypto.h"

extern "C" {
#include "crypto/crypto.h"
#include "stack/stack.h"
}

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (ts_crypto_init() != 0) {
    Napi::Error::New(env, "tsnet: crypto initialisation failed").ThrowAsJavaScriptException();
    return exports;
  }
  exports.Set("abi", Napi::Number::New(env, tsnet::kNativeAbi));
  exports.Set("Context", tsnet::Context::Define(env));
  tsnet::ExportCrypto(env, exports);
  // Devices are made by Context#createDevice only; the constructor is kept for it and for instanceof.
  env.SetInstanceData(new Napi::FunctionReference(Napi::Persistent(tsnet::DefineDevice(env))));
  exports.Set("engineMode", Napi::Function::New(env, [](const Napi::CallbackInfo& info) { return tsnet::EngineMode(info.Env()); }));
  // The process's TCP loss recovery counters (docs/tcp.md); tests use them to tell recovery from timeouts.
  exports.Set("tcpRecoveryStats", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    ts_tcp_recovery_stats st;
    ts_stack_tcp_recovery_stats(&st);
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("rto", Napi::Number::New(info.Env(), st.rto));
    o.Set("rackRexmit", Napi::Number::New(info.Env(), st.rack_rexmit));
    o.Set("tlp", Napi::Number::New(info.Env(), st.tlp));
    o.Set("reneged", Napi::Number::New(info.Env(), st.reneged));
    return o;
  }));
  return exports;
}

}  // namespace

NODE_API_MODULE(tsnet, Init)
