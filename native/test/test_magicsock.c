/* magicsock tests: two (or three) ts_ms instances on a fake network with an injected clock. Each instance's
 * cfg.send is captured; deliver() hands the captured packets to the other side's ts_ms_disco_input with the
 * path they would arrive on (UDP source = the sender's address; DERP = region + sender node key). Tests can
 * also open captured packets and forge sealed messages, since they know every disco key. */
#include <stdlib.h>

#include "crypto/crypto.h"
#include "disco/disco.h"
#include "disco/tsmp.h"
#include "magicsock/magicsock.h"
#include "magicsock/ms_internal.h"
#include "test.h"

#define SEC TS_MS_NS_PER_SEC
#define MS TS_MS_NS_PER_MS
#define MAXQ 512

typedef struct pkt {
  ts_ms_path path;
  uint8_t key[32];
  uint8_t data[1024];
  size_t len;
} pkt;

typedef struct node {
  ts_ms *ms;
  uint8_t node_pub[32], disco_priv[32], disco_pub[32];
  ts_addr addr; /* where its UDP packets come from */
  pkt *q; /* MAXQ, on the heap: tests keep nodes on the stack */
  size_t nq, overflow;
  int on_path;
  uint64_t rng;
  /* on_ping_pong: how many, and the last one's path, latency and tag */
  int pongs;
  ts_ms_path pong_from;
  uint64_t pong_latency;
  uint32_t pong_tag;
} node;

static uint64_t now;
static node *all[4];
static size_t n_all;

static void send_cb(void *ctx, const ts_ms_path *path, const uint8_t key[32], const uint8_t *p, size_t len) {
  node *n = ctx;
  if (n->nq == MAXQ || len > sizeof n->q[0].data) {
    n->overflow++;
    return;
  }
  pkt *k = &n->q[n->nq++];
  k->path = *path;
  memcpy(k->key, key, 32);
  memcpy(k->data, p, len);
  k->len = len;
}

static void path_cb(void *ctx, ts_ms_peer *p) {
  (void)p;
  ((node *)ctx)->on_path++;
}

static void ping_pong_cb(void *ctx, ts_ms_peer *p, const ts_ms_path *from, uint64_t latency, uint32_t tag) {
  (void)p;
  node *n = ctx;
  n->pongs++;
  n->pong_from = *from;
  n->pong_latency = latency;
  n->pong_tag = tag;
}

/* Deterministic TxIDs and nonces: a counter per node. */
static void rng_cb(void *ctx, void *buf, size_t len) {
  node *n = ctx;
  uint8_t *b = buf;
  for (size_t i = 0; i < len; i++) b[i] = (uint8_t)(++n->rng * 131 + i + n->node_pub[0]);
}

static ts_addr A(const char *ip, uint16_t port) {
  ts_addr a;
  ts_addr_parse(&a, ip, port);
  return a;
}

static void node_init(node *n, uint8_t id, const char *ip, uint16_t port) {
  memset(n, 0, sizeof *n);
  n->q = calloc(MAXQ, sizeof *n->q);
  memset(n->disco_priv, id, 32);
  ts_x25519_public(n->disco_pub, n->disco_priv);
  memset(n->node_pub, id + 0x80, 32);
  n->addr = A(ip, port);
  ts_ms_config cfg = {.send = send_cb, .on_path = path_cb, .on_ping_pong = ping_pong_cb, .ctx = n, .rng = rng_cb, .rng_ctx = n};
  memcpy(cfg.disco_private, n->disco_priv, 32);
  memcpy(cfg.node_public, n->node_pub, 32);
  n->ms = ts_ms_new(&cfg);
  ts_ms_set_endpoints(n->ms, &n->addr, 1);
  ts_ms_set_home_region(n->ms, id);
  all[n_all++] = n;
}

static void node_free(node *n) {
  ts_ms_free(n->ms);
  free(n->q);
}

static void reset_world(void) {
  now = 1000 * SEC;
  n_all = 0;
}

static node *node_by_key(const uint8_t key[32]) {
  for (size_t i = 0; i < n_all; i++)
    if (memcmp(all[i]->node_pub, key, 32) == 0) return all[i];
  return NULL;
}

/* Opens a packet n sent, as its destination would: 0 and m filled, or -1. */
static int open_pkt(const node *n, const pkt *k, ts_disco_msg *m) {
  node *dst = node_by_key(k->key);
  if (!dst) return -1;
  uint8_t shared[32], clear[1024];
  if (ts_disco_shared_key(shared, n->disco_pub, dst->disco_priv) != 0) return -1;
  long c = ts_disco_open(clear, sizeof clear, k->data, k->len, shared);
  if (c < 0) return -1;
  return ts_disco_decode(m, clear, (size_t)c);
}

/* Packets of a type in n's queue on a path kind (0: any), to addr (NULL: any). */
static int count(const node *n, int type, int kind, const ts_addr *to) {
  int c = 0;
  for (size_t i = 0; i < n->nq; i++) {
    ts_disco_msg m;
    if (open_pkt(n, &n->q[i], &m) != 0 || m.type != type) continue;
    if (kind && n->q[i].path.kind != kind) continue;
    if (to && (n->q[i].path.kind != TS_MS_PATH_UDP || !ts_addr_equal(&n->q[i].path.addr, to))) continue;
    c++;
  }
  return c;
}

/* Delivers src's queue to dst (UDP when addressed to dst->addr and udp_ok, DERP when to dst's key and
 * derp_ok); everything else is lost. Returns how many arrived. */
static int deliver(node *src, node *dst, int udp_ok, int derp_ok) {
  int n = 0;
  size_t nq = src->nq;
  pkt *q = malloc(nq * sizeof *q + 1);
  memcpy(q, src->q, nq * sizeof *q);
  src->nq = 0; /* dst's replies may land in src's queue while we deliver */
  for (size_t i = 0; i < nq; i++) {
    pkt *k = &q[i];
    if (k->path.kind == TS_MS_PATH_UDP && udp_ok && ts_addr_equal(&k->path.addr, &dst->addr)) {
      ts_ms_path from = {.kind = TS_MS_PATH_UDP, .addr = src->addr};
      ts_ms_disco_input(dst->ms, now, k->data, k->len, &from, NULL);
      n++;
    } else if (k->path.kind == TS_MS_PATH_DERP && derp_ok && memcmp(k->key, dst->node_pub, 32) == 0) {
      ts_ms_path from = {.kind = TS_MS_PATH_DERP, .region = k->path.region};
      ts_ms_disco_input(dst->ms, now, k->data, k->len, &from, src->node_pub);
      n++;
    }
  }
  free(q);
  return n;
}

static void exchange(node *a, node *b, int udp_ok) {
  for (int i = 0; i < 10 && (a->nq || b->nq); i++) {
    deliver(a, b, udp_ok, 1);
    deliver(b, a, udp_ok, 1);
  }
}

static ts_ms_peer *add_peer(node *n, const node *peer) {
  return ts_ms_peer_set(n->ms, peer->node_pub, peer->disco_pub, peer->node_pub[0] - 0x80, &peer->addr, 1, now);
}

/* Seals m from `from` to `to` (by their disco keys). */
static size_t seal(const node *from, const node *to, const ts_disco_msg *m, uint8_t *out, size_t cap) {
  uint8_t shared[32];
  ts_disco_shared_key(shared, to->disco_pub, from->disco_priv);
  long n = ts_disco_seal_msg(out, cap, from->disco_pub, shared, NULL, m);
  return n < 0 ? 0 : (size_t)n;
}

static void run_timers(node *n) { (void)ts_ms_timers(n->ms, now); }

/* Advances the clock to t, running n's timers at every deadline on the way (never late). */
static void advance(node *n, uint64_t t) {
  for (;;) {
    uint64_t d = ts_ms_next_deadline(n->ms);
    if (d > t) break;
    if (d > now) now = d;
    run_timers(n);
    CHECK(ts_ms_next_deadline(n->ms) > now);
  }
  now = t;
}

static ts_ms_peer_info info(ts_ms_peer *p) {
  ts_ms_peer_info i;
  ts_ms_peer_info_get(p, now, &i);
  return i;
}

static int best_is(ts_ms_peer *p, const ts_addr *a) {
  ts_ms_peer_info i = info(p);
  return i.best.kind == TS_MS_PATH_UDP && ts_addr_equal(&i.best.addr, a);
}

/* A and B, each knowing the other; A routes once so discovery starts. */
typedef struct pair {
  node a, b;
  ts_ms_peer *pa, *pb; /* A's view of B, B's view of A */
} pair;

static void pair_init(pair *w) {
  reset_world();
  node_init(&w->a, 1, "10.0.0.1", 1001);
  node_init(&w->b, 2, "10.0.0.2", 1002);
  w->pa = add_peer(&w->a, &w->b);
  w->pb = add_peer(&w->b, &w->a);
}

static void pair_free(pair *w) {
  node_free(&w->a);
  node_free(&w->b);
}

/* Brings A->B direct: route, deliver both ways. */
static void pair_direct(pair *w) {
  ts_ms_path out[2];
  ts_ms_route(w->a.ms, w->pa, now, out);
  exchange(&w->a, &w->b, 1);
}

/* ---------------------------------------------------------------- tests */

static void test_starts_over_derp(void) {
  pair w;
  pair_init(&w);
  ts_ms_path out[2];
  int k = ts_ms_route(w.a.ms, w.pa, now, out);
  CHECK_EQ_INT(k, 1);
  CHECK_EQ_INT(out[0].kind, TS_MS_PATH_DERP);
  CHECK_EQ_INT(out[0].region, 2);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, &w.b.addr), 1);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_CALL_ME_MAYBE, TS_MS_PATH_DERP, NULL), 1);
  ts_disco_msg m;
  CHECK_EQ_INT(open_pkt(&w.a, &w.a.q[0], &m), 0);
  CHECK(m.has_node_key);
  CHECK_MEM(m.node_key, w.a.node_pub, 32);
  CHECK_EQ_INT(ts_ms_next_deadline(w.a.ms), now + TS_MS_HEARTBEAT_INTERVAL);
  ts_ms_peer_info i = info(w.pa);
  CHECK_EQ_INT(i.best.kind, TS_MS_PATH_NONE);
  CHECK_EQ_INT(i.trusted, 0);
  CHECK_EQ_INT(i.derp_region, 2);
  CHECK_EQ_INT(i.tx_derp, 1);
  pair_free(&w);
}

static void test_pong_makes_direct(void) {
  pair w;
  pair_init(&w);
  pair_direct(&w);
  ts_ms_path out[2];
  int k = ts_ms_route(w.a.ms, w.pa, now, out);
  CHECK_EQ_INT(k, 1);
  CHECK_EQ_INT(out[0].kind, TS_MS_PATH_UDP);
  CHECK(ts_addr_equal(&out[0].addr, &w.b.addr));
  CHECK_EQ_INT(w.a.on_path, 1);
  ts_ms_peer_info i = info(w.pa);
  CHECK(i.trusted);
  CHECK_EQ_INT(i.pongs_received, 1);
  /* B learned A's address from the ping and the CallMeMaybe; it pinged back, so it is direct too. */
  CHECK_EQ_INT(info(w.pb).trusted, 1);
  CHECK(ts_ms_peer_by_addr(w.a.ms, &w.b.addr) == w.pa);
  CHECK(ts_ms_peer_by_addr(w.b.ms, &w.a.addr) == w.pb);
  CHECK_EQ_INT(info(w.pb).cmm_received, 1);
  CHECK_EQ_INT(ts_ms_next_deadline(w.a.ms), now + TS_MS_HEARTBEAT_INTERVAL);
  pair_free(&w);
}

static void test_trust_expiry(void) {
  pair w;
  pair_init(&w);
  pair_direct(&w);
  uint64_t t0 = now;
  CHECK_EQ_INT(w.a.on_path, 1);
  /* UDP dies: heartbeats at +3 s and +6 s go unanswered; trust ends at +6.5 s exactly. */
  advance(&w.a, t0 + TS_MS_TRUST_UDP_ADDR_DURATION - 1);
  CHECK_EQ_INT(info(w.pa).trusted, 1);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, &w.b.addr), 2);
  w.a.nq = 0;
  CHECK_EQ_INT(ts_ms_next_deadline(w.a.ms), t0 + TS_MS_TRUST_UDP_ADDR_DURATION);
  advance(&w.a, t0 + TS_MS_TRUST_UDP_ADDR_DURATION);
  CHECK_EQ_INT(w.a.on_path, 2);
  CHECK_EQ_INT(info(w.pa).trusted, 0);
  ts_ms_path out[2];
  int k = ts_ms_route(w.a.ms, w.pa, now, out);
  CHECK_EQ_INT(k, 2);
  CHECK_EQ_INT(out[0].kind, TS_MS_PATH_UDP);
  CHECK_EQ_INT(out[1].kind, TS_MS_PATH_DERP);
  /* The heartbeat pinged B 0.5 s ago: the rate limit holds route back; the next heartbeat pings. */
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, 0, NULL), 0);
  /* +9 s: the +3 s ping to the untrusted best address timed out, so the address is dropped (as Tailscale's
   * discoPingTimeout does) and packets go through DERP alone; B was pinged at +6 s, so no ping yet. */
  advance(&w.a, t0 + 9 * SEC);
  CHECK_EQ_INT(info(w.pa).best.kind, TS_MS_PATH_NONE);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, 0, NULL), 0);
  k = ts_ms_route(w.a.ms, w.pa, now, out);
  CHECK_EQ_INT(k, 1);
  CHECK_EQ_INT(out[0].kind, TS_MS_PATH_DERP);
  /* Discovery goes on: the +12 s heartbeat pings B's address again. */
  advance(&w.a, t0 + 12 * SEC);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, &w.b.addr), 1);
  /* UDP works again: the pong restores trust. */
  exchange(&w.a, &w.b, 1);
  CHECK_EQ_INT(info(w.pa).trusted, 1);
  CHECK_EQ_INT(w.a.on_path, 3);
  CHECK_EQ_INT(ts_ms_route(w.a.ms, w.pa, now, out), 1);
  pair_free(&w);
}

static void test_trust_expiry_seen_by_route_first(void) {
  pair w;
  pair_init(&w);
  pair_direct(&w);
  now += 7 * SEC; /* no timers ran: route notices and reports the lost path itself */
  ts_ms_path out[2];
  CHECK_EQ_INT(ts_ms_route(w.a.ms, w.pa, now, out), 2);
  CHECK_EQ_INT(w.a.on_path, 2);
  run_timers(&w.a);
  CHECK_EQ_INT(w.a.on_path, 2);
  pair_free(&w);
}

static void test_heartbeat_cadence(void) {
  pair w;
  pair_init(&w);
  pair_direct(&w);
  uint64_t t0 = now;
  ts_ms_path out[2];
  for (int i = 1; i <= 10; i++) {
    CHECK_EQ_INT(ts_ms_next_deadline(w.a.ms), t0 + (uint64_t)i * TS_MS_HEARTBEAT_INTERVAL);
    now = ts_ms_next_deadline(w.a.ms);
    run_timers(&w.a);
    CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, &w.b.addr), 1);
    CHECK_EQ_INT(w.a.nq, 1); /* latency is good and trust holds: no full re-ping, no CallMeMaybe */
    exchange(&w.a, &w.b, 1);
    CHECK_EQ_INT(ts_ms_route(w.a.ms, w.pa, now, out), 1);
  }
  CHECK_EQ_INT(w.a.on_path, 1);
  pair_free(&w);
}

static void test_session_inactivity(void) {
  pair w;
  pair_init(&w);
  pair_direct(&w);
  uint64_t t0 = now;
  int pings = 0;
  while (ts_ms_next_deadline(w.a.ms) != UINT64_MAX && now < t0 + 200 * SEC) {
    now = ts_ms_next_deadline(w.a.ms);
    run_timers(&w.a);
    pings += count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, &w.b.addr);
    CHECK(count(&w.a, TS_DISCO_PING, 0, NULL) == 0 || now <= t0 + TS_MS_SESSION_ACTIVE_TIMEOUT);
    exchange(&w.a, &w.b, 1);
  }
  CHECK_EQ_INT(pings, 15); /* +3 s ... +45 s */
  CHECK_EQ_INT(ts_ms_next_deadline(w.a.ms), UINT64_MAX);
  /* Trust lapsed with the heartbeats; the next packet starts over. */
  ts_ms_path out[2];
  CHECK_EQ_INT(ts_ms_route(w.a.ms, w.pa, now, out), 2);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, &w.b.addr), 1);
  CHECK_EQ_INT(ts_ms_next_deadline(w.a.ms), now + TS_MS_HEARTBEAT_INTERVAL);
  pair_free(&w);
}

static size_t make_cmm(const node *from, const node *to, const ts_addr *eps, size_t n, uint8_t *out) {
  ts_disco_msg m;
  memset(&m, 0, sizeof m);
  m.type = TS_DISCO_CALL_ME_MAYBE;
  m.n_endpoints = n;
  memcpy(m.endpoints, eps, n * sizeof *eps);
  return seal(from, to, &m, out, 1024);
}

static void test_cmm(void) {
  pair w;
  pair_init(&w);
  node c;
  node_init(&c, 3, "10.0.0.3", 1003);
  ts_ms_peer *pc = add_peer(&w.a, &c);
  ts_ms_path out[2];
  ts_ms_route(w.a.ms, w.pa, now, out);
  w.a.nq = 0;
  now += 1 * SEC; /* within the 5 s rate limit */
  ts_addr eps[3] = {A("198.51.100.7", 41641), A("fe80::1", 5), A("10.0.0.2", 1002)};
  uint8_t pkt_[1024];
  size_t n = make_cmm(&w.b, &w.a, eps, 3, pkt_);
  ts_ms_path udp = {.kind = TS_MS_PATH_UDP, .addr = w.b.addr};
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, pkt_, n, &udp, NULL), TS_MS_RX_BAD);
  ts_ms_path derp = {.kind = TS_MS_PATH_DERP, .region = 2};
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, pkt_, n, &derp, c.node_pub), TS_MS_RX_BAD); /* C's key */
  uint8_t stranger[32];
  memset(stranger, 0x77, 32);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, pkt_, n, &derp, stranger), TS_MS_RX_BAD);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, pkt_, n, &derp, NULL), TS_MS_RX_BAD);
  CHECK_EQ_INT(w.a.nq, 0);
  CHECK_EQ_INT(info(w.pa).n_candidates, 1);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, pkt_, n, &derp, w.b.node_pub), TS_MS_RX_OK);
  /* Link-local IPv6 skipped; both candidates pinged at once (B's was pinged 1 s ago); no CallMeMaybe back. */
  CHECK_EQ_INT(info(w.pa).n_candidates, 2);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, &eps[0]), 1);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, &w.b.addr), 1);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_CALL_ME_MAYBE, 0, NULL), 0);
  CHECK_EQ_INT(info(w.pa).cmm_received, 1);
  /* A new CallMeMaybe replaces the learned ones (the netmap's stay). */
  w.a.nq = 0;
  ts_addr eps2[1] = {A("203.0.113.9", 7)};
  n = make_cmm(&w.b, &w.a, eps2, 1, pkt_);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, pkt_, n, &derp, w.b.node_pub), TS_MS_RX_OK);
  CHECK_EQ_INT(info(w.pa).n_candidates, 2);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, &eps2[0]), 1);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, &eps[0]), 0);
  CHECK_EQ_INT(info(pc).cmm_received, 0);
  ts_ms_counters ctr;
  ts_ms_counters_get(w.a.ms, &ctr);
  CHECK_EQ_INT(ctr.rx_bad, 4);
  CHECK_EQ_INT(ctr.rx_ok, 2);
  pair_free(&w);
  node_free(&c);
}

static size_t make_ping(const node *from, const node *to, uint8_t tx0, int with_key, uint8_t *out) {
  ts_disco_msg m;
  memset(&m, 0, sizeof m);
  m.type = TS_DISCO_PING;
  memset(m.tx_id, tx0, 12);
  m.has_node_key = (uint8_t)with_key;
  memcpy(m.node_key, from->node_pub, 32);
  return seal(from, to, &m, out, 1024);
}

static void test_ping_learned_candidate(void) {
  pair w;
  pair_init(&w);
  ts_addr x = A("192.0.2.50", 3333);
  ts_ms_path from = {.kind = TS_MS_PATH_UDP, .addr = x};
  uint8_t p[1024];
  size_t n = make_ping(&w.b, &w.a, 1, 1, p);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &from, NULL), TS_MS_RX_OK);
  CHECK_EQ_INT(info(w.pa).n_candidates, 2);
  CHECK_EQ_INT(info(w.pa).pings_received, 1);
  CHECK(ts_ms_peer_by_addr(w.a.ms, &x) == w.pa);
  /* The pong goes back to the source and reports it. */
  CHECK_EQ_INT(w.a.nq, 1);
  ts_disco_msg m;
  CHECK_EQ_INT(open_pkt(&w.a, &w.a.q[0], &m), 0);
  CHECK_EQ_INT(m.type, TS_DISCO_PONG);
  CHECK(ts_addr_equal(&m.src, &x));
  CHECK(ts_addr_equal(&w.a.q[0].path.addr, &x));
  uint8_t tx[12];
  memset(tx, 1, 12);
  CHECK_MEM(m.tx_id, tx, 12);
  /* The same ping again (a replay or duplicate) is not answered twice. */
  w.a.nq = 0;
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &from, NULL), TS_MS_RX_OK);
  CHECK_EQ_INT(w.a.nq, 0);
  uint64_t t0 = now;
  now += 20 * SEC;
  n = make_ping(&w.b, &w.a, 2, 0, p); /* refreshes; without a node key the only peer still gets it */
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &from, NULL), TS_MS_RX_OK);
  CHECK_EQ_INT(w.a.nq, 1);
  CHECK_EQ_INT(ts_ms_next_deadline(w.a.ms), now + TS_MS_PING_CANDIDATE_TTL);
  advance(&w.a, now + TS_MS_PING_CANDIDATE_TTL - 1);
  CHECK_EQ_INT(info(w.pa).n_candidates, 2);
  advance(&w.a, now + 1);
  CHECK_EQ_INT(info(w.pa).n_candidates, 1);
  CHECK_EQ_INT(ts_ms_next_deadline(w.a.ms), UINT64_MAX);
  (void)t0;
  pair_free(&w);
}

static void test_derp_ping(void) {
  pair w;
  pair_init(&w);
  uint8_t p[1024];
  size_t n = make_ping(&w.b, &w.a, 9, 1, p);
  ts_ms_path derp = {.kind = TS_MS_PATH_DERP, .region = 7};
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &derp, w.b.node_pub), TS_MS_RX_OK);
  CHECK_EQ_INT(w.a.nq, 1);
  CHECK_EQ_INT(w.a.q[0].path.kind, TS_MS_PATH_DERP);
  CHECK_EQ_INT(w.a.q[0].path.region, 7);
  CHECK_MEM(w.a.q[0].key, w.b.node_pub, 32);
  ts_disco_msg m;
  CHECK_EQ_INT(open_pkt(&w.a, &w.a.q[0], &m), 0);
  CHECK_EQ_INT(m.type, TS_DISCO_PONG);
  ts_addr magic = A("127.3.3.40", 7);
  CHECK(ts_addr_equal(&m.src, &magic));
  CHECK_EQ_INT(info(w.pa).n_candidates, 1); /* a DERP "source" is no candidate */
  /* A peer without a home region is reached where it was last heard. */
  CHECK(ts_ms_peer_set(w.a.ms, w.b.node_pub, w.b.disco_pub, 0, NULL, 0, now) == w.pa);
  CHECK_EQ_INT(info(w.pa).derp_region, 7);
  pair_free(&w);
}

/* ts_ms_ping_peer: a ping to every candidate and one through the relay; each pong reports its path and tag;
 * magicsock's own pings report nothing. */
static void test_ping_on_demand(void) {
  pair w;
  pair_init(&w);
  pair_direct(&w);
  CHECK_EQ_INT(w.a.pongs, 0); /* the pair's own pings and pongs are not on-demand ones */
  w.a.nq = w.b.nq = 0;
  CHECK_EQ_INT(ts_ms_ping_peer(w.a.ms, w.pa, now, 42), 2);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, &w.b.addr), 1);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, TS_MS_PATH_DERP, NULL), 1);
  /* Only the relay delivers: the pong comes back through it, 3 ms later. */
  now += 3 * MS;
  deliver(&w.a, &w.b, 0, 1);
  deliver(&w.b, &w.a, 0, 1);
  CHECK_EQ_INT(w.a.pongs, 1);
  CHECK_EQ_INT(w.a.pong_tag, 42);
  CHECK_EQ_INT(w.a.pong_from.kind, TS_MS_PATH_DERP);
  CHECK_EQ_INT(w.a.pong_latency, 3 * MS);
  /* Now UDP only: the pong names B's address. */
  w.a.nq = w.b.nq = 0;
  CHECK_EQ_INT(ts_ms_ping_peer(w.a.ms, w.pa, now, 43), 2);
  now += 1 * MS;
  deliver(&w.a, &w.b, 1, 0);
  deliver(&w.b, &w.a, 1, 0);
  CHECK_EQ_INT(w.a.pongs, 2);
  CHECK_EQ_INT(w.a.pong_tag, 43);
  CHECK_EQ_INT(w.a.pong_from.kind, TS_MS_PATH_UDP);
  CHECK(ts_addr_equal(&w.a.pong_from.addr, &w.b.addr));
  CHECK_EQ_INT(w.a.pong_latency, 1 * MS);
  pair_free(&w);
}

/* Sends A's pings, answers each one (as B) at the given latency. */
static void answer_pings(pair *w, const ts_addr *only, uint64_t latency, uint64_t t_ping) {
  size_t nq = w->a.nq;
  pkt *q = malloc(nq * sizeof *q + 1);
  memcpy(q, w->a.q, nq * sizeof *q);
  w->a.nq = 0;
  for (size_t i = 0; i < nq; i++) {
    ts_disco_msg m, pong;
    if (open_pkt(&w->a, &q[i], &m) != 0 || m.type != TS_DISCO_PING) continue;
    if (only && !ts_addr_equal(&q[i].path.addr, only)) continue;
    memset(&pong, 0, sizeof pong);
    pong.type = TS_DISCO_PONG;
    memcpy(pong.tx_id, m.tx_id, 12);
    pong.src = w->a.addr;
    uint8_t p[1024];
    size_t n = seal(&w->b, &w->a, &pong, p, sizeof p);
    ts_ms_path from = {.kind = TS_MS_PATH_UDP, .addr = q[i].path.addr};
    now = t_ping + latency;
    CHECK_EQ_INT(ts_ms_disco_input(w->a.ms, now, p, n, &from, NULL), TS_MS_RX_OK);
  }
  free(q);
}

static void test_better_addr_choices(void) {
  pair w;
  pair_init(&w);
  ts_addr priv = A("192.168.1.2", 1), lo = A("127.0.0.1", 2), pub1 = A("198.51.100.1", 3),
              pub2 = A("198.51.100.2", 4);
  ts_addr eps[4] = {priv, lo, pub1, pub2};
  ts_ms_peer_set(w.a.ms, w.b.node_pub, w.b.disco_pub, 2, eps, 4, now);
  ts_ms_path out[2];
  uint64_t t = now;
  ts_ms_route(w.a.ms, w.pa, now, out);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, NULL), 4);
  pkt *saved = malloc(8 * sizeof *saved);
  size_t ns = w.a.nq;
  memcpy(saved, w.a.q, ns * sizeof *saved);
  /* Public at 50 ms first, then private at 60 ms: private +20 beats 17 latency points. */
  answer_pings(&w, &pub1, 50 * MS, t);
  CHECK(best_is(w.pa, &pub1));
  memcpy(w.a.q, saved, ns * sizeof *saved), w.a.nq = ns;
  answer_pings(&w, &priv, 60 * MS, t);
  CHECK(best_is(w.pa, &priv));
  /* Loopback at 70 ms still wins over private at 60 ms: 50 vs 20 + 15. */
  memcpy(w.a.q, saved, ns * sizeof *saved), w.a.nq = ns;
  answer_pings(&w, &lo, 70 * MS, t);
  CHECK(best_is(w.pa, &lo));
  CHECK_EQ_INT(info(w.pa).latency_ns, 70 * MS);
  /* pub2 at 69 ms: 1 latency point vs 50: stays. */
  memcpy(w.a.q, saved, ns * sizeof *saved), w.a.nq = ns;
  answer_pings(&w, &pub2, 69 * MS, t);
  CHECK(best_is(w.pa, &lo));
  free(saved);
  pair_free(&w);

  /* The scoring itself. */
  ts_addr v6 = A("2001:db8::1", 1), v6b = A("2001:db8::2", 1), ll = A("169.254.1.1", 1),
              ula = A("fd00::1", 1), p4 = A("198.51.100.9", 1), none;
  memset(&none, 0, sizeof none);
  CHECK(ms_better_addr(&p4, 10 * MS, &none, 0));
  CHECK(!ms_better_addr(&none, 0, &p4, 10 * MS));
  CHECK(!ms_better_addr(&p4, 1 * MS, &p4, 100 * MS)); /* the same address: no MTU, no change */
  CHECK(ms_better_addr(&pub2, 10 * MS, &pub1, 20 * MS)); /* 50 points */
  CHECK(!ms_better_addr(&pub2, 198 * MS, &pub1, 200 * MS)); /* 1 point: too small */
  CHECK(ms_better_addr(&pub2, 196 * MS, &pub1, 200 * MS));  /* 2 points */
  CHECK(!ms_better_addr(&pub2, 10 * MS, &pub1, 10 * MS));
  CHECK(ms_better_addr(&v6, 10 * MS, &p4, 10 * MS)); /* IPv6 +10 */
  CHECK(!ms_better_addr(&v6b, 10 * MS, &v6, 10 * MS));
  CHECK(ms_better_addr(&ll, 10 * MS, &priv, 10 * MS));  /* link-local 30 > private 20 */
  CHECK(ms_better_addr(&ula, 10 * MS, &priv, 10 * MS)); /* fc00::/7 private and IPv6: 30 > 20 */
  CHECK(ms_better_addr(&lo, 10 * MS, &ll, 10 * MS));
  CHECK(!ms_better_addr(&p4, 10 * MS, &priv, 12 * MS)); /* 17 latency points vs private's 20 */
  CHECK(ms_better_addr(&p4, 10 * MS, &priv, 13 * MS));  /* 24 vs 20 */
  CHECK(!ms_better_addr(&p4, 10 * MS, &priv, 125 * MS / 10)); /* 20 vs 20: strictly more needed */
  CHECK(!ms_better_addr(&p4, 0, &p4, 0));
  CHECK(ms_better_addr(&p4, 0, &pub1, 5 * MS)); /* zero latency (same-instant pong) counts as fastest */
}

static void test_disco_key_change_resets(void) {
  pair w;
  pair_init(&w);
  pair_direct(&w);
  CHECK_EQ_INT(w.a.on_path, 1);
  /* B restarts with a new disco key. */
  node b2 = w.b;
  memset(b2.disco_priv, 0x22, 32);
  ts_x25519_public(b2.disco_pub, b2.disco_priv);
  /* Before A hears of it, B's new key is a stranger. */
  uint8_t p[1024];
  size_t n = make_ping(&b2, &w.a, 5, 1, p);
  ts_ms_path udp = {.kind = TS_MS_PATH_UDP, .addr = w.b.addr};
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_UNKNOWN_PEER);
  CHECK(ts_ms_peer_set(w.a.ms, w.b.node_pub, b2.disco_pub, 2, &w.b.addr, 1, now) == w.pa);
  CHECK_EQ_INT(w.a.on_path, 2);
  ts_ms_peer_info i = info(w.pa);
  CHECK_EQ_INT(i.trusted, 0);
  CHECK_EQ_INT(i.best.kind, TS_MS_PATH_NONE);
  CHECK_EQ_INT(ts_ms_next_deadline(w.a.ms), UINT64_MAX); /* no session, no heartbeat */
  /* The old key is now the stranger; the new one is heard. */
  n = make_ping(&w.b, &w.a, 6, 1, p);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_UNKNOWN_PEER);
  n = make_ping(&b2, &w.a, 5, 1, p);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_OK);
  ts_ms_path out[2];
  CHECK_EQ_INT(ts_ms_route(w.a.ms, w.pa, now, out), 1);
  CHECK_EQ_INT(out[0].kind, TS_MS_PATH_DERP);
  /* The same key again changes nothing. */
  CHECK(ts_ms_peer_set(w.a.ms, w.b.node_pub, b2.disco_pub, 2, &w.b.addr, 1, now) == w.pa);
  CHECK_EQ_INT(ts_ms_next_deadline(w.a.ms), now + TS_MS_HEARTBEAT_INTERVAL);
  pair_free(&w);
}

static void test_unknown_and_junk(void) {
  pair w;
  pair_init(&w);
  node z;
  node_init(&z, 9, "10.0.0.9", 9);
  uint8_t p[1024];
  size_t n = make_ping(&z, &w.a, 1, 1, p);
  ts_ms_path udp = {.kind = TS_MS_PATH_UDP, .addr = z.addr};
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_UNKNOWN_PEER);
  CHECK_EQ_INT(w.a.nq, 0);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, 61, &udp, NULL), TS_MS_RX_NOT_DISCO);
  n = make_ping(&w.b, &w.a, 1, 1, p);
  p[n - 1] ^= 1;
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_DECRYPT);
  p[n - 1] ^= 1;
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, NULL, NULL), TS_MS_RX_BAD);
  ts_ms_path bad = {.kind = 9};
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &bad, NULL), TS_MS_RX_BAD);
  ts_ms_path derp0 = {.kind = TS_MS_PATH_DERP, .region = 0};
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &derp0, w.b.node_pub), TS_MS_RX_BAD);
  ts_ms_path nofam = {.kind = TS_MS_PATH_UDP};
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &nofam, NULL), TS_MS_RX_BAD);
  /* Unknown message type, sealed correctly. */
  uint8_t clear[2] = {0x42, 0}, shared[32];
  ts_disco_shared_key(shared, w.a.disco_pub, w.b.disco_priv);
  long l = ts_disco_seal(p, sizeof p, w.b.disco_pub, shared, NULL, clear, 2);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, (size_t)l, &udp, NULL), TS_MS_RX_BAD);
  ts_ms_counters c;
  ts_ms_counters_get(w.a.ms, &c);
  CHECK_EQ_INT(c.rx_unknown_peer, 1);
  CHECK_EQ_INT(c.rx_not_disco, 1);
  CHECK_EQ_INT(c.rx_decrypt, 1);
  CHECK_EQ_INT(c.rx_bad, 5);
  CHECK_EQ_INT(c.rx_ok, 0);
  pair_free(&w);
  node_free(&z);
}

static void test_stale_pong(void) {
  pair w;
  pair_init(&w);
  ts_ms_path out[2];
  uint64_t t = now;
  ts_ms_route(w.a.ms, w.pa, now, out);
  pkt *saved = malloc(4 * sizeof *saved);
  size_t ns = w.a.nq;
  memcpy(saved, w.a.q, ns * sizeof *saved);
  /* Unknown TxID. */
  ts_disco_msg pong;
  memset(&pong, 0, sizeof pong);
  pong.type = TS_DISCO_PONG;
  memset(pong.tx_id, 0xee, 12);
  pong.src = w.a.addr;
  uint8_t p[1024];
  size_t n = seal(&w.b, &w.a, &pong, p, sizeof p);
  ts_ms_path udp = {.kind = TS_MS_PATH_UDP, .addr = w.b.addr};
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_STALE);
  answer_pings(&w, NULL, 0, t); /* the real ones still count */
  CHECK_EQ_INT(info(w.pa).trusted, 1);
  pair_free(&w);

  /* Too late (5 s), for a ping that was really sent. */
  pair_init(&w);
  t = now;
  ts_ms_route(w.a.ms, w.pa, now, out);
  ns = w.a.nq;
  memcpy(saved, w.a.q, ns * sizeof *saved);
  ts_disco_msg m;
  CHECK_EQ_INT(open_pkt(&w.a, &saved[0], &m), 0);
  memcpy(pong.tx_id, m.tx_id, 12);
  n = seal(&w.b, &w.a, &pong, p, sizeof p);
  now = t + TS_MS_PING_TIMEOUT;
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_STALE);
  CHECK_EQ_INT(info(w.pa).best.kind, TS_MS_PATH_NONE);
  /* A duplicate of an answered pong is stale too. */
  now = t + 10 * SEC;
  ts_ms_route(w.a.ms, w.pa, now, out);
  CHECK_EQ_INT(open_pkt(&w.a, &w.a.q[w.a.nq - 2], &m), 0); /* the ping; the CallMeMaybe follows it */
  CHECK_EQ_INT(m.type, TS_DISCO_PING);
  memcpy(pong.tx_id, m.tx_id, 12);
  n = seal(&w.b, &w.a, &pong, p, sizeof p);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_OK);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_STALE);
  /* A pong over DERP is accepted (known TxID) but proves no direct path. */
  now += 5 * SEC;
  run_timers(&w.a);
  pair_free(&w);

  pair_init(&w);
  ts_ms_route(w.a.ms, w.pa, now, out);
  CHECK_EQ_INT(open_pkt(&w.a, &w.a.q[0], &m), 0);
  memcpy(pong.tx_id, m.tx_id, 12);
  n = seal(&w.b, &w.a, &pong, p, sizeof p);
  ts_ms_path derp = {.kind = TS_MS_PATH_DERP, .region = 2};
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &derp, w.b.node_pub), TS_MS_RX_OK);
  CHECK_EQ_INT(info(w.pa).best.kind, TS_MS_PATH_NONE);
  CHECK_EQ_INT(info(w.pa).pongs_received, 1);
  ts_ms_counters c;
  ts_ms_counters_get(w.a.ms, &c);
  CHECK_EQ_INT(c.rx_stale, 0);
  free(saved);
  pair_free(&w);
}

static void test_peer_removal(void) {
  pair w;
  pair_init(&w);
  pair_direct(&w);
  CHECK(ts_ms_peer_by_addr(w.a.ms, &w.b.addr) == w.pa);
  CHECK(ts_ms_next_deadline(w.a.ms) != UINT64_MAX);
  int on_path = w.a.on_path;
  ts_ms_peer_remove(w.a.ms, w.pa);
  CHECK_EQ_INT(w.a.on_path, on_path);
  CHECK(ts_ms_peer_by_node(w.a.ms, w.b.node_pub) == NULL);
  CHECK(ts_ms_peer_by_addr(w.a.ms, &w.b.addr) == NULL);
  CHECK_EQ_INT(ts_ms_next_deadline(w.a.ms), UINT64_MAX);
  uint8_t p[1024];
  size_t n = make_ping(&w.b, &w.a, 3, 1, p);
  ts_ms_path udp = {.kind = TS_MS_PATH_UDP, .addr = w.b.addr};
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_UNKNOWN_PEER);
  ts_ms_peer_remove(w.a.ms, NULL);
  /* Re-adding starts from nothing. */
  w.pa = add_peer(&w.a, &w.b);
  CHECK(w.pa != NULL);
  CHECK_EQ_INT(info(w.pa).trusted, 0);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_OK);
  pair_free(&w);
}

/* Many peers: the tables grow, removal in any order keeps lookups right. */
static void test_many_peers(void) {
  reset_world();
  node a;
  node_init(&a, 1, "10.0.0.1", 1);
  enum { N = 300 };
  ts_ms_peer *ps[N];
  for (int i = 0; i < N; i++) {
    uint8_t nk[32], dk[32];
    memset(nk, 0, 32), memset(dk, 0, 32);
    nk[0] = (uint8_t)i, nk[1] = (uint8_t)(i >> 8), nk[31] = 1;
    dk[0] = (uint8_t)i, dk[1] = (uint8_t)(i >> 8), dk[31] = 9;
    ts_addr ep = A("198.51.100.1", (uint16_t)(i + 1));
    ps[i] = ts_ms_peer_set(a.ms, nk, i % 3 ? dk : NULL, 1, &ep, 1, now);
    CHECK(ps[i] != NULL);
    ts_ms_path wg = {.kind = TS_MS_PATH_UDP, .addr = A("203.0.113.1", (uint16_t)(i + 1))};
    ts_ms_note_wg_rx(a.ms, ps[i], &wg, now);
  }
  for (int i = 0; i < N; i += 2) ts_ms_peer_remove(a.ms, ps[i]);
  for (int i = 0; i < N; i++) {
    uint8_t nk[32];
    memset(nk, 0, 32);
    nk[0] = (uint8_t)i, nk[1] = (uint8_t)(i >> 8), nk[31] = 1;
    ts_addr wg = A("203.0.113.1", (uint16_t)(i + 1));
    CHECK(ts_ms_peer_by_node(a.ms, nk) == (i % 2 ? ps[i] : NULL));
    CHECK(ts_ms_peer_by_addr(a.ms, &wg) == (i % 2 ? ps[i] : NULL));
  }
  /* A source seen from another peer moves to it. */
  ts_ms_path wg = {.kind = TS_MS_PATH_UDP, .addr = A("203.0.113.1", 2)};
  ts_ms_note_wg_rx(a.ms, ps[3], &wg, now);
  CHECK(ts_ms_peer_by_addr(a.ms, &wg.addr) == ps[3]);
  /* Per-peer sources are bounded: the least recently seen goes. */
  for (int i = 0; i < MS_MAX_MAPPED + 4; i++) {
    ts_ms_path s = {.kind = TS_MS_PATH_UDP, .addr = A("192.0.2.1", (uint16_t)(100 + i))};
    now += 1;
    ts_ms_note_wg_rx(a.ms, ps[5], &s, now);
  }
  ts_addr first = A("192.0.2.1", 100), last = A("192.0.2.1", (uint16_t)(100 + MS_MAX_MAPPED + 3));
  CHECK(ts_ms_peer_by_addr(a.ms, &first) == NULL);
  CHECK(ts_ms_peer_by_addr(a.ms, &last) == ps[5]);
  node_free(&a);
}

static void test_no_disco_peer(void) {
  reset_world();
  node a, b;
  node_init(&a, 1, "10.0.0.1", 1);
  node_init(&b, 2, "10.0.0.2", 2);
  ts_addr eps[2] = {A("198.51.100.5", 51820), A("198.51.100.6", 51820)};
  ts_ms_peer *p = ts_ms_peer_set(a.ms, b.node_pub, NULL, 4, eps, 2, now);
  ts_ms_path out[2];
  CHECK_EQ_INT(ts_ms_route(a.ms, p, now, out), 1);
  CHECK_EQ_INT(out[0].kind, TS_MS_PATH_UDP);
  CHECK(ts_addr_equal(&out[0].addr, &eps[0]));
  CHECK_EQ_INT(a.nq, 0);
  CHECK_EQ_INT(ts_ms_next_deadline(a.ms), UINT64_MAX);
  uint8_t zero[32] = {0};
  p = ts_ms_peer_set(a.ms, b.node_pub, zero, 4, NULL, 0, now);
  CHECK_EQ_INT(ts_ms_route(a.ms, p, now, out), 1);
  CHECK_EQ_INT(out[0].kind, TS_MS_PATH_DERP);
  CHECK_EQ_INT(out[0].region, 4);
  p = ts_ms_peer_set(a.ms, b.node_pub, NULL, 0, NULL, 0, now);
  CHECK_EQ_INT(ts_ms_route(a.ms, p, now, out), 0);
  ts_ms_path derp = {.kind = TS_MS_PATH_DERP, .region = 11};
  ts_ms_note_wg_rx(a.ms, p, &derp, now);
  CHECK_EQ_INT(ts_ms_route(a.ms, p, now, out), 1);
  CHECK_EQ_INT(out[0].region, 11);
  /* Its disco messages are from nobody we know. */
  uint8_t pk[1024];
  size_t n = make_ping(&b, &a, 1, 1, pk);
  ts_ms_path udp = {.kind = TS_MS_PATH_UDP, .addr = b.addr};
  CHECK_EQ_INT(ts_ms_disco_input(a.ms, now, pk, n, &udp, NULL), TS_MS_RX_UNKNOWN_PEER);
  /* Our own node key, or no key, is no peer. */
  CHECK(ts_ms_peer_set(a.ms, a.node_pub, b.disco_pub, 1, NULL, 0, now) == NULL);
  CHECK(ts_ms_peer_set(a.ms, zero, b.disco_pub, 1, NULL, 0, now) == NULL);
  node_free(&a);
  node_free(&b);
}

static void test_rate_limits(void) {
  pair w;
  pair_init(&w);
  ts_addr eps[2] = {A("198.51.100.1", 1), A("198.51.100.2", 2)};
  ts_ms_peer_set(w.a.ms, w.b.node_pub, w.b.disco_pub, 2, eps, 2, now);
  uint64_t t0 = now;
  ts_ms_path out[2];
  int pings = 0, cmms = 0;
  /* A packet every 100 ms for 12 s, UDP dead: each candidate is pinged at 0, 5 and 10 s. */
  for (; now < t0 + 12 * SEC; now += 100 * MS) {
    advance(&w.a, now);
    ts_ms_route(w.a.ms, w.pa, now, out);
    for (size_t i = 0; i < 2; i++) {
      int c = count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, &eps[i]);
      CHECK(c <= 1);
      pings += c;
    }
    cmms += count(&w.a, TS_DISCO_CALL_ME_MAYBE, TS_MS_PATH_DERP, NULL);
    w.a.nq = 0;
  }
  CHECK_EQ_INT(pings, 6);
  CHECK_EQ_INT(cmms, 3);
  CHECK_EQ_INT(info(w.pa).pings_sent, 6);
  CHECK_EQ_INT(info(w.pa).cmm_sent, 3);
  /* Without endpoints of our own there is nothing to put in a CallMeMaybe. */
  ts_ms_set_endpoints(w.a.ms, NULL, 0);
  now += 5 * SEC;
  ts_ms_route(w.a.ms, w.pa, now, out);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, 0, NULL), 2);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_CALL_ME_MAYBE, 0, NULL), 0);
  pair_free(&w);
}

static void test_upgrade_interval(void) {
  for (int slow = 0; slow <= 1; slow++) {
    pair w;
    pair_init(&w);
    ts_addr dead = A("198.51.100.99", 9);
    ts_addr eps[2] = {w.b.addr, dead};
    ts_ms_peer_set(w.a.ms, w.b.node_pub, w.b.disco_pub, 2, eps, 2, now);
    ts_ms_path out[2];
    uint64_t t0 = now;
    ts_ms_route(w.a.ms, w.pa, now, out);
    uint64_t lat = slow ? 20 * MS : 2 * MS;
    answer_pings(&w, &w.b.addr, lat, t0);
    CHECK(info(w.pa).trusted);
    int dead_pings = 0;
    while (now < t0 + 100 * SEC) {
      uint64_t d = ts_ms_next_deadline(w.a.ms);
      now = d;
      run_timers(&w.a);
      dead_pings += count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, &dead);
      answer_pings(&w, &w.b.addr, lat, d);
      ts_ms_route(w.a.ms, w.pa, now, out);
      CHECK(info(w.pa).trusted);
    }
    /* Slow best: every candidate again after 60 s (on the first heartbeat at or after it). */
    CHECK_EQ_INT(dead_pings, slow ? 1 : 0);
    pair_free(&w);
  }
}

static void test_netmap_update(void) {
  pair w;
  pair_init(&w);
  pair_direct(&w);
  /* The netmap drops B's only endpoint, which is the best address: the direct path goes with it. */
  CHECK(ts_ms_peer_set(w.a.ms, w.b.node_pub, w.b.disco_pub, 2, NULL, 0, now) == w.pa);
  CHECK_EQ_INT(w.a.on_path, 2);
  CHECK_EQ_INT(info(w.pa).n_candidates, 0);
  CHECK_EQ_INT(info(w.pa).best.kind, TS_MS_PATH_NONE);
  /* Too many endpoints: the surplus is counted. */
  ts_addr eps[TS_MS_MAX_CANDIDATES + 5];
  for (int i = 0; i < TS_MS_MAX_CANDIDATES + 5; i++) eps[i] = A("198.51.100.1", (uint16_t)(i + 1));
  ts_ms_peer_set(w.a.ms, w.b.node_pub, w.b.disco_pub, 2, eps, TS_MS_MAX_CANDIDATES + 5, now);
  CHECK_EQ_INT(info(w.pa).n_candidates, TS_MS_MAX_CANDIDATES);
  ts_ms_counters c;
  ts_ms_counters_get(w.a.ms, &c);
  CHECK_EQ_INT(c.candidates_dropped, 5);
  /* A full round: every candidate pinged, each pong known. */
  ts_ms_path out[2];
  uint64_t t = now;
  ts_ms_route(w.a.ms, w.pa, now, out);
  CHECK_EQ_INT(count(&w.a, TS_DISCO_PING, TS_MS_PATH_UDP, NULL), TS_MS_MAX_CANDIDATES);
  answer_pings(&w, NULL, 10 * MS, t);
  CHECK_EQ_INT(info(w.pa).pongs_received, TS_MS_MAX_CANDIDATES + 1);
  CHECK(info(w.pa).trusted);
  /* Invalid endpoints are ignored. */
  ts_addr junk[3];
  memset(junk, 0, sizeof junk);
  junk[1] = A("0.0.0.0", 5), junk[2] = A("198.51.100.1", 0);
  ts_ms_peer_set(w.a.ms, w.b.node_pub, w.b.disco_pub, 2, junk, 3, now);
  CHECK_EQ_INT(info(w.pa).n_candidates, 0);
  pair_free(&w);
}

static void test_bad_config(void) {
  ts_ms_config cfg;
  memset(&cfg, 0, sizeof cfg);
  CHECK(ts_ms_new(&cfg) == NULL); /* no send */
  cfg.send = send_cb;
  CHECK(ts_ms_new(&cfg) == NULL); /* zero disco key */
  CHECK(ts_ms_new(NULL) == NULL);
  memset(cfg.disco_private, 3, 32);
  ts_ms *ms = ts_ms_new(&cfg);
  CHECK(ms != NULL);
  uint8_t pub[32], want[32];
  ts_ms_disco_public(ms, pub);
  ts_x25519_public(want, cfg.disco_private);
  CHECK_MEM(pub, want, 32);
  ts_ms_free(ms);
  ts_ms_free(NULL);
}

/* TSMP disco key advertisement (docs/protocol/magicsock.md §5): B restarts with a new disco key and says so
 * in-tunnel before control does; control's stale key does not undo it, a newer one from control does. */
static size_t make_advert(const uint8_t key[32], uint8_t *out) {
  ts_addr src, dst;
  ts_addr_parse(&src, "100.64.0.2", 0);
  ts_addr_parse(&dst, "100.64.0.1", 0);
  long n = ts_tsmp_disco_advert_encode(out, 128, &src, &dst, key);
  return n < 0 ? 0 : (size_t)n;
}

static void test_tsmp_disco_advert(void) {
  pair w;
  pair_init(&w);
  pair_direct(&w);
  CHECK_EQ_INT(w.a.on_path, 1);
  node b2 = w.b, b3 = w.b;
  memset(b2.disco_priv, 0x22, 32);
  ts_x25519_public(b2.disco_pub, b2.disco_priv);
  memset(b3.disco_priv, 0x23, 32);
  ts_x25519_public(b3.disco_pub, b3.disco_priv);
  uint8_t adv[128], p[1024];
  ts_ms_path udp = {.kind = TS_MS_PATH_UDP, .addr = w.b.addr};
  size_t n;
  /* The advertisement of the key A already has changes nothing. */
  size_t an = make_advert(w.b.disco_pub, adv);
  CHECK_EQ_INT(ts_ms_tsmp_input(w.a.ms, w.pa, adv, an, now), TS_MS_TSMP_UNCHANGED);
  CHECK(info(w.pa).trusted);
  /* The new key: applied, path state starts over, the new key is heard and the old one is not. */
  an = make_advert(b2.disco_pub, adv);
  CHECK_EQ_INT(ts_ms_tsmp_input(w.a.ms, w.pa, adv, an, now), TS_MS_TSMP_APPLIED);
  CHECK_EQ_INT(w.a.on_path, 2);
  CHECK_EQ_INT(info(w.pa).best.kind, TS_MS_PATH_NONE);
  n = make_ping(&w.b, &w.a, 6, 1, p);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_UNKNOWN_PEER);
  n = make_ping(&b2, &w.a, 7, 1, p);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_OK);
  CHECK_EQ_INT(ts_ms_tsmp_input(w.a.ms, w.pa, adv, an, now), TS_MS_TSMP_UNCHANGED);
  /* Control still names the old key: the learned key stays. */
  CHECK(ts_ms_peer_set(w.a.ms, w.b.node_pub, w.b.disco_pub, 2, &w.b.addr, 1, now) == w.pa);
  n = make_ping(&b2, &w.a, 8, 1, p);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_OK);
  /* Control names another key: control wins. */
  CHECK(ts_ms_peer_set(w.a.ms, w.b.node_pub, b3.disco_pub, 2, &w.b.addr, 1, now) == w.pa);
  n = make_ping(&b2, &w.a, 9, 1, p);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_UNKNOWN_PEER);
  n = make_ping(&b3, &w.a, 10, 1, p);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_OK);
  /* From then on control's key is the one to compare with: naming b3 again keeps b3. */
  CHECK(ts_ms_peer_set(w.a.ms, w.b.node_pub, b3.disco_pub, 2, &w.b.addr, 1, now) == w.pa);
  n = make_ping(&b3, &w.a, 11, 1, p);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_OK);

  ts_ms_counters c;
  ts_ms_counters_get(w.a.ms, &c);
  CHECK_EQ_INT(c.tsmp_disco_applied, 1);
  CHECK_EQ_INT(c.tsmp_disco_unchanged, 2);
  CHECK_EQ_INT(c.tsmp_bad, 0);
  pair_free(&w);
}

static void test_tsmp_junk(void) {
  pair w;
  pair_init(&w);
  uint8_t adv[128], key[32];
  ts_ms_path udp = {.kind = TS_MS_PATH_UDP, .addr = w.b.addr};
  uint8_t p[1024];
  /* All-zero and low-order keys are refused; the key A has stays. */
  memset(key, 0, 32);
  size_t an = make_advert(key, adv);
  CHECK_EQ_INT(ts_ms_tsmp_input(w.a.ms, w.pa, adv, an, now), TS_MS_TSMP_BAD);
  key[0] = 1; /* u = 1: a low-order point, no shared secret */
  an = make_advert(key, adv);
  CHECK_EQ_INT(ts_ms_tsmp_input(w.a.ms, w.pa, adv, an, now), TS_MS_TSMP_BAD);
  size_t n = make_ping(&w.b, &w.a, 1, 1, p);
  CHECK_EQ_INT(ts_ms_disco_input(w.a.ms, now, p, n, &udp, NULL), TS_MS_RX_OK);
  /* Truncated, no peer, NULL packet, another TSMP type. */
  an = make_advert(w.b.disco_pub, adv);
  CHECK_EQ_INT(ts_ms_tsmp_input(w.a.ms, w.pa, adv, an - 1, now), TS_MS_TSMP_BAD);
  CHECK_EQ_INT(ts_ms_tsmp_input(w.a.ms, NULL, adv, an, now), TS_MS_TSMP_BAD);
  CHECK_EQ_INT(ts_ms_tsmp_input(w.a.ms, w.pa, NULL, 0, now), TS_MS_TSMP_BAD);
  CHECK_EQ_INT(ts_ms_tsmp_input(NULL, w.pa, adv, an, now), TS_MS_TSMP_BAD);
  adv[20] = '!';
  CHECK_EQ_INT(ts_ms_tsmp_input(w.a.ms, w.pa, adv, an, now), TS_MS_TSMP_OTHER);
  adv[20] = 'o'; /* a pong: reported to the caller, and only from a peer */
  CHECK_EQ_INT(ts_ms_tsmp_input(w.a.ms, w.pa, adv, an, now), TS_MS_TSMP_PONG);
  CHECK_EQ_INT(ts_ms_tsmp_input(w.a.ms, NULL, adv, an, now), TS_MS_TSMP_BAD);
  adv[20] = 'p';
  CHECK_EQ_INT(ts_ms_tsmp_input(w.a.ms, w.pa, adv, an, now), TS_MS_TSMP_PING);
  ts_ms_counters c;
  ts_ms_counters_get(w.a.ms, &c);
  CHECK_EQ_INT(c.tsmp_bad, 6);
  CHECK_EQ_INT(c.tsmp_other, 1);
  CHECK_EQ_INT(c.tsmp_pong, 1);
  CHECK_EQ_INT(c.tsmp_ping, 1);
  CHECK_EQ_INT(c.tsmp_disco_applied, 0);
  pair_free(&w);
}

int main(void) {
  if (ts_crypto_init() != 0) return 1;
  RUN(test_starts_over_derp);
  RUN(test_pong_makes_direct);
  RUN(test_trust_expiry);
  RUN(test_trust_expiry_seen_by_route_first);
  RUN(test_heartbeat_cadence);
  RUN(test_session_inactivity);
  RUN(test_cmm);
  RUN(test_ping_learned_candidate);
  RUN(test_derp_ping);
  RUN(test_ping_on_demand);
  RUN(test_better_addr_choices);
  RUN(test_disco_key_change_resets);
  RUN(test_unknown_and_junk);
  RUN(test_stale_pong);
  RUN(test_peer_removal);
  RUN(test_many_peers);
  RUN(test_no_disco_peer);
  RUN(test_rate_limits);
  RUN(test_upgrade_interval);
  RUN(test_netmap_update);
  RUN(test_bad_config);
  RUN(test_tsmp_disco_advert);
  RUN(test_tsmp_junk);
  TEST_MAIN_END();
}
