// What the addon's files share: the process's engine (engine.cc), argument checks (args.cc), the per-
// environment Context with its event channel (context.cc) and the Device (device.cc). N-API glue only; no
// protocol logic lives here. docs/architecture.md, "The native Device".
#ifndef TSNET_ADDON_H
#define TSNET_ADDON_H

#include <napi.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

extern "C" {
#include "device.h"
#include "engine/engine.h"
#include "engine/evq.h"
#include "link_wg.h"
#include "net/udp.h"
#include "stack/tcp_bridge.h"
}

namespace tsnet {

// The interface version between lib/native.ts and this addon; both sides must agree (a stale prebuild next
// to newer JavaScript is refused with a clear error instead of misbehaving).
constexpr uint32_t kNativeAbi = 20;

// ---- engine.cc: the one engine of the process, refcounted by the Contexts ----
ts_engine* AcquireEngine(Napi::Env env);
void ReleaseEngine();
Napi::Value EngineMode(Napi::Env env);  // "inline", "thread" or null

// Runs f() on the engine thread and waits; f's captures are the call's inputs and outputs.
template <typename F>
void OnEngine(ts_engine* e, F&& f) {
  ts_engine_call_sync(e, [](ts_engine*, void* arg) { (*static_cast<F*>(arg))(); }, &f);
}

// ---- args.cc: argument checks. The first bad argument throws a TypeError or RangeError whose `code` is
// Node's (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE); later reads return zeros. ----
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn) : info_(info), fn_(fn) {}
  bool ok() const { return ok_; }
  Napi::Env Env() const { return info_.Env(); }
  const char* fn() const { return fn_; }

  Napi::Value Get(Napi::Object o, const char* key);  // o[key]; a getter that throws fails the call
  Napi::Value At(Napi::Array a, uint32_t i);
  double Int(Napi::Value v, const char* name, double min, double max);  // an integer in [min, max]
  uint64_t Id(size_t i) { return static_cast<uint64_t>(Int(info_[i], "id", 0, 9007199254740991.0)); }
  uint16_t Port(Napi::Value v, const char* name, int min) { return static_cast<uint16_t>(Int(v, name, min, 65535)); }
  int Family(size_t i);  // 0 (both), 4 or 6
  bool Bool(Napi::Value v, const char* name);
  std::string String(Napi::Value v, const char* name);
  Napi::Array Array(Napi::Value v, const char* name);
  Napi::Object Object(Napi::Value v, const char* name);
  Napi::Uint8Array Bytes(Napi::Value v, const char* name);
  bool Key(Napi::Value v, const char* name, uint8_t out[32], bool optional = false);  // false: null (optional)
  // A private key: 32 bytes, not all zero (an unset buffer, never a real key): ERR_INVALID_ARG_VALUE.
  void PrivateKey(Napi::Value v, const char* name, uint8_t out[32]);
  ts_addr Ip(Napi::Value v, const char* name);                                        // "10.0.0.1", "fd00::1"
  ts_addr Endpoint(Napi::Value v, const char* name);                                // "ip:port", "[ip6]:port"
  std::vector<ts_addr> Endpoints(Napi::Value v, const char* name);
  ts_link_prefix Cidr(Napi::Value v, const char* name);           // "10.0.0.0/24", "fd00::1" (a host)
  ts_filter_prefix Prefix(Napi::Value v, const char* name);       // { family, bits, addr }

  void Fail(bool range, const char* code, const std::string& msg);
  void TypeFail(const char* name, const char* want) { Fail(false, "ERR_INVALID_ARG_TYPE", std::string(name) + " must be " + want); }
  void ValueFail(const char* name, const std::string& what) { Fail(false, "ERR_INVALID_ARG_VALUE", std::string(name) + ": " + what); }

 private:
  const Napi::CallbackInfo& info_;
  const char* fn_;
  bool ok_ = true;
};

// A failure from the engine: an Error with the uv code ("EADDRINUSE") as `code` and the number as `errno`.
void ThrowCoded(Napi::Env env, int status, const std::string& what);
std::string ErrName(int status);

// ---- engine.cc: the inline engine's turns (docs/performance.md, "Round trip: the tail and the hops") ----
// While the main thread runs an engine turn from its loop, fn(arg) is kept for the turn's end, where calling
// JavaScript is safe (the engine is between turns); false outside such a turn and on other threads.
bool AtInlineTurnEnd(void (*fn)(void*), void* arg);

// ---- context.cc: one per Node environment: the event channel and the Devices it created ----
struct Channel;
class Device;

class Context : public Napi::ObjectWrap<Context> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Context(const Napi::CallbackInfo& info);
  // A finalizer may run while Node tears the environment down and holds the threadsafe function's lock
  // (Node 24 does so from the function's own close callback): releasing it then deadlocks the exit. Node
  // finalizes the function itself at teardown (FinalizeChannel), so the destructor leaves it alone.
  ~Context() override { Shutdown(false); }

  ts_engine* engine() const { return engine_; }
  ts_evq* evq() const;
  bool open() const { return open_; }
  // Throws ERR_TSNET_CLOSED if closed.
  bool CheckOpen(Napi::Env env) const;
  void Forget(Device* d) { devices_.erase(d); }
  // Frees every device, stops the event channel (release_channel: releases its threadsafe function) and
  // releases the engine. Idempotent.
  void Shutdown(bool release_channel);

 private:
  Napi::Value CreateDevice(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  ts_engine* engine_ = nullptr;
  Channel* channel_ = nullptr;
  bool open_ = false;
  uint32_t next_device_ = 1;
  std::unordered_set<Device*> devices_;  // JavaScript thread
};

// ---- device.cc: the Device class, one node's data plane (a ts_device): its stack and its link ----
Napi::Function DefineDevice(Napi::Env env);
void FreeDevice(Device* d);  // frees the native device; the JavaScript object stays, closed
Device* UnwrapDevice(Napi::Object o);

}  // namespace tsnet

#endif
