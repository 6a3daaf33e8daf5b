// One Context per Node environment: its own event queue and threadsafe function, so events reach the thread
// that owns the devices, and the Devices it created (closed with it). Events are decoded here, in one place,
// from the structs of native/core/events.h.

#include <cstdlib>
#include <thread>

#include "addon.h"
#include "port/sock.h"

namespace tsnet {

namespace {
void CallJs(Napi::Env env, Napi::Function cb, Channel* ch, void*);
using TSFN = Napi::TypedThreadSafeFunction<Channel, void, CallJs>;
}  // namespace

// The channel outlives its Context until the threadsafe function is finalized, so a wake-up that races with
// close never touches freed memory. When Node tears the environment down it may finalize the channel first:
// then the Context is shut down from here, so no device pushes to a destroyed queue.
struct Channel {
  ts_evq evq{};
  TSFN tsfn;
  Context* owner = nullptr;  // until its Context shuts down
  // Delivery at the end of an inline engine turn on this environment's own thread (Notify, engine.cc).
  std::thread::id thread;
  napi_env env = nullptr;
  Napi::FunctionReference on_events, pull;
  Napi::ObjectReference resource;
  napi_async_context async = nullptr;
};

namespace {

Napi::Object AddrToJs(Napi::Env env, const ts_addr& a) {
  char buf[INET6_ADDRSTRLEN] = "";
  inet_ntop(a.family == 6 ? AF_INET6 : AF_INET, a.ip, buf, sizeof buf);
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", buf);
  o.Set("family", a.family == 6 ? "IPv6" : "IPv4");
  o.Set("port", a.port);
  return o;
}

Napi::Object EventToJs(Napi::Env env, const ts_event& ev) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("device", ev.device);
  o.Set("id", static_cast<double>(ev.id));
  if (ev.status) o.Set("code", ErrName(ev.status));
  const char* type = "unknown";
  switch (ev.type) {
    case TS_EV_TCP_ACCEPT: {
      ts_ev_accept p;
      ts_event_get(&ev, &p);
      type = "accept";
      o.Set("listener", static_cast<double>(p.listener));
      o.Set("fd", ev.fd);
      o.Set("local", AddrToJs(env, p.local));
      o.Set("remote", AddrToJs(env, p.remote));
      break;
    }
    case TS_EV_TCP_CONNECTED: {
      ts_ev_connected p;
      ts_event_get(&ev, &p);
      type = "connected";
      o.Set("local", AddrToJs(env, p.local));
      o.Set("remote", AddrToJs(env, p.remote));
      break;
    }
    case TS_EV_TCP_ERROR: type = "error"; break;
    case TS_EV_LISTEN_ERROR: type = "listen-error"; break;
    case TS_EV_TCP_DATA:
    case TS_EV_DERP_DATA:
      o.Set("type", ev.type == TS_EV_TCP_DATA ? "data" : "derp-data");
      // As for 'message': the engine's copy becomes the Buffer, freed by its finalizer.
      o.Set("data", Napi::Buffer<uint8_t>::New(env, static_cast<uint8_t*>(ev.ptr), ev.ptr_len,
                                               [](Napi::Env, uint8_t* data) { free(data); }));
      return o;
    case TS_EV_TCP_WRITTEN: {
      ts_ev_written p;
      ts_event_get(&ev, &p);
      type = "written";
      o.Set("bytes", static_cast<double>(p.bytes));
      break;
    }
    case TS_EV_TCP_END: type = "end"; break;
    case TS_EV_DERP_END: type = "derp-end"; break;
    case TS_EV_TCP_CLOSED: type = "closed"; break;
    case TS_EV_UDP_MESSAGE: {
      ts_ev_message p;
      ts_event_get(&ev, &p);
      o.Set("type", "message");
      o.Set("remote", AddrToJs(env, p.from));
      // The payload is handed to JavaScript without a copy; the Buffer's finalizer frees it.
      o.Set("data", Napi::Buffer<uint8_t>::New(env, static_cast<uint8_t*>(ev.ptr), ev.ptr_len,
                                               [](Napi::Env, uint8_t* data) { free(data); }));
      return o;
    }
    case TS_EV_UDP_ERROR: type = "udp-error"; break;
    case TS_EV_DERP_WANT: type = "derp-want"; break;
    case TS_EV_DERP_STATE: {
      ts_ev_derp_state p;
      ts_event_get(&ev, &p);
      type = "derp-state";
      o.Set("connected", p.connected != 0);
      break;
    }
    case TS_EV_DISCO_PONG: {
      ts_ev_disco_pong p;
      ts_event_get(&ev, &p);
      type = "disco-pong";
      o.Set("publicKey", Napi::Buffer<uint8_t>::Copy(env, p.node_key, sizeof p.node_key));
      o.Set("direct", p.direct.family ? Napi::Value(AddrToJs(env, p.direct)) : env.Null());
      o.Set("region", p.region);
      o.Set("latencyMs", Napi::Number::New(env, p.latency_us / 1000.0));
      break;
    }
    case TS_EV_CAPTURE: {
      ts_ev_capture c;
      ts_event_get(&ev, &c);
      o.Set("type", "capture");
      o.Set("inbound", Napi::Boolean::New(env, c.inbound != 0));
      o.Set("sec", Napi::Number::New(env, static_cast<double>(c.sec)));
      o.Set("usec", Napi::Number::New(env, c.usec));
      // The packet is handed to JavaScript without a copy; the Buffer's finalizer frees it.
      o.Set("data", Napi::Buffer<uint8_t>::New(env, static_cast<uint8_t*>(ev.ptr), ev.ptr_len,
                                               [](Napi::Env, uint8_t* data) { free(data); }));
      return o;
    }
    case TS_EV_TSMP_PONG: {
      ts_ev_tsmp_pong p;
      ts_event_get(&ev, &p);
      type = "tsmp-pong";
      o.Set("publicKey", Napi::Buffer<uint8_t>::Copy(env, p.public_key, sizeof p.public_key));
      o.Set("data", Napi::Buffer<uint8_t>::Copy(env, p.data, sizeof p.data));
      break;
    }
    case TS_EV_HANDSHAKE: {
      ts_ev_handshake h;
      ts_event_get(&ev, &h);
      type = "handshake";
      o.Set("publicKey", Napi::Buffer<uint8_t>::Copy(env, h.public_key, sizeof h.public_key));
      break;
    }
    case TS_EV_PATH: {
      ts_ev_path p;
      ts_event_get(&ev, &p);
      type = "path";
      o.Set("nodeKey", Napi::Buffer<uint8_t>::Copy(env, p.node_key, sizeof p.node_key));
      bool via = (ev.id >> 32) != 0;  // a peer relay: `direct` holds the relay server's address
      if (p.direct.family && !via) o.Set("direct", AddrToJs(env, p.direct));
      else o.Set("direct", env.Null());
      o.Set("region", p.region);
      if (via) {
        o.Set("peerRelay", AddrToJs(env, p.direct));
        o.Set("vni", static_cast<double>(ev.id & 0xFFFFFFu));
      } else {
        o.Set("peerRelay", env.Null());
      }
      break;
    }
    case TS_EV_STUN: {
      ts_ev_stun p;
      ts_event_get(&ev, &p);
      type = "stun";
      o.Set("mapped", AddrToJs(env, p.mapped));
      o.Set("rttMs", static_cast<double>(p.rtt_ns) / 1e6);
      break;
    }
    default:
      if (ev.fd >= 0) close(ev.fd);
  }
  o.Set("type", type);
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
    // A handler's exception is the process's uncaught exception, as with Node's own sockets (Node 20 would
    // otherwise drop it with a DEP0168 warning); the events after it are still delivered.
    if (env.IsExceptionPending()) napi_fatal_exception(env, env.GetAndClearPendingException().Value());
    if (n < 256) return;
  }
}

void FinalizeChannel(Napi::Env, void*, Channel* ch) {
  Context* owner = ch->owner;
  ch->owner = nullptr;
  if (owner) owner->Shutdown(false);
  ts_evq_destroy(&ch->evq);
  if (ch->async) napi_async_destroy(ch->env, ch->async);
  delete ch;
}

// Events that an inline engine turn of this thread queued: delivered as the turn ends (AtInlineTurnEnd),
// through napi_make_callback as Node delivers any I/O callback (microtasks and ticks run after it), with
// the threadsafe function as the fallback. Either way the queue is drained in order.
void DeliverAtTurnEnd(void* arg) {
  auto* ch = static_cast<Channel*>(arg);
  if (!ch->owner) return;  // closed meanwhile; the threadsafe function's finalizer frees the queue
  napi_env env = ch->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return void(ch->tsfn.NonBlockingCall());
  napi_value recv, fn, result;
  napi_status st = napi_get_reference_value(env, ch->resource, &recv);
  if (st == napi_ok) st = napi_get_reference_value(env, ch->pull, &fn);
  if (st == napi_ok) st = napi_make_callback(env, ch->async, recv, fn, 0, nullptr, &result);
  if (st == napi_pending_exception) {
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
  } else if (st != napi_ok) {
    ch->tsfn.NonBlockingCall();
  }
  napi_close_handle_scope(env, scope);
}

void Notify(void* arg) {
  auto* ch = static_cast<Channel*>(arg);
  if (std::this_thread::get_id() == ch->thread && ch->async && AtInlineTurnEnd(DeliverAtTurnEnd, ch)) return;
  ch->tsfn.NonBlockingCall();
}

}  // namespace

Napi::Function Context::Define(Napi::Env env) {
  return DefineClass(env, "Context", {
      InstanceMethod<&Context::CreateDevice>("createDevice"),
      InstanceMethod<&Context::Ref>("ref"),
      InstanceMethod<&Context::Unref>("unref"),
      InstanceMethod<&Context::Close>("close"),
  });
}

Context::Context(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Context>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) {
    Napi::Error e = Napi::TypeError::New(env, "Context(onEvents): onEvents must be a function");
    e.Set("code", "ERR_INVALID_ARG_TYPE");
    e.ThrowAsJavaScriptException();
    return;
  }
  engine_ = AcquireEngine(env);
  if (!engine_) {
    Napi::Error::New(env, "tsnet: could not start the engine").ThrowAsJavaScriptException();
    return;
  }
  channel_ = new Channel();
  ts_evq_init(&channel_->evq, Notify, channel_);
  channel_->tsfn = TSFN::New(env, info[0].As<Napi::Function>(), "tsnet-events", 0, 1, channel_, FinalizeChannel,
                             static_cast<void*>(nullptr));
  channel_->tsfn.Unref(env);
  channel_->thread = std::this_thread::get_id();
  channel_->env = env;
  channel_->on_events = Napi::Persistent(info[0].As<Napi::Function>());
  channel_->pull = Napi::Persistent(Napi::Function::New(env, [](const Napi::CallbackInfo& i) {
    auto* ch = static_cast<Channel*>(i.Data());
    if (ch->owner) CallJs(i.Env(), ch->on_events.Value(), ch, nullptr);
  }, "tsnetEvents", channel_));
  channel_->resource = Napi::Persistent(Napi::Object::New(env));
  if (napi_async_init(env, channel_->resource.Value(), Napi::String::New(env, "tsnet-events"), &channel_->async) != napi_ok)
    channel_->async = nullptr;
  channel_->owner = this;
  open_ = true;
}

ts_evq* Context::evq() const { return &channel_->evq; }

bool Context::CheckOpen(Napi::Env env) const {
  if (open_) return true;
  Napi::Error e = Napi::Error::New(env, "tsnet: the native context is closed");
  e.Set("code", "ERR_TSNET_CLOSED");
  e.ThrowAsJavaScriptException();
  return false;
}

// createDevice() -> Device: a new device on this context's engine, with its own id for events.
Napi::Value Context::CreateDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return {};
  Napi::Object dev = env.GetInstanceData<Napi::FunctionReference>()->New(
      {Napi::External<Context>::New(env, this), Value(), Napi::Number::New(env, next_device_)});
  if (env.IsExceptionPending()) return {};
  next_device_++;
  devices_.insert(UnwrapDevice(dev));
  return dev;
}

// ref()/unref(): whether pending native events keep the Node event loop alive (while devices are open).
Napi::Value Context::Ref(const Napi::CallbackInfo& info) {
  if (open_) channel_->tsfn.Ref(info.Env());
  return info.Env().Undefined();
}

Napi::Value Context::Unref(const Napi::CallbackInfo& info) {
  if (open_) channel_->tsfn.Unref(info.Env());
  return info.Env().Undefined();
}

Napi::Value Context::Close(const Napi::CallbackInfo& info) {
  Shutdown(true);
  return info.Env().Undefined();
}

void Context::Shutdown(bool release_channel) {
  if (!open_) return;
  open_ = false;
  auto devices = devices_;
  for (Device* d : devices) FreeDevice(d);
  devices_.clear();
  Channel* ch = channel_;
  channel_ = nullptr;
  if (ch->owner) {
    ch->owner = nullptr;
    if (release_channel) ch->tsfn.Release();  // the channel is freed by FinalizeChannel once no call is pending
  }
  ReleaseEngine();
}

}  // namespace tsnet
