#include "host_loop.h"

#ifdef _WIN32

namespace tsnet {

// The inline driver polls the engine loop's backend descriptor from the host's loop; on Windows that is an
// I/O completion port, which uv_poll cannot watch. The engine runs on its own thread there.
const HostUv* HostLoop(Napi::Env, uv_loop_t** loop) {
  *loop = nullptr;
  return nullptr;
}

}  // namespace tsnet

#else

#include <dlfcn.h>

namespace tsnet {
namespace {

template <typename F>
bool Find(F* out, const char* name) {
  *out = reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
  return *out != nullptr;
}

bool Load(HostUv* h) {
  return Find(&h->default_loop, "uv_default_loop") && Find(&h->poll_init, "uv_poll_init") &&
         Find(&h->poll_start, "uv_poll_start") && Find(&h->timer_init, "uv_timer_init") &&
         Find(&h->timer_start, "uv_timer_start") && Find(&h->timer_stop, "uv_timer_stop") &&
         Find(&h->unref, "uv_unref") && Find(&h->close, "uv_close");
}

// Bun and Deno name themselves in process.versions; their libuv, if any, is not one to drive.
bool NodeLikeRuntime(Napi::Env env) {
  Napi::Value process = env.Global().Get("process");
  if (!process.IsObject()) return false;
  Napi::Value versions = process.As<Napi::Object>().Get("versions");
  if (!versions.IsObject()) return false;
  Napi::Object v = versions.As<Napi::Object>();
  return v.Get("node").IsString() && v.Get("bun").IsUndefined() && v.Get("deno").IsUndefined();
}

}  // namespace

const HostUv* HostLoop(Napi::Env env, uv_loop_t** loop) {
  static HostUv host;  // immutable after the first successful lookup; the functions are the process's
  static bool loaded = Load(&host);
  *loop = nullptr;
  if (!loaded || !NodeLikeRuntime(env) || napi_get_uv_event_loop(env, loop) != napi_ok || !*loop) return nullptr;
  return *loop == host.default_loop() ? &host : nullptr;
}

}  // namespace tsnet

#endif
