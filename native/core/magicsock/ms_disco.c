/* magicsock's disco traffic: received Ping/Pong/CallMeMaybe and the messages we send (docs/protocol/magicsock.md §3),
 * plus betterAddr. Everything here comes from the network: lengths, paths and senders are checked before
 * any state changes. */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "disco/disco.h"
#include "disco/disco_relay.h"
#include "magicsock/ms_internal.h"

static void rand_bytes(ts_ms *ms, void *buf, size_t len) {
  if (ms->cfg.rng) ms->cfg.rng(ms->cfg.rng_ctx, buf, len);
  else ts_random(buf, len);
}

/* For DERP paths the destination is always p's node key: DERP input is only accepted from that key. */
static int send_msg(ts_ms *ms, ts_ms_peer *p, const ts_ms_path *path, const ts_disco_msg *m) {
  uint8_t out[TS_DISCO_OVERHEAD + 2 + TS_MS_MAX_ENDPOINTS * TS_DISCO_EP_LEN + 64], nonce[TS_DISCO_NONCE_LEN];
  rand_bytes(ms, nonce, sizeof nonce);
  long n = ts_disco_seal_msg(out, sizeof out, ms->disco_public, p->shared, nonce, m);
  if (n < 0) return -1;
  ms->cfg.send(ms->cfg.ctx, path, p->node_key, out, (size_t)n);
  return 0;
}

/* A slot for an outstanding ping: grows up to MS_MAX_PINGS, then the oldest ping is forgotten (its pong
 * will be stale). NULL only when out of memory. */
static ms_sent *sent_slot(ts_ms_peer *p) {
  if (p->n_sent == p->cap_sent && p->cap_sent < MS_MAX_PINGS) {
    size_t cap = p->cap_sent ? p->cap_sent * 2 : 8;
    ms_sent *n = realloc(p->sent, cap * sizeof *n);
    if (n) p->sent = n, p->cap_sent = cap;
  }
  if (p->n_sent == p->cap_sent) {
    if (p->n_sent == 0) return NULL;
    size_t old = 0;
    for (size_t i = 1; i < p->n_sent; i++)
      if (p->sent[i].at < p->sent[old].at) old = i;
    p->sent[old] = p->sent[--p->n_sent];
  }
  return &p->sent[p->n_sent];
}

/* A ping on path (UDP to path->addr, or DERP), remembered with tag. 0 when sent. */
static int send_ping(ts_ms *ms, ts_ms_peer *p, const ts_ms_path *path, uint64_t now, uint32_t tag) {
  ms_sent *s = sent_slot(p);
  if (!s) return -1;
  ts_disco_msg m;
  memset(&m, 0, sizeof m);
  m.type = TS_DISCO_PING;
  rand_bytes(ms, m.tx_id, sizeof m.tx_id);
  /* An all-zero key means "absent" on the wire (disco.h). */
  m.has_node_key = !ts_ct_is_zero(ms->cfg.node_public, TS_MS_KEY_LEN);
  memcpy(m.node_key, ms->cfg.node_public, TS_MS_KEY_LEN);
  if (send_msg(ms, p, path, &m) != 0) return -1;
  memcpy(s->tx, m.tx_id, sizeof s->tx);
  if (path->kind == TS_MS_PATH_UDP) s->to = path->addr;
  else memset(&s->to, 0, sizeof s->to);
  s->at = now;
  s->tag = tag;
  p->n_sent++;
  p->pings_sent++;
  return 0;
}

int ts_ms_ping_peer(ts_ms *ms, ts_ms_peer *p, uint64_t now, uint32_t tag) {
  int sent = 0;
  for (size_t i = 0; i < p->n_cand; i++) {
    ts_ms_path path = {.kind = TS_MS_PATH_UDP, .addr = p->cand[i].addr};
    if (send_ping(ms, p, &path, now, tag) == 0) sent++;
  }
  uint32_t region = ms_derp_region(p);
  if (region) {
    ts_ms_path path = {.kind = TS_MS_PATH_DERP, .region = region};
    if (send_ping(ms, p, &path, now, tag) == 0) sent++;
  }
  return sent;
}

void ms_send_ping(ts_ms *ms, ts_ms_peer *p, const ts_addr *to, uint64_t now) {
  ts_ms_path path = {.kind = TS_MS_PATH_UDP, .addr = *to};
  if (send_ping(ms, p, &path, now, 0) != 0) return;
  ms_cand *c = ms_cand_find(p, to);
  if (c) c->last_ping = now, c->pinged = 1;
}

static void send_cmm(ts_ms *ms, ts_ms_peer *p, uint32_t region) {
  ts_disco_msg m;
  memset(&m, 0, sizeof m);
  m.type = TS_DISCO_CALL_ME_MAYBE;
  m.n_endpoints = ms->n_eps;
  memcpy(m.endpoints, ms->eps, ms->n_eps * sizeof ms->eps[0]);
  ts_ms_path path = {.kind = TS_MS_PATH_DERP, .region = region};
  if (send_msg(ms, p, &path, &m) == 0) p->cmm_sent++;
}

void ms_send_pings(ts_ms *ms, ts_ms_peer *p, uint64_t now, int cmm) {
  int any = 0;
  uint64_t next = UINT64_MAX;
  p->last_full_ping = now, p->full_pinged = 1;
  for (size_t i = 0; i < p->n_cand; i++) {
    ms_cand *c = &p->cand[i];
    if (c->pinged && now - c->last_ping < TS_MS_DISCO_PING_INTERVAL && now >= c->last_ping) {
      uint64_t due = c->last_ping + TS_MS_DISCO_PING_INTERVAL;
      if (due < next) next = due;
      continue;
    }
    ms_send_ping(ms, p, &c->addr, now);
    any = 1;
    uint64_t due = ms_add_sat(now, TS_MS_DISCO_PING_INTERVAL);
    if (due < next) next = due;
  }
  p->next_ping_ok = next;
  uint32_t region = ms_derp_region(p);
  /* Tells the peer to ping us back now, opening both NATs at once. Rate-limited by the pings: only a
   * round that pinged something sends one. */
  if (any && cmm && region && ms->n_eps) send_cmm(ms, p, region);
}

/* ---- betterAddr ---- */

static int is_loopback(const ts_addr *a) {
  static const uint8_t v6[16] = {[15] = 1};
  return a->family == TS_ADDR_V4 ? a->ip[0] == 127 : memcmp(a->ip, v6, 16) == 0;
}

static int is_link_local(const ts_addr *a) {
  return a->family == TS_ADDR_V4 ? (a->ip[0] == 169 && a->ip[1] == 254)
                                : (a->ip[0] == 0xfe && (a->ip[1] & 0xc0) == 0x80);
}

static int is_private(const ts_addr *a) {
  if (a->family == TS_ADDR_V6) return (a->ip[0] & 0xfe) == 0xfc;
  return a->ip[0] == 10 || (a->ip[0] == 172 && (a->ip[1] & 0xf0) == 16) || (a->ip[0] == 192 && a->ip[1] == 168);
}

static int addr_points(const ts_addr *a) {
  int pts = is_loopback(a) ? 50 : is_link_local(a) ? 30 : is_private(a) ? 20 : 0;
  return pts + (a->family == TS_ADDR_V6 ? 10 : 0);
}

/* Latency ratio as percentage points for the faster address; bonuses for addresses likely on the same
 * host or network; a switch needs strictly more points, and a gain of 1% or less alone is ignored to
 * avoid flapping between equivalent paths. No MTU probing, so an equal address is never better. */
int ms_better_addr(const ts_addr *a, uint64_t la, const ts_addr *b, uint64_t lb) {
  if (ts_addr_equal(a, b)) return 0;
  if (b->family == 0) return 1;
  if (a->family == 0) return 0;
  int ap = 0, bp = 0;
  /* Pong latencies are under TS_MS_PING_TIMEOUT; the cap only keeps x * 100 from overflowing. */
  const uint64_t cap = 1000 * TS_MS_NS_PER_SEC;
  la = la < cap ? la : cap, lb = lb < cap ? lb : cap;
  if (la > lb && la > 0) bp = 100 - (int)(lb * 100 / la);
  else if (lb > 0) ap = 100 - (int)(la * 100 / lb);
  ap += addr_points(a);
  bp += addr_points(b);
  if (ap <= 1 && bp == 0) return 0;
  return ap > bp;
}

/* ---- received messages ---- */

/* The DERP magic address Tailscale reports as the "source" of a ping that came over DERP:
 * 127.3.3.40:<region> (tailcfg.DerpMagicIPAddr; magicsock.go handlePingLocked pongs with Src = that). */
static void derp_magic_addr(ts_addr *a, uint32_t region) {
  static const uint8_t ip[4] = {127, 3, 3, 40};
  ts_addr_set(a, TS_ADDR_V4, ip, (uint16_t)region);
}

static void send_pong(ts_ms *ms, ts_ms_peer *p, const ts_ms_path *to, const uint8_t tx[12]) {
  ts_disco_msg m;
  memset(&m, 0, sizeof m);
  m.type = TS_DISCO_PONG;
  memcpy(m.tx_id, tx, 12);
  ts_ms_path path = {.kind = to->kind};
  if (to->kind == TS_MS_PATH_UDP) {
    path.addr = m.src = to->addr;
  } else {
    path.region = to->region;
    derp_magic_addr(&m.src, to->region);
  }
  (void)send_msg(ms, p, &path, &m);
}

/* 1 if the ping is a duplicate (same TxID from the same address): it was answered already. */
static int note_ping_source(ts_ms *ms, ts_ms_peer *p, const ts_addr *src, const uint8_t tx[12], uint64_t now) {
  ms_cand *c = ms_cand_find(p, src);
  if (c) {
    if (c->has_rx_tx && memcmp(c->rx_tx, tx, 12) == 0) return 1;
    if (c->src & MS_SRC_PING) c->ping_rx = now; /* netmap/CallMeMaybe addresses do not expire this way */
  } else {
    c = ms_cand_add(ms, p, src, MS_SRC_PING);
    if (!c) return 0;
    c->ping_rx = now;
  }
  memcpy(c->rx_tx, tx, 12);
  c->has_rx_tx = 1;
  return 0;
}

static int handle_ping(ts_ms *ms, ts_ms_peer *p, const ts_disco_msg *m, const ts_ms_path *from, uint64_t now) {
  p->pings_received++;
  if (from->kind == TS_MS_PATH_DERP) {
    send_pong(ms, p, from, m->tx_id);
    return TS_MS_RX_OK;
  }
  /* Every peer sharing the disco key (node sharing) learns the source; the address maps to the one the
   * ping names, or to the only one. */
  const uint8_t *disco = p->disco_key;
  ts_ms_peer *target = NULL;
  size_t n = 0;
  int dup = 0;
  for (ts_ms_peer *q = p; q; q = ms_next_by_disco(q, disco)) {
    dup |= note_ping_source(ms, q, &from->addr, m->tx_id, now);
    if (n++ == 0) target = q;
    if (m->has_node_key && memcmp(q->node_key, m->node_key, TS_MS_KEY_LEN) == 0) target = q, n = 1;
    ms_schedule(ms, q, 0);
  }
  if (dup) return TS_MS_RX_OK;
  if (n == 1) ms_map_addr(ms, target, &from->addr, now);
  send_pong(ms, p, from, m->tx_id);
  return TS_MS_RX_OK;
}

static ms_sent *sent_find(ts_ms_peer *p, const uint8_t tx[12]) {
  for (size_t i = 0; i < p->n_sent; i++)
    if (memcmp(p->sent[i].tx, tx, 12) == 0) return &p->sent[i];
  return NULL;
}

static int handle_pong(ts_ms *ms, ts_ms_peer *p, const ts_disco_msg *m, const ts_ms_path *from, uint64_t now) {
  ms_sent *s = NULL;
  if (from->kind == TS_MS_PATH_UDP) {
    for (ts_ms_peer *q = p; q && !s; q = ms_next_by_disco(q, p->disco_key))
      if ((s = sent_find(q, m->tx_id)) != NULL) p = q;
  } else {
    s = sent_find(p, m->tx_id);
  }
  if (!s) return TS_MS_RX_STALE;
  ms_sent sp = *s;
  *s = p->sent[--p->n_sent];
  if (now < sp.at || now - sp.at >= TS_MS_PING_TIMEOUT) return TS_MS_RX_STALE;
  p->pongs_received++;
  if (sp.tag && ms->cfg.on_ping_pong) ms->cfg.on_ping_pong(ms->cfg.ctx, p, from, now - sp.at, sp.tag);
  /* Over DERP a pong proves nothing about a direct path. */
  if (from->kind != TS_MS_PATH_UDP || !ms_cand_find(p, &sp.to)) return TS_MS_RX_OK;
  ms_map_addr(ms, p, &from->addr, now);
  uint64_t latency = now - sp.at;
  /* docs/protocol/magicsock.md §3: a proven address also replaces a best address that is no longer trusted, so a
   * dead best cannot keep a working path out. The path is the address we pinged, not the reply's source. */
  if (!p->has_best || !ms_trusted(p, now) || ms_better_addr(&sp.to, latency, &p->best, p->best_latency)) {
    p->best = sp.to;
    p->has_best = 1;
    p->best_latency = latency;
  }
  if (ts_addr_equal(&p->best, &sp.to)) {
    p->best_latency = latency;
    p->trust_until = ms_add_sat(now, TS_MS_TRUST_UDP_ADDR_DURATION);
  }
  ms_path_check(ms, p, now);
  ms_schedule(ms, p, 0);
  return TS_MS_RX_OK;
}

static int cmm_addr_ok(const ts_addr *a) {
  /* IPv6 link-local needs a zone we cannot know (Tailscale skips them too). */
  return ms_addr_usable(a) && !(a->family == TS_ADDR_V6 && is_link_local(a));
}

static int handle_cmm(ts_ms *ms, ts_ms_peer *p, const ts_disco_msg *m, uint64_t now) {
  p->cmm_received++;
  for (size_t i = 0; i < p->n_cand; i++) p->cand[i].src &= (uint8_t)~MS_SRC_CMM;
  size_t n = m->n_endpoints < TS_DISCO_MAX_ENDPOINTS ? m->n_endpoints : TS_DISCO_MAX_ENDPOINTS;
  for (size_t i = 0; i < n; i++)
    if (cmm_addr_ok(&m->endpoints[i])) (void)ms_cand_add(ms, p, &m->endpoints[i], MS_SRC_CMM);
  ms_cand_prune(p);
  /* The peer is pinging us now: ping every candidate at once, whatever the rate limit says. */
  for (size_t i = 0; i < p->n_cand; i++) p->cand[i].pinged = 0;
  ms_send_pings(ms, p, now, 0);
  ms_path_check(ms, p, now);
  ms_schedule(ms, p, 0);
  return TS_MS_RX_OK;
}

int ms_input(ts_ms *ms, uint64_t now, const uint8_t *pkt, size_t len, const ts_ms_path *from,
             const uint8_t *derp_src) {
  if (!ts_disco_is_disco(pkt, len)) return TS_MS_RX_NOT_DISCO;
  if (from->kind == TS_MS_PATH_UDP) {
    if (!ms_addr_usable(&from->addr)) return TS_MS_RX_BAD;
  } else if (from->kind != TS_MS_PATH_DERP || from->region == 0 || !derp_src) {
    return TS_MS_RX_BAD;
  }
  const uint8_t *sender = ts_disco_sender(pkt);
  ts_ms_peer *p = ms_first_by_disco(ms, sender);
  if (!p) return TS_MS_RX_UNKNOWN_PEER;
  if (from->kind == TS_MS_PATH_DERP) {
    /* DERP vouches for the source node key: it must be the peer the netmap pairs with this disco key. */
    p = ts_ms_peer_by_node(ms, derp_src);
    if (!p || !p->has_disco || memcmp(p->disco_key, sender, TS_MS_KEY_LEN) != 0) return TS_MS_RX_BAD;
  }
  if (len > TS_DISCO_OVERHEAD && len - TS_DISCO_OVERHEAD > sizeof ms->rx) return TS_MS_RX_BAD;
  long n = ts_disco_open(ms->rx, sizeof ms->rx, pkt, len, p->shared);
  if (n < 0) return TS_MS_RX_DECRYPT;
  if (ts_disco_relay_is_relay_type(ms->rx, (size_t)n)) { /* peer-relay messages: over DERP only here */
    if (from->kind != TS_MS_PATH_DERP) return TS_MS_RX_BAD;
    p->last_region = from->region;
    return ms_relay_derp_input(ms, p, ms->rx, (size_t)n, now);
  }
  ts_disco_msg m;
  if (ts_disco_decode(&m, ms->rx, (size_t)n) != 0) return TS_MS_RX_BAD;
  if (m.type == TS_DISCO_CALL_ME_MAYBE && from->kind != TS_MS_PATH_DERP) return TS_MS_RX_BAD;
  if (from->kind == TS_MS_PATH_DERP) p->last_region = from->region;
  switch (m.type) {
  case TS_DISCO_PING: return handle_ping(ms, p, &m, from, now);
  case TS_DISCO_PONG: return handle_pong(ms, p, &m, from, now);
  case TS_DISCO_CALL_ME_MAYBE: return handle_cmm(ms, p, &m, now);
  default: return TS_MS_RX_BAD;
  }
}
