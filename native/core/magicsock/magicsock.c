/* magicsock: instance, peers and their candidates, route(), timers; see magicsock.h. Disco handling is in
 * ms_disco.c, lookups and the timer heap in ms_table.c. Described in docs/protocol/magicsock.md §3. */
#include "magicsock/magicsock.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "disco/disco.h"
#include "disco/tsmp.h"
#include "magicsock/ms_internal.h"
#include "mem/pages.h"

uint64_t ms_add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* A unicast address we could send to: a family, a port and not the unspecified address. */
int ms_addr_usable(const ts_addr *a) {
  if ((a->family != TS_ADDR_V4 && a->family != TS_ADDR_V6) || a->port == 0) return 0;
  return !ts_ct_is_zero(a->ip, a->family == TS_ADDR_V4 ? 4 : 16);
}

/* ---- instance ---- */

ts_ms *ts_ms_new(const ts_ms_config *cfg) {
  if (!cfg || !cfg->send || ts_ct_is_zero(cfg->disco_private, TS_MS_KEY_LEN)) return NULL;
  /* From the kernel (mem/pages.h): the 64 KiB disco receive buffer inside is resident only as far as a message
   * fills it, where calloc would zero it all, so an idle node pays a few pages for it. */
  ts_ms *ms = ts_pages_alloc(sizeof *ms);
  if (!ms) return NULL;
  ms->cfg = *cfg;
  ts_x25519_public(ms->disco_public, ms->cfg.disco_private);
  if (ms->cfg.rng) ms->cfg.rng(ms->cfg.rng_ctx, &ms->seed, sizeof ms->seed);
  else ts_random(&ms->seed, sizeof ms->seed);
  if (ms_tables_init(ms) != 0) {
    ts_ms_free(ms);
    return NULL;
  }
  return ms;
}

static void peer_free(ts_ms_peer *p) {
  ts_wipe(p->shared, sizeof p->shared);
  ms_relay_drop(p);
  free(p->cand);
  free(p->sent);
  ts_wipe(p, sizeof *p);
  free(p);
}

void ts_ms_free(ts_ms *ms) {
  if (!ms) return;
  for (size_t b = 0; ms->node_b && b < ms->nb; b++) {
    for (ts_ms_peer *p = ms->node_b[b], *next; p; p = next) {
      next = p->node_next;
      peer_free(p);
    }
  }
  ms_tables_free(ms);
  free(ms->relay_targets);
  ts_wipe(ms->cfg.disco_private, sizeof ms->cfg.disco_private);
  ts_pages_free(ms, sizeof *ms);
}

void ts_ms_disco_public(const ts_ms *ms, uint8_t out[TS_MS_KEY_LEN]) {
  memcpy(out, ms->disco_public, TS_MS_KEY_LEN);
}

void ts_ms_set_endpoints(ts_ms *ms, const ts_addr *eps, size_t n) {
  ms->n_eps = 0;
  if (!eps) return;
  for (size_t i = 0; i < n && ms->n_eps < TS_MS_MAX_ENDPOINTS; i++)
    if (ms_addr_usable(&eps[i])) ms->eps[ms->n_eps++] = eps[i];
}

void ts_ms_set_home_region(ts_ms *ms, uint32_t region) { ms->home_region = region; }
void ts_ms_set_node_public(ts_ms *ms, const uint8_t node_public[TS_MS_KEY_LEN]) {
  memcpy(ms->cfg.node_public, node_public, TS_MS_KEY_LEN);
}

/* ---- candidates ---- */

ms_cand *ms_cand_find(ts_ms_peer *p, const ts_addr *a) {
  for (size_t i = 0; i < p->n_cand; i++)
    if (ts_addr_equal(&p->cand[i].addr, a)) return &p->cand[i];
  return NULL;
}

ms_cand *ms_cand_add(ts_ms *ms, ts_ms_peer *p, const ts_addr *a, uint8_t src) {
  ms_cand *c = ms_cand_find(p, a);
  if (c) {
    c->src |= src;
    return c;
  }
  if (p->n_cand == TS_MS_MAX_CANDIDATES) {
    ms->ctr.candidates_dropped++;
    return NULL;
  }
  if (p->n_cand == p->cap_cand) {
    size_t cap = p->cap_cand ? p->cap_cand * 2 : 4;
    ms_cand *n = realloc(p->cand, cap * sizeof *n);
    if (!n) {
      ms->ctr.candidates_dropped++;
      return NULL;
    }
    p->cand = n, p->cap_cand = cap;
  }
  c = &p->cand[p->n_cand++];
  memset(c, 0, sizeof *c);
  c->addr = *a;
  c->src = src;
  p->next_ping_ok = 0; /* a new candidate is due a ping */
  return c;
}

void ms_cand_prune(ts_ms_peer *p) {
  size_t k = 0;
  for (size_t i = 0; i < p->n_cand; i++) {
    if (p->cand[i].src) {
      p->cand[k++] = p->cand[i];
    } else if (p->has_best && ts_addr_equal(&p->best, &p->cand[i].addr)) {
      p->has_best = 0;
      p->trust_until = 0;
    }
  }
  p->n_cand = k;
}

/* ---- paths ---- */

uint32_t ms_derp_region(const ts_ms_peer *p) { return p->home_region ? p->home_region : p->last_region; }

int ms_trusted(const ts_ms_peer *p, uint64_t now) { return p->has_best && now < p->trust_until; }

int ms_path_check(ts_ms *ms, ts_ms_peer *p, uint64_t now) {
  int t = ms_trusted(p, now);
  int rl = !t && ms_relay_trusted(p, now); /* direct beats peer relay beats DERP */
  if (t == p->rep_trusted && rl == p->rep_relay &&
      (t ? ts_addr_equal(&p->best, &p->rep_addr)
         : !rl || (ts_addr_equal(&p->relay->server, &p->rep_addr) && p->relay->bind.ep.vni == p->rep_vni)))
    return 0;
  p->rep_trusted = (uint8_t)t;
  p->rep_relay = (uint8_t)rl;
  p->rep_vni = rl ? p->relay->bind.ep.vni : 0;
  if (t) p->rep_addr = p->best;
  else if (rl) p->rep_addr = p->relay->server;
  else memset(&p->rep_addr, 0, sizeof p->rep_addr);
  if (ms->cfg.on_path) ms->cfg.on_path(ms->cfg.ctx, p);
  return 1;
}

/* The peer restarted (new disco key) or stopped speaking disco: nothing learned about paths holds. */
static void peer_reset(ts_ms_peer *p) {
  p->has_best = 0;
  p->best_latency = p->trust_until = 0;
  p->n_sent = 0;
  p->hb_on = p->full_pinged = 0;
  p->last_route = 0;
  p->next_ping_ok = 0;
  for (size_t i = 0; i < p->n_cand; i++) p->cand[i].pinged = 0, p->cand[i].has_rx_tx = 0;
  ms_relay_drop(p); /* its endpoint names the old disco key */
}

/* ---- peers ---- */

static void set_disco(ts_ms *ms, ts_ms_peer *p, const uint8_t *disco_key) {
  uint8_t zero[TS_MS_KEY_LEN] = {0};
  const uint8_t *k = disco_key && !ts_ct_is_zero(disco_key, TS_MS_KEY_LEN) ? disco_key : zero;
  if (p->has_disco && memcmp(k, p->disco_key, TS_MS_KEY_LEN) == 0) return;
  if (!p->has_disco && k == zero) return;
  ms_disco_unchain(ms, p);
  memcpy(p->disco_key, k, TS_MS_KEY_LEN);
  ts_wipe(p->shared, sizeof p->shared);
  /* A key without a shared secret (low order) cannot carry disco: the peer is treated as disco-less. */
  p->has_disco = k != zero && ts_disco_shared_key(p->shared, k, ms->cfg.disco_private) == 0;
  ms_disco_chain(ms, p);
  peer_reset(p);
}

static void set_netmap_endpoints(ts_ms *ms, ts_ms_peer *p, const ts_addr *eps, size_t n) {
  for (size_t i = 0; i < p->n_cand; i++) p->cand[i].src &= (uint8_t)~MS_SRC_NETMAP;
  memset(&p->first_ep, 0, sizeof p->first_ep);
  for (size_t i = 0; eps && i < n; i++) {
    if (!ms_addr_usable(&eps[i])) continue;
    if (p->first_ep.family == 0) p->first_ep = eps[i];
    (void)ms_cand_add(ms, p, &eps[i], MS_SRC_NETMAP);
  }
  ms_cand_prune(p);
}

ts_ms_peer *ts_ms_peer_set(ts_ms *ms, const uint8_t node_key[TS_MS_KEY_LEN], const uint8_t *disco_key,
                           uint32_t home_region, const ts_addr *endpoints, size_t n, uint64_t now) {
  if (!ms || !node_key || ts_ct_is_zero(node_key, TS_MS_KEY_LEN) ||
      memcmp(node_key, ms->cfg.node_public, TS_MS_KEY_LEN) == 0)
    return NULL;
  ts_ms_peer *p = ts_ms_peer_by_node(ms, node_key);
  if (!p) {
    p = calloc(1, sizeof *p);
    if (!p) return NULL;
    memcpy(p->node_key, node_key, TS_MS_KEY_LEN);
    p->heap_idx = MS_NO_HEAP;
    if (ms_peer_link(ms, p) != 0) {
      free(p);
      return NULL;
    }
    p->relay_target = (uint8_t)ms_relay_is_target(ms, node_key);
  }
  uint8_t zero[TS_MS_KEY_LEN] = {0};
  const uint8_t *nk = disco_key ? disco_key : zero;
  /* A key learned in-tunnel stays while control keeps naming the key it had before (ts_ms_tsmp_input). */
  if (!(p->tsmp_disco && memcmp(nk, p->netmap_disco, TS_MS_KEY_LEN) == 0)) {
    p->tsmp_disco = 0;
    set_disco(ms, p, disco_key);
  }
  memcpy(p->netmap_disco, nk, TS_MS_KEY_LEN);
  p->home_region = home_region;
  set_netmap_endpoints(ms, p, endpoints, n);
  ms_path_check(ms, p, now);
  ms_schedule(ms, p, 0);
  return p;
}

void ts_ms_peer_remove(ts_ms *ms, ts_ms_peer *p) {
  if (!ms || !p) return;
  ms_unschedule(ms, p);
  ms_unmap_peer(ms, p);
  ms_peer_unlink(ms, p);
  peer_free(p);
}

const uint8_t *ts_ms_peer_node_key(const ts_ms_peer *p) { return p->node_key; }
void ts_ms_peer_set_user(ts_ms_peer *p, void *user) { p->user = user; }
void *ts_ms_peer_user(const ts_ms_peer *p) { return p->user; }

/* ---- data path ---- */

static int route_plain(ts_ms_peer *p, ts_ms_path out[2]) {
  if (p->first_ep.family) {
    out[0] = (ts_ms_path){.kind = TS_MS_PATH_UDP, .addr = p->first_ep};
    p->tx_udp++;
    return 1;
  }
  uint32_t region = ms_derp_region(p);
  if (!region) return 0;
  out[0] = (ts_ms_path){.kind = TS_MS_PATH_DERP, .region = region};
  p->tx_derp++;
  return 1;
}

int ts_ms_route(ts_ms *ms, ts_ms_peer *p, uint64_t now, ts_ms_path out[2]) {
  if (!ms || !p) return 0;
  if (!p->has_disco) return route_plain(p, out);
  p->last_route = now;
  if (!p->hb_on) { /* the session starts (again): heartbeats from now on */
    p->hb_on = 1;
    p->hb_due = ms_add_sat(now, TS_MS_HEARTBEAT_INTERVAL);
    ms_schedule(ms, p, 0);
  }
  if (ms_trusted(p, now)) {
    out[0] = (ts_ms_path){.kind = TS_MS_PATH_UDP, .addr = p->best};
    p->tx_udp++;
    return 1;
  }
  if (ms_path_check(ms, p, now)) ms_schedule(ms, p, 0); /* trust ran out before the timer did */
  if (ms_relay_trusted(p, now)) {
    out[0] = (ts_ms_path){.kind = TS_MS_PATH_RELAY, .addr = p->relay->server, .vni = p->relay->bind.ep.vni};
    p->tx_relay++;
    if (now >= p->next_ping_ok) ms_send_pings(ms, p, now, 1); /* a direct path would still win */
    return 1;
  }
  ms_relay_kick(ms, p, now);
  int k = 0;
  if (p->has_best) {
    out[k++] = (ts_ms_path){.kind = TS_MS_PATH_UDP, .addr = p->best};
    p->tx_udp++;
  }
  uint32_t region = ms_derp_region(p);
  if (region) {
    out[k++] = (ts_ms_path){.kind = TS_MS_PATH_DERP, .region = region};
    p->tx_derp++;
  }
  if (now >= p->next_ping_ok) ms_send_pings(ms, p, now, 1);
  return k;
}

int ts_ms_disco_input(ts_ms *ms, uint64_t now, const uint8_t *pkt, size_t len, const ts_ms_path *from,
                      const uint8_t *derp_src) {
  int r = from && pkt ? ms_input(ms, now, pkt, len, from, derp_src) : from ? TS_MS_RX_NOT_DISCO : TS_MS_RX_BAD;
  switch (r) {
  case TS_MS_RX_OK: ms->ctr.rx_ok++; break;
  case TS_MS_RX_NOT_DISCO: ms->ctr.rx_not_disco++; break;
  case TS_MS_RX_UNKNOWN_PEER: ms->ctr.rx_unknown_peer++; break;
  case TS_MS_RX_DECRYPT: ms->ctr.rx_decrypt++; break;
  case TS_MS_RX_STALE: ms->ctr.rx_stale++; break;
  default: ms->ctr.rx_bad++; break;
  }
  return r;
}

void ts_ms_note_wg_rx(ts_ms *ms, ts_ms_peer *p, const ts_ms_path *from, uint64_t now) {
  if (!ms || !p || !from) return;
  if (from->kind == TS_MS_PATH_UDP) ms_map_addr(ms, p, &from->addr, now);
  else if (from->kind == TS_MS_PATH_DERP && from->region) p->last_region = from->region;
}

/* ---- time ---- */

static int want_full_ping(const ts_ms_peer *p, uint64_t now) {
  if (!p->has_best || !p->full_pinged || !ms_trusted(p, now)) return 1;
  if (p->best_latency <= TS_MS_GOOD_ENOUGH_LATENCY) return 0;
  return now < p->last_full_ping || now - p->last_full_ping >= TS_MS_UPGRADE_INTERVAL;
}

static void heartbeat(ts_ms *ms, ts_ms_peer *p, uint64_t now) {
  if (now > p->last_route && now - p->last_route > TS_MS_SESSION_ACTIVE_TIMEOUT) {
    p->hb_on = 0; /* idle session: quiet until the next route() */
    return;
  }
  if (p->has_best) ms_send_ping(ms, p, &p->best, now);
  ms_relay_heartbeat(ms, p, now);
  if (want_full_ping(p, now)) ms_send_pings(ms, p, now, 1);
  p->hb_due = ms_add_sat(now, TS_MS_HEARTBEAT_INTERVAL);
}

static void peer_tick(ts_ms *ms, ts_ms_peer *p, uint64_t now) {
  int pruned = 0;
  for (size_t i = 0; i < p->n_cand; i++) {
    ms_cand *c = &p->cand[i];
    if ((c->src & MS_SRC_PING) && ms_add_sat(c->ping_rx, TS_MS_PING_CANDIDATE_TTL) <= now) {
      c->src &= (uint8_t)~MS_SRC_PING;
      pruned = 1;
    }
  }
  if (pruned) ms_cand_prune(p);
  for (size_t i = 0; i < p->n_sent;) { /* timed-out pings: their pongs would be stale anyway */
    if (now >= p->sent[i].at && now - p->sent[i].at >= TS_MS_PING_TIMEOUT) {
      /* The untrusted best address let a ping go unanswered: the path is gone, so packets stop going there
       * too and take DERP alone until a pong proves a path again (docs/protocol/magicsock.md §3). */
      if (p->has_best && !ms_trusted(p, now) && ts_addr_equal(&p->sent[i].to, &p->best)) {
        p->has_best = 0;
        p->best_latency = p->trust_until = 0;
      }
      p->sent[i] = p->sent[--p->n_sent];
    } else {
      i++;
    }
  }
  if (p->has_disco && p->hb_on && now >= p->hb_due) heartbeat(ms, p, now);
  ms_relay_tick(ms, p, now);
  ms_path_check(ms, p, now);
}

uint64_t ts_ms_timers(ts_ms *ms, uint64_t now) {
  while (ms->n_heap && ms->heap[0]->deadline <= now) {
    ts_ms_peer *p = ms->heap[0];
    peer_tick(ms, p, now);
    ms_schedule(ms, p, ms_add_sat(now, 1));
  }
  return ts_ms_next_deadline(ms);
}

/* ---- introspection ---- */

void ts_ms_peer_info_get(const ts_ms_peer *p, uint64_t now, ts_ms_peer_info *out) {
  memset(out, 0, sizeof *out);
  if (p->has_best) out->best = (ts_ms_path){.kind = TS_MS_PATH_UDP, .addr = p->best};
  out->latency_ns = p->best_latency;
  out->trusted = ms_trusted(p, now);
  out->home_region = p->home_region;
  out->derp_region = ms_derp_region(p);
  out->n_candidates = p->n_cand;
  out->pings_sent = p->pings_sent, out->pongs_received = p->pongs_received;
  out->pings_received = p->pings_received;
  out->cmm_sent = p->cmm_sent, out->cmm_received = p->cmm_received;
  out->tx_udp = p->tx_udp, out->tx_derp = p->tx_derp, out->tx_relay = p->tx_relay;
  if (p->relay) {
    const ms_relay *r = p->relay;
    out->relay_state = r->state;
    if (ms_relay_trusted(p, now)) out->relay = (ts_ms_path){.kind = TS_MS_PATH_RELAY, .addr = r->server, .vni = r->bind.ep.vni};
    out->relay_latency_ns = r->latency;
    out->relay_allocs = r->allocs, out->relay_cmm_via_sent = r->cmm_via_sent;
    out->relay_cmm_via_received = r->cmm_via_received;
  }
}

static int tsmp_disco(ts_ms *ms, ts_ms_peer *p, const uint8_t key[TS_MS_KEY_LEN], uint64_t now) {
  if (ts_ct_is_zero(key, TS_MS_KEY_LEN)) return TS_MS_TSMP_BAD;
  if (p->has_disco && ts_ct_equal(key, p->disco_key, TS_MS_KEY_LEN)) return TS_MS_TSMP_UNCHANGED;
  uint8_t shared[TS_MS_KEY_LEN];
  int ok = ts_disco_shared_key(shared, key, ms->cfg.disco_private) == 0;
  ts_wipe(shared, sizeof shared);
  if (!ok) return TS_MS_TSMP_BAD; /* low order: keep the key we have */
  set_disco(ms, p, key);
  p->tsmp_disco = 1;
  ms_path_check(ms, p, now);
  ms_schedule(ms, p, 0);
  return TS_MS_TSMP_APPLIED;
}

int ts_ms_tsmp_input(ts_ms *ms, ts_ms_peer *p, const uint8_t *pkt, size_t len, uint64_t now) {
  if (!ms) return TS_MS_TSMP_BAD;
  ts_tsmp_msg m;
  int r;
  switch (pkt ? ts_tsmp_parse(&m, pkt, len) : TS_TSMP_MALFORMED) {
  case TS_TSMP_DISCO_ADVERT: r = p ? tsmp_disco(ms, p, m.disco_key, now) : TS_MS_TSMP_BAD; break;
  case TS_TSMP_PING: r = TS_MS_TSMP_PING; break;
  case TS_TSMP_PONG: r = p ? TS_MS_TSMP_PONG : TS_MS_TSMP_BAD; break;
  case TS_TSMP_OTHER: r = TS_MS_TSMP_OTHER; break;
  default: r = TS_MS_TSMP_BAD; break;
  }
  ts_wipe(&m, sizeof m);
  switch (r) {
  case TS_MS_TSMP_APPLIED: ms->ctr.tsmp_disco_applied++; break;
  case TS_MS_TSMP_UNCHANGED: ms->ctr.tsmp_disco_unchanged++; break;
  case TS_MS_TSMP_PING: ms->ctr.tsmp_ping++; break;
  case TS_MS_TSMP_PONG: ms->ctr.tsmp_pong++; break;
  case TS_MS_TSMP_OTHER: ms->ctr.tsmp_other++; break;
  default: ms->ctr.tsmp_bad++; break;
  }
  return r;
}

void ts_ms_counters_get(const ts_ms *ms, ts_ms_counters *out) { *out = ms->ctr; }
