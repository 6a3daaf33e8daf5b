// The Device: one wrapped ts_device (native/core/device.h), its TCP/IP stack and its link. Every method
// checks its arguments (Args), then runs one engine call whose lambda captures are the call's inputs and
// outputs. The setters are declarative: setPeers, setFilter and setSelf replace the whole state in one
// engine call, so the engine never sees half a configuration. docs/architecture.md, "The native Device".

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "addon.h"
#include "port/sock.h"

extern "C" {
#include "crypto/crypto.h"
}

namespace tsnet {
namespace {

constexpr double kU32 = 4294967295.0;

// One peer of setPeers, checked on the JavaScript thread.
struct PeerConfig {
  struct Fixed {
    uint8_t key[32], psk[32], disco[32];
    bool has_psk, has_disco;
    uint32_t home;
    uint16_t keepalive;
  } f;
  std::vector<ts_addr> endpoints;
  std::vector<ts_link_prefix> allowed;
  std::string digest;  // of everything above: an unchanged peer is left alone (its paths, its session)

  PeerConfig() { memset(&f, 0, sizeof f); }
  ~PeerConfig() { ts_wipe(&f, sizeof f); }

  void Read(Args& a, Napi::Object o) {
    a.Key(a.Get(o, "publicKey"), "publicKey", f.key);
    f.has_psk = a.Key(a.Get(o, "presharedKey"), "presharedKey", f.psk, true);
    f.has_disco = a.Key(a.Get(o, "discoKey"), "discoKey", f.disco, true);
    Napi::Value home = a.Get(o, "homeRegion"), keepalive = a.Get(o, "persistentKeepalive");
    f.home = home.IsUndefined() ? 0 : static_cast<uint32_t>(a.Int(home, "homeRegion", 0, kU32));
    f.keepalive = keepalive.IsUndefined() ? 0 : a.Port(keepalive, "persistentKeepalive", 0);
    endpoints = a.Endpoints(a.Get(o, "endpoints"), "endpoints");
    Napi::Array list = a.Array(a.Get(o, "allowedIPs"), "allowedIPs");
    for (uint32_t k = 0; a.ok() && k < list.Length(); k++) allowed.push_back(a.Cidr(a.At(list, k), "allowedIPs"));
    ts_blake2s_ctx h;
    ts_blake2s_init(&h, 32, nullptr, 0);
    ts_blake2s_update(&h, &f, sizeof f);
    for (const ts_addr& e : endpoints) ts_blake2s_update(&h, &e, sizeof e);
    for (const ts_link_prefix& x : allowed) ts_blake2s_update(&h, &x, sizeof x);
    uint8_t out[32];
    ts_blake2s_final(&h, out, sizeof out);
    digest.assign(reinterpret_cast<char*>(out), sizeof out);
  }
};

// The one asynchronous call: a datagram queued to the engine; a failure comes back as a 'udp-error' event.
// The queue runs in order, so the device outlives every send queued before its close.
struct UdpSendCall {
  ts_device* dev;
  ts_evq* evq;
  uint64_t socket;
  ts_addr dst;
  size_t len;
  uint8_t data[];
};

void UdpSendOnEngine(ts_engine*, void* arg) {
  auto* c = static_cast<UdpSendCall*>(arg);
  int r = ts_device_udp_send(c->dev, c->socket, &c->dst, c->data, c->len);
  if (r != 0) {
    ts_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = TS_EV_UDP_ERROR;
    ev.device = ts_device_id(c->dev);
    ev.id = c->socket;
    ev.status = r;
    ev.fd = -1;
    ts_evq_push(c->evq, &ev);
  }
  free(c);
}

// The stream transport's calls (stack/tcp_bridge.h): queued in order behind earlier calls, so writes, end
// and close reach a connection in the order JavaScript made them, without waiting for the engine.
struct StreamCall {
  enum Op { kWrite, kEnd, kRead, kClose } op;
  ts_device* dev;
  uint64_t id;
  size_t n;
  uint8_t* data;  // kWrite: malloc'd, handed to the bridge
};

void StreamOnEngine(ts_engine*, void* arg) {
  auto* c = static_cast<StreamCall*>(arg);
  ts_tcp_host* h = ts_device_tcp(c->dev);
  switch (c->op) {
    case StreamCall::kWrite: ts_tcp_stream_write(h, c->id, c->data, c->n); break;
    case StreamCall::kEnd: ts_tcp_stream_end(h, c->id); break;
    case StreamCall::kRead: ts_tcp_stream_read(h, c->id, c->n); break;
    case StreamCall::kClose: ts_tcp_stream_close(h, c->id); break;
  }
  free(c);
}

Napi::Object Numbers(Napi::Env env, std::initializer_list<std::pair<const char*, double>> fields) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& f : fields) o.Set(f.first, f.second);
  return o;
}

}  // namespace

class Device : public Napi::ObjectWrap<Device> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Device", {
        InstanceAccessor<&Device::Id>("id"),
        InstanceMethod<&Device::AddAddress>("addAddress"),
        InstanceMethod<&Device::LinkMemory>("linkMemory"),
        InstanceMethod<&Device::Close>("close"),
        InstanceMethod<&Device::TcpListen>("tcpListen"),
        InstanceMethod<&Device::TcpListenerClose>("tcpListenerClose"),
        InstanceMethod<&Device::SetForeign>("setForeign"),
        InstanceMethod<&Device::TcpDial>("tcpDial"),
        InstanceMethod<&Device::TcpSetNoDelay>("tcpSetNoDelay"),
        InstanceMethod<&Device::TcpSetKeepAlive>("tcpSetKeepAlive"),
        InstanceMethod<&Device::TcpReset>("tcpReset"),
        InstanceMethod<&Device::TcpWrite>("tcpWrite"),
        InstanceMethod<&Device::TcpEnd>("tcpEnd"),
        InstanceMethod<&Device::TcpRead>("tcpRead"),
        InstanceMethod<&Device::TcpClose>("tcpClose"),
        InstanceMethod<&Device::DerpWrite>("derpWrite"),
        InstanceMethod<&Device::DerpAck>("derpAck"),
        InstanceMethod<&Device::DerpClose>("derpClose"),
        InstanceMethod<&Device::DerpTakeover>("derpTakeover"),
        InstanceMethod<&Device::UdpOpen>("udpOpen"),
        InstanceMethod<&Device::UdpSend>("udpSend"),
        InstanceMethod<&Device::UdpClose>("udpClose"),
        InstanceMethod<&Device::StartWireGuard>("startWireGuard"),
        InstanceMethod<&Device::StartMagicsock>("startMagicsock"),
        InstanceMethod<&Device::Rebind>("rebind"),
        InstanceMethod<&Device::SetPrivateKey>("setPrivateKey"),
        InstanceMethod<&Device::SetUdpOffload>("setUdpOffload"),
        InstanceMethod<&Device::UdpOffload>("udpOffload"),
        InstanceMethod<&Device::SetPeers>("setPeers"),
        InstanceMethod<&Device::SetFilter>("setFilter"),
        InstanceMethod<&Device::SetSelf>("setSelf"),
        InstanceMethod<&Device::SetPeerRelays>("setPeerRelays"),
        InstanceMethod<&Device::DerpAttach>("derpAttach"),
        InstanceMethod<&Device::StunProbe>("stunProbe"),
        InstanceMethod<&Device::TsmpPing>("tsmpPing"),
        InstanceMethod<&Device::SetCapture>("setCapture"),
        InstanceMethod<&Device::DiscoPing>("discoPing"),
        InstanceMethod<&Device::PeerStats>("peerStats"),
        InstanceMethod<&Device::Drops>("drops"),
        InstanceMethod<&Device::HandshakeLoad>("handshakeLoad"),
        InstanceMethod<&Device::MagicsockStats>("magicsockStats"),
    });
  }

  // new Device(External<Context>, context, id): only Context#createDevice can make the External.
  explicit Device(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Device>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsExternal()) {
      Napi::Error e = Napi::TypeError::New(env, "Device: use context.createDevice()");
      e.Set("code", "ERR_ILLEGAL_CONSTRUCTOR");
      e.ThrowAsJavaScriptException();
      return;
    }
    Context* ctx = info[0].As<Napi::External<Context>>().Data();
    id_ = info[2].As<Napi::Number>().Uint32Value();
    OnEngine(ctx->engine(), [&] { dev_ = ts_device_new(ctx->engine(), ctx->evq(), id_); });
    if (!dev_) {
      ThrowCoded(env, UV_ENOMEM, "createDevice");
      return;
    }
    ctx_ = ctx;
    ctx_ref_ = Napi::Persistent(info[1].As<Napi::Object>());
  }

  ~Device() override { Free(); }

  // Frees the native device and everything on it. From close(), the Context's shutdown and the finalizer.
  void Free() {
    if (!ctx_) return;
    OnEngine(ctx_->engine(), [this] {
      ts_device_free(dev_);  // closes its connections, listeners and sockets
      dev_ = nullptr;
      listeners_.clear();
      applied_.clear();
    });
    ctx_->Forget(this);
    ctx_ = nullptr;
    ctx_ref_.Reset();
  }

 private:
  // Runs f() on the engine thread unless an argument was bad or the device is closed (ERR_TSNET_CLOSED);
  // a nonzero result throws as a coded error. True on success.
  template <typename F>
  bool Run(Args& a, F&& f) {
    if (!Open(a)) return false;
    int r = 0;
    OnEngine(ctx_->engine(), [&] { r = f(); });
    if (r) ThrowCoded(a.Env(), r, a.fn());
    return r == 0;
  }
  // The same with the device's WireGuard link (ENODEV before startWireGuard).
  template <typename F>
  bool RunLink(Args& a, F&& f) {
    return Run(a, [&] { ts_link_wg* l = ts_device_wg(dev_); return l ? f(l) : UV_ENODEV; });
  }
  // For what acts on a connection, listener or socket: on a closed device it is gone already; nothing to do.
  template <typename F>
  Napi::Value IfOpen(Args& a, F&& f) {
    if (ctx_) Run(a, [&] { return f(), 0; });
    return {};
  }
  bool Open(Args& a) {
    if (!a.ok() || ctx_) return a.ok();
    Napi::Error e = Napi::Error::New(a.Env(), std::string(a.fn()) + ": the device is closed");
    e.Set("code", "ERR_TSNET_CLOSED");
    e.ThrowAsJavaScriptException();
    return false;
  }
  // `ok` then the number; v by reference, so it is read after the call that sets it (in the same argument list).
  template <typename T>
  Napi::Value Num(Args& a, bool ok, const T& v) { return ok ? Napi::Number::New(a.Env(), static_cast<double>(v)) : Napi::Value(); }

  Napi::Value Id(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), id_); }

  // ---- the stack ----
  Napi::Value AddAddress(const Napi::CallbackInfo& info) {
    Args a(info, "addAddress");
    ts_addr ip = a.Ip(info[0], "address");
    Run(a, [&] { return ts_device_add_addr(dev_, ip.family, ip.ip) ? UV_ENOSPC : 0; });
    return {};
  }

  // linkMemory(other): a memory link between two devices of this process (tests, measurements).
  Napi::Value LinkMemory(const Napi::CallbackInfo& info) {
    Args a(info, "linkMemory");
    Napi::Object o = a.Object(info[0], "other");
    if (a.ok() && !o.InstanceOf(a.Env().GetInstanceData<Napi::FunctionReference>()->Value())) a.TypeFail("other", "a Device");
    Device* other = a.ok() ? Unwrap(o) : nullptr;
    if (other == this || (other && !other->ctx_)) a.ValueFail("other", "another open Device");
    Run(a, [&] { return ts_device_link_memory(dev_, other->dev_) ? UV_ENOMEM : 0; });
    return {};
  }

  Napi::Value Close(const Napi::CallbackInfo&) {
    Free();
    return {};
  }

  // tcpListen(listenerId, family, port, backlog, stream?) -> the bound port. stream: accepted connections use
  // the stream transport (accept events carry fd -1).
  Napi::Value TcpListen(const Napi::CallbackInfo& info) {
    Args a(info, "listen");
    uint64_t id = a.Id(0);
    int family = a.Family(1), backlog = static_cast<int>(a.Int(info[3], "backlog", 0, 65535));
    uint16_t port = a.Port(info[2], "port", 0);
    bool stream = !info[4].IsUndefined() && a.Bool(info[4], "stream");
    return Num(a, Run(a, [&] {
      int err = 0;
      ts_tcp_listener* l = ts_tcp_listen(ts_device_tcp(dev_), id, family, port, backlog, stream, &err);
      if (l) listeners_[id] = l, port = ts_tcp_listener_port(l);
      return err;
    }), port);
  }

  Napi::Value TcpListenerClose(const Napi::CallbackInfo& info) {
    Args a(info, "tcpListenerClose");
    uint64_t id = a.Id(0);
    return IfOpen(a, [&] {
      auto it = listeners_.find(id);
      if (it != listeners_.end()) ts_tcp_listener_close(it->second), listeners_.erase(it);
    });
  }

  // setForeign(prefixes, catchListenerId | null, unmatched?): destinations served without being own addresses
  // (service VIPs, advertised routes); TCP to them reaches the catch listener (native/core/stack/tcp_bridge.h),
  // and with unmatched also TCP to own addresses that no listener takes.
  Napi::Value SetForeign(const Napi::CallbackInfo& info) {
    Args a(info, "setForeign");
    Napi::Array list = a.Array(info[0], "prefixes");
    std::vector<ts_netif_prefix> px;
    for (uint32_t k = 0; a.ok() && k < list.Length(); k++) {
      ts_filter_prefix f = a.Prefix(a.At(list, k), "prefixes");
      ts_netif_prefix p;
      p.family = f.family, p.bits = f.bits;
      memcpy(p.addr, f.addr, sizeof p.addr);
      px.push_back(p);
    }
    bool has_catch = a.ok() && !info[1].IsNull() && !info[1].IsUndefined();
    uint64_t catch_id = has_catch ? a.Id(1) : 0;
    bool unmatched = a.ok() && !info[2].IsUndefined() && a.Bool(info[2], "unmatched");
    Run(a, [&] {
      if (has_catch) {
        auto it = listeners_.find(catch_id);
        if (it == listeners_.end()) return static_cast<int>(UV_ENOENT);
        ts_tcp_listener_catch(it->second);
      }
      ts_device_netif(dev_)->catch_unmatched = has_catch && unmatched;
      return ts_netif_set_foreign(ts_device_netif(dev_), px.data(), px.size()) ? static_cast<int>(UV_ENOMEM) : 0;
    });
    return {};
  }

  // tcpDial(connId, address, port, stream?) -> fd of JavaScript's end of the connection's socketpair, or -1
  // with the stream transport
  Napi::Value TcpDial(const Napi::CallbackInfo& info) {
    Args a(info, "dial");
    uint64_t id = a.Id(0);
    ts_addr dst = a.Ip(info[1], "address");
    dst.port = a.Port(info[2], "port", 1);
    bool stream = !info[3].IsUndefined() && a.Bool(info[3], "stream");
    if (stream) return Num(a, Run(a, [&] { return ts_tcp_dial(ts_device_tcp(dev_), id, -1, &dst); }), -1);
    int fds[2] = {-1, -1};
    if (a.ok() && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return ThrowCoded(a.Env(), -errno, "dial"), Napi::Value();
    if (Run(a, [&] { return ts_tcp_dial(ts_device_tcp(dev_), id, fds[0], &dst); })) return Num(a, true, fds[1]);
    if (fds[0] >= 0) close(fds[0]), close(fds[1]);
    return {};
  }

  Napi::Value TcpSetNoDelay(const Napi::CallbackInfo& info) {
    Args a(info, "tcpSetNoDelay");
    uint64_t id = a.Id(0);
    bool on = a.Bool(info[1], "on");
    return IfOpen(a, [&] { ts_tcp_set_nodelay(ts_device_tcp(dev_), id, on); });
  }

  Napi::Value TcpSetKeepAlive(const Napi::CallbackInfo& info) {
    Args a(info, "tcpSetKeepAlive");
    uint64_t id = a.Id(0);
    bool on = a.Bool(info[1], "on");
    uint32_t idle_ms = static_cast<uint32_t>(a.Int(info[2], "idleMs", 0, kU32));
    return IfOpen(a, [&] { ts_tcp_set_keepalive(ts_device_tcp(dev_), id, on, idle_ms); });
  }

  Napi::Value TcpReset(const Napi::CallbackInfo& info) {
    Args a(info, "tcpReset");
    uint64_t id = a.Id(0);
    return IfOpen(a, [&] { ts_tcp_reset(ts_device_tcp(dev_), id); });
  }

  // ---- the stream transport: queued, see StreamCall. On a closed device the connection is gone already. ----
  void Queue(Args& a, StreamCall::Op op, uint64_t id, size_t n, uint8_t* data) {
    auto* c = a.ok() && ctx_ ? static_cast<StreamCall*>(malloc(sizeof(StreamCall))) : nullptr;
    if (c) *c = StreamCall{op, dev_, id, n, data};
    if (!c || ts_engine_call(ctx_->engine(), StreamOnEngine, c) != 0) free(data), free(c);
  }

  // tcpWrite(connId, chunks: Uint8Array[]): the chunks' bytes, copied, in order; 'written' events follow.
  Napi::Value TcpWrite(const Napi::CallbackInfo& info) {
    Args a(info, "tcpWrite");
    uint64_t id = a.Id(0);
    Napi::Array list = a.Array(info[1], "chunks");
    std::vector<Napi::Uint8Array> bufs;
    size_t total = 0;
    for (uint32_t k = 0; a.ok() && k < list.Length(); k++) {
      bufs.push_back(a.Bytes(a.At(list, k), "chunks"));
      if (a.ok()) total += bufs.back().ByteLength();
    }
    if (!a.ok() || total == 0 || !ctx_) return {};
    auto* data = static_cast<uint8_t*>(malloc(total));
    if (!data) return ThrowCoded(a.Env(), UV_ENOMEM, "write"), Napi::Value();
    size_t off = 0;
    for (Napi::Uint8Array& b : bufs)
      if (b.ByteLength()) memcpy(data + off, b.Data(), b.ByteLength()), off += b.ByteLength();  // Data() of an empty one may be null
    Queue(a, StreamCall::kWrite, id, total, data);
    return {};
  }

  Napi::Value TcpEnd(const Napi::CallbackInfo& info) {
    Args a(info, "tcpEnd");
    uint64_t id = a.Id(0);
    Queue(a, StreamCall::kEnd, id, 0, nullptr);
    return {};
  }

  // tcpRead(connId, bytes): JavaScript consumed this many delivered bytes (the engine may deliver more).
  Napi::Value TcpRead(const Napi::CallbackInfo& info) {
    Args a(info, "tcpRead");
    uint64_t id = a.Id(0);
    size_t n = static_cast<size_t>(a.Int(info[1], "bytes", 0, 9007199254740991.0));
    Queue(a, StreamCall::kRead, id, n, nullptr);
    return {};
  }

  Napi::Value TcpClose(const Napi::CallbackInfo& info) {
    Args a(info, "tcpClose");
    uint64_t id = a.Id(0);
    Queue(a, StreamCall::kClose, id, 0, nullptr);
    return {};
  }

  // derpWrite(streamId, data): bytes from the relay, fed to the engine's DERP client before returning.
  Napi::Value DerpWrite(const Napi::CallbackInfo& info) {
    Args a(info, "derp: write");
    uint64_t id = a.Id(0);
    Napi::Uint8Array buf = a.Bytes(info[1], "data");
    return IfOpen(a, [&] {
      if (ts_link_wg* l = ts_device_wg(dev_))
        if (ts_derp_conn* c = ts_link_wg_derp_stream(l, id)) ts_derp_conn_stream_input(c, buf.Data(), buf.ByteLength());
    });
  }

  // derpAck(streamId, bytes): JavaScript passed on this many bytes of 'derp-data'.
  Napi::Value DerpAck(const Napi::CallbackInfo& info) {
    Args a(info, "derp: ack");
    uint64_t id = a.Id(0);
    size_t n = static_cast<size_t>(a.Int(info[1], "bytes", 0, 9007199254740991.0));
    return IfOpen(a, [&] {
      if (ts_link_wg* l = ts_device_wg(dev_))
        if (ts_derp_conn* c = ts_link_wg_derp_stream(l, id)) ts_derp_conn_stream_ack(c, n);
    });
  }

  // derpTakeover(streamId, serverKey[32]|null, clientSecret[32], serverSecret[32]): engine TLS, after
  // JavaScript's handshake (lib/magicsock/derp-engine-tls.ts). The secrets are wiped here.
  Napi::Value DerpTakeover(const Napi::CallbackInfo& info) {
    Args a(info, "derp: takeover");
    uint64_t id = a.Id(0);
    uint8_t key[32], cs[32], ss[32];
    bool has_key = a.Key(info[1], "serverKey", key, true);
    a.Key(info[2], "clientSecret", cs, false);
    a.Key(info[3], "serverSecret", ss, false);
    Run(a, [&] {
      ts_link_wg* l = ts_device_wg(dev_);
      ts_derp_conn* c = l ? ts_link_wg_derp_stream(l, id) : nullptr;
      return c ? ts_derp_conn_tls_takeover(c, has_key ? key : nullptr, cs, ss) : UV_EINVAL;
    });
    ts_wipe(cs, sizeof cs);
    ts_wipe(ss, sizeof ss);
    return {};
  }

  Napi::Value DerpClose(const Napi::CallbackInfo& info) {
    Args a(info, "derp: close");
    uint64_t id = a.Id(0);
    return IfOpen(a, [&] {
      if (ts_link_wg* l = ts_device_wg(dev_))
        if (ts_derp_conn* c = ts_link_wg_derp_stream(l, id)) ts_derp_conn_stream_close(c);
    });
  }

  // udpOpen(socketId, family, port) -> the bound port
  Napi::Value UdpOpen(const Napi::CallbackInfo& info) {
    Args a(info, "bind");
    uint64_t id = a.Id(0);
    int family = a.Family(1);
    uint16_t port = a.Port(info[2], "port", 0), bound = 0;
    return Num(a, Run(a, [&] { return ts_device_udp_open(dev_, id, family, port, &bound); }), bound);
  }

  // udpSend(socketId, address, port, data): queued; see UdpSendCall.
  Napi::Value UdpSend(const Napi::CallbackInfo& info) {
    Args a(info, "send");
    uint64_t id = a.Id(0);
    ts_addr dst = a.Ip(info[1], "address");
    dst.port = a.Port(info[2], "port", 1);
    Napi::Uint8Array buf = a.Bytes(info[3], "data");
    if (!Open(a)) return {};
    size_t len = buf.ByteLength();
    auto* c = len > 65535 - 48 ? nullptr : static_cast<UdpSendCall*>(malloc(sizeof(UdpSendCall) + len));
    if (!c) return ThrowCoded(a.Env(), len > 65535 - 48 ? UV_EMSGSIZE : UV_ENOMEM, "send"), Napi::Value();
    *c = UdpSendCall{dev_, ctx_->evq(), id, dst, len};
    memcpy(c->data, buf.Data(), len);
    ts_engine_call(ctx_->engine(), UdpSendOnEngine, c);
    return {};
  }

  Napi::Value UdpClose(const Napi::CallbackInfo& info) {
    Args a(info, "udpClose");
    uint64_t id = a.Id(0);
    return IfOpen(a, [&] { ts_device_udp_close(dev_, id); });
  }

  // ---- the link ----
  // startWireGuard(privateKey[32], port) -> the bound UDP port. Our copy of the key is wiped at once.
  Napi::Value StartWireGuard(const Napi::CallbackInfo& info) {
    Args a(info, "wireguard: listen");
    uint8_t key[32] = {0};
    a.Key(info[0], "privateKey", key);
    uint16_t port = a.Port(info[1], "port", 0);
    bool ok = Run(a, [&] {
      int r = ts_device_wg_start(dev_, key, nullptr, port);
      if (r == 0) port = ts_link_wg_port(ts_device_wg(dev_));
      return r;
    });
    ts_wipe(key, sizeof key);
    return Num(a, ok, port);
  }

  // startMagicsock(discoPrivateKey[32], derpOnly, derpIdleMs): Tailscale mode for a started WireGuard link.
  // derpIdleMs: relays other than home's close after this long idle (0: the default, 60 s).
  Napi::Value StartMagicsock(const Napi::CallbackInfo& info) {
    Args a(info, "magicsock: start");
    uint8_t disco[32] = {0};
    a.Key(info[0], "discoPrivateKey", disco);
    bool derp_only = a.Bool(info[1], "derpOnly");
    uint64_t idle_ms = static_cast<uint64_t>(a.Int(info[2], "derpIdleMs", 0, kU32));
    Run(a, [&] {
      int r = ts_device_magicsock(dev_, disco);
      if (r == 0) ts_link_wg_ms_derp_only(ts_device_wg(dev_), derp_only), ts_link_wg_ms_derp_idle(ts_device_wg(dev_), idle_ms);
      return r;
    });
    ts_wipe(disco, sizeof disco);
    return {};
  }

  // setPrivateKey(privateKey[32]): a node key renewal. WireGuard takes the new static key (sessions of the old
  // one dropped, peers kept) and the relays log in again with it. Our copy of the key is wiped at once.
  Napi::Value SetPrivateKey(const Napi::CallbackInfo& info) {
    Args a(info, "wireguard: setPrivateKey");
    uint8_t key[32] = {0};
    a.PrivateKey(info[0], "privateKey", key);
    RunLink(a, [&](ts_link_wg* l) { return ts_link_wg_set_private_key(l, key); });
    ts_wipe(key, sizeof key);
    return {};
  }

  // setUdpOffload(gso, gro, equalTailGuard): control's switches for the UDP socket's kernel offloads
  // (docs/protocol/capver.md, 140 and 141); they outlive rebinds.
  Napi::Value SetUdpOffload(const Napi::CallbackInfo& info) {
    Args a(info, "wireguard: setUdpOffload");
    bool gso = a.Bool(info[0], "gso"), gro = a.Bool(info[1], "gro"), guard = a.Bool(info[2], "equalTailGuard");
    RunLink(a, [&](ts_link_wg* l) { return ts_link_wg_set_udp_offload(l, gso, gro, guard), 0; });
    return {};
  }

  // udpOffload() -> { gso, gro, equalTailGuard, txGsoSends, txGsoSentinels, rxGroBuffers, rxSentinels }.
  Napi::Value UdpOffload(const Napi::CallbackInfo& info) {
    Args a(info, "wireguard: udpOffload");
    ts_bind_udp_offload_info st{};
    if (!RunLink(a, [&](ts_link_wg* l) { return ts_link_wg_udp_offload(l, &st), 0; })) return {};
    Napi::Object o = Numbers(a.Env(), {{"txGsoSends", static_cast<double>(st.tx_gso_sends)},
                                       {"txGsoSentinels", static_cast<double>(st.tx_gso_sentinels)},
                                       {"rxGroBuffers", static_cast<double>(st.rx_gro_bufs)},
                                       {"rxSentinels", static_cast<double>(st.rx_sentinels)}});
    o.Set("gso", st.gso != 0);
    o.Set("gro", st.gro != 0);
    o.Set("equalTailGuard", st.equal_tail_guard != 0);
    return o;
  }

  // rebind(port) -> the new UDP port: a fresh socket, as after a network change.
  Napi::Value Rebind(const Napi::CallbackInfo& info) {
    Args a(info, "wireguard: rebind");
    uint16_t port = a.Port(info[0], "port", 0);
    return Num(a, RunLink(a, [&](ts_link_wg* l) {
      int r = ts_link_wg_rebind(l, nullptr, port);
      return port = ts_link_wg_port(l), r;
    }), port);
  }

  // setPeers([{ publicKey, presharedKey?, endpoints, persistentKeepalive?, discoKey?, homeRegion?, allowedIPs }]):
  // the peers become exactly these, in one engine call. A listed peer's AllowedIPs are replaced (the UAPI's
  // replace_allowed_ips), so a prefix it no longer owns is dropped from then on; an unlisted peer is removed.
  // WireGuard mode: endpoints[0] is the endpoint, psk and keepalive apply. Tailscale mode: the endpoints,
  // disco key and home region go to magicsock.
  Napi::Value SetPeers(const Napi::CallbackInfo& info) {
    Args a(info, "setPeers");
    Napi::Array list = a.Array(info[0], "peers");
    std::vector<PeerConfig> peers(a.ok() ? list.Length() : 0);
    for (uint32_t i = 0; a.ok() && i < peers.size(); i++) peers[i].Read(a, a.Object(a.At(list, i), "peers[i]"));
    RunLink(a, [&](ts_link_wg* l) {
      bool tailscale = ts_link_wg_ms(l) != nullptr;
      std::unordered_set<std::string> listed;
      int first_err = 0;
      for (const PeerConfig& peer : peers) {
        const PeerConfig::Fixed& p = peer.f;
        const std::vector<ts_addr>& eps = peer.endpoints;
        std::string key(reinterpret_cast<const char*>(p.key), 32);
        listed.insert(key);
        if (applied_.count(key) && applied_[key] == peer.digest) continue;
        int r = tailscale ? ts_link_wg_ms_peer_set(l, p.key, p.has_disco ? p.disco : nullptr, p.home, eps.data(), eps.size())
                          : ts_link_wg_peer_set(l, p.key, p.has_psk ? p.psk : nullptr, eps.empty() ? nullptr : &eps[0], p.keepalive);
        if (r == 0) r = ts_link_wg_peer_set_allowed(l, p.key, peer.allowed.data(), peer.allowed.size());
        applied_[key] = r == 0 ? peer.digest : std::string();  // a failed peer is retried by the next call
        if (!first_err) first_err = r;
      }
      for (auto it = applied_.begin(); it != applied_.end();) {
        if (listed.count(it->first)) { ++it; continue; }
        ts_link_wg_peer_remove(l, reinterpret_cast<const uint8_t*>(it->first.data()));
        it = applied_.erase(it);
      }
      return first_err;
    });
    return {};
  }

  // setFilter(rules, local): turns on the inbound packet filter and replaces its rules. rules: [{ protos:
  // number[], srcs: Prefix[], dsts: (Prefix & { first, last })[] }], local: Prefix[], Prefix = { family,
  // bits, addr }.
  Napi::Value SetFilter(const Napi::CallbackInfo& info) {
    Args a(info, "setFilter");
    Napi::Array rules = a.Array(info[0], "rules"), local = a.Array(info[1], "local");
    size_t n = a.ok() ? rules.Length() : 0;
    std::vector<std::vector<uint8_t>> protos(n);
    std::vector<std::vector<ts_filter_prefix>> srcs(n);
    std::vector<std::vector<ts_filter_dst>> dsts(n);
    std::vector<ts_filter_prefix> locals;
    for (uint32_t i = 0; a.ok() && i < n; i++) {
      Napi::Object r = a.Object(a.At(rules, i), "rules[i]");
      Napi::Array pa = a.Array(a.Get(r, "protos"), "protos"), sa = a.Array(a.Get(r, "srcs"), "srcs"), da = a.Array(a.Get(r, "dsts"), "dsts");
      for (uint32_t k = 0; a.ok() && k < pa.Length(); k++) protos[i].push_back(static_cast<uint8_t>(a.Int(a.At(pa, k), "protos", 0, 255)));
      for (uint32_t k = 0; a.ok() && k < sa.Length(); k++) srcs[i].push_back(a.Prefix(a.At(sa, k), "srcs"));
      for (uint32_t k = 0; a.ok() && k < da.Length(); k++) {
        Napi::Object d = a.Object(a.At(da, k), "dsts");
        ts_filter_dst dst;
        dst.net = a.Prefix(d, "dsts");
        dst.first = a.Port(a.Get(d, "first"), "dsts.first", 0);
        dst.last = a.Port(a.Get(d, "last"), "dsts.last", dst.first);
        dsts[i].push_back(dst);
      }
    }
    for (uint32_t k = 0; a.ok() && k < local.Length(); k++) locals.push_back(a.Prefix(a.At(local, k), "local"));
    RunLink(a, [&](ts_link_wg* l) {
      std::vector<ts_filter_rule> list(n);
      for (size_t i = 0; i < n; i++)
        list[i] = {protos[i].data(), protos[i].size(), srcs[i].data(), srcs[i].size(), dsts[i].data(), dsts[i].size()};
      return ts_link_wg_filter_set(l, list.data(), n, locals.data(), locals.size());
    });
    return {};
  }

  // setSelf(endpoints: "ip:port"[], homeRegion): what peers learn of us in CallMeMaybe, and our home relay.
  Napi::Value SetSelf(const Napi::CallbackInfo& info) {
    Args a(info, "magicsock: self");
    std::vector<ts_addr> eps = a.Endpoints(info[0], "endpoints");
    uint32_t home = static_cast<uint32_t>(a.Int(info[1], "homeRegion", 0, kU32));
    RunLink(a, [&](ts_link_wg* l) { return ts_link_wg_ms_set_self(l, eps.data(), eps.size(), home); });
    return {};
  }

  // setPeerRelays(servers: nodeKey[32][], targets: nodeKey[32][]): the peers that may relay for us and the
  // peers we may reach through one (docs/protocol/peer-relay.md); each list replaces the previous one.
  Napi::Value SetPeerRelays(const Napi::CallbackInfo& info) {
    Args a(info, "magicsock: peer relays");
    std::vector<std::array<uint8_t, 32>> lists[2];
    for (int k = 0; k < 2 && a.ok(); k++) {
      Napi::Array arr = a.Array(info[k], k == 0 ? "servers" : "targets");
      for (uint32_t i = 0; a.ok() && i < arr.Length(); i++) {
        std::array<uint8_t, 32> key{};
        a.Key(a.At(arr, i), k == 0 ? "servers[i]" : "targets[i]", key.data());
        lists[k].push_back(key);
      }
    }
    RunLink(a, [&](ts_link_wg* l) -> int {
      ts_ms* ms = ts_link_wg_ms(l);
      if (!ms) return UV_EINVAL;
      ts_ms_set_relay(ms, reinterpret_cast<const uint8_t(*)[32]>(lists[0].data()), lists[0].size(),
                      reinterpret_cast<const uint8_t(*)[32]>(lists[1].data()), lists[1].size());
      return 0;
    });
    return {};
  }

  // derpAttach(region, host, serverKey[32]|null, streamId?, tlsServer?) -> fd: JavaScript's end of the relay's
  // byte stream; or, with a stream id (nonzero), -1 and the stream transport ('derp-data'/'derp-end' events).
  // With tlsServer ("ip:port", a stream id required): engine TLS, the engine dials the relay itself and the
  // stream carries the TLS handshake until derpTakeover (bind/derp_conn.h).
  Napi::Value DerpAttach(const Napi::CallbackInfo& info) {
    Args a(info, "derp: attach");
    uint32_t region = static_cast<uint32_t>(a.Int(info[0], "region", 0, kU32));
    std::string host = a.String(info[1], "host");
    uint8_t key[32];
    bool has_key = a.Key(info[2], "serverKey", key, true);
    uint64_t sid = info[3].IsUndefined() ? 0 : a.Id(3);
    ts_addr tls_server{};
    if (info.Length() > 4 && !info[4].IsUndefined()) {
      tls_server = a.Endpoint(info[4], "tlsServer");
      if (!sid) a.ValueFail("tlsServer", "needs a stream id");
    }
    int fd = -1;
    return Num(a, RunLink(a, [&](ts_link_wg* l) {
      ts_derp_stream st = {ctx_->evq(), id_, sid, tls_server};
      return ts_link_wg_derp_attach(l, region, host.c_str(), has_key ? key : nullptr, sid ? &st : nullptr, &fd);
    }), fd);
  }

  // stunProbe(region, "ip:port"): the answer arrives as a 'stun' event.
  Napi::Value StunProbe(const Napi::CallbackInfo& info) {
    Args a(info, "stun: probe");
    uint32_t region = static_cast<uint32_t>(a.Int(info[0], "region", 0, kU32));
    ts_addr dst = a.Endpoint(info[1], "server");
    RunLink(a, [&](ts_link_wg* l) { return ts_link_wg_stun_probe(l, region, &dst); });
    return {};
  }

  // tsmpPing("ourIp", "peerIp", data: 8 bytes): the answer arrives as a 'tsmp-pong' event.
  Napi::Value TsmpPing(const Napi::CallbackInfo& info) {
    Args a(info, "ping");
    ts_addr src = a.Ip(info[0], "source");
    ts_addr dst = a.Ip(info[1], "destination");
    Napi::Uint8Array bytes = a.Bytes(info[2], "data");
    if (a.ok() && bytes.ElementLength() != 8) a.Fail(true, "ERR_OUT_OF_RANGE", "data must be 8 bytes");
    if (!a.ok()) return {};
    uint8_t data[8];
    memcpy(data, bytes.Data(), 8);
    RunLink(a, [&](ts_link_wg* l) { return ts_link_wg_tsmp_ping(l, &src, &dst, data); });
    return {};
  }

  // discoPing(nodeKey: 32 bytes, tag): the answers arrive as 'disco-pong' events with id = tag.
  Napi::Value DiscoPing(const Napi::CallbackInfo& info) {
    Args a(info, "ping");
    Napi::Uint8Array key = a.Bytes(info[0], "nodeKey");
    uint32_t tag = static_cast<uint32_t>(a.Int(info[1], "tag", 1, kU32));
    if (a.ok() && key.ElementLength() != 32) a.Fail(true, "ERR_OUT_OF_RANGE", "nodeKey must be 32 bytes");
    if (!a.ok()) return {};
    uint8_t k[32];
    memcpy(k, key.Data(), 32);
    RunLink(a, [&](ts_link_wg* l) { return ts_link_wg_disco_ping(l, k, tag); });
    return {};
  }

  // setCapture(id): every IP packet in and out becomes a 'capture' event with this id; 0 stops.
  Napi::Value SetCapture(const Napi::CallbackInfo& info) {
    Args a(info, "capturePcap");
    uint64_t id = a.Id(0);
    Run(a, [&] { return ts_device_set_capture(dev_, id), 0; });
    return {};
  }

  // ---- statistics ----
  // peerStats() -> [{ publicKey, lastHandshake (ms since epoch or 0), rxBytes, txBytes, hasSession, endpoint }]
  Napi::Value PeerStats(const Napi::CallbackInfo& info) {
    Args a(info, "wireguard: stats");
    std::vector<std::pair<std::array<uint8_t, 32>, ts_wg_peer_stats>> stats;
    auto add = [](void* v, const uint8_t pub[32], const ts_wg_peer_stats* st) {
      static_cast<decltype(stats)*>(v)->emplace_back(std::array<uint8_t, 32>(), *st);
      memcpy(static_cast<decltype(stats)*>(v)->back().first.data(), pub, 32);
    };
    if (!RunLink(a, [&](ts_link_wg* l) { return ts_link_wg_foreach_peer(l, add, &stats), 0; })) return {};
    Napi::Env env = a.Env();
    Napi::Array out = Napi::Array::New(env, stats.size());
    for (size_t i = 0; i < stats.size(); i++) {
      const ts_wg_peer_stats& st = stats[i].second;
      Napi::Object o = Numbers(env, {{"lastHandshake", static_cast<double>(st.last_handshake_wall / 1000000ull)},
                                     {"rxBytes", static_cast<double>(st.rx_bytes)}, {"txBytes", static_cast<double>(st.tx_bytes)}});
      o.Set("publicKey", Napi::Buffer<uint8_t>::Copy(env, stats[i].first.data(), 32));
      o.Set("hasSession", st.has_session != 0);
      ts_addr ep;
      char buf[80] = "";
      bool known = ts_link_wg_udp_addr(&ep, &st.endpoint) == 0;
      if (known) ts_addr_format(&ep, buf, sizeof buf);
      o.Set("endpoint", known ? Napi::Value(Napi::String::New(env, buf)) : env.Null());
      out.Set(i, o);
    }
    return out;
  }

  // drops() -> { [reason]: count } for every drop reason of the WireGuard core, keyed by ts_wg_drop_name
  // (snake_case); lib/wg-drops.ts maps them to typed camelCase fields.
  Napi::Value Drops(const Napi::CallbackInfo& info) {
    Args a(info, "wireguard: stats");
    uint64_t drops[TS_WG_DROP_COUNT]{};
    if (!RunLink(a, [&](ts_link_wg* l) {
          for (int i = 1; i < TS_WG_DROP_COUNT; i++) drops[i] = ts_wg_drops(ts_link_wg_device(l), static_cast<ts_wg_drop>(i));
          return 0;
        }))
      return {};
    Napi::Object out = Napi::Object::New(a.Env());
    for (int i = 1; i < TS_WG_DROP_COUNT; i++) out.Set(ts_wg_drop_name(static_cast<ts_wg_drop>(i)), static_cast<double>(drops[i]));
    return out;
  }

  // handshakeLoad() -> the handshake DoS defence at work (docs/architecture.md, "Handshake floods").
  Napi::Value HandshakeLoad(const Napi::CallbackInfo& info) {
    Args a(info, "wireguard: stats");
    ts_wg_load_stats st{};
    if (!RunLink(a, [&](ts_link_wg* l) { return ts_wg_device_load_stats(ts_link_wg_device(l), ts_engine_now_ns(), &st), 0; })) return {};
    Napi::Object o = Numbers(a.Env(), {{"handshakesComputed", static_cast<double>(st.handshakes_computed)},
                                       {"cookieReplies", static_cast<double>(st.cookie_replies)},
                                       {"cookiesWithheld", static_cast<double>(st.cookies_withheld)},
                                       {"rateLimited", static_cast<double>(st.rate_limited)}});
    o.Set("underLoad", st.under_load != 0);
    return o;
  }

  // magicsockStats() -> { peers: [{ nodeKey, best, latencyMs, trusted, ... }], regions: [{ region, ... }] }
  Napi::Value MagicsockStats(const Napi::CallbackInfo& info) {
    Args a(info, "magicsock: stats");
    struct Peer {
      uint8_t key[32];
      ts_ms_peer_info info;
    };
    struct Region {
      uint32_t id;
      int connected;
      ts_derp_conn_stats st;
    };
    std::vector<Peer> peers;
    std::vector<Region> regions;
    ts_ms_counters counters{};
    if (!RunLink(a, [&](ts_link_wg* l) -> int {
          ts_ms* ms = ts_link_wg_ms(l);
          if (!ms) return UV_EINVAL;
          ts_ms_counters_get(ms, &counters);
          ts_link_wg_foreach_peer(l, [](void* v, const uint8_t pub[32], const ts_wg_peer_stats*) {
            static_cast<std::vector<Peer>*>(v)->push_back(Peer{});
            memcpy(static_cast<std::vector<Peer>*>(v)->back().key, pub, 32);
          }, &peers);
          for (Peer& p : peers)
            if (ts_ms_peer* mp = ts_ms_peer_by_node(ms, p.key)) ts_ms_peer_info_get(mp, ts_engine_now_ns(), &p.info);
          ts_link_wg_foreach_region(l, [](void* v, uint32_t region, int connected, const ts_derp_conn_stats* st) {
            static_cast<std::vector<Region>*>(v)->push_back({region, connected, *st});
          }, &regions);
          return 0;
        }))
      return {};
    Napi::Env env = a.Env();
    Napi::Array pa = Napi::Array::New(env, peers.size()), ra = Napi::Array::New(env, regions.size());
    for (size_t i = 0; i < peers.size(); i++) {
      const ts_ms_peer_info& pi = peers[i].info;
      Napi::Object o = Numbers(env, {{"latencyMs", static_cast<double>(pi.latency_ns) / 1e6},
                                     {"homeRegion", static_cast<double>(pi.home_region)}, {"derpRegion", static_cast<double>(pi.derp_region)},
                                     {"candidates", static_cast<double>(pi.n_candidates)},
                                     {"pingsSent", static_cast<double>(pi.pings_sent)},
                                     {"pongsReceived", static_cast<double>(pi.pongs_received)},
                                     {"pingsReceived", static_cast<double>(pi.pings_received)},
                                     {"callMeMaybeSent", static_cast<double>(pi.cmm_sent)},
                                     {"callMeMaybeReceived", static_cast<double>(pi.cmm_received)},
                                     {"txDirect", static_cast<double>(pi.tx_udp)}, {"txRelay", static_cast<double>(pi.tx_derp)}});
      char best[80] = "";
      if (pi.best.kind == TS_MS_PATH_UDP) ts_addr_format(&pi.best.addr, best, sizeof best);
      o.Set("nodeKey", Napi::Buffer<uint8_t>::Copy(env, peers[i].key, 32));
      o.Set("best", best);
      o.Set("trusted", pi.trusted != 0);
      char via[80] = "";
      if (pi.relay.kind == TS_MS_PATH_RELAY) ts_addr_format(&pi.relay.addr, via, sizeof via);
      o.Set("peerRelay", via);
      o.Set("peerRelayVni", static_cast<double>(pi.relay.vni));
      o.Set("peerRelayState", static_cast<double>(pi.relay_state));
      o.Set("txPeerRelay", static_cast<double>(pi.tx_relay));
      o.Set("peerRelayAllocs", static_cast<double>(pi.relay_allocs));
      o.Set("callMeMaybeViaSent", static_cast<double>(pi.relay_cmm_via_sent));
      o.Set("callMeMaybeViaReceived", static_cast<double>(pi.relay_cmm_via_received));
      pa.Set(i, o);
    }
    for (size_t i = 0; i < regions.size(); i++) {
      const ts_derp_conn_stats& st = regions[i].st;
      Napi::Object o = Numbers(env, {{"region", static_cast<double>(regions[i].id)}, {"txPackets", static_cast<double>(st.tx_packets)},
                                     {"rxPackets", static_cast<double>(st.rx_packets)}, {"txDropped", static_cast<double>(st.tx_dropped)},
                                     {"txBytes", static_cast<double>(st.tx_bytes)}, {"rxBytes", static_cast<double>(st.rx_bytes)}});
      o.Set("connected", regions[i].connected != 0);
      ra.Set(i, o);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("peers", pa);
    out.Set("regions", ra);
    out.Set("counters", Numbers(env, {{"rxOk", static_cast<double>(counters.rx_ok)},
                                      {"rxNotDisco", static_cast<double>(counters.rx_not_disco)},
                                      {"rxUnknownPeer", static_cast<double>(counters.rx_unknown_peer)},
                                      {"rxDecrypt", static_cast<double>(counters.rx_decrypt)},
                                      {"rxBad", static_cast<double>(counters.rx_bad)},
                                      {"rxStale", static_cast<double>(counters.rx_stale)},
                                      {"tsmpDiscoApplied", static_cast<double>(counters.tsmp_disco_applied)},
                                      {"tsmpDiscoUnchanged", static_cast<double>(counters.tsmp_disco_unchanged)},
                                      {"tsmpPing", static_cast<double>(counters.tsmp_ping)},
                                      {"tsmpPong", static_cast<double>(counters.tsmp_pong)},
                                      {"tsmpOther", static_cast<double>(counters.tsmp_other)},
                                      {"tsmpBad", static_cast<double>(counters.tsmp_bad)}}));
    return out;
  }

  Context* ctx_ = nullptr;
  Napi::ObjectReference ctx_ref_;  // keeps the Context alive while the Device is
  uint32_t id_ = 0;
  // Engine-thread state (touched only inside OnEngine):
  ts_device* dev_ = nullptr;
  std::unordered_map<uint64_t, ts_tcp_listener*> listeners_;
  std::unordered_map<std::string, std::string> applied_;  // peer key -> digest of the config setPeers applied
};

Napi::Function DefineDevice(Napi::Env env) { return Device::Define(env); }
void FreeDevice(Device* d) { d->Free(); }
Device* UnwrapDevice(Napi::Object o) { return Device::Unwrap(o); }

}  // namespace tsnet
