// The engine (one thread, one lwIP instance) is shared by every Node environment of the process (main thread
// and workers): lwIP keeps global state, so a second engine thread could not coexist with the first. That
// refcounted engine is the addon's one piece of process-wide state; each environment's Context holds a ref.
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "addon.h"
#include "host_loop.h"

extern "C" {
#include "stack/stack.h"
}

namespace tsnet {
namespace {

// By default the engine runs inline: no engine thread; the main thread's Node loop drives the engine's
// loop (its epoll descriptor is watched like any socket). A round trip then costs two thread wake-ups,
// as with plain Node TCP, instead of six, and on a 2-core machine throughput is higher too; the price is
// that lwIP, WireGuard and the crypto share the JavaScript thread. TSNET_ENGINE=thread gives the engine
// its own thread. docs/performance.md has the measurements.
struct InlineDriver {
  ts_engine* engine;
  const HostUv* uv;  // the host's libuv functions (native/addon/host_loop.h): these handles live on its loop
  uv_poll_t poll;
  uv_timer_t timer;
  int open_handles = 2;
  bool kicked = false;  // the timer runs for a kick: calls only (ts_engine_run_kicked)
  std::vector<std::pair<void (*)(void*), void*>> at_end;  // AtInlineTurnEnd, during a turn from the loop
};

// The driver whose turn this thread is running from its loop, if any (AtInlineTurnEnd).
thread_local InlineDriver* turn_driver = nullptr;

struct Shared {
  std::mutex mu;
  ts_engine* engine = nullptr;
  ts_stack* stack = nullptr;
  InlineDriver* driver = nullptr;
  int refs = 0;
};
Shared& shared() {
  static Shared s;  // process-wide by necessity (see top of file)
  return s;
}

void StartStack(ts_engine* e, void* arg) { *static_cast<ts_stack**>(arg) = ts_stack_start(e); }
void StopStack(ts_engine*, void* arg) { ts_stack_stop(static_cast<ts_stack*>(arg)); }

void OnDriverTimer(uv_timer_t* h);

void DriveInline(InlineDriver* d, bool kicked = false) {
  int t = kicked ? ts_engine_run_kicked(d->engine) : ts_engine_run_inline(d->engine);
  if (t < 0) d->uv->timer_stop(&d->timer);
  else d->uv->timer_start(&d->timer, OnDriverTimer, static_cast<uint64_t>(t), 0);
}

// A turn from the host loop: events for the main thread's JavaScript are delivered at its end, in this loop
// phase, instead of through the threadsafe function (an eventfd write, a poll and a read). What JavaScript
// queues in answer (a stream write) runs through the kick, at the end of the same loop iteration.
void DriveFromLoop(InlineDriver* d, bool kicked) {
  turn_driver = d;
  d->kicked = false;  // a full turn runs the queued calls too
  DriveInline(d, kicked);
  turn_driver = nullptr;
  if (d->at_end.empty()) return;
  auto work = std::move(d->at_end);
  d->at_end.clear();
  for (auto& w : work) w.first(w.second);  // may stop the driver (d lives until its handles close)
}

void OnDriverTimer(uv_timer_t* h) {
  auto* d = static_cast<InlineDriver*>(h->data);
  DriveFromLoop(d, d->kicked);
}

// A call queued by JavaScript (stream writes, credit, sync calls) runs in a turn at the end of this loop
// iteration (Node runs due timers after the poll and check phases): no eventfd round (ts_engine_set_kick).
void Kick(void* ctx) {
  auto* d = static_cast<InlineDriver*>(ctx);
  d->kicked = true;
  d->uv->timer_start(&d->timer, OnDriverTimer, 0, 0);
}

InlineDriver* StartDriver(ts_engine* e, const HostUv* uv, uv_loop_t* loop) {
  auto* d = new InlineDriver();
  d->engine = e;
  d->uv = uv;
  if (uv->poll_init(loop, &d->poll, ts_engine_backend_fd(e)) != 0) {
    delete d;
    return nullptr;
  }
  uv->timer_init(loop, &d->timer);
  d->poll.data = d;
  d->timer.data = d;
  // The driver never keeps Node alive by itself: sockets and the event channel hold their own refs.
  uv->unref(reinterpret_cast<uv_handle_t*>(&d->poll));
  uv->unref(reinterpret_cast<uv_handle_t*>(&d->timer));
  uv->poll_start(&d->poll, UV_READABLE, [](uv_poll_t* h, int, int) { DriveFromLoop(static_cast<InlineDriver*>(h->data), false); });
  ts_engine_set_kick(e, Kick, d);
  DriveInline(d);
  return d;
}

void StopDriver(InlineDriver* d) {
  ts_engine_set_kick(d->engine, nullptr, nullptr);
  auto done = [](uv_handle_t* h) {
    auto* d = static_cast<InlineDriver*>(h->data);
    if (--d->open_handles == 0) delete d;
  };
  d->uv->close(reinterpret_cast<uv_handle_t*>(&d->poll), done);
  d->uv->close(reinterpret_cast<uv_handle_t*>(&d->timer), done);
}

// Inline needs the host's libuv and the main thread's loop (it outlives every worker that might share the
// engine); TSNET_ENGINE=thread, a worker, Bun or Deno get the engine thread.
const HostUv* WantInline(Napi::Env env, uv_loop_t** loop) {
  const char* m = getenv("TSNET_ENGINE");
  if (m && strcmp(m, "thread") == 0) return nullptr;
  return tsnet::HostLoop(env, loop);
}

}  // namespace

bool AtInlineTurnEnd(void (*fn)(void*), void* arg) {
  if (!turn_driver) return false;
  turn_driver->at_end.emplace_back(fn, arg);
  return true;
}

ts_engine* AcquireEngine(Napi::Env env) {
  Shared& s = shared();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.refs == 0) {
    s.engine = ts_engine_new(nullptr);
    if (!s.engine) return nullptr;
    uv_loop_t* loop = nullptr;
    const HostUv* host = WantInline(env, &loop);
    bool inl = host != nullptr;
    if ((inl ? ts_engine_start_inline(s.engine) : ts_engine_start(s.engine)) != 0) {
      ts_engine_free(s.engine);
      s.engine = nullptr;
      return nullptr;
    }
    ts_engine_call_sync(s.engine, StartStack, &s.stack);
    if (inl && !(s.driver = StartDriver(s.engine, host, loop))) {
      ts_engine_call_sync(s.engine, StopStack, s.stack);
      ts_engine_free(s.engine);
      s.engine = nullptr;
      s.stack = nullptr;
      return nullptr;
    }
  }
  s.refs++;
  return s.engine;
}

void ReleaseEngine() {
  Shared& s = shared();
  std::lock_guard<std::mutex> lock(s.mu);
  if (--s.refs == 0) {
    ts_engine_call_sync(s.engine, StopStack, s.stack);
    if (s.driver) StopDriver(s.driver);
    s.driver = nullptr;
    ts_engine_free(s.engine);
    s.engine = nullptr;
    s.stack = nullptr;
  }
}

Napi::Value EngineMode(Napi::Env env) {
  Shared& s = shared();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.engine) return env.Null();
  return Napi::String::New(env, s.driver ? "inline" : "thread");
}

}  // namespace tsnet
