// N-API glue: argument checks, buffers, the threadsafe function for events. No protocol logic lives here.
//
// The engine (one thread, one lwIP instance) is shared by every Node environment of the process (main thread
// and workers): lwIP keeps global state, so a second engine thread could not coexist with the first. That
// refcounted engine is the addon's one piece of process-wide state. Each environment gets a Context with its
// own event queue and threadsafe function, so events reach the thread that owns the device.
#include <napi.h>

#include "crypto.h"
#include "host_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>
#include <mutex>
#include <unordered_map>

extern "C" {
#include "crypto/crypto.h"
#include "device.h"
#include "link_wg.h"
#include "net/udp.h"
#include "engine/engine.h"
#include "engine/evq.h"
#include "stack/stack.h"
#include "stack/tcp_bridge.h"
#include "stack/udp_bridge.h"
}

namespace {

// The interface version between lib/native.ts and this addon; both sides must agree (a stale prebuild next
// to newer JavaScript is refused with a clear error instead of misbehaving).
constexpr uint32_t kNativeAbi = 11;

// ---- the shared engine ----
// By default the engine runs inline: no engine thread; the main thread's Node loop drives the engine's
// loop (its epoll descriptor is watched like any socket). A round trip then costs two thread wake-ups,
// as with plain Node TCP, instead of six, and on a 2-core machine throughput is higher too; the price is
// that lwIP, WireGuard and the crypto share the JavaScript thread. TSNET_ENGINE=thread gives the engine
// its own thread. docs/performance.md has the measurements.
struct InlineDriver {
  ts_engine* engine;
  const tsnet::HostUv* uv;  // the host's libuv functions (native/addon/host_loop.h): these handles live on its loop
  uv_poll_t poll;
  uv_timer_t timer;
  int open_handles = 2;
};

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

void DriveInline(InlineDriver* d) {
  int t = ts_engine_run_inline(d->engine);
  if (t < 0) d->uv->timer_stop(&d->timer);
  else d->uv->timer_start(&d->timer, [](uv_timer_t* h) { DriveInline(static_cast<InlineDriver*>(h->data)); },
                          static_cast<uint64_t>(t), 0);
}

InlineDriver* StartDriver(ts_engine* e, const tsnet::HostUv* uv, uv_loop_t* loop) {
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
  uv->poll_start(&d->poll, UV_READABLE, [](uv_poll_t* h, int, int) { DriveInline(static_cast<InlineDriver*>(h->data)); });
  DriveInline(d);
  return d;
}

void StopDriver(InlineDriver* d) {
  auto done = [](uv_handle_t* h) {
    auto* d = static_cast<InlineDriver*>(h->data);
    if (--d->open_handles == 0) delete d;
  };
  d->uv->close(reinterpret_cast<uv_handle_t*>(&d->poll), done);
  d->uv->close(reinterpret_cast<uv_handle_t*>(&d->timer), done);
}

// Inline needs the host's libuv and the main thread's loop (it outlives every worker that might share the
// engine); TSNET_ENGINE=thread, a worker, Bun or Deno get the engine thread.
const tsnet::HostUv* WantInline(Napi::Env env, uv_loop_t** loop) {
  const char* m = getenv("TSNET_ENGINE");
  if (m && strcmp(m, "thread") == 0) return nullptr;
  return tsnet::HostLoop(env, loop);
}

ts_engine* AcquireEngine(Napi::Env env) {
  Shared& s = shared();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.refs == 0) {
    s.engine = ts_engine_new(nullptr);
    if (!s.engine) return nullptr;
    uv_loop_t* loop = nullptr;
    const tsnet::HostUv* host = WantInline(env, &loop);
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

std::string ErrName(int status) { return status ? uv_err_name(status) : "OK"; }

Napi::Error CodedError(Napi::Env env, int status, const std::string& what) {
  Napi::Error e = Napi::Error::New(env, what + ": " + uv_strerror(status));
  e.Set("code", Napi::String::New(env, ErrName(status)));
  e.Set("errno", Napi::Number::New(env, status));
  return e;
}

// ---- addresses ----
Napi::Object AddrToJs(Napi::Env env, const uint8_t* d) {  // family(1) addr(16) port(2, BE)
  char buf[INET6_ADDRSTRLEN] = "";
  int fam = d[0];
  inet_ntop(fam == 6 ? AF_INET6 : AF_INET, d + 1, buf, sizeof buf);
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", buf);
  o.Set("family", fam == 6 ? "IPv6" : "IPv4");
  o.Set("port", (d[17] << 8) | d[18]);
  return o;
}

bool ParseAddr(const Napi::Value& v, ts_addr* out) {
  if (!v.IsString()) return false;
  std::string s = v.As<Napi::String>().Utf8Value();
  memset(out, 0, sizeof *out);
  if (inet_pton(AF_INET, s.c_str(), out->ip) == 1) {
    out->family = 4;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out->ip) == 1) {
    out->family = 6;
    return true;
  }
  return false;
}

// ---- events: one queue and one threadsafe function per environment ----
// The channel outlives its Context until the threadsafe function is finalized, so a wake-up that races
// with close never touches freed memory.
struct Channel {
  ts_evq evq{};
};

Napi::Object EventToJs(Napi::Env env, const ts_event& ev) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("device", ev.device);
  o.Set("id", static_cast<double>(ev.id));
  if (ev.status) o.Set("code", ErrName(ev.status));
  switch (ev.type) {
    case TS_EV_TCP_ACCEPT: {
      uint64_t lid = 0;
      for (int i = 0; i < 8; i++) lid = (lid << 8) | ev.data[i];
      o.Set("type", "accept");
      o.Set("listener", static_cast<double>(lid));
      o.Set("fd", ev.fd);
      o.Set("local", AddrToJs(env, ev.data + 8));
      o.Set("remote", AddrToJs(env, ev.data + 27));
      break;
    }
    case TS_EV_TCP_CONNECTED:
      o.Set("type", "connected");
      o.Set("local", AddrToJs(env, ev.data));
      o.Set("remote", AddrToJs(env, ev.data + 19));
      break;
    case TS_EV_TCP_ERROR:
      o.Set("type", "error");
      break;
    case TS_EV_TCP_CLOSED:
      o.Set("type", "closed");
      break;
    case TS_EV_UDP_MESSAGE: {
      o.Set("type", "message");
      o.Set("remote", AddrToJs(env, ev.data));
      // The payload buffer is handed to JavaScript without a copy; its finalizer frees it.
      void* data = ev.ptr;
      o.Set("data", Napi::Buffer<uint8_t>::New(env, static_cast<uint8_t*>(data), ev.ptr_len,
                                               [](Napi::Env, uint8_t* p) { free(p); }));
      return o;
    }
    case TS_EV_UDP_ERROR:
      o.Set("type", "udp-error");
      break;
    case TS_EV_DERP_WANT:
      o.Set("type", "derp-want");
      break;
    case TS_EV_DERP_STATE:
      o.Set("type", "derp-state");
      o.Set("connected", ev.data[0] != 0);
      break;
    case TS_EV_STUN: {
      o.Set("type", "stun");
      o.Set("mapped", AddrToJs(env, ev.data));
      uint64_t rtt = 0;
      for (int i = 0; i < 8; i++) rtt = (rtt << 8) | ev.data[19 + i];
      o.Set("rttMs", static_cast<double>(rtt) / 1e6);
      break;
    }
    default:
      o.Set("type", "unknown");
      if (ev.fd >= 0) close(ev.fd);
  }
  free(ev.ptr);
  return o;
}

void CallJs(Napi::Env env, Napi::Function cb, Channel* ch, void*) {
  if (!env || !ch) return;
  ts_event batch[256];
  for (;;) {
    size_t n = ts_evq_drain(&ch->evq, batch, 256);
    if (n == 0) return;
    Napi::Array arr = Napi::Array::New(env, n);
    for (size_t i = 0; i < n; i++) arr.Set(i, EventToJs(env, batch[i]));
    cb.Call({arr});
    if (n < 256) return;
  }
}

void FinalizeChannel(Napi::Env, void*, Channel* ch) {
  ts_evq_destroy(&ch->evq);
  delete ch;
}

using TSFN = Napi::TypedThreadSafeFunction<Channel, void, CallJs>;

// ---- per-environment context ----
class Context : public Napi::ObjectWrap<Context> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Context",
                       {
                           InstanceMethod<&Context::DeviceCreate>("deviceCreate"),
                           InstanceMethod<&Context::DeviceAddAddress>("deviceAddAddress"),
                           InstanceMethod<&Context::DeviceLinkMemory>("deviceLinkMemory"),
                           InstanceMethod<&Context::DeviceClose>("deviceClose"),
                           InstanceMethod<&Context::TcpListen>("tcpListen"),
                           InstanceMethod<&Context::TcpListenerClose>("tcpListenerClose"),
                           InstanceMethod<&Context::TcpDial>("tcpDial"),
                           InstanceMethod<&Context::TcpSetNoDelay>("tcpSetNoDelay"),
                           InstanceMethod<&Context::TcpSetKeepAlive>("tcpSetKeepAlive"),
                           InstanceMethod<&Context::TcpReset>("tcpReset"),
                           InstanceMethod<&Context::UdpOpen>("udpOpen"),
                           InstanceMethod<&Context::UdpSend>("udpSend"),
                           InstanceMethod<&Context::UdpClose>("udpClose"),
                           InstanceMethod<&Context::WgStart>("wgStart"),
                           InstanceMethod<&Context::WgPeerSet>("wgPeerSet"),
                           InstanceMethod<&Context::WgPeerAllow>("wgPeerAllow"),
                           InstanceMethod<&Context::WgPeerSetAllowed>("wgPeerSetAllowed"),
                           InstanceMethod<&Context::WgPeerRemove>("wgPeerRemove"),
                           InstanceMethod<&Context::WgStats>("wgStats"),
                           InstanceMethod<&Context::WgDrops>("wgDrops"),
                           InstanceMethod<&Context::WgLoadStats>("wgLoadStats"),
                           InstanceMethod<&Context::WgFilterSet>("wgFilterSet"),
                           InstanceMethod<&Context::MsStart>("msStart"),
                           InstanceMethod<&Context::WgRebind>("wgRebind"),
                           InstanceMethod<&Context::MsPeerSet>("msPeerSet"),
                           InstanceMethod<&Context::MsSetSelf>("msSetSelf"),
                           InstanceMethod<&Context::DerpAttach>("derpAttach"),
                           InstanceMethod<&Context::StunProbe>("stunProbe"),
                           InstanceMethod<&Context::MsStats>("msStats"),
                           InstanceMethod<&Context::Ref>("ref"),
                           InstanceMethod<&Context::Unref>("unref"),
                           InstanceMethod<&Context::Close>("close"),
                       });
  }

  explicit Context(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Context>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction()) {
      Napi::TypeError::New(env, "Context(onEvents): onEvents must be a function").ThrowAsJavaScriptException();
      return;
    }
    engine_ = AcquireEngine(env);
    if (!engine_) {
      Napi::Error::New(env, "tsnet: could not start the engine").ThrowAsJavaScriptException();
      return;
    }
    channel_ = new Channel();
    ts_evq_init(&channel_->evq, Notify, this);
    tsfn_ = TSFN::New(env, info[0].As<Napi::Function>(), "tsnet-events", 0, 1, channel_, FinalizeChannel,
                      static_cast<void*>(nullptr));
    tsfn_.Unref(env);
    open_ = true;
  }

  // A finalizer may run while Node tears the environment down and holds the threadsafe function's lock
  // (Node 24 does so from the function's own close callback): releasing it then deadlocks the exit. Node
  // finalizes the function itself at teardown (FinalizeChannel), so the destructor leaves it alone.
  ~Context() override { Shutdown(false); }

 private:
  static void Notify(void* ctx) { static_cast<Context*>(ctx)->tsfn_.NonBlockingCall(); }

  // ---- calls onto the engine thread ----
  struct Call {
    Context* ctx;
    uint32_t dev = 0, dev2 = 0;
    uint64_t id = 0;
    int family = 0, a = 0, b = 0;
    ts_addr addr{};
    int result = 0;
    uint32_t out = 0;
  };

  ts_device* Find(uint32_t id) {
    auto it = devices_.find(id);
    return it == devices_.end() ? nullptr : it->second;
  }

  static void ThrowClosed(Napi::Env env) {
    Napi::Error e = Napi::Error::New(env, "tsnet: the native context is closed");
    e.Set("code", "ERR_TSNET_CLOSED");
    e.ThrowAsJavaScriptException();
  }

  // Runs fn(c) on the engine thread and waits. Every call struct has a `ctx` member.
  template <typename T>
  bool Sync(const Napi::CallbackInfo& info, ts_engine_fn fn, T* c) {
    if (!open_) {
      ThrowClosed(info.Env());
      return false;
    }
    c->ctx = this;
    ts_engine_call_sync(engine_, fn, c);
    return true;
  }

  static bool Args(const Napi::CallbackInfo& info, size_t n, const char* usage) {
    for (size_t i = 0; i < n; i++) {
      if (!info[i].IsNumber()) {
        Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
        return false;
      }
    }
    return true;
  }

  // deviceCreate(id)
  Napi::Value DeviceCreate(const Napi::CallbackInfo& info) {
    if (!Args(info, 1, "deviceCreate(id)")) return {};
    Call c;
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    if (!Sync(info, [](ts_engine* e, void* arg) {
          Call* c = static_cast<Call*>(arg);
          if (c->ctx->Find(c->dev)) { c->result = UV_EEXIST; return; }
          ts_device* d = ts_device_new(e, &c->ctx->channel_->evq, c->dev);
          if (!d) { c->result = UV_ENOMEM; return; }
          c->ctx->devices_[c->dev] = d;
        }, &c))
      return {};
    if (c.result) CodedError(info.Env(), c.result, "deviceCreate").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  // deviceAddAddress(id, "100.64.0.1")
  Napi::Value DeviceAddAddress(const Napi::CallbackInfo& info) {
    Call c;
    if (!Args(info, 1, "deviceAddAddress(id, address)")) return {};
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    if (!ParseAddr(info[1], &c.addr)) {
      Napi::TypeError::New(info.Env(), "deviceAddAddress: address must be an IPv4 or IPv6 string").ThrowAsJavaScriptException();
      return {};
    }
    if (!Sync(info, [](ts_engine*, void* arg) {
          Call* c = static_cast<Call*>(arg);
          ts_device* d = c->ctx->Find(c->dev);
          if (!d) { c->result = UV_ENODEV; return; }
          if (ts_device_add_addr(d, c->addr.family, c->addr.ip) != 0) c->result = UV_ENOSPC;
        }, &c))
      return {};
    if (c.result) CodedError(info.Env(), c.result, "deviceAddAddress").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  // deviceLinkMemory(a, b)
  Napi::Value DeviceLinkMemory(const Napi::CallbackInfo& info) {
    if (!Args(info, 2, "deviceLinkMemory(a, b)")) return {};
    Call c;
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    c.dev2 = info[1].As<Napi::Number>().Uint32Value();
    if (!Sync(info, [](ts_engine*, void* arg) {
          Call* c = static_cast<Call*>(arg);
          ts_device *a = c->ctx->Find(c->dev), *b = c->ctx->Find(c->dev2);
          if (!a || !b || a == b) { c->result = UV_ENODEV; return; }
          if (ts_device_link_memory(a, b) != 0) c->result = UV_ENOMEM;
        }, &c))
      return {};
    if (c.result) CodedError(info.Env(), c.result, "deviceLinkMemory").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  // deviceClose(id): closes every connection and listener of the device and frees it.
  Napi::Value DeviceClose(const Napi::CallbackInfo& info) {
    if (!Args(info, 1, "deviceClose(id)")) return {};
    Call c;
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    if (!Sync(info, [](ts_engine*, void* arg) {
          Call* c = static_cast<Call*>(arg);
          auto it = c->ctx->devices_.find(c->dev);
          if (it == c->ctx->devices_.end()) return;
          ts_device_free(it->second);
          c->ctx->devices_.erase(it);
        }, &c))
      return {};
    return info.Env().Undefined();
  }

  // tcpListen(dev, listenerId, family(0|4|6), port, backlog) -> bound port
  Napi::Value TcpListen(const Napi::CallbackInfo& info) {
    if (!Args(info, 5, "tcpListen(dev, id, family, port, backlog)")) return {};
    Call c;
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    c.id = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    c.family = info[2].As<Napi::Number>().Int32Value();
    c.a = info[3].As<Napi::Number>().Int32Value();
    c.b = info[4].As<Napi::Number>().Int32Value();
    if (c.a < 0 || c.a > 65535) {
      Napi::RangeError::New(info.Env(), "tcpListen: port must be 0..65535").ThrowAsJavaScriptException();
      return {};
    }
    if (!Sync(info, [](ts_engine*, void* arg) {
          Call* c = static_cast<Call*>(arg);
          ts_device* d = c->ctx->Find(c->dev);
          if (!d) { c->result = UV_ENODEV; return; }
          int err = 0;
          ts_tcp_listener* l = ts_tcp_listen(ts_device_tcp(d), c->id, c->family, (uint16_t)c->a, c->b, &err);
          if (!l) { c->result = err; return; }
          c->ctx->listeners_[c->id] = {c->dev, l};
          c->out = ts_tcp_listener_port(l);
        }, &c))
      return {};
    if (c.result) {
      CodedError(info.Env(), c.result, "listen").ThrowAsJavaScriptException();
      return {};
    }
    return Napi::Number::New(info.Env(), c.out);
  }

  Napi::Value TcpListenerClose(const Napi::CallbackInfo& info) {
    if (!Args(info, 1, "tcpListenerClose(id)")) return {};
    Call c;
    c.id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
    if (!Sync(info, [](ts_engine*, void* arg) {
          Call* c = static_cast<Call*>(arg);
          auto it = c->ctx->listeners_.find(c->id);
          if (it == c->ctx->listeners_.end()) return;
          if (c->ctx->Find(it->second.first)) ts_tcp_listener_close(it->second.second);
          c->ctx->listeners_.erase(it);
        }, &c))
      return {};
    return info.Env().Undefined();
  }

  // tcpDial(dev, connId, address, port) -> fd of JavaScript's end of the socketpair
  Napi::Value TcpDial(const Napi::CallbackInfo& info) {
    if (!Args(info, 2, "tcpDial(dev, id, address, port)") || !info[3].IsNumber()) {
      if (!info.Env().IsExceptionPending())
        Napi::TypeError::New(info.Env(), "tcpDial(dev, id, address, port)").ThrowAsJavaScriptException();
      return {};
    }
    Call c;
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    c.id = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    if (!ParseAddr(info[2], &c.addr)) {
      Napi::TypeError::New(info.Env(), "tcpDial: address must be an IPv4 or IPv6 string").ThrowAsJavaScriptException();
      return {};
    }
    int port = info[3].As<Napi::Number>().Int32Value();
    if (port <= 0 || port > 65535) {
      Napi::RangeError::New(info.Env(), "tcpDial: port must be 1..65535").ThrowAsJavaScriptException();
      return {};
    }
    c.addr.port = static_cast<uint16_t>(port);
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      CodedError(info.Env(), -errno, "dial").ThrowAsJavaScriptException();
      return {};
    }
    c.a = fds[0];
    if (!Sync(info, [](ts_engine*, void* arg) {
          Call* c = static_cast<Call*>(arg);
          ts_device* d = c->ctx->Find(c->dev);
          if (!d) { c->result = UV_ENODEV; return; }
          c->result = ts_tcp_dial(ts_device_tcp(d), c->id, c->a, &c->addr);
        }, &c)) {
      close(fds[0]);
      close(fds[1]);
      return {};
    }
    if (c.result) {
      close(fds[0]);
      close(fds[1]);
      CodedError(info.Env(), c.result, "dial").ThrowAsJavaScriptException();
      return {};
    }
    return Napi::Number::New(info.Env(), fds[1]);
  }

  Napi::Value TcpSetNoDelay(const Napi::CallbackInfo& info) {
    if (!Args(info, 2, "tcpSetNoDelay(dev, id, on)")) return {};
    Call c;
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    c.id = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    c.a = info[2].ToBoolean().Value();
    Sync(info, [](ts_engine*, void* arg) {
      Call* c = static_cast<Call*>(arg);
      if (ts_device* d = c->ctx->Find(c->dev)) ts_tcp_set_nodelay(ts_device_tcp(d), c->id, c->a);
    }, &c);
    return info.Env().Undefined();
  }

  Napi::Value TcpSetKeepAlive(const Napi::CallbackInfo& info) {
    if (!Args(info, 2, "tcpSetKeepAlive(dev, id, on, idleMs)")) return {};
    Call c;
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    c.id = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    c.a = info[2].ToBoolean().Value();
    c.b = info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : 0;
    Sync(info, [](ts_engine*, void* arg) {
      Call* c = static_cast<Call*>(arg);
      if (ts_device* d = c->ctx->Find(c->dev))
        ts_tcp_set_keepalive(ts_device_tcp(d), c->id, c->a, c->b > 0 ? (uint32_t)c->b : 0);
    }, &c);
    return info.Env().Undefined();
  }

  Napi::Value TcpReset(const Napi::CallbackInfo& info) {
    if (!Args(info, 2, "tcpReset(dev, id)")) return {};
    Call c;
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    c.id = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    Sync(info, [](ts_engine*, void* arg) {
      Call* c = static_cast<Call*>(arg);
      if (ts_device* d = c->ctx->Find(c->dev)) ts_tcp_reset(ts_device_tcp(d), c->id);
    }, &c);
    return info.Env().Undefined();
  }

  // ---- UDP ----
  // udpOpen(dev, id, family, port) -> bound port
  Napi::Value UdpOpen(const Napi::CallbackInfo& info) {
    if (!Args(info, 4, "udpOpen(dev, id, family, port)")) return {};
    Call c;
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    c.id = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    c.family = info[2].As<Napi::Number>().Int32Value();
    c.a = info[3].As<Napi::Number>().Int32Value();
    if (c.a < 0 || c.a > 65535) {
      Napi::RangeError::New(info.Env(), "udpOpen: port must be 0..65535").ThrowAsJavaScriptException();
      return {};
    }
    if (!Sync(info, [](ts_engine*, void* arg) {
          Call* c = static_cast<Call*>(arg);
          ts_device* d = c->ctx->Find(c->dev);
          if (!d) { c->result = UV_ENODEV; return; }
          uint16_t bound = 0;
          c->result = ts_device_udp_open(d, c->id, c->family, (uint16_t)c->a, &bound);
          c->out = bound;
        }, &c))
      return {};
    if (c.result) {
      CodedError(info.Env(), c.result, "bind").ThrowAsJavaScriptException();
      return {};
    }
    return Napi::Number::New(info.Env(), c.out);
  }

  struct UdpSendCall {
    Context* ctx;
    uint32_t dev;
    uint64_t id;
    ts_addr dst;
    size_t len;
    uint8_t data[];
  };

  // udpSend(dev, id, address, port, data): queued to the engine; failures come back as 'udp-error' events.
  Napi::Value UdpSend(const Napi::CallbackInfo& info) {
    ts_addr dst;
    if (!info[0].IsNumber() || !info[1].IsNumber() || !ParseAddr(info[2], &dst) || !info[3].IsNumber() ||
        !info[4].IsTypedArray()) {
      Napi::TypeError::New(info.Env(), "udpSend(dev, id, address, port, data)").ThrowAsJavaScriptException();
      return {};
    }
    int port = info[3].As<Napi::Number>().Int32Value();
    if (port <= 0 || port > 65535) {
      Napi::RangeError::New(info.Env(), "send: port must be 1..65535").ThrowAsJavaScriptException();
      return {};
    }
    dst.port = static_cast<uint16_t>(port);
    Napi::Uint8Array buf = info[4].As<Napi::Uint8Array>();
    if (buf.ByteLength() > 65535 - 48) {
      CodedError(info.Env(), UV_EMSGSIZE, "send").ThrowAsJavaScriptException();
      return {};
    }
    if (!open_) {
      ThrowClosed(info.Env());
      return {};
    }
    auto* c = static_cast<UdpSendCall*>(malloc(sizeof(UdpSendCall) + buf.ByteLength()));
    if (!c) {
      CodedError(info.Env(), UV_ENOMEM, "send").ThrowAsJavaScriptException();
      return {};
    }
    c->ctx = this;
    c->dev = info[0].As<Napi::Number>().Uint32Value();
    c->id = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    c->dst = dst;
    c->len = buf.ByteLength();
    memcpy(c->data, buf.Data(), c->len);
    ts_engine_call(engine_, [](ts_engine*, void* arg) {
      UdpSendCall* c = static_cast<UdpSendCall*>(arg);
      ts_device* d = c->ctx->open_ ? c->ctx->Find(c->dev) : nullptr;
      int r = d ? ts_device_udp_send(d, c->id, &c->dst, c->data, c->len) : UV_EBADF;
      if (r != 0 && d) {
        ts_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = TS_EV_UDP_ERROR;
        ev.device = c->dev;
        ev.id = c->id;
        ev.status = r;
        ev.fd = -1;
        ts_evq_push(&c->ctx->channel_->evq, &ev);
      }
      free(c);
    }, c);
    return info.Env().Undefined();
  }

  Napi::Value UdpClose(const Napi::CallbackInfo& info) {
    if (!Args(info, 2, "udpClose(dev, id)")) return {};
    Call c;
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    c.id = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    Sync(info, [](ts_engine*, void* arg) {
      Call* c = static_cast<Call*>(arg);
      if (ts_device* d = c->ctx->Find(c->dev)) ts_device_udp_close(d, c->id);
    }, &c);
    return info.Env().Undefined();
  }

  // ---- WireGuard ----
  static bool Key(const Napi::Value& v, uint8_t out[32]) {
    if (!v.IsTypedArray()) return false;
    Napi::Uint8Array a = v.As<Napi::Uint8Array>();
    if (a.ElementLength() != 32) return false;
    memcpy(out, a.Data(), 32);
    return true;
  }

  struct WgCall {
    Context* ctx;
    uint32_t dev = 0;
    uint8_t key[32]{}, psk[32]{};
    bool has_psk = false, has_ep = false;
    ts_addr ep{};
    std::string bind;
    int port = 0, keepalive = 0, family = 0, cidr = 0;
    uint8_t addr[16]{};
    int result = 0;
    Napi::Env* env = nullptr;
    std::vector<std::pair<std::array<uint8_t, 32>, ts_wg_peer_stats>> stats;
    ts_wg_load_stats load{};
    std::vector<ts_link_prefix> prefixes;
  };


  // wgStart(dev, privateKey: Uint8Array(32), bindAddress: string, port) -> bound UDP port
  Napi::Value WgStart(const Napi::CallbackInfo& info) {
    WgCall c;
    if (!info[0].IsNumber() || !Key(info[1], c.key) || !info[2].IsString() || !info[3].IsNumber()) {
      Napi::TypeError::New(info.Env(), "wgStart(dev, privateKey[32], bindAddress, port)").ThrowAsJavaScriptException();
      return {};
    }
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    c.bind = info[2].As<Napi::String>().Utf8Value();
    c.port = info[3].As<Napi::Number>().Int32Value();
    if (c.port < 0 || c.port > 65535) {
      Napi::RangeError::New(info.Env(), "wgStart: port must be 0..65535").ThrowAsJavaScriptException();
      return {};
    }
    bool ok = Sync(info, [](ts_engine*, void* arg) {
      WgCall* c = static_cast<WgCall*>(arg);
      ts_device* d = c->ctx->Find(c->dev);
      if (!d) { c->result = UV_ENODEV; return; }
      c->result = ts_device_wg_start(d, c->key, c->bind.empty() ? nullptr : c->bind.c_str(), (uint16_t)c->port);
      if (c->result == 0) c->port = ts_link_wg_port(ts_device_wg(d));
    }, &c);
    ts_wipe(c.key, sizeof c.key);
    if (!ok) return {};
    if (c.result) {
      CodedError(info.Env(), c.result, "wireguard: listen").ThrowAsJavaScriptException();
      return {};
    }
    return Napi::Number::New(info.Env(), c.port);
  }

  // wgPeerSet(dev, publicKey, presharedKey|null, endpointIp|null, endpointPort, keepaliveSeconds)
  Napi::Value WgPeerSet(const Napi::CallbackInfo& info) {
    WgCall c;
    if (!info[0].IsNumber() || !Key(info[1], c.key)) {
      Napi::TypeError::New(info.Env(), "wgPeerSet(dev, publicKey[32], psk, endpointIp, endpointPort, keepalive)").ThrowAsJavaScriptException();
      return {};
    }
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    if (!info[2].IsNull() && !info[2].IsUndefined()) {
      if (!Key(info[2], c.psk)) {
        Napi::TypeError::New(info.Env(), "wgPeerSet: presharedKey must be 32 bytes").ThrowAsJavaScriptException();
        return {};
      }
      c.has_psk = true;
    }
    if (info[3].IsString()) {
      std::string ip = info[3].As<Napi::String>().Utf8Value();
      int port = info[4].IsNumber() ? info[4].As<Napi::Number>().Int32Value() : 0;
      if (port <= 0 || port > 65535 || ts_addr_parse(&c.ep, ip.c_str(), (uint16_t)port) != 0) {
        Napi::TypeError::New(info.Env(), "wgPeerSet: endpoint must be an IP address and a port 1..65535").ThrowAsJavaScriptException();
        return {};
      }
      c.has_ep = true;
    }
    c.keepalive = info[5].IsNumber() ? info[5].As<Napi::Number>().Int32Value() : 0;
    if (c.keepalive < 0 || c.keepalive > 65535) {
      Napi::RangeError::New(info.Env(), "wgPeerSet: persistentKeepalive must be 0..65535 seconds").ThrowAsJavaScriptException();
      return {};
    }
    bool ok = Sync(info, [](ts_engine*, void* arg) {
      WgCall* c = static_cast<WgCall*>(arg);
      ts_device* d = c->ctx->Find(c->dev);
      if (!d || !ts_device_wg(d)) { c->result = UV_ENODEV; return; }
      c->result = ts_link_wg_peer_set(ts_device_wg(d), c->key, c->has_psk ? c->psk : nullptr,
                                      c->has_ep ? &c->ep : nullptr, (uint16_t)c->keepalive);
    }, &c);
    ts_wipe(c.psk, sizeof c.psk);
    if (ok && c.result) CodedError(info.Env(), c.result, "wireguard: peer").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  // "10.0.0.0/24" or "fd00::1" (a host) into family, address and prefix length; false if it is none.
  static bool ParsePrefix(const std::string& cidr, int* family, uint8_t addr[16], int* bits_out) {
    size_t slash = cidr.find('/');
    std::string ip = cidr.substr(0, slash);
    *family = inet_pton(AF_INET, ip.c_str(), addr) == 1 ? 4 : inet_pton(AF_INET6, ip.c_str(), addr) == 1 ? 6 : 0;
    int maxbits = *family == 4 ? 32 : 128;
    *bits_out = maxbits;
    if (slash != std::string::npos) {
      std::string bits = cidr.substr(slash + 1);
      if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != std::string::npos) return false;
      *bits_out = std::stoi(bits);
    }
    return *family != 0 && *bits_out <= maxbits;
  }

  // wgPeerAllow(dev, publicKey, "10.0.0.0/24"): adds a prefix.
  Napi::Value WgPeerAllow(const Napi::CallbackInfo& info) {
    WgCall c;
    if (!info[0].IsNumber() || !Key(info[1], c.key) || !info[2].IsString()) {
      Napi::TypeError::New(info.Env(), "wgPeerAllow(dev, publicKey[32], cidr)").ThrowAsJavaScriptException();
      return {};
    }
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    std::string cidr = info[2].As<Napi::String>().Utf8Value();
    if (!ParsePrefix(cidr, &c.family, c.addr, &c.cidr)) {
      Napi::TypeError::New(info.Env(), "wgPeerAllow: \"" + cidr + "\" is not an IP prefix").ThrowAsJavaScriptException();
      return {};
    }
    bool ok = Sync(info, [](ts_engine*, void* arg) {
      WgCall* c = static_cast<WgCall*>(arg);
      ts_device* d = c->ctx->Find(c->dev);
      if (!d || !ts_device_wg(d)) { c->result = UV_ENODEV; return; }
      c->result = ts_link_wg_peer_allow(ts_device_wg(d), c->key, c->family, c->addr, (unsigned)c->cidr);
    }, &c);
    if (ok && c.result) CodedError(info.Env(), c.result, "wireguard: allowedIPs").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  // wgPeerSetAllowed(dev, publicKey, ["10.0.0.0/24", ...]): the peer's AllowedIPs become exactly these.
  Napi::Value WgPeerSetAllowed(const Napi::CallbackInfo& info) {
    WgCall c;
    if (!info[0].IsNumber() || !Key(info[1], c.key) || !info[2].IsArray()) {
      Napi::TypeError::New(info.Env(), "wgPeerSetAllowed(dev, publicKey[32], cidrs[])").ThrowAsJavaScriptException();
      return {};
    }
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    Napi::Array arr = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value v = arr.Get(i);
      ts_link_prefix p{};
      int bits = 0;
      std::string cidr = v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
      if (!v.IsString() || !ParsePrefix(cidr, &p.family, p.addr, &bits)) {
        Napi::TypeError::New(info.Env(), "wgPeerSetAllowed: \"" + cidr + "\" is not an IP prefix").ThrowAsJavaScriptException();
        return {};
      }
      p.cidr = (unsigned)bits;
      c.prefixes.push_back(p);
    }
    bool ok = Sync(info, [](ts_engine*, void* arg) {
      WgCall* c = static_cast<WgCall*>(arg);
      ts_device* d = c->ctx->Find(c->dev);
      if (!d || !ts_device_wg(d)) { c->result = UV_ENODEV; return; }
      c->result = ts_link_wg_peer_set_allowed(ts_device_wg(d), c->key, c->prefixes.data(), c->prefixes.size());
    }, &c);
    if (ok && c.result) CodedError(info.Env(), c.result, "wireguard: allowedIPs").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  Napi::Value WgPeerRemove(const Napi::CallbackInfo& info) {
    WgCall c;
    if (!info[0].IsNumber() || !Key(info[1], c.key)) {
      Napi::TypeError::New(info.Env(), "wgPeerRemove(dev, publicKey[32])").ThrowAsJavaScriptException();
      return {};
    }
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    Sync(info, [](ts_engine*, void* arg) {
      WgCall* c = static_cast<WgCall*>(arg);
      ts_device* d = c->ctx->Find(c->dev);
      if (d && ts_device_wg(d)) c->result = ts_link_wg_peer_remove(ts_device_wg(d), c->key);
    }, &c);
    return Napi::Boolean::New(info.Env(), c.result == 0);
  }

  // wgStats(dev) -> [{ publicKey, lastHandshake (ms since epoch or 0), rxBytes, txBytes, endpoint }]
  Napi::Value WgStats(const Napi::CallbackInfo& info) {
    WgCall c;
    if (!info[0].IsNumber()) {
      Napi::TypeError::New(info.Env(), "wgStats(dev)").ThrowAsJavaScriptException();
      return {};
    }
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    if (!Sync(info, [](ts_engine*, void* arg) {
          WgCall* c = static_cast<WgCall*>(arg);
          ts_device* d = c->ctx->Find(c->dev);
          if (!d || !ts_device_wg(d)) { c->result = UV_ENODEV; return; }
          ts_link_wg_foreach_peer(ts_device_wg(d), [](void* ctx, const uint8_t pub[32], const ts_wg_peer_stats* st) {
            auto* v = static_cast<std::vector<std::pair<std::array<uint8_t, 32>, ts_wg_peer_stats>>*>(ctx);
            std::array<uint8_t, 32> k;
            memcpy(k.data(), pub, 32);
            v->emplace_back(k, *st);
          }, &c->stats);
        }, &c))
      return {};
    if (c.result) {
      CodedError(info.Env(), c.result, "wireguard: stats").ThrowAsJavaScriptException();
      return {};
    }
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env, c.stats.size());
    for (size_t i = 0; i < c.stats.size(); i++) {
      const ts_wg_peer_stats& st = c.stats[i].second;
      Napi::Object o = Napi::Object::New(env);
      o.Set("publicKey", Napi::Buffer<uint8_t>::Copy(env, c.stats[i].first.data(), 32));
      o.Set("lastHandshake", static_cast<double>(st.last_handshake_wall / 1000000ull));
      o.Set("rxBytes", static_cast<double>(st.rx_bytes));
      o.Set("txBytes", static_cast<double>(st.tx_bytes));
      o.Set("hasSession", st.has_session != 0);
      ts_addr a;
      if (ts_link_wg_udp_addr(&a, &st.endpoint) == 0) {
        char buf[80];
        ts_addr_format(&a, buf, sizeof buf);
        o.Set("endpoint", buf);
      } else {
        o.Set("endpoint", env.Null());
      }
      out.Set(i, o);
    }
    return out;
  }

  // wgDrops(dev) -> { [reason]: count } for every drop reason of the WireGuard core, keyed by
  // ts_wg_drop_name (snake_case); lib/ maps them to typed camelCase fields.
  struct DropsCall {
    Context* ctx;
    uint32_t dev = 0;
    int result = 0;
    uint64_t drops[TS_WG_DROP_COUNT]{};
  };
  Napi::Value WgDrops(const Napi::CallbackInfo& info) {
    DropsCall c{this};
    if (!info[0].IsNumber()) {
      Napi::TypeError::New(info.Env(), "wgDrops(dev)").ThrowAsJavaScriptException();
      return {};
    }
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    if (!Sync(info, [](ts_engine*, void* arg) {
          DropsCall* c = static_cast<DropsCall*>(arg);
          ts_device* d = c->ctx->Find(c->dev);
          ts_link_wg* l = d ? ts_device_wg(d) : nullptr;
          if (!l) { c->result = UV_ENODEV; return; }
          for (int i = 1; i < TS_WG_DROP_COUNT; i++) c->drops[i] = ts_wg_drops(ts_link_wg_device(l), (ts_wg_drop)i);
        }, &c))
      return {};
    if (c.result) {
      CodedError(info.Env(), c.result, "wireguard: stats").ThrowAsJavaScriptException();
      return {};
    }
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    for (int i = 1; i < TS_WG_DROP_COUNT; i++) out.Set(ts_wg_drop_name((ts_wg_drop)i), static_cast<double>(c.drops[i]));
    return out;
  }

  // wgLoadStats(dev) -> { handshakesComputed, cookieReplies, cookiesWithheld, rateLimited, underLoad }: the
  // handshake DoS defence at work (docs/architecture.md, "Handshake floods").
  Napi::Value WgLoadStats(const Napi::CallbackInfo& info) {
    WgCall c;
    if (!info[0].IsNumber()) {
      Napi::TypeError::New(info.Env(), "wgLoadStats(dev)").ThrowAsJavaScriptException();
      return {};
    }
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    if (!Sync(info, [](ts_engine*, void* arg) {
          WgCall* c = static_cast<WgCall*>(arg);
          ts_device* d = c->ctx->Find(c->dev);
          if (!d || !ts_device_wg(d)) { c->result = UV_ENODEV; return; }
          ts_wg_device_load_stats(ts_link_wg_device(ts_device_wg(d)), ts_engine_now_ns(), &c->load);
        }, &c))
      return {};
    if (c.result) {
      CodedError(info.Env(), c.result, "wireguard: stats").ThrowAsJavaScriptException();
      return {};
    }
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("handshakesComputed", static_cast<double>(c.load.handshakes_computed));
    o.Set("cookieReplies", static_cast<double>(c.load.cookie_replies));
    o.Set("cookiesWithheld", static_cast<double>(c.load.cookies_withheld));
    o.Set("rateLimited", static_cast<double>(c.load.rate_limited));
    o.Set("underLoad", c.load.under_load != 0);
    return o;
  }

  // ---- Tailscale mode: magicsock, DERP relays, STUN ----
  struct MsCall {
    Context* ctx;
    uint32_t dev = 0;
    uint8_t key[32]{}, disco[32]{};
    bool has_disco = false, has_key = false;
    uint32_t region = 0;
    std::vector<ts_addr> eps;
    std::string host;
    int fd = -1;
    int result = 0;
    struct Peer {
      uint8_t key[32];
      ts_ms_peer_info info;
    };
    std::vector<Peer> peers;
    struct Region {
      uint32_t id;
      int connected;
      ts_derp_conn_stats st;
    };
    std::vector<Region> regions;
  };

  static ts_link_wg* MsLink(MsCall* c) {
    ts_device* d = c->ctx->Find(c->dev);
    ts_link_wg* l = d ? ts_device_wg(d) : nullptr;
    if (!l) c->result = UV_ENODEV;
    return l;
  }

  // "ip:port" / "[ip6]:port" list into addresses; false on a malformed entry.
  static bool ParseEndpoints(const Napi::Value& v, std::vector<ts_addr>* out) {
    if (!v.IsArray()) return false;
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length() && i < 64; i++) {
      Napi::Value e = a.Get(i);
      if (!e.IsString()) return false;
      std::string s = e.As<Napi::String>().Utf8Value();
      size_t colon = s.rfind(':');
      if (colon == std::string::npos) return false;
      std::string ip = s.substr(0, colon);
      if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
      long port = strtol(s.c_str() + colon + 1, nullptr, 10);
      ts_addr addr;
      if (port <= 0 || port > 65535 || ts_addr_parse(&addr, ip.c_str(), (uint16_t)port) != 0) return false;
      out->push_back(addr);
    }
    return true;
  }

  static bool ParseRegion(const Napi::Value& v, uint32_t* out) {
    if (!v.IsNumber()) return false;
    double r = v.As<Napi::Number>().DoubleValue();
    if (!(r >= 0 && r <= 4294967295.0) || r != (double)(uint32_t)r) return false;
    *out = (uint32_t)r;
    return true;
  }

  // msStart(dev, discoPrivateKey[32], derpOnly, derpIdleMs): Tailscale mode for a device whose WireGuard link
  // is started. derpIdleMs: close relays other than home's after this long idle (0: the default, 60 s).
  Napi::Value MsStart(const Napi::CallbackInfo& info) {
    MsCall c;
    if (!info[0].IsNumber() || !Key(info[1], c.disco) || !info[2].IsBoolean() || !ParseRegion(info[3], &c.region)) {
      Napi::TypeError::New(info.Env(), "msStart(dev, discoPrivateKey[32], derpOnly, derpIdleMs)").ThrowAsJavaScriptException();
      return {};
    }
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    c.has_key = info[2].As<Napi::Boolean>().Value();
    bool ok = Sync(info, [](ts_engine*, void* arg) {
      MsCall* c = static_cast<MsCall*>(arg);
      ts_device* d = c->ctx->Find(c->dev);
      c->result = d ? ts_device_magicsock(d, c->disco) : UV_ENODEV;
      if (c->result == 0) {
        ts_link_wg_ms_derp_only(ts_device_wg(d), c->has_key);
        ts_link_wg_ms_derp_idle(ts_device_wg(d), c->region);
      }
    }, &c);
    ts_wipe(c.disco, sizeof c.disco);
    if (ok && c.result) CodedError(info.Env(), c.result, "magicsock: start").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  // wgRebind(dev, port) -> the new UDP port: a fresh socket, as after a network change.
  Napi::Value WgRebind(const Napi::CallbackInfo& info) {
    MsCall c;
    int port = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : -1;
    if (!info[0].IsNumber() || port < 0 || port > 65535) {
      Napi::TypeError::New(info.Env(), "wgRebind(dev, port)").ThrowAsJavaScriptException();
      return {};
    }
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    c.region = (uint32_t)port;
    bool ok = Sync(info, [](ts_engine*, void* arg) {
      MsCall* c = static_cast<MsCall*>(arg);
      ts_link_wg* l = MsLink(c);
      if (!l) return;
      c->result = ts_link_wg_rebind(l, nullptr, (uint16_t)c->region);
      if (c->result == 0) c->fd = ts_link_wg_port(l);
    }, &c);
    if (!ok) return {};
    if (c.result) {
      CodedError(info.Env(), c.result, "wireguard: rebind").ThrowAsJavaScriptException();
      return {};
    }
    return Napi::Number::New(info.Env(), c.fd);
  }

  // msPeerSet(dev, nodeKey[32], discoKey[32]|null, homeRegion, endpoints: string[])
  Napi::Value MsPeerSet(const Napi::CallbackInfo& info) {
    MsCall c;
    const char* usage = "msPeerSet(dev, nodeKey[32], discoKey[32]|null, homeRegion, endpoints)";
    if (!info[0].IsNumber() || !Key(info[1], c.key) || !ParseRegion(info[3], &c.region)) {
      Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
      return {};
    }
    if (!info[2].IsNull() && !info[2].IsUndefined()) {
      if (!Key(info[2], c.disco)) {
        Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
        return {};
      }
      c.has_disco = true;
    }
    if (!ParseEndpoints(info[4], &c.eps)) {
      Napi::TypeError::New(info.Env(), "msPeerSet: endpoints must be \"ip:port\" strings").ThrowAsJavaScriptException();
      return {};
    }
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    bool ok = Sync(info, [](ts_engine*, void* arg) {
      MsCall* c = static_cast<MsCall*>(arg);
      ts_link_wg* l = MsLink(c);
      if (l) c->result = ts_link_wg_ms_peer_set(l, c->key, c->has_disco ? c->disco : nullptr, c->region,
                                                c->eps.data(), c->eps.size());
    }, &c);
    if (ok && c.result) CodedError(info.Env(), c.result, "magicsock: peer").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  // msSetSelf(dev, endpoints: string[], homeRegion)
  Napi::Value MsSetSelf(const Napi::CallbackInfo& info) {
    MsCall c;
    if (!info[0].IsNumber() || !ParseEndpoints(info[1], &c.eps) || !ParseRegion(info[2], &c.region)) {
      Napi::TypeError::New(info.Env(), "msSetSelf(dev, endpoints, homeRegion)").ThrowAsJavaScriptException();
      return {};
    }
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    bool ok = Sync(info, [](ts_engine*, void* arg) {
      MsCall* c = static_cast<MsCall*>(arg);
      ts_link_wg* l = MsLink(c);
      if (l) c->result = ts_link_wg_ms_set_self(l, c->eps.data(), c->eps.size(), c->region);
    }, &c);
    if (ok && c.result) CodedError(info.Env(), c.result, "magicsock: self").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  // derpAttach(dev, region, host, serverKey[32]|null) -> fd: JavaScript's end of the relay's byte stream.
  Napi::Value DerpAttach(const Napi::CallbackInfo& info) {
    MsCall c;
    const char* usage = "derpAttach(dev, region, host, serverKey[32]|null)";
    if (!info[0].IsNumber() || !ParseRegion(info[1], &c.region) || !info[2].IsString()) {
      Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
      return {};
    }
    if (!info[3].IsNull() && !info[3].IsUndefined()) {
      if (!Key(info[3], c.key)) {
        Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
        return {};
      }
      c.has_key = true;
    }
    c.host = info[2].As<Napi::String>().Utf8Value();
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    bool ok = Sync(info, [](ts_engine*, void* arg) {
      MsCall* c = static_cast<MsCall*>(arg);
      ts_link_wg* l = MsLink(c);
      if (l) c->result = ts_link_wg_derp_attach(l, c->region, c->host.c_str(), c->has_key ? c->key : nullptr, &c->fd);
    }, &c);
    if (!ok) return {};
    if (c.result) {
      CodedError(info.Env(), c.result, "derp: attach").ThrowAsJavaScriptException();
      return {};
    }
    return Napi::Number::New(info.Env(), c.fd);
  }

  // stunProbe(dev, region, ip, port)
  Napi::Value StunProbe(const Napi::CallbackInfo& info) {
    MsCall c;
    ts_addr dst;
    int port = info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : 0;
    if (!info[0].IsNumber() || !ParseRegion(info[1], &c.region) || !info[2].IsString() || port <= 0 || port > 65535 ||
        ts_addr_parse(&dst, info[2].As<Napi::String>().Utf8Value().c_str(), (uint16_t)port) != 0) {
      Napi::TypeError::New(info.Env(), "stunProbe(dev, region, ip, port)").ThrowAsJavaScriptException();
      return {};
    }
    c.eps.push_back(dst);
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    bool ok = Sync(info, [](ts_engine*, void* arg) {
      MsCall* c = static_cast<MsCall*>(arg);
      ts_link_wg* l = MsLink(c);
      if (l) c->result = ts_link_wg_stun_probe(l, c->region, &c->eps[0]);
    }, &c);
    if (ok && c.result) CodedError(info.Env(), c.result, "stun: probe").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  // msStats(dev) -> { peers: [{ nodeKey, best, latencyMs, trusted, homeRegion, derpRegion, ... }], regions: [...] }
  Napi::Value MsStats(const Napi::CallbackInfo& info) {
    MsCall c;
    if (!info[0].IsNumber()) {
      Napi::TypeError::New(info.Env(), "msStats(dev)").ThrowAsJavaScriptException();
      return {};
    }
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    if (!Sync(info, [](ts_engine*, void* arg) {
          MsCall* c = static_cast<MsCall*>(arg);
          ts_link_wg* l = MsLink(c);
          if (!l) return;
          ts_ms* ms = ts_link_wg_ms(l);
          if (!ms) { c->result = UV_EINVAL; return; }
          uint64_t now = ts_engine_now_ns();
          ts_link_wg_foreach_peer(l, [](void* ctx, const uint8_t pub[32], const ts_wg_peer_stats*) {
            MsCall* c = static_cast<MsCall*>(ctx);
            MsCall::Peer p;
            memcpy(p.key, pub, 32);
            c->peers.push_back(p);
          }, c);
          for (auto& p : c->peers) {
            ts_ms_peer* mp = ts_ms_peer_by_node(ms, p.key);
            if (mp) ts_ms_peer_info_get(mp, now, &p.info);
            else memset(&p.info, 0, sizeof p.info);
          }
          ts_link_wg_foreach_region(l, [](void* ctx, uint32_t region, int connected, const ts_derp_conn_stats* st) {
            static_cast<MsCall*>(ctx)->regions.push_back({region, connected, *st});
          }, c);
        }, &c))
      return {};
    if (c.result) {
      CodedError(info.Env(), c.result, "magicsock: stats").ThrowAsJavaScriptException();
      return {};
    }
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    Napi::Array peers = Napi::Array::New(env, c.peers.size());
    for (size_t i = 0; i < c.peers.size(); i++) {
      const ts_ms_peer_info& pi = c.peers[i].info;
      Napi::Object o = Napi::Object::New(env);
      o.Set("nodeKey", Napi::Buffer<uint8_t>::Copy(env, c.peers[i].key, 32));
      char buf[80] = "";
      if (pi.best.kind == TS_MS_PATH_UDP) ts_addr_format(&pi.best.addr, buf, sizeof buf);
      o.Set("best", buf);
      o.Set("latencyMs", static_cast<double>(pi.latency_ns) / 1e6);
      o.Set("trusted", pi.trusted != 0);
      o.Set("homeRegion", pi.home_region);
      o.Set("derpRegion", pi.derp_region);
      o.Set("candidates", static_cast<double>(pi.n_candidates));
      o.Set("pingsSent", static_cast<double>(pi.pings_sent));
      o.Set("pongsReceived", static_cast<double>(pi.pongs_received));
      o.Set("pingsReceived", static_cast<double>(pi.pings_received));
      o.Set("callMeMaybeSent", static_cast<double>(pi.cmm_sent));
      o.Set("callMeMaybeReceived", static_cast<double>(pi.cmm_received));
      o.Set("txDirect", static_cast<double>(pi.tx_udp));
      o.Set("txRelay", static_cast<double>(pi.tx_derp));
      peers.Set(i, o);
    }
    out.Set("peers", peers);
    Napi::Array regions = Napi::Array::New(env, c.regions.size());
    for (size_t i = 0; i < c.regions.size(); i++) {
      const auto& r = c.regions[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("region", r.id);
      o.Set("connected", r.connected != 0);
      o.Set("txPackets", static_cast<double>(r.st.tx_packets));
      o.Set("rxPackets", static_cast<double>(r.st.rx_packets));
      o.Set("txDropped", static_cast<double>(r.st.tx_dropped));
      o.Set("txBytes", static_cast<double>(r.st.tx_bytes));
      o.Set("rxBytes", static_cast<double>(r.st.rx_bytes));
      regions.Set(i, o);
    }
    out.Set("regions", regions);
    return out;
  }

  // wgFilterSet(dev, rules, local): turns on the inbound packet filter. rules: [{ protos: number[],
  // srcs: Prefix[], dsts: (Prefix & { first, last })[] }], local: Prefix[], Prefix = { family, bits, addr }.
  static bool ParsePrefix(const Napi::Value& v, ts_filter_prefix* p) {
    if (!v.IsObject()) return false;
    Napi::Object o = v.As<Napi::Object>();
    Napi::Value fam = o.Get("family"), bits = o.Get("bits"), addr = o.Get("addr");
    if (!fam.IsNumber() || !bits.IsNumber() || !addr.IsTypedArray()) return false;
    memset(p, 0, sizeof *p);
    p->family = static_cast<uint8_t>(fam.As<Napi::Number>().Uint32Value());
    uint32_t b = bits.As<Napi::Number>().Uint32Value();
    Napi::Uint8Array a = addr.As<Napi::Uint8Array>();
    size_t want = p->family == 4 ? 4 : p->family == 6 ? 16 : 0;
    if (!want || a.ElementLength() != want || b > want * 8) return false;
    p->bits = static_cast<uint8_t>(b);
    memcpy(p->addr, a.Data(), want);
    return true;
  }

  struct FilterCall {
    Context* ctx;
    uint32_t dev = 0;
    std::vector<std::vector<uint8_t>> protos;
    std::vector<std::vector<ts_filter_prefix>> srcs;
    std::vector<std::vector<ts_filter_dst>> dsts;
    std::vector<ts_filter_prefix> local;
    int result = 0;
  };

  Napi::Value WgFilterSet(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* usage = "wgFilterSet(dev, rules, localPrefixes)";
    if (!info[0].IsNumber() || !info[1].IsArray() || !info[2].IsArray()) {
      Napi::TypeError::New(env, usage).ThrowAsJavaScriptException();
      return {};
    }
    FilterCall c;
    c.dev = info[0].As<Napi::Number>().Uint32Value();
    Napi::Array rules = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < rules.Length(); i++) {
      Napi::Value rv = rules.Get(i);
      if (!rv.IsObject()) { Napi::TypeError::New(env, usage).ThrowAsJavaScriptException(); return {}; }
      Napi::Object r = rv.As<Napi::Object>();
      Napi::Value pv = r.Get("protos"), sv = r.Get("srcs"), dv = r.Get("dsts");
      if (!pv.IsArray() || !sv.IsArray() || !dv.IsArray()) { Napi::TypeError::New(env, usage).ThrowAsJavaScriptException(); return {}; }
      std::vector<uint8_t> protos;
      Napi::Array pa = pv.As<Napi::Array>();
      for (uint32_t k = 0; k < pa.Length(); k++) protos.push_back(static_cast<uint8_t>(pa.Get(k).ToNumber().Uint32Value()));
      std::vector<ts_filter_prefix> srcs;
      Napi::Array sa = sv.As<Napi::Array>();
      for (uint32_t k = 0; k < sa.Length(); k++) {
        ts_filter_prefix p;
        if (!ParsePrefix(sa.Get(k), &p)) { Napi::TypeError::New(env, "wgFilterSet: bad source prefix").ThrowAsJavaScriptException(); return {}; }
        srcs.push_back(p);
      }
      std::vector<ts_filter_dst> dsts;
      Napi::Array da = dv.As<Napi::Array>();
      for (uint32_t k = 0; k < da.Length(); k++) {
        ts_filter_dst d;
        Napi::Value x = da.Get(k);
        if (!ParsePrefix(x, &d.net)) { Napi::TypeError::New(env, "wgFilterSet: bad destination prefix").ThrowAsJavaScriptException(); return {}; }
        Napi::Object o = x.As<Napi::Object>();
        uint32_t first = o.Get("first").ToNumber().Uint32Value(), last = o.Get("last").ToNumber().Uint32Value();
        if (first > 65535 || last > 65535 || first > last) { Napi::RangeError::New(env, "wgFilterSet: bad port range").ThrowAsJavaScriptException(); return {}; }
        d.first = static_cast<uint16_t>(first);
        d.last = static_cast<uint16_t>(last);
        dsts.push_back(d);
      }
      c.protos.push_back(std::move(protos));
      c.srcs.push_back(std::move(srcs));
      c.dsts.push_back(std::move(dsts));
    }
    Napi::Array local = info[2].As<Napi::Array>();
    for (uint32_t k = 0; k < local.Length(); k++) {
      ts_filter_prefix p;
      if (!ParsePrefix(local.Get(k), &p)) { Napi::TypeError::New(env, "wgFilterSet: bad local prefix").ThrowAsJavaScriptException(); return {}; }
      c.local.push_back(p);
    }
    if (!Sync(info, [](ts_engine*, void* arg) {
      FilterCall* c = static_cast<FilterCall*>(arg);
      ts_device* d = c->ctx->Find(c->dev);
      if (!d || !ts_device_wg(d)) { c->result = UV_ENODEV; return; }
      std::vector<ts_filter_rule> rules(c->protos.size());
      for (size_t i = 0; i < rules.size(); i++) {
        rules[i].protos = c->protos[i].data();
        rules[i].n_protos = c->protos[i].size();
        rules[i].srcs = c->srcs[i].data();
        rules[i].n_srcs = c->srcs[i].size();
        rules[i].dsts = c->dsts[i].data();
        rules[i].n_dsts = c->dsts[i].size();
      }
      c->result = ts_link_wg_filter_set(ts_device_wg(d), rules.data(), rules.size(), c->local.data(), c->local.size());
    }, &c))
      return {};
    if (c.result) CodedError(env, c.result, "wireguard: filter").ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // ref()/unref(): whether pending native events keep the Node event loop alive (while devices are open).
  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (open_) tsfn_.Ref(info.Env());
    return info.Env().Undefined();
  }
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (open_) tsfn_.Unref(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown(true);
    return info.Env().Undefined();
  }

  void Shutdown(bool release_channel) {
    if (!open_) return;
    open_ = false;
    Call c;
    c.ctx = this;
    ts_engine_call_sync(engine_, [](ts_engine*, void* arg) {
      Call* c = static_cast<Call*>(arg);
      for (auto& kv : c->ctx->devices_) ts_device_free(kv.second);
      c->ctx->devices_.clear();
      c->ctx->listeners_.clear();
    }, &c);
    if (release_channel) tsfn_.Release();  // the channel is freed by FinalizeChannel once no call is pending
    channel_ = nullptr;
    ReleaseEngine();
  }

  ts_engine* engine_ = nullptr;
  Channel* channel_ = nullptr;
  TSFN tsfn_;
  bool open_ = false;
  // Engine-thread state (touched only inside Sync callbacks):
  std::unordered_map<uint32_t, ts_device*> devices_;
  std::unordered_map<uint64_t, std::pair<uint32_t, ts_tcp_listener*>> listeners_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (ts_crypto_init() != 0) {
    Napi::Error::New(env, "tsnet: crypto initialisation failed").ThrowAsJavaScriptException();
    return exports;
  }
  exports.Set("abi", Napi::Number::New(env, kNativeAbi));
  exports.Set("Context", Context::Define(env));
  tsnet::ExportCrypto(env, exports);
  exports.Set("engineMode", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Shared& s = shared();
    std::lock_guard<std::mutex> lock(s.mu);
    if (!s.engine) return info.Env().Null();
    return Napi::String::New(info.Env(), s.driver ? "inline" : "thread");
  }));
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
