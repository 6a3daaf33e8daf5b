/* The magicsock bind: path choice (magicsock/), relays (derp_conn.c), and disco and STUN on the UDP socket,
 * which they share with WireGuard (docs/architecture.md, "magicsock: path choice in the engine"). */
#include "bind/bind_ms.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "derp/derp.h"
#include "disco/disco.h"
#include "disco/disco_relay.h"
#include "disco/stun.h"
#include "disco/tsmp.h"
#include "magicsock/relay_bind.h"
#include "wg/wg_msg.h"

#define WANT_INTERVAL (1000 * 1000000ULL) /* ask JavaScript for a relay at most once a second per region */
#define STUN_TIMEOUT (5 * 1000000000ULL)
/* Relays other than home are dialed on demand and closed after this long without a packet (Tailscale's
 * magicsock does the same after 60 s). */
#define DERP_IDLE_DEFAULT (60 * 1000000000ULL)
#define IDLE_CHECK_MS 5000

/* A relay region: its connection (NULL while JavaScript dials it) and packets waiting for it. */
typedef struct region {
  uint32_t id;
  ts_derp_conn *conn;
  uint64_t last_want;   /* when JavaScript was last asked to connect (rate limit) */
  uint64_t last_active; /* last packet sent or received through it */
  struct pending {
    uint8_t key[32];
    size_t len;
    uint8_t *data;
  } pending[64];
  size_t npending;
} region;

struct ts_bind_ms {
  ts_bind base;
  ts_engine *engine;
  ts_bind_udp *udp;
  uint8_t priv[32]; /* node private key: the DERP login needs it */
  ts_ms *ms;
  ts_bind_ms_events ev;
  uint8_t *slot; /* the open reservation (in the UDP batch) */
  uv_timer_t ms_timer;
  uint64_t ms_armed;
  uv_timer_t idle_timer; /* closes relay connections other than home's when idle */
  uint64_t derp_idle_ns;
  int closing;
  region *regions;
  size_t nregions;
  uint32_t home;
  int paths_changed; /* magicsock reported a new path: the link retries what found none */
  int derp_only;     /* nothing over UDP but STUN: disco and WireGuard go through DERP only (only-tcp-443, debug) */
  struct stun_probe {
    uint8_t txid[12];
    uint32_t region;
    uint64_t sent;
  } stun[32];
  size_t stun_next;
  uint64_t stun_stray;
};

/* The WireGuard endpoint of a relay path, "D" region node-key: so the handshake rate limit counts per
 * source, and WireGuard's roaming answers on the relay a message came from. */
static void derp_endpoint(ts_wg_endpoint *ep, uint32_t region_id, const uint8_t key[32]) {
  memset(ep, 0, sizeof *ep);
  ep->data[0] = 'D';
  ep->data[1] = (uint8_t)(region_id >> 24);
  ep->data[2] = (uint8_t)(region_id >> 16);
  ep->data[3] = (uint8_t)(region_id >> 8);
  ep->data[4] = (uint8_t)region_id;
  memcpy(ep->data + 5, key, 32);
  ep->len = 37;
  ep->host_len = 37;
}

static int derp_decode(const ts_wg_endpoint *ep, uint32_t *region_id, const uint8_t **key) {
  if (ep->len != 37 || ep->data[0] != 'D') return -1;
  *region_id = (uint32_t)ep->data[1] << 24 | (uint32_t)ep->data[2] << 16 | (uint32_t)ep->data[3] << 8 | ep->data[4];
  *key = ep->data + 5;
  return 0;
}

/* The WireGuard endpoint of a peer-relay path, "G" VNI(3) address (as ts_bind_endpoint_of, 23 bytes): what a
 * packet unwrapped from a relay endpoint came from, so WireGuard's roaming answers through the relay. */
static void relay_endpoint(ts_wg_endpoint *ep, const ts_addr *server, uint32_t vni) {
  ts_wg_endpoint u;
  ts_bind_endpoint_of(&u, server);
  memset(ep, 0, sizeof *ep);
  ep->data[0] = 'G';
  ep->data[1] = (uint8_t)(vni >> 16);
  ep->data[2] = (uint8_t)(vni >> 8);
  ep->data[3] = (uint8_t)vni;
  memcpy(ep->data + 4, u.data, u.len);
  ep->len = (uint8_t)(4 + u.len);
  ep->host_len = ep->len;
}

static int relay_decode(const ts_wg_endpoint *ep, ts_addr *server, uint32_t *vni) {
  if (ep->len != 27 || ep->data[0] != 'G') return -1;
  ts_wg_endpoint u;
  memset(&u, 0, sizeof u);
  memcpy(u.data, ep->data + 4, 23);
  u.len = 23;
  *vni = (uint32_t)ep->data[1] << 16 | (uint32_t)ep->data[2] << 8 | ep->data[3];
  return ts_bind_addr_of(server, &u);
}

/* A WireGuard packet through a peer relay: Geneve header (protocol WireGuard) in front (docs/protocol/peer-relay.md §4). */
static void send_relay(ts_bind_ms *m, const ts_addr *server, uint32_t vni, const uint8_t *buf, size_t len) {
  uint8_t small[2048];
  uint8_t *out = len + TS_GENEVE_LEN <= sizeof small ? small : malloc(len + TS_GENEVE_LEN);
  if (!out) return;
  long n = ts_relay_encap(out, len + TS_GENEVE_LEN, vni, TS_GENEVE_PROTO_WIREGUARD, buf, len);
  if (n > 0) ts_bind_udp_queue(m->udp, server, out, (size_t)n);
  if (out != small) free(out);
}

static void schedule(ts_bind_ms *m);

/* ---- relays ---- */
static region *region_find(ts_bind_ms *m, uint32_t id) {
  for (size_t i = 0; i < m->nregions; i++)
    if (m->regions[i].id == id) return &m->regions[i];
  return NULL;
}

static region *region_get(ts_bind_ms *m, uint32_t id) {
  region *r = region_find(m, id);
  if (r) return r;
  region *n = realloc(m->regions, (m->nregions + 1) * sizeof *n);
  if (!n) return NULL;
  /* Connections keep a pointer to the bind, not to the region: growing the array is safe. */
  m->regions = n;
  r = &m->regions[m->nregions++];
  memset(r, 0, sizeof *r);
  r->id = id;
  return r;
}

static void pending_clear(region *r) {
  for (size_t i = 0; i < r->npending; i++) free(r->pending[i].data);
  r->npending = 0;
}

static void send_derp(ts_bind_ms *m, uint32_t region_id, const uint8_t key[32], const uint8_t *buf, size_t len) {
  region *r = region_get(m, region_id);
  if (!r) return;
  r->last_active = ts_engine_now_ns();
  if (r->conn && ts_derp_conn_connected(r->conn)) {
    ts_derp_conn_send(r->conn, key, buf, len);
    return;
  }
  /* Not connected yet: keep what is sent meanwhile and ask for the relay. A node that just came up sends a
   * handshake initiation and disco messages to every peer at once, so those are kept before data: when the
   * queue is full the oldest WireGuard data packet goes, else the oldest of all. A lost initiation costs a
   * peer REKEY_TIMEOUT (5 s). */
  if (r->npending == sizeof r->pending / sizeof r->pending[0]) {
    size_t victim = 0;
    for (size_t i = 0; i < r->npending; i++) {
      if (r->pending[i].len > 0 && r->pending[i].data[0] == TS_WG_MSG_DATA) {
        victim = i;
        break;
      }
    }
    free(r->pending[victim].data);
    memmove(r->pending + victim, r->pending + victim + 1, (r->npending - victim - 1) * sizeof r->pending[0]);
    r->npending--;
  }
  uint8_t *copy = malloc(len);
  if (copy) {
    memcpy(copy, buf, len);
    memcpy(r->pending[r->npending].key, key, 32);
    r->pending[r->npending].len = len;
    r->pending[r->npending].data = copy;
    r->npending++;
  }
  uint64_t now = ts_engine_now_ns();
  if (!r->conn && (r->last_want == 0 || now - r->last_want >= WANT_INTERVAL)) {
    r->last_want = now;
    if (m->ev.derp_want) m->ev.derp_want(m->ev.ctx, region_id);
  }
}

/* To a WireGuard endpoint: a UDP address or a relay path. */
static void send_ep(ts_bind_ms *m, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  ts_addr dst;
  uint32_t region_id;
  const uint8_t *key;
  uint32_t vni;
  if (ts_bind_addr_of(&dst, ep) == 0) ts_bind_udp_queue(m->udp, &dst, buf, len);
  else if (derp_decode(ep, &region_id, &key) == 0) send_derp(m, region_id, key, buf, len);
  else if (relay_decode(ep, &dst, &vni) == 0 && !m->derp_only) send_relay(m, &dst, vni, buf, len);
}

static region *region_of(ts_bind_ms *m, ts_derp_conn *c) {
  for (size_t i = 0; i < m->nregions; i++)
    if (m->regions[i].conn == c) return &m->regions[i];
  return NULL;
}

/* After magicsock handled input: a path it proved may carry what found none (the link retries). */
static void after_input(ts_bind_ms *m) {
  if (!m->paths_changed) return;
  m->paths_changed = 0;
  const ts_bind_up *up = ts_bind_udp_up(m->udp);
  if (up->paths) up->paths(up->ctx);
}

static void derp_packet(void *ctx, ts_derp_conn *c, const uint8_t src[32], uint8_t *pkt, size_t len) {
  ts_bind_ms *m = ctx;
  uint64_t now = ts_engine_now_ns();
  ts_ms_path path = {.kind = TS_MS_PATH_DERP, .region = ts_derp_conn_region(c)};
  region *r = region_of(m, c);
  if (r) r->last_active = now;
  if (ts_disco_is_disco(pkt, len)) {
    ts_ms_disco_input(m->ms, now, pkt, len, &path, src);
    after_input(m);
  } else {
    ts_bind_msg msg = {.data = pkt, .len = len, .relayed = 1};
    derp_endpoint(&msg.src, path.region, src);
    const ts_bind_up *up = ts_bind_udp_up(m->udp);
    up->recv(up->ctx, &msg, 1, now);
    ts_bind_udp_note_rx(m->udp); /* the link flushes lwIP's delayed ACKs at the end of the turn */
  }
  schedule(m);
}

/* The relay had no connection for a peer we sent to (derper answers a packet for an absent key so): a
 * handshake initiation among what we sent is lost, and the link retries it sooner than WireGuard's timer. */
static void derp_peer_gone(void *ctx, ts_derp_conn *c, const uint8_t key[32], int reason) {
  ts_bind_ms *m = ctx;
  (void)c;
  if (reason != TS_DERP_PEER_GONE_NOT_HERE) return;
  const ts_bind_up *up = ts_bind_udp_up(m->udp);
  if (up->unreachable) up->unreachable(up->ctx, key, ts_engine_now_ns());
  schedule(m);
}

static void derp_connected(void *ctx, ts_derp_conn *c) {
  ts_bind_ms *m = ctx;
  region *r = region_of(m, c);
  if (!r) return;
  ts_derp_conn_note_preferred(c, r->id == m->home);
  for (size_t i = 0; i < r->npending; i++) {
    ts_derp_conn_send(c, r->pending[i].key, r->pending[i].data, r->pending[i].len);
    free(r->pending[i].data);
  }
  r->npending = 0;
  if (m->ev.derp_state) m->ev.derp_state(m->ev.ctx, r->id, 1, 0);
}

static void derp_closed(void *ctx, ts_derp_conn *c, int err) {
  ts_bind_ms *m = ctx;
  region *r = region_of(m, c);
  if (!r) return;
  r->conn = NULL;
  r->last_want = 0;
  ts_derp_conn_free(c); /* deferred: the handles close on a later loop turn */
  if (m->ev.derp_state) m->ev.derp_state(m->ev.ctx, r->id, 0, err);
}

static void on_idle_check(uv_timer_t *t) {
  ts_bind_ms *m = t->data;
  uint64_t now = ts_engine_now_ns();
  for (size_t i = 0; i < m->nregions; i++) {
    region *r = &m->regions[i];
    if (!r->conn || r->id == m->home || now - r->last_active < m->derp_idle_ns) continue;
    ts_derp_conn_free(r->conn); /* JavaScript sees its end close and does not redial a region that is not home */
    r->conn = NULL;
    pending_clear(r);
    if (m->ev.derp_state) m->ev.derp_state(m->ev.ctx, r->id, 0, 0);
  }
}

void ts_bind_ms_derp_idle(ts_bind_ms *m, uint64_t idle_ms) {
  m->derp_idle_ns = idle_ms ? idle_ms * 1000000ULL : DERP_IDLE_DEFAULT;
  uint64_t check = idle_ms && idle_ms / 4 < IDLE_CHECK_MS ? (idle_ms / 4 ? idle_ms / 4 : 1) : IDLE_CHECK_MS;
  uv_timer_start(&m->idle_timer, on_idle_check, check, check);
}

int ts_bind_ms_derp_attach(ts_bind_ms *m, uint32_t region_id, const char *host, const uint8_t *server_key,
                           const ts_derp_stream *stream, int *js_fd) {
  region *r = region_get(m, region_id);
  if (!r) return UV_ENOMEM;
  if (r->conn) {
    ts_derp_conn_free(r->conn);
    r->conn = NULL;
  }
  ts_derp_conn_cb cb = {.ctx = m, .packet = derp_packet, .connected = derp_connected, .closed = derp_closed,
                        .peer_gone = derp_peer_gone};
  int err = 0;
  r->last_active = ts_engine_now_ns();
  r->conn = ts_derp_conn_new(m->engine, region_id, m->priv, host, server_key, &cb, stream, js_fd, &err);
  return r->conn ? 0 : err;
}

ts_derp_conn *ts_bind_ms_derp_stream(ts_bind_ms *m, uint64_t id) {
  for (size_t i = 0; id && i < m->nregions; i++)
    if (m->regions[i].conn && ts_derp_conn_stream_id(m->regions[i].conn) == id) return m->regions[i].conn;
  return NULL;
}

/* ---- STUN and disco on the UDP socket ---- */
int ts_bind_ms_stun_probe(ts_bind_ms *m, uint32_t region_id, const ts_addr *dst) {
  struct stun_probe *p = &m->stun[m->stun_next++ % (sizeof m->stun / sizeof m->stun[0])];
  ts_random(p->txid, sizeof p->txid);
  p->region = region_id;
  p->sent = ts_engine_now_ns();
  uint8_t req[TS_STUN_REQUEST_LEN];
  ts_stun_request(req, p->txid);
  ts_bind_udp_queue(m->udp, dst, req, sizeof req);
  return 0;
}

static void stun_input(ts_bind_ms *m, uint64_t now, const ts_udp_dgram *d) {
  uint8_t txid[12];
  ts_addr mapped;
  if (ts_stun_parse_response(d->data, d->len, txid, &mapped) != 0) {
    m->stun_stray++;
    return;
  }
  for (size_t i = 0; i < sizeof m->stun / sizeof m->stun[0]; i++) {
    struct stun_probe *p = &m->stun[i];
    if (p->sent == 0 || !ts_ct_equal(p->txid, txid, sizeof txid)) continue;
    uint64_t rtt = now - p->sent;
    uint32_t region_id = p->region;
    p->sent = 0; /* one answer per request */
    if (rtt < STUN_TIMEOUT && m->ev.stun) m->ev.stun(m->ev.ctx, region_id, rtt, &mapped);
    return;
  }
  m->stun_stray++; /* not ours, or a duplicate */
}

/* Every datagram on the socket comes here first (demultiplexing: STUN answer, peer-relay Geneve, disco, else
 * WireGuard; docs/protocol/peer-relay.md §4). */
static int udp_hook(void *ctx, uint64_t now, const ts_udp_dgram *d, ts_bind_msg *up) {
  ts_bind_ms *m = ctx;
  if (ts_stun_is_binding_response(d->data, d->len)) {
    stun_input(m, now, d);
    return 1;
  }
  int geneve = 0;
  ts_udp_kind kind = ts_udp_classify(d->data, d->len, &geneve);
  if (geneve) {
    if (m->derp_only) return 1;
    if (kind == TS_UDP_DISCO) {
      ts_ms_relay_input(m->ms, now, d->data, d->len, d->from);
      after_input(m);
      schedule(m);
      return 1;
    }
    ts_geneve g; /* WireGuard from a peer relay: up without the header, from the relay's endpoint */
    if (ts_geneve_decode(&g, d->data, d->len) != 0) return 1;
    up->data = d->data + TS_GENEVE_LEN;
    up->len = d->len - TS_GENEVE_LEN;
    relay_endpoint(&up->src, d->from, g.vni);
    return 0;
  }
  if (ts_disco_is_disco(d->data, d->len)) {
    if (m->derp_only) return 1;
    ts_ms_path path = {.kind = TS_MS_PATH_UDP, .addr = *d->from};
    ts_ms_disco_input(m->ms, now, d->data, d->len, &path, NULL);
    after_input(m);
    schedule(m);
    return 1;
  }
  return 0;
}

/* magicsock's disco packets. */
static void ms_send(void *ctx, const ts_ms_path *path, const uint8_t node_key[32], const uint8_t *pkt, size_t len) {
  ts_bind_ms *m = ctx;
  if (path->kind == TS_MS_PATH_UDP) {
    if (!m->derp_only) ts_bind_udp_queue(m->udp, &path->addr, pkt, len);
  } else if (path->kind == TS_MS_PATH_DERP) {
    send_derp(m, path->region, node_key, pkt, len);
  }
}

/* A peer's path changed (a pong proved a direct address). Not from inside magicsock (no re-entry): flagged
 * here, acted on by after_input. */
static void ms_on_path(void *ctx, ts_ms_peer *p) {
  ts_bind_ms *m = ctx;
  m->paths_changed = 1;
  if (!m->ev.path) return; /* an event for the embedder only: nothing here calls back into magicsock */
  ts_ms_peer_info info;
  ts_ms_peer_info_get(p, ts_engine_now_ns(), &info);
  ts_addr none;
  memset(&none, 0, sizeof none);
  int direct = info.trusted && info.best.kind == TS_MS_PATH_UDP;
  int via = !direct && info.relay.kind == TS_MS_PATH_RELAY;
  m->ev.path(m->ev.ctx, ts_ms_peer_node_key(p), direct ? &info.best.addr : &none, info.derp_region,
             via ? &info.relay.addr : &none, via ? info.relay.vni : 0);
}

static void ms_on_ping_pong(void *ctx, ts_ms_peer *p, const ts_ms_path *from, uint64_t latency_ns, uint32_t tag) {
  ts_bind_ms *m = ctx;
  if (!m->ev.disco_pong) return;
  ts_addr none;
  memset(&none, 0, sizeof none);
  int direct = from->kind == TS_MS_PATH_UDP;
  m->ev.disco_pong(m->ev.ctx, ts_ms_peer_node_key(p), direct ? &from->addr : &none, direct ? 0 : from->region, latency_ns, tag);
}

int ts_bind_ms_disco_ping(ts_bind_ms *m, const uint8_t node_key[32], uint32_t tag) {
  ts_ms_peer *p = m->ms ? ts_ms_peer_by_node(m->ms, node_key) : NULL;
  if (!p) return UV_EHOSTUNREACH;
  return ts_ms_ping_peer(m->ms, p, ts_engine_now_ns(), tag) > 0 ? 0 : UV_EHOSTUNREACH;
}

/* ---- timers ---- */
static void on_ms_timer(uv_timer_t *t) {
  ts_bind_ms *m = t->data;
  m->ms_armed = UINT64_MAX;
  if (!m->ms) return;
  ts_ms_timers(m->ms, ts_engine_now_ns());
  schedule(m);
}

static void schedule(ts_bind_ms *m) {
  if (!m->ms) return;
  uint64_t next = ts_ms_next_deadline(m->ms);
  if (next == UINT64_MAX || (m->ms_armed != UINT64_MAX && next >= m->ms_armed)) return;
  uint64_t now = ts_engine_now_ns();
  m->ms_armed = next;
  uv_timer_start(&m->ms_timer, on_ms_timer, next > now ? (next - now + 999999) / 1000000 : 0, 0);
}

/* ---- the ts_bind operations ---- */
static ts_bind_ms *of(ts_bind *b) { return (ts_bind_ms *)b; }
static ts_bind *udp_base(ts_bind_ms *m) { return ts_bind_udp_bind(m->udp); }

/* For a peer magicsock knows, the paths it chooses; else (or when it knows none yet) the WireGuard endpoint:
 * where the peer's last authenticated message came from (WireGuard's roaming; Tailscale's "lazy endpoint"),
 * so a handshake response is not lost. */
static int ms_bind_send(ts_bind *b, ts_wg_peer *peer, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  ts_bind_ms *m = of(b);
  ts_ms_peer *mp = peer ? ts_wg_peer_user(peer) : NULL;
  if (mp) {
    ts_ms_path paths[2];
    int k = ts_ms_route(m->ms, mp, ts_engine_now_ns(), paths), sent = 0;
    for (int i = 0; i < k; i++) {
      if (paths[i].kind == TS_MS_PATH_UDP && !m->derp_only) {
        ts_bind_udp_queue(m->udp, &paths[i].addr, buf, len);
        sent++;
      } else if (paths[i].kind == TS_MS_PATH_RELAY && !m->derp_only) {
        send_relay(m, &paths[i].addr, paths[i].vni, buf, len);
        sent++;
      } else if (paths[i].kind == TS_MS_PATH_DERP) {
        send_derp(m, paths[i].region, ts_ms_peer_node_key(mp), buf, len);
        sent++;
      }
    }
    schedule(m);
    if (sent > 0) return sent;
  }
  if (!ep || ep->len == 0) return 0;
  uint32_t ep_region;
  const uint8_t *ep_key;
  if (m->derp_only && derp_decode(ep, &ep_region, &ep_key) != 0) return 0; /* a UDP endpoint: not in DERP-only mode */
  send_ep(m, ep, buf, len);
  return 1;
}

static uint8_t *ms_reserve(ts_bind *b, size_t len) {
  ts_bind_ms *m = of(b);
  m->slot = udp_base(m)->ops->reserve(udp_base(m), len);
  return m->slot;
}

static int ms_commit(ts_bind *b, ts_wg_peer *peer, const ts_wg_endpoint *ep, size_t len) {
  ts_bind_ms *m = of(b);
  ts_addr dst;
  const ts_addr *udp = NULL;
  uint32_t relay = 0;
  const uint8_t *key = NULL;
  ts_ms_path paths[2];
  const ts_ms_path *peer_relay = NULL;
  ts_ms_peer *mp = peer ? ts_wg_peer_user(peer) : NULL;
  if (mp) {
    /* Routing may send disco pings: they wait in the UDP bind and leave before this packet. */
    int k = ts_ms_route(m->ms, mp, ts_engine_now_ns(), paths);
    for (int i = 0; i < k; i++) {
      if (paths[i].kind == TS_MS_PATH_UDP) udp = &paths[i].addr;
      else if (paths[i].kind == TS_MS_PATH_DERP) relay = paths[i].region;
      else if (paths[i].kind == TS_MS_PATH_RELAY) peer_relay = &paths[i];
    }
    key = ts_ms_peer_node_key(mp);
    if (k == 0 && ep && ts_bind_addr_of(&dst, ep) == 0) udp = &dst; /* as in ms_bind_send */
    else if (k == 0 && ep) derp_decode(ep, &relay, &key);
  } else if (ep && ts_bind_addr_of(&dst, ep) == 0) {
    udp = &dst;
  }
  if (m->derp_only) udp = NULL, peer_relay = NULL;
  if (relay) send_derp(m, relay, key, m->slot, len); /* copies: before the slot is given back */
  if (peer_relay) { /* the Geneve header goes in front: a copy, queued after the slot is given back */
    uint8_t small[2048];
    uint8_t *copy = len <= sizeof small ? small : malloc(len);
    if (copy) memcpy(copy, m->slot, len);
    ts_bind_udp_finish(m->udp, udp, udp ? len : 0);
    if (copy) send_relay(m, &peer_relay->addr, peer_relay->vni, copy, len);
    if (copy && copy != small) free(copy);
  } else {
    ts_bind_udp_finish(m->udp, udp, udp ? len : 0);
  }
  m->slot = NULL;
  schedule(m);
  return (udp != NULL) + (relay != 0) + (peer_relay != NULL);
}

static void ms_cancel(ts_bind *b) {
  ts_bind_ms *m = of(b);
  m->slot = NULL;
  ts_bind_udp_finish(m->udp, NULL, 0);
  schedule(m);
}

/* Crypto routing: the source now leads to the peer (for disco's bookkeeping). */
static void ms_authenticated(ts_bind *b, ts_wg_peer *peer, const ts_wg_endpoint *src, uint64_t now) {
  ts_bind_ms *m = of(b);
  ts_ms_peer *mp = ts_wg_peer_user(peer);
  if (!mp) return;
  ts_ms_path path = {.kind = TS_MS_PATH_NONE};
  const uint8_t *key;
  if (ts_bind_addr_of(&path.addr, src) == 0) path.kind = TS_MS_PATH_UDP;
  else if (derp_decode(src, &path.region, &key) == 0) path.kind = TS_MS_PATH_DERP;
  else return;
  ts_ms_note_wg_rx(m->ms, mp, &path, now);
}

int ts_bind_ms_tsmp_input(ts_bind_ms *m, ts_wg_peer *peer, const uint8_t *pkt, size_t len, uint64_t now,
                          uint8_t *reply, size_t cap, size_t *reply_len) {
  if (reply_len) *reply_len = 0;
  if (!ts_tsmp_is(pkt, len)) return 0;
  int r = ts_ms_tsmp_input(m->ms, peer ? ts_wg_peer_user(peer) : NULL, pkt, len, now);
  schedule(m); /* a new disco key restarts the peer's discovery: its deadline moved */
  ts_tsmp_msg msg;
  long n;
  if (r == TS_MS_TSMP_PING && peer && reply && reply_len && ts_tsmp_parse(&msg, pkt, len) == TS_TSMP_PING &&
      (n = ts_tsmp_pong_encode(reply, cap, &msg, 0)) > 0) /* PeerAPI port 0: we serve no PeerAPI */
    *reply_len = (size_t)n;
  if (r == TS_MS_TSMP_PONG && peer && m->ev.tsmp_pong && ts_tsmp_parse(&msg, pkt, len) == TS_TSMP_PONG)
    m->ev.tsmp_pong(m->ev.ctx, ts_wg_peer_public_key(peer), msg.ping_data);
  return 1;
}

static void ms_peer_removed(ts_bind *b, ts_wg_peer *peer) {
  ts_bind_ms *m = of(b);
  ts_ms_peer *mp = ts_wg_peer_user(peer);
  if (!mp) return;
  ts_ms_peer_remove(m->ms, mp);
  ts_wg_peer_set_user(peer, NULL);
}

static int ms_rebind(ts_bind *b, const char *bind_addr, uint16_t port) {
  ts_bind_ms *m = of(b);
  return udp_base(m)->ops->rebind(udp_base(m), bind_addr, port);
}

static uint16_t ms_port(const ts_bind *b) {
  ts_bind *u = ts_bind_udp_bind(((const ts_bind_ms *)b)->udp);
  return u->ops->port(u);
}

static void closed_timer(uv_handle_t *h) {
  ts_bind_ms *m = h->data;
  if (--m->closing > 0) return;
  ts_wipe(m->priv, sizeof m->priv);
  free(m);
}

static void ms_close(ts_bind *b) {
  ts_bind_ms *m = of(b);
  for (size_t i = 0; i < m->nregions; i++) {
    ts_derp_conn_free(m->regions[i].conn);
    pending_clear(&m->regions[i]);
  }
  free(m->regions);
  m->regions = NULL;
  m->nregions = 0;
  ts_ms_free(m->ms);
  m->ms = NULL;
  udp_base(m)->ops->close(udp_base(m));
  m->closing = 2;
  uv_close((uv_handle_t *)&m->ms_timer, closed_timer);
  uv_close((uv_handle_t *)&m->idle_timer, closed_timer);
}

static const ts_bind_ops ms_ops = {
    .send = ms_bind_send,
    .reserve = ms_reserve,
    .commit = ms_commit,
    .cancel = ms_cancel,
    .authenticated = ms_authenticated,
    .peer_removed = ms_peer_removed,
    .rebind = ms_rebind,
    .port = ms_port,
    .close = ms_close,
};

/* ---- set-up ---- */
ts_bind_ms *ts_bind_ms_new(ts_engine *e, ts_bind_udp *udp, const uint8_t node_priv[32], const uint8_t node_pub[32],
                           const uint8_t disco_priv[32], const ts_bind_ms_events *ev, int *err) {
  ts_bind_ms *m = calloc(1, sizeof *m);
  ts_ms_config cfg;
  memset(&cfg, 0, sizeof cfg);
  memcpy(cfg.disco_private, disco_priv, 32);
  memcpy(cfg.node_public, node_pub, 32);
  cfg.send = ms_send;
  cfg.on_path = ms_on_path;
  cfg.on_ping_pong = ms_on_ping_pong;
  cfg.ctx = m;
  if (m) m->ms = ts_ms_new(&cfg);
  ts_wipe(cfg.disco_private, sizeof cfg.disco_private);
  if (!m || !m->ms) {
    *err = m ? UV_EINVAL : UV_ENOMEM;
    free(m);
    return NULL;
  }
  m->base.ops = &ms_ops;
  m->engine = e;
  m->udp = udp;
  memcpy(m->priv, node_priv, 32);
  if (ev) m->ev = *ev;
  m->ms_armed = UINT64_MAX;
  uv_timer_init(ts_engine_loop(e), &m->ms_timer);
  m->ms_timer.data = m;
  uv_timer_init(ts_engine_loop(e), &m->idle_timer);
  m->idle_timer.data = m;
  ts_bind_ms_derp_idle(m, 0);
  ts_bind_udp_set_hook(udp, udp_hook, m);
  *err = 0;
  return m;
}

ts_bind *ts_bind_ms_bind(ts_bind_ms *m) { return &m->base; }

int ts_bind_ms_peer_set(ts_bind_ms *m, ts_wg_peer *p, const uint8_t node_key[32], const uint8_t *disco_key,
                        uint32_t home, const ts_addr *eps, size_t n) {
  ts_ms_peer *mp = ts_ms_peer_set(m->ms, node_key, disco_key, home, eps, n, ts_engine_now_ns());
  if (!mp) return UV_ENOMEM;
  ts_ms_peer_set_user(mp, p);
  ts_wg_peer_set_user(p, mp);
  schedule(m);
  return 0;
}

int ts_bind_ms_set_self(ts_bind_ms *m, const ts_addr *eps, size_t n, uint32_t home) {
  ts_ms_set_endpoints(m->ms, eps, n);
  ts_ms_set_home_region(m->ms, home);
  if (home != m->home) {
    m->home = home;
    for (size_t i = 0; i < m->nregions; i++)
      if (m->regions[i].conn && ts_derp_conn_connected(m->regions[i].conn))
        ts_derp_conn_note_preferred(m->regions[i].conn, m->regions[i].id == home);
  }
  return 0;
}

ts_ms *ts_bind_ms_state(ts_bind_ms *m) { return m->ms; }

void ts_bind_ms_set_node_key(ts_bind_ms *m, const uint8_t node_priv[32], const uint8_t node_pub[32]) {
  memcpy(m->priv, node_priv, sizeof m->priv); /* overwrites the old key */
  ts_ms_set_node_public(m->ms, node_pub);
  for (size_t i = 0; i < m->nregions; i++) {
    region *r = &m->regions[i];
    if (!r->conn) continue;
    ts_derp_conn_free(r->conn); /* JavaScript sees its end close; it redials home */
    r->conn = NULL;
    r->last_want = 0;
    if (m->ev.derp_state) m->ev.derp_state(m->ev.ctx, r->id, 0, 0);
  }
}

void ts_bind_ms_derp_only(ts_bind_ms *m, int on) { m->derp_only = on != 0; }

void ts_bind_ms_foreach_region(ts_bind_ms *m, void (*fn)(void *ctx, uint32_t region, int connected,
                                                         const ts_derp_conn_stats *st),
                               void *ctx) {
  for (size_t i = 0; i < m->nregions; i++) {
    ts_derp_conn_stats st;
    memset(&st, 0, sizeof st);
    if (m->regions[i].conn) ts_derp_conn_stats_get(m->regions[i].conn, &st);
    fn(ctx, m->regions[i].id, m->regions[i].conn && ts_derp_conn_connected(m->regions[i].conn), &st);
  }
}
