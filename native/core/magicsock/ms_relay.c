/* magicsock as a peer-relay client (docs/protocol/peer-relay.md): allocation over DERP, the bind handshake
 * from our UDP socket, CallMeMaybeVia both ways, and disco pings through the relay endpoint; see magicsock.h.
 * Everything received is checked (sender, endpoint keys, VNI, server address) before any state changes. */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "disco/disco.h"
#include "disco/disco_relay.h"
#include "magicsock/ms_internal.h"

/* Largest sealed relay message we send: an endpoint with all its addresses. */
#define RELAY_MSG_MAX (TS_DISCO_OVERHEAD + 2 + 4 + TS_DISCO_RELAY_EP_FIXED_LEN + TS_DISCO_RELAY_MAX_ADDRS * 18)

void ms_rand(ts_ms *ms, void *buf, size_t len) {
  if (ms->cfg.rng) ms->cfg.rng(ms->cfg.rng_ctx, buf, len);
  else ts_random(buf, len);
}

void ts_ms_set_relay(ts_ms *ms, const uint8_t (*servers)[TS_MS_KEY_LEN], size_t n_servers,
                     const uint8_t (*targets)[TS_MS_KEY_LEN], size_t n_targets) {
  if (!ms) return;
  ms->n_relay_servers = 0;
  for (size_t i = 0; servers && i < n_servers && ms->n_relay_servers < TS_MS_MAX_RELAY_SERVERS; i++)
    memcpy(ms->relay_servers[ms->n_relay_servers++], servers[i], TS_MS_KEY_LEN);
  free(ms->relay_targets);
  ms->relay_targets = NULL;
  ms->n_relay_targets = 0;
  if (targets && n_targets) {
    ms->relay_targets = malloc(n_targets * TS_MS_KEY_LEN);
    if (ms->relay_targets) {
      memcpy(ms->relay_targets, targets, n_targets * TS_MS_KEY_LEN);
      ms->n_relay_targets = n_targets;
    }
  }
  for (size_t b = 0; ms->node_b && b < ms->nb; b++)
    for (ts_ms_peer *p = ms->node_b[b]; p; p = p->node_next) {
      p->relay_target = (uint8_t)ms_relay_is_target(ms, p->node_key);
      if (!p->relay_target && p->relay) ms_relay_drop(p);
    }
}

int ms_relay_is_target(const ts_ms *ms, const uint8_t node_key[TS_MS_KEY_LEN]) {
  for (size_t i = 0; i < ms->n_relay_targets; i++)
    if (memcmp(ms->relay_targets[i], node_key, TS_MS_KEY_LEN) == 0) return 1;
  return 0;
}

void ms_relay_drop(ts_ms_peer *p) {
  if (!p->relay) return;
  ts_relay_bind_wipe(&p->relay->bind);
  ts_wipe(p->relay, sizeof *p->relay);
  free(p->relay);
  p->relay = NULL;
}

int ms_relay_trusted(const ts_ms_peer *p, uint64_t now) {
  return p->relay && p->relay->state == MS_RELAY_BOUND && now < p->relay->trust_until;
}

uint64_t ms_relay_deadline(const ts_ms_peer *p) {
  const ms_relay *r = p->relay;
  if (!r) return UINT64_MAX;
  uint64_t d = UINT64_MAX;
  if (r->state != MS_RELAY_NONE) d = r->due;
  if (p->rep_relay && r->trust_until < d) d = r->trust_until; /* report the path's loss on time */
  return d;
}

/* Back to NONE; the next allocation waits TS_MS_RELAY_RETRY. Counters stay. */
static void relay_fail(ms_relay *r, uint64_t now) {
  ts_relay_bind_wipe(&r->bind);
  r->state = MS_RELAY_NONE;
  r->trust_until = 0;
  r->n_pings = 0;
  r->retry_at = ms_add_sat(now, TS_MS_RELAY_RETRY);
  r->due = UINT64_MAX;
}

/* Seals a relay cleartext to `to` and sends it over DERP (to's region). */
static int send_relay_derp(ts_ms *ms, ts_ms_peer *to, const ts_disco_relay_msg *m) {
  uint32_t region = ms_derp_region(to);
  if (!region) return -1;
  uint8_t clear[RELAY_MSG_MAX], out[RELAY_MSG_MAX], nonce[TS_DISCO_NONCE_LEN];
  long c = ts_disco_relay_encode(clear, sizeof clear, m);
  if (c < 0) return -1;
  ms_rand(ms, nonce, sizeof nonce);
  long n = ts_disco_seal(out, sizeof out, ms->disco_public, to->shared, nonce, clear, (size_t)c);
  ts_wipe(clear, sizeof clear);
  if (n < 0) return -1;
  ts_ms_path path = {.kind = TS_MS_PATH_DERP, .region = region};
  ms->cfg.send(ms->cfg.ctx, &path, to->node_key, out, (size_t)n);
  return 0;
}

static void send_udp(ts_ms *ms, ts_ms_peer *p, const ts_addr *to, const uint8_t *pkt, size_t len) {
  ts_ms_path path = {.kind = TS_MS_PATH_UDP, .addr = *to};
  ms->cfg.send(ms->cfg.ctx, &path, p->node_key, pkt, len);
}

/* A disco message to p through its relay endpoint (Geneve data, protocol disco). */
static int send_via_relay(ts_ms *ms, ts_ms_peer *p, const ts_disco_msg *m) {
  ms_relay *r = p->relay;
  uint8_t sealed[TS_DISCO_OVERHEAD + 128], out[TS_GENEVE_LEN + sizeof sealed], nonce[TS_DISCO_NONCE_LEN];
  ms_rand(ms, nonce, sizeof nonce);
  long n = ts_disco_seal_msg(sealed, sizeof sealed, ms->disco_public, p->shared, nonce, m);
  if (n < 0) return -1;
  long k = ts_relay_encap(out, sizeof out, r->bind.ep.vni, TS_GENEVE_PROTO_DISCO, sealed, (size_t)n);
  if (k < 0) return -1;
  send_udp(ms, p, &r->server, out, (size_t)k);
  return 0;
}

static void relay_ping(ts_ms *ms, ts_ms_peer *p, uint64_t now) {
  ms_relay *r = p->relay;
  ts_disco_msg m;
  memset(&m, 0, sizeof m);
  m.type = TS_DISCO_PING;
  ms_rand(ms, m.tx_id, sizeof m.tx_id);
  m.has_node_key = !ts_ct_is_zero(ms->cfg.node_public, TS_MS_KEY_LEN);
  memcpy(m.node_key, ms->cfg.node_public, TS_MS_KEY_LEN);
  if (send_via_relay(ms, p, &m) != 0) return;
  size_t slot = r->n_pings;
  if (slot == sizeof r->pings / sizeof r->pings[0]) { /* forget the oldest */
    memmove(r->pings, r->pings + 1, (slot - 1) * sizeof r->pings[0]);
    slot--;
  } else {
    r->n_pings++;
  }
  memcpy(r->pings[slot].tx, m.tx_id, 12);
  r->pings[slot].at = now;
  r->last_ping = now;
  p->pings_sent++;
}

static size_t ep_n_addrs(const ts_disco_relay_ep *ep) {
  return ep->n_addrs < TS_DISCO_RELAY_MAX_ADDRS ? ep->n_addrs : TS_DISCO_RELAY_MAX_ADDRS;
}

/* Until a Challenge shows which of the server's addresses reaches it, the Bind goes to each of them (as
 * Tailscale's client tries them all); then to that one. */
static void send_bind(ts_ms *ms, ts_ms_peer *p) {
  ms_relay *r = p->relay;
  uint8_t out[TS_RELAY_BIND_PKT_LEN];
  if (r->server.family) {
    long n = ts_relay_bind_request(&r->bind, out, sizeof out, NULL);
    if (n > 0) send_udp(ms, p, &r->server, out, (size_t)n);
    return;
  }
  for (size_t i = 0; i < ep_n_addrs(&r->bind.ep); i++) {
    if (!ms_addr_usable(&r->bind.ep.addrs[i])) continue;
    long n = ts_relay_bind_request(&r->bind, out, sizeof out, NULL);
    if (n > 0) send_udp(ms, p, &r->bind.ep.addrs[i], out, (size_t)n);
  }
}

static int ep_has_addr(const ts_disco_relay_ep *ep, const ts_addr *a) {
  for (size_t i = 0; i < ep_n_addrs(ep); i++)
    if (ts_addr_equal(&ep->addrs[i], a)) return 1;
  return 0;
}

static int ep_names(const ts_disco_relay_ep *ep, const uint8_t a[TS_MS_KEY_LEN], const uint8_t b[TS_MS_KEY_LEN]) {
  return (ts_ct_equal(ep->client_disco[0], a, TS_MS_KEY_LEN) && ts_ct_equal(ep->client_disco[1], b, TS_MS_KEY_LEN)) ||
         (ts_ct_equal(ep->client_disco[0], b, TS_MS_KEY_LEN) && ts_ct_equal(ep->client_disco[1], a, TS_MS_KEY_LEN));
}

/* Starts the bind handshake with ep for p (from an allocation response or a CallMeMaybeVia). */
static int bind_start(ts_ms *ms, ts_ms_peer *p, const ts_disco_relay_ep *ep, uint64_t now) {
  int usable = 0;
  for (size_t i = 0; i < ep_n_addrs(ep); i++) usable |= ms_addr_usable(&ep->addrs[i]);
  if (!usable) return TS_MS_RX_BAD;
  if (!p->relay && !(p->relay = calloc(1, sizeof *p->relay))) return TS_MS_RX_BAD;
  ms_relay *r = p->relay;
  uint32_t gen = 0;
  while (gen == 0) ms_rand(ms, &gen, sizeof gen);
  ts_relay_bind_wipe(&r->bind);
  if (ts_relay_bind_init(&r->bind, ep, ms->cfg.disco_private, ms->disco_public, gen) != 0) {
    relay_fail(r, now);
    return TS_MS_RX_BAD;
  }
  memset(&r->server, 0, sizeof r->server); /* the address whose Challenge comes first */
  r->state = MS_RELAY_BINDING;
  r->since = now;
  r->trust_until = 0;
  r->n_pings = 0;
  r->peer_pinged = 0;
  r->due = ms_add_sat(now, TS_MS_RELAY_RESEND);
  send_bind(ms, p);
  return TS_MS_RX_OK;
}

void ms_relay_kick(ts_ms *ms, ts_ms_peer *p, uint64_t now) {
  if (!p->relay_target || !p->has_disco || !ms->n_relay_servers) return;
  if (p->relay && (p->relay->state != MS_RELAY_NONE || now < p->relay->retry_at)) return;
  ts_ms_peer *server = NULL;
  for (size_t i = 0; i < ms->n_relay_servers && !server; i++) {
    ts_ms_peer *s = ts_ms_peer_by_node(ms, ms->relay_servers[i]);
    if (s && s != p && s->has_disco && ms_derp_region(s)) server = s;
  }
  if (!server) return;
  if (!p->relay && !(p->relay = calloc(1, sizeof *p->relay))) return;
  ms_relay *r = p->relay;
  ts_disco_relay_msg m;
  memset(&m, 0, sizeof m);
  m.type = TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST;
  memcpy(m.client_disco[0], ms->disco_public, TS_MS_KEY_LEN);
  memcpy(m.client_disco[1], p->disco_key, TS_MS_KEY_LEN);
  while (m.generation == 0) ms_rand(ms, &m.generation, sizeof m.generation);
  r->retry_at = ms_add_sat(now, TS_MS_RELAY_RETRY); /* whatever happens, not again before this */
  if (send_relay_derp(ms, server, &m) != 0) return;
  r->state = MS_RELAY_ALLOCATING;
  r->alloc_gen = m.generation;
  memcpy(r->server_node, server->node_key, TS_MS_KEY_LEN);
  r->since = now;
  r->due = ms_add_sat(now, TS_MS_RELAY_ALLOC_TIMEOUT);
  r->allocs++;
  ms_schedule(ms, p, 0);
}

/* An AllocateUDPRelayEndpointResponse from relay node s: bind, and tell the peer to bind too. */
static int handle_alloc_resp(ts_ms *ms, ts_ms_peer *s, const ts_disco_relay_msg *m, uint64_t now) {
  const ts_disco_relay_ep *ep = &m->ep;
  /* The other client named by the endpoint, besides us. */
  const uint8_t *other = NULL;
  if (ts_ct_equal(ep->client_disco[0], ms->disco_public, TS_MS_KEY_LEN)) other = ep->client_disco[1];
  else if (ts_ct_equal(ep->client_disco[1], ms->disco_public, TS_MS_KEY_LEN)) other = ep->client_disco[0];
  if (!other) return TS_MS_RX_BAD;
  for (ts_ms_peer *p = ms_first_by_disco(ms, other); p; p = ms_next_by_disco(p, other)) {
    ms_relay *r = p->relay;
    if (!r || r->state != MS_RELAY_ALLOCATING || r->alloc_gen != m->generation ||
        memcmp(r->server_node, s->node_key, TS_MS_KEY_LEN) != 0)
      continue;
    int rc = bind_start(ms, p, ep, now);
    if (rc == TS_MS_RX_OK) {
      r->mine = 1;
      ts_disco_relay_msg via;
      memset(&via, 0, sizeof via);
      via.type = TS_DISCO_CALL_ME_MAYBE_VIA;
      via.ep = *ep;
      if (via.ep.n_addrs > TS_DISCO_RELAY_MAX_ADDRS) via.ep.n_addrs = TS_DISCO_RELAY_MAX_ADDRS;
      if (send_relay_derp(ms, p, &via) == 0) r->cmm_via_sent++;
    }
    ms_schedule(ms, p, 0);
    return rc;
  }
  return TS_MS_RX_STALE;
}

/* A CallMeMaybeVia from peer p: bind to the endpoint it allocated for the two of us. */
static int handle_cmm_via(ts_ms *ms, ts_ms_peer *p, const ts_disco_relay_msg *m, uint64_t now) {
  if (!p->relay_target || !ep_names(&m->ep, ms->disco_public, p->disco_key)) return TS_MS_RX_BAD;
  ms_relay *r = p->relay;
  if (r && r->state >= MS_RELAY_BINDING && r->bind.ep.vni == m->ep.vni &&
      ts_ct_equal(r->bind.ep.server_disco, m->ep.server_disco, TS_MS_KEY_LEN) && r->bind.ep.lamport_id == m->ep.lamport_id)
    return TS_MS_RX_OK; /* that endpoint is ours already */
  /* Both ends may allocate at once and each name its own endpoint: the end with the smaller disco key keeps
   * its allocation, the other follows it, so both bind the same endpoint. */
  if (r && (r->state == MS_RELAY_ALLOCATING || (r->state != MS_RELAY_NONE && r->mine)) &&
      memcmp(ms->disco_public, p->disco_key, TS_MS_KEY_LEN) < 0) {
    r->cmm_via_received++;
    return TS_MS_RX_OK;
  }
  int rc = bind_start(ms, p, &m->ep, now);
  if (p->relay) p->relay->mine = 0;
  if (p->relay) p->relay->cmm_via_received++;
  ms_schedule(ms, p, 0);
  return rc;
}

int ms_relay_derp_input(ts_ms *ms, ts_ms_peer *p, const uint8_t *clear, size_t len, uint64_t now) {
  ts_disco_relay_msg m;
  int rc = ts_disco_relay_decode(&m, clear, len);
  if (rc == TS_DISCO_E_VERSION) return TS_MS_RX_OK; /* ignored, as Tailscale does */
  if (rc != 0) return TS_MS_RX_BAD;
  switch (m.type) {
  case TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE: rc = handle_alloc_resp(ms, p, &m, now); break;
  case TS_DISCO_CALL_ME_MAYBE_VIA: rc = handle_cmm_via(ms, p, &m, now); break;
  default: rc = TS_MS_RX_BAD; break; /* we serve no relay (8); 4-6 travel over UDP only */
  }
  ts_wipe(&m, sizeof m);
  return rc;
}

/* ---- Geneve on the UDP socket ---- */

/* The peer whose relay endpoint is (from, vni) and, for disco from a peer, whose disco key sent it. */
static ts_ms_peer *peer_by_endpoint(ts_ms *ms, const uint8_t *disco, const ts_addr *from, uint32_t vni) {
  for (ts_ms_peer *p = ms_first_by_disco(ms, disco); p; p = ms_next_by_disco(p, disco)) {
    ms_relay *r = p->relay;
    if (r && r->state >= MS_RELAY_BINDING && r->bind.ep.vni == vni && ts_addr_equal(&r->server, from)) return p;
  }
  return NULL;
}

static int relay_peer_msg(ts_ms *ms, uint64_t now, const ts_geneve *g, const uint8_t *pkt, size_t len,
                          const ts_addr *from) {
  ts_ms_peer *p = peer_by_endpoint(ms, ts_disco_sender(pkt), from, g->vni);
  if (!p) return TS_MS_RX_UNKNOWN_PEER;
  if (len - TS_DISCO_OVERHEAD > sizeof ms->rx) return TS_MS_RX_BAD;
  long n = ts_disco_open(ms->rx, sizeof ms->rx, pkt, len, p->shared);
  if (n < 0) return TS_MS_RX_DECRYPT;
  ts_disco_msg m;
  if (ts_disco_decode(&m, ms->rx, (size_t)n) != 0) return TS_MS_RX_BAD;
  ms_relay *r = p->relay;
  if (m.type == TS_DISCO_PING) {
    p->pings_received++;
    ts_disco_msg pong;
    memset(&pong, 0, sizeof pong);
    pong.type = TS_DISCO_PONG;
    memcpy(pong.tx_id, m.tx_id, 12);
    pong.src = *from;
    (void)send_via_relay(ms, p, &pong);
    /* The peer is bound now: an unproven path need not wait for its next resend (on its first ping, then at
     * most one per 100 ms, so two unproven ends do not ping each other in a loop). */
    int first = !r->peer_pinged;
    r->peer_pinged = 1;
    if (!ms_relay_trusted(p, now) && r->state == MS_RELAY_BOUND &&
        (first || now - r->last_ping >= 100 * TS_MS_NS_PER_MS)) {
      relay_ping(ms, p, now);
      r->due = ms_add_sat(now, TS_MS_RELAY_RESEND);
      ms_schedule(ms, p, 0);
    }
    return TS_MS_RX_OK;
  }
  if (m.type != TS_DISCO_PONG) return TS_MS_RX_BAD;
  for (size_t i = 0; i < r->n_pings; i++) {
    if (memcmp(r->pings[i].tx, m.tx_id, 12) != 0) continue;
    uint64_t at = r->pings[i].at;
    r->pings[i] = r->pings[--r->n_pings];
    if (now < at || now - at >= TS_MS_PING_TIMEOUT) return TS_MS_RX_STALE;
    p->pongs_received++;
    r->state = MS_RELAY_BOUND;
    r->latency = now - at;
    r->trust_until = ms_add_sat(now, TS_MS_TRUST_UDP_ADDR_DURATION);
    r->due = r->trust_until; /* re-pinged by heartbeats while the session is active */
    ms_path_check(ms, p, now);
    ms_schedule(ms, p, 0);
    return TS_MS_RX_OK;
  }
  return TS_MS_RX_STALE;
}

int ts_ms_relay_input(ts_ms *ms, uint64_t now, const uint8_t *pkt, size_t len, const ts_addr *from) {
  if (!ms) return TS_MS_RX_BAD;
  int rc = TS_MS_RX_NOT_DISCO;
  ts_geneve g;
  if (pkt && from && ts_geneve_decode(&g, pkt, len) == 0 && g.protocol == TS_GENEVE_PROTO_DISCO &&
      ts_disco_is_disco(pkt + TS_GENEVE_LEN, len - TS_GENEVE_LEN)) {
    const uint8_t *d = pkt + TS_GENEVE_LEN;
    size_t dl = len - TS_GENEVE_LEN;
    if (!g.control) {
      rc = relay_peer_msg(ms, now, &g, d, dl, from);
    } else {
      /* A relay server's Challenge: the handshake whose server address and VNI it names. */
      rc = TS_MS_RX_UNKNOWN_PEER;
      for (size_t b = 0; ms->node_b && b < ms->nb && rc == TS_MS_RX_UNKNOWN_PEER; b++)
        for (ts_ms_peer *p = ms->node_b[b]; p; p = p->node_next) {
          ms_relay *r = p->relay;
          if (!r || r->state < MS_RELAY_BINDING || r->bind.ep.vni != g.vni) continue;
          if (r->server.family ? !ts_addr_equal(&r->server, from) : !ep_has_addr(&r->bind.ep, from)) continue;
          uint8_t out[TS_RELAY_BIND_PKT_LEN];
          long n = ts_relay_bind_input(&r->bind, pkt, len, out, sizeof out, NULL);
          if (n == TS_DISCO_E_DECRYPT) rc = TS_MS_RX_DECRYPT;
          else if (n < 0) rc = TS_MS_RX_BAD;
          else {
            if (!r->server.family) r->server = *from;
            send_udp(ms, p, &r->server, out, (size_t)n);
            /* Bound unless the Answer is lost; the pong of this ping tells (the peer may bind later: resent). */
            if (r->state == MS_RELAY_BINDING) {
              r->state = MS_RELAY_BOUND;
              r->since = now;
            }
            relay_ping(ms, p, now);
            r->due = ms_add_sat(now, TS_MS_RELAY_RESEND);
            ms_schedule(ms, p, 0);
            rc = TS_MS_RX_OK;
          }
          break;
        }
    }
  }
  switch (rc) {
  case TS_MS_RX_OK: ms->ctr.rx_ok++; break;
  case TS_MS_RX_NOT_DISCO: ms->ctr.rx_not_disco++; break;
  case TS_MS_RX_UNKNOWN_PEER: ms->ctr.rx_unknown_peer++; break;
  case TS_MS_RX_DECRYPT: ms->ctr.rx_decrypt++; break;
  case TS_MS_RX_STALE: ms->ctr.rx_stale++; break;
  default: ms->ctr.rx_bad++; break;
  }
  return rc;
}

/* ---- time ---- */

void ms_relay_tick(ts_ms *ms, ts_ms_peer *p, uint64_t now) {
  ms_relay *r = p->relay;
  if (!r || r->state == MS_RELAY_NONE || now < r->due) return;
  switch (r->state) {
  case MS_RELAY_ALLOCATING: relay_fail(r, now); break;
  case MS_RELAY_BINDING:
    if (now - r->since >= TS_MS_RELAY_SETUP_TIMEOUT) {
      relay_fail(r, now);
    } else {
      send_bind(ms, p);
      r->due = ms_add_sat(now, TS_MS_RELAY_RESEND);
    }
    break;
  case MS_RELAY_BOUND:
    if (ms_relay_trusted(p, now)) { /* heartbeats keep it alive; nothing due before trust ends */
      r->due = r->trust_until;
    } else if (now - r->since >= TS_MS_RELAY_SETUP_TIMEOUT && now >= ms_add_sat(r->trust_until, TS_MS_RELAY_SETUP_TIMEOUT)) {
      relay_fail(r, now); /* never proven, or silent for a while: start over with a new allocation */
    } else {
      if (r->trust_until == 0) send_bind(ms, p); /* not proven yet: the Answer may have been lost */
      relay_ping(ms, p, now);
      r->due = ms_add_sat(now, TS_MS_RELAY_RESEND);
    }
    break;
  }
}

void ms_relay_heartbeat(ts_ms *ms, ts_ms_peer *p, uint64_t now) {
  if (ms_relay_trusted(p, now)) relay_ping(ms, p, now);
}
