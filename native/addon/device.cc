// The Device: one wrapped ts_device (native/core/device.h), its TCP/IP stack and its link. Every method
// checks its arguments (Args), then runs one engine call whose lambda captures are the call's inputs and
// outputs. The setters are declarative: setPeers, setFilter and setSelf replace the whole state in one
// engine call, so the engine never sees half a configuration. docs/architecture.md, "The native Device".
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "addon.h"

extern "C" {
#include "crypto/crypto.h"
#include "stack/tcp_bridge.h"
}

namespace tsnet {

Napi::Function Device::Define(Napi::Env env) {
  return DefineClass(env, "Device", {
      InstanceAccessor<&Device::Id>("id"),
      InstanceMethod<&Device::AddAddress>("addAddress"),
      InstanceMethod<&Device::LinkMemory>("linkMemory"),
      InstanceMethod<&Device::Close>("close"),
      InstanceMethod<&Device::TcpListen>("tcpListen"),
      InstanceMethod<&Device::TcpListenerClose>("tcpListenerClose"),
      InstanceMethod<&Device::TcpDial>("tcpDial"),
      InstanceMethod<&Device::TcpSetNoDelay>("tcpSetNoDelay"),
      InstanceMethod<&Device::TcpSetKeepAlive>("tcpSetKeepAlive"),
      InstanceMethod<&Device::TcpReset>("tcpReset"),
      InstanceMethod<&Device::UdpOpen>("udpOpen"),
      InstanceMethod<&Device::UdpSend>("udpSend"),
      InstanceMethod<&Device::UdpClose>("udpClose"),
      InstanceMethod<&Device::StartWireGuard>("startWireGuard"),
      InstanceMethod<&Device::StartMagicsock>("startMagicsock"),
      InstanceMethod<&Device::Rebind>("rebind"),
      InstanceMethod<&Device::SetPeers>("setPeers"),
      InstanceMethod<&Device::SetFilter>("setFilter"),
      InstanceMethod<&Device::SetSelf>("setSelf"),
      InstanceMethod<&Device::DerpAttach>("derpAttach"),
      InstanceMethod<&Device::StunProbe>("stunProbe"),
      InstanceMethod<&Device::PeerStats>("peerStats"),
      InstanceMethod<&Device::Drops>("drops"),
      InstanceMethod<&Device::HandshakeLoad>("handshakeLoad"),
      InstanceMethod<&Device::MagicsockStats>("magicsockStats"),
  });
}

// new Device(External<Context>, context, id): only Context#createDevice can make the External.
Device::Device(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Device>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal()) {
    Napi::Error e = Napi::TypeError::New(env, "Device: use context.createDevice()");
    e.Set("code", "ERR_ILLEGAL_CONSTRUCTOR");
    e.ThrowAsJavaScriptException();
    return;
  }
  Context* ctx = info[0].As<Napi::External<Context>>().Data();
  id_ = info[2].As<Napi::Number>().Uint32Value();
  ts_evq* q = ctx->evq();
  OnEngine(ctx->engine(), [&] { dev_ = ts_device_new(ctx->engine(), q, id_); });
  if (!dev_) {
    ThrowCoded(env, UV_ENOMEM, "createDevice");
    return;
  }
  ctx_ = ctx;
  ctx_ref_ = Napi::Persistent(info[1].As<Napi::Object>());
}

Device::~Device() { Free(); }

void Device::Free() {
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

bool Device::Live(Napi::Env env) {
  if (ctx_) return true;
  Napi::Error e = Napi::Error::New(env, "tsnet: the device is closed");
  e.Set("code", "ERR_TSNET_CLOSED");
  e.ThrowAsJavaScriptException();
  return false;
}

// Runs f(device) on the engine thread; a nonzero result throws as a coded error. False if it threw.
template <typename F>
static bool Run(Napi::Env env, Context* ctx, const char* what, F&& f) {
  int r = 0;
  OnEngine(ctx->engine(), [&] { r = f(); });
  if (r) ThrowCoded(env, r, what);
  return r == 0;
}
// The body of a device call runs with d = the ts_device; of a link call with l = its WireGuard link.
#define RUN_DEVICE(what, ...) (Live(env) && Run(env, ctx_, what, [&]() -> int { ts_device* d = dev_; (void)d; __VA_ARGS__ }))
#define RUN_LINK(what, ...)                                   \
  (Live(env) && Run(env, ctx_, what, [&]() -> int {           \
     ts_link_wg* l = ts_device_wg(dev_);                      \
     if (!l) return UV_ENODEV;                                \
     __VA_ARGS__                                              \
   }))

Napi::Value Device::Id(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), id_); }

// ---- the stack ----

Napi::Value Device::AddAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "addAddress");
  ts_ipaddr ip = a.Ip(info[0], "address");
  if (a.ok()) RUN_DEVICE("addAddress", return ts_device_add_addr(d, ip.family, ip.addr) ? UV_ENOSPC : 0;);
  return env.Undefined();
}

// linkMemory(other): a memory link between two devices of this process (tests, measurements).
Napi::Value Device::LinkMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "linkMemory");
  Napi::Object o = a.Object(info[0], "other");
  if (a.ok() && !o.InstanceOf(env.GetInstanceData<Napi::FunctionReference>()->Value())) a.TypeFail("other", "a Device");
  Device* other = a.ok() ? Device::Unwrap(o) : nullptr;
  if (other == this || (other && !other->ctx_)) a.ValueFail("other", "another open Device");
  if (a.ok()) RUN_DEVICE("linkMemory", return ts_device_link_memory(d, other->dev_) ? UV_ENOMEM : 0;);
  return env.Undefined();
}

Napi::Value Device::Close(const Napi::CallbackInfo& info) {
  Free();
  return info.Env().Undefined();
}

// tcpListen(listenerId, family, port, backlog) -> the bound port
Napi::Value Device::TcpListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "tcpListen");
  uint64_t id = a.Id(0);
  int family = a.Family(1);
  uint16_t port = a.Port(info[2], "port", 0), bound = 0;
  int backlog = static_cast<int>(a.Int(info[3], "backlog", 0, 65535));
  if (a.ok() && RUN_DEVICE("listen", {
        int err = 0;
        ts_tcp_listener* l = ts_tcp_listen(ts_device_tcp(d), id, family, port, backlog, &err);
        if (!l) return err;
        listeners_[id] = l;
        bound = ts_tcp_listener_port(l);
        return 0;
      }))
    return Napi::Number::New(env, bound);
  return {};
}

// The calls below act on a connection, listener or socket that may be gone already: on a closed device
// they do nothing (the device closed them all).
Napi::Value Device::TcpListenerClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "tcpListenerClose");
  uint64_t id = a.Id(0);
  if (a.ok() && ctx_) RUN_DEVICE("tcpListenerClose", {
      auto it = listeners_.find(id);
      if (it != listeners_.end()) ts_tcp_listener_close(it->second), listeners_.erase(it);
      return 0;
    });
  return env.Undefined();
}

// tcpDial(connId, address, port) -> fd of JavaScript's end of the connection's socketpair
Napi::Value Device::TcpDial(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "tcpDial");
  uint64_t id = a.Id(0);
  ts_ipaddr dst = a.Ip(info[1], "address");
  dst.port = a.Port(info[2], "port", 1);
  if (!a.ok() || !Live(env)) return {};
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return ThrowCoded(env, -errno, "dial"), Napi::Value();
  if (RUN_DEVICE("dial", return ts_tcp_dial(ts_device_tcp(d), id, fds[0], &dst);)) return Napi::Number::New(env, fds[1]);
  close(fds[0]);
  close(fds[1]);
  return {};
}

Napi::Value Device::TcpSetNoDelay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "tcpSetNoDelay");
  uint64_t id = a.Id(0);
  bool on = a.Bool(info[1], "on");
  if (a.ok() && ctx_) RUN_DEVICE("tcpSetNoDelay", return ts_tcp_set_nodelay(ts_device_tcp(d), id, on), 0;);
  return env.Undefined();
}

Napi::Value Device::TcpSetKeepAlive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "tcpSetKeepAlive");
  uint64_t id = a.Id(0);
  bool on = a.Bool(info[1], "on");
  uint32_t idle_ms = static_cast<uint32_t>(a.Int(info[2], "idleMs", 0, 4294967295.0));
  if (a.ok() && ctx_) RUN_DEVICE("tcpSetKeepAlive", return ts_tcp_set_keepalive(ts_device_tcp(d), id, on, idle_ms), 0;);
  return env.Undefined();
}

Napi::Value Device::TcpReset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "tcpReset");
  uint64_t id = a.Id(0);
  if (a.ok() && ctx_) RUN_DEVICE("tcpReset", return ts_tcp_reset(ts_device_tcp(d), id), 0;);
  return env.Undefined();
}

// udpOpen(socketId, family, port) -> the bound port
Napi::Value Device::UdpOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "udpOpen");
  uint64_t id = a.Id(0);
  int family = a.Family(1);
  uint16_t port = a.Port(info[2], "port", 0), bound = 0;
  if (a.ok() && RUN_DEVICE("bind", return ts_device_udp_open(d, id, family, port, &bound);))
    return Napi::Number::New(env, bound);
  return {};
}

// The one asynchronous call: a datagram is queued to the engine; a failure comes back as a 'udp-error'
// event. The queue runs in order, so the device outlives every send queued before its close.
struct UdpSendCall {
  ts_device* dev;
  ts_evq* evq;
  uint64_t socket;
  ts_ipaddr dst;
  size_t len;
  uint8_t data[];
};

// udpSend(socketId, address, port, data)
Napi::Value Device::UdpSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "udpSend");
  uint64_t id = a.Id(0);
  ts_ipaddr dst = a.Ip(info[1], "address");
  dst.port = a.Port(info[2], "port", 1);
  Napi::Uint8Array buf = a.Bytes(info[3], "data");
  if (!a.ok() || !Live(env)) return {};
  if (buf.ByteLength() > 65535 - 48) return ThrowCoded(env, UV_EMSGSIZE, "send"), Napi::Value();
  auto* c = static_cast<UdpSendCall*>(malloc(sizeof(UdpSendCall) + buf.ByteLength()));
  if (!c) return ThrowCoded(env, UV_ENOMEM, "send"), Napi::Value();
  *c = UdpSendCall{dev_, ctx_->evq(), id, dst, buf.ByteLength()};
  memcpy(c->data, buf.Data(), c->len);
  ts_engine_call(ctx_->engine(), [](ts_engine*, void* arg) {
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
  }, c);
  return env.Undefined();
}

Napi::Value Device::UdpClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "udpClose");
  uint64_t id = a.Id(0);
  if (a.ok() && ctx_) RUN_DEVICE("udpClose", return ts_device_udp_close(d, id), 0;);
  return env.Undefined();
}

// ---- the link ----

// startWireGuard(privateKey[32], port) -> the bound UDP port. The key is wiped from our copy at once.
Napi::Value Device::StartWireGuard(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "startWireGuard");
  uint8_t key[32];
  a.Key(info[0], "privateKey", key);
  uint16_t port = a.Port(info[1], "port", 0);
  bool ok = a.ok() && RUN_DEVICE("wireguard: listen", {
    int r = ts_device_wg_start(d, key, nullptr, port);
    if (r == 0) port = ts_link_wg_port(ts_device_wg(d));
    return r;
  });
  ts_wipe(key, sizeof key);
  return ok ? Napi::Number::New(env, port) : Napi::Value();
}

// startMagicsock(discoPrivateKey[32], derpOnly, derpIdleMs): Tailscale mode for a started WireGuard link.
// derpIdleMs: relays other than home's close after this long idle (0: the default, 60 s).
Napi::Value Device::StartMagicsock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "startMagicsock");
  uint8_t disco[32];
  a.Key(info[0], "discoPrivateKey", disco);
  bool derp_only = a.Bool(info[1], "derpOnly");
  uint64_t idle_ms = static_cast<uint64_t>(a.Int(info[2], "derpIdleMs", 0, 4294967295.0));
  if (a.ok()) RUN_DEVICE("magicsock: start", {
      int r = ts_device_magicsock(d, disco);
      if (r == 0) ts_link_wg_ms_derp_only(ts_device_wg(d), derp_only), ts_link_wg_ms_derp_idle(ts_device_wg(d), idle_ms);
      return r;
    });
  ts_wipe(disco, sizeof disco);
  return env.Undefined();
}

// rebind(port) -> the new UDP port: a fresh socket, as after a network change.
Napi::Value Device::Rebind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "rebind");
  uint16_t port = a.Port(info[0], "port", 0);
  if (a.ok() && RUN_LINK("wireguard: rebind", {
        int r = ts_link_wg_rebind(l, nullptr, port);
        port = ts_link_wg_port(l);
        return r;
      }))
    return Napi::Number::New(env, port);
  return {};
}

namespace {
// One peer of setPeers, checked on the JavaScript thread.
struct PeerConfig {
  struct Fixed {
    uint8_t key[32], psk[32], disco[32];
    bool has_psk, has_disco;
    uint32_t home;
    uint16_t keepalive;
  } f;
  std::vector<ts_udp_addr> endpoints;
  std::vector<ts_link_prefix> allowed;
  std::string digest;  // of everything above: an unchanged peer is left alone (its paths, its session)

  PeerConfig() { memset(&f, 0, sizeof f); }
  ~PeerConfig() { ts_wipe(&f, sizeof f); }
};

void Digest(PeerConfig* p) {
  ts_blake2s_ctx h;
  ts_blake2s_init(&h, 32, nullptr, 0);
  ts_blake2s_update(&h, &p->f, sizeof p->f);
  for (const ts_udp_addr& e : p->endpoints) ts_blake2s_update(&h, &e, sizeof e);
  for (const ts_link_prefix& x : p->allowed) ts_blake2s_update(&h, &x, sizeof x);
  uint8_t out[32];
  ts_blake2s_final(&h, out, sizeof out);
  p->digest.assign(reinterpret_cast<char*>(out), sizeof out);
}
}  // namespace

// setPeers([{ publicKey, presharedKey?, endpoints, persistentKeepalive?, discoKey?, homeRegion?, allowedIPs }]):
// the device's peers become exactly these, in one engine call. A listed peer's AllowedIPs are replaced (the
// UAPI's replace_allowed_ips), so a prefix it no longer owns is dropped from then on; a peer not listed is
// removed. In WireGuard mode endpoints[0] is the endpoint (psk, keepalive apply); in Tailscale mode the
// endpoints, disco key and home region go to magicsock.
Napi::Value Device::SetPeers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "setPeers");
  Napi::Array list = a.Array(info[0], "peers");
  std::vector<PeerConfig> peers(a.ok() ? list.Length() : 0);
  for (uint32_t i = 0; a.ok() && i < peers.size(); i++) {
    PeerConfig::Fixed& p = peers[i].f;
    Napi::Object o = a.Object(list.Get(i), "peers[i]");
    a.Key(o.Get("publicKey"), "publicKey", p.key);
    p.has_psk = a.Key(o.Get("presharedKey"), "presharedKey", p.psk, true);
    p.has_disco = a.Key(o.Get("discoKey"), "discoKey", p.disco, true);
    Napi::Value home = o.Get("homeRegion"), keepalive = o.Get("persistentKeepalive");
    p.home = home.IsUndefined() ? 0 : static_cast<uint32_t>(a.Int(home, "homeRegion", 0, 4294967295.0));
    p.keepalive = keepalive.IsUndefined() ? 0 : a.Port(keepalive, "persistentKeepalive", 0);
    peers[i].endpoints = a.Endpoints(o.Get("endpoints"), "endpoints");
    Napi::Array allowed = a.Array(o.Get("allowedIPs"), "allowedIPs");
    for (uint32_t k = 0; a.ok() && k < allowed.Length(); k++) peers[i].allowed.push_back(a.Cidr(allowed.Get(k), "allowedIPs"));
    Digest(&peers[i]);
  }
  if (!a.ok()) return {};
  RUN_LINK("wireguard: peers", {
    bool tailscale = ts_link_wg_ms(l) != nullptr;
    std::unordered_set<std::string> listed;
    int first_err = 0;
    for (PeerConfig& peer : peers) {
      const PeerConfig::Fixed& p = peer.f;
      std::string key(reinterpret_cast<const char*>(p.key), 32);
      listed.insert(key);
      auto it = applied_.find(key);
      if (it != applied_.end() && it->second == peer.digest) continue;
      const std::vector<ts_udp_addr>& eps = peer.endpoints;
      int r = tailscale ? ts_link_wg_ms_peer_set(l, p.key, p.has_disco ? p.disco : nullptr, p.home, eps.data(), eps.size())
                        : ts_link_wg_peer_set(l, p.key, p.has_psk ? p.psk : nullptr, eps.empty() ? nullptr : &eps[0], p.keepalive);
      if (r == 0) r = ts_link_wg_peer_set_allowed(l, p.key, peer.allowed.data(), peer.allowed.size());
      if (r == 0) applied_[key] = peer.digest;
      else applied_[key].clear(), first_err = first_err ? first_err : r;  // retried by the next setPeers
    }
    for (auto it = applied_.begin(); it != applied_.end();) {
      if (listed.count(it->first)) { ++it; continue; }
      ts_link_wg_peer_remove(l, reinterpret_cast<const uint8_t*>(it->first.data()));
      it = applied_.erase(it);
    }
    return first_err;
  });
  return env.Undefined();
}

// setFilter(rules, local): turns on the inbound packet filter and replaces its rules. rules: [{ protos:
// number[], srcs: Prefix[], dsts: (Prefix & { first, last })[] }], local: Prefix[], Prefix = { family, bits,
// addr }.
Napi::Value Device::SetFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "setFilter");
  Napi::Array rules = a.Array(info[0], "rules"), local = a.Array(info[1], "local");
  size_t n = a.ok() ? rules.Length() : 0;
  std::vector<std::vector<uint8_t>> protos(n);
  std::vector<std::vector<ts_filter_prefix>> srcs(n);
  std::vector<std::vector<ts_filter_dst>> dsts(n);
  std::vector<ts_filter_prefix> locals;
  for (uint32_t i = 0; a.ok() && i < n; i++) {
    Napi::Object r = a.Object(rules.Get(i), "rules[i]");
    Napi::Array pa = a.Array(r.Get("protos"), "protos"), sa = a.Array(r.Get("srcs"), "srcs"), da = a.Array(r.Get("dsts"), "dsts");
    for (uint32_t k = 0; a.ok() && k < pa.Length(); k++) protos[i].push_back(static_cast<uint8_t>(a.Int(pa.Get(k), "protos", 0, 255)));
    for (uint32_t k = 0; a.ok() && k < sa.Length(); k++) srcs[i].push_back(a.Prefix(sa.Get(k), "srcs"));
    for (uint32_t k = 0; a.ok() && k < da.Length(); k++) {
      Napi::Value d = da.Get(k);
      ts_filter_dst dst;
      dst.net = a.Prefix(d, "dsts");
      dst.first = a.Port(d.As<Napi::Object>().Get("first"), "dsts.first", 0);
      dst.last = a.Port(d.As<Napi::Object>().Get("last"), "dsts.last", dst.first);
      dsts[i].push_back(dst);
    }
  }
  for (uint32_t k = 0; a.ok() && k < local.Length(); k++) locals.push_back(a.Prefix(local.Get(k), "local"));
  if (a.ok()) RUN_LINK("wireguard: filter", {
      std::vector<ts_filter_rule> list(n);
      for (size_t i = 0; i < n; i++)
        list[i] = {protos[i].data(), protos[i].size(), srcs[i].data(), srcs[i].size(), dsts[i].data(), dsts[i].size()};
      return ts_link_wg_filter_set(l, list.data(), n, locals.data(), locals.size());
    });
  return env.Undefined();
}

// setSelf(endpoints: "ip:port"[], homeRegion): what peers learn of us in CallMeMaybe, and our home relay.
Napi::Value Device::SetSelf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "setSelf");
  std::vector<ts_udp_addr> eps = a.Endpoints(info[0], "endpoints");
  uint32_t home = static_cast<uint32_t>(a.Int(info[1], "homeRegion", 0, 4294967295.0));
  if (a.ok()) RUN_LINK("magicsock: self", return ts_link_wg_ms_set_self(l, eps.data(), eps.size(), home););
  return env.Undefined();
}

// derpAttach(region, host, serverKey[32]|null) -> fd: JavaScript's end of the relay's byte stream.
Napi::Value Device::DerpAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "derpAttach");
  uint32_t region = static_cast<uint32_t>(a.Int(info[0], "region", 0, 4294967295.0));
  std::string host = a.String(info[1], "host");
  uint8_t key[32];
  bool has_key = a.Key(info[2], "serverKey", key, true);
  int fd = -1;
  if (a.ok() && RUN_LINK("derp: attach", return ts_link_wg_derp_attach(l, region, host.c_str(), has_key ? key : nullptr, &fd);))
    return Napi::Number::New(env, fd);
  return {};
}

// stunProbe(region, "ip:port"): the answer arrives as a 'stun' event.
Napi::Value Device::StunProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "stunProbe");
  uint32_t region = static_cast<uint32_t>(a.Int(info[0], "region", 0, 4294967295.0));
  ts_udp_addr dst = a.Endpoint(info[1], "server");
  if (a.ok()) RUN_LINK("stun: probe", return ts_link_wg_stun_probe(l, region, &dst););
  return env.Undefined();
}

// ---- statistics ----

// peerStats() -> [{ publicKey, lastHandshake (ms since epoch or 0), rxBytes, txBytes, hasSession, endpoint }]
Napi::Value Device::PeerStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::pair<std::array<uint8_t, 32>, ts_wg_peer_stats>> stats;
  if (!RUN_LINK("wireguard: stats", {
        ts_link_wg_foreach_peer(l, [](void* v, const uint8_t pub[32], const ts_wg_peer_stats* st) {
          std::array<uint8_t, 32> k;
          memcpy(k.data(), pub, 32);
          static_cast<decltype(stats)*>(v)->emplace_back(k, *st);
        }, &stats);
        return 0;
      }))
    return {};
  Napi::Array out = Napi::Array::New(env, stats.size());
  for (size_t i = 0; i < stats.size(); i++) {
    const ts_wg_peer_stats& st = stats[i].second;
    Napi::Object o = Napi::Object::New(env);
    o.Set("publicKey", Napi::Buffer<uint8_t>::Copy(env, stats[i].first.data(), 32));
    o.Set("lastHandshake", static_cast<double>(st.last_handshake_wall / 1000000ull));
    o.Set("rxBytes", static_cast<double>(st.rx_bytes));
    o.Set("txBytes", static_cast<double>(st.tx_bytes));
    o.Set("hasSession", st.has_session != 0);
    ts_udp_addr ep;
    char buf[80] = "";
    bool known = ts_link_wg_udp_addr(&ep, &st.endpoint) == 0;
    if (known) ts_udp_addr_format(&ep, buf, sizeof buf);
    o.Set("endpoint", known ? Napi::Value(Napi::String::New(env, buf)) : env.Null());
    out.Set(i, o);
  }
  return out;
}

// drops() -> { [reason]: count } for every drop reason of the WireGuard core, keyed by ts_wg_drop_name
// (snake_case); lib/wg-drops.ts maps them to typed camelCase fields.
Napi::Value Device::Drops(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t drops[TS_WG_DROP_COUNT]{};
  if (!RUN_LINK("wireguard: stats", {
        for (int i = 1; i < TS_WG_DROP_COUNT; i++) drops[i] = ts_wg_drops(ts_link_wg_device(l), static_cast<ts_wg_drop>(i));
        return 0;
      }))
    return {};
  Napi::Object out = Napi::Object::New(env);
  for (int i = 1; i < TS_WG_DROP_COUNT; i++) out.Set(ts_wg_drop_name(static_cast<ts_wg_drop>(i)), static_cast<double>(drops[i]));
  return out;
}

// handshakeLoad() -> the handshake DoS defence at work (docs/architecture.md, "Handshake floods").
Napi::Value Device::HandshakeLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ts_wg_load_stats st{};
  if (!RUN_LINK("wireguard: stats", return ts_wg_device_load_stats(ts_link_wg_device(l), ts_engine_now_ns(), &st), 0;))
    return {};
  Napi::Object o = Napi::Object::New(env);
  o.Set("handshakesComputed", static_cast<double>(st.handshakes_computed));
  o.Set("cookieReplies", static_cast<double>(st.cookie_replies));
  o.Set("cookiesWithheld", static_cast<double>(st.cookies_withheld));
  o.Set("rateLimited", static_cast<double>(st.rate_limited));
  o.Set("underLoad", st.under_load != 0);
  return o;
}

// magicsockStats() -> { peers: [{ nodeKey, best, latencyMs, trusted, ... }], regions: [{ region, ... }] }
Napi::Value Device::MagicsockStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct Peer {
    uint8_t key[32];
    ts_ms_peer_info info;
  };
  struct Region {
    uint32_t id;
    int connected;
    ts_link_derp_stats st;
  };
  std::vector<Peer> peers;
  std::vector<Region> regions;
  if (!RUN_LINK("magicsock: stats", {
        ts_ms* ms = ts_link_wg_ms(l);
        if (!ms) return UV_EINVAL;
        ts_link_wg_foreach_peer(l, [](void* v, const uint8_t pub[32], const ts_wg_peer_stats*) {
          Peer p{};
          memcpy(p.key, pub, 32);
          static_cast<std::vector<Peer>*>(v)->push_back(p);
        }, &peers);
        uint64_t now = ts_engine_now_ns();
        for (Peer& p : peers)
          if (ts_ms_peer* mp = ts_ms_peer_by_node(ms, p.key)) ts_ms_peer_info_get(mp, now, &p.info);
        ts_link_wg_foreach_region(l, [](void* v, uint32_t region, int connected, const ts_link_derp_stats* st) {
          static_cast<std::vector<Region>*>(v)->push_back({region, connected, *st});
        }, &regions);
        return 0;
      }))
    return {};
  Napi::Array pa = Napi::Array::New(env, peers.size());
  for (size_t i = 0; i < peers.size(); i++) {
    const ts_ms_peer_info& pi = peers[i].info;
    Napi::Object o = Napi::Object::New(env);
    char best[80] = "";
    if (pi.best.kind == TS_MS_PATH_UDP) ts_udp_addr_format(&pi.best.addr, best, sizeof best);
    o.Set("nodeKey", Napi::Buffer<uint8_t>::Copy(env, peers[i].key, 32));
    o.Set("best", best);
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
    pa.Set(i, o);
  }
  Napi::Array ra = Napi::Array::New(env, regions.size());
  for (size_t i = 0; i < regions.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("region", regions[i].id);
    o.Set("connected", regions[i].connected != 0);
    o.Set("txPackets", static_cast<double>(regions[i].st.tx_packets));
    o.Set("rxPackets", static_cast<double>(regions[i].st.rx_packets));
    o.Set("txDropped", static_cast<double>(regions[i].st.tx_dropped));
    o.Set("txBytes", static_cast<double>(regions[i].st.tx_bytes));
    o.Set("rxBytes", static_cast<double>(regions[i].st.rx_bytes));
    ra.Set(i, o);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("peers", pa);
  out.Set("regions", ra);
  return out;
}

}  // namespace tsnet
