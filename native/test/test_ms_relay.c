/* magicsock as a peer-relay client (magicsock.h, "peer relays"; docs/protocol/peer-relay.md), sans-I/O: nodes A
 * and B are ts_ms instances with no direct path between them; the test plays the relay node R (answers
 * allocation requests over DERP) and its relay server S (bind handshake, then forwards Geneve between the two
 * bound addresses), and delivers DERP between everyone. Time is injected. */
#include <stdlib.h>

#include "crypto/crypto.h"
#include "disco/disco.h"
#include "disco/disco_relay.h"
#include "magicsock/magicsock.h"
#include "magicsock/ms_internal.h"
#include "test.h"

#define SEC TS_MS_NS_PER_SEC
#define MS TS_MS_NS_PER_MS
#define MAXQ 256
#define REGION 1

typedef struct pkt {
  ts_ms_path path;
  uint8_t key[32];
  uint8_t data[512];
  size_t len;
} pkt;

typedef struct node {
  ts_ms *ms;
  uint8_t node_pub[32], disco_priv[32], disco_pub[32];
  ts_addr addr;
  pkt *q;
  size_t nq;
  int on_path;
  uint64_t rng;
} node;

/* R (relay node) and S (its relay server), played by the test. */
typedef struct relay {
  uint8_t node_pub[32], disco_priv[32], disco_pub[32]; /* R */
  uint8_t s_priv[32], s_pub[32];                       /* S */
  ts_addr addr;                                        /* S's address */
  uint32_t next_vni;
  size_t allocs, binds, answers, forwarded, forwarded_wg, dropped_direct;
  int drop_all;       /* S forwards nothing (the relay path dies) */
  int direct_ok;      /* UDP between A and B is delivered (a direct path appears) */
  int ignore_allocs;  /* R never answers */
  struct { uint32_t vni; uint8_t disco[2][32]; ts_addr bound[2]; } eps[8];
  size_t n_eps;
} relay;

static uint64_t now;
static node *nodes[2];
static relay *R;

static void send_cb(void *ctx, const ts_ms_path *path, const uint8_t key[32], const uint8_t *p, size_t len) {
  node *n = ctx;
  if (n->nq == MAXQ || len > sizeof n->q[0].data) return;
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
  ts_ms_config cfg = {.send = send_cb, .on_path = path_cb, .ctx = n, .rng = rng_cb, .rng_ctx = n};
  memcpy(cfg.disco_private, n->disco_priv, 32);
  memcpy(cfg.node_public, n->node_pub, 32);
  n->ms = ts_ms_new(&cfg);
}

static void node_free(node *n) {
  ts_ms_free(n->ms);
  free(n->q);
}

static void relay_init(relay *r) {
  memset(r, 0, sizeof *r);
  memset(r->disco_priv, 0x33, 32);
  ts_x25519_public(r->disco_pub, r->disco_priv);
  memset(r->node_pub, 0x83, 32);
  memset(r->s_priv, 0x44, 32);
  ts_x25519_public(r->s_pub, r->s_priv);
  r->addr = A("10.0.0.9", 7000);
  r->next_vni = 7;
}

/* Two nodes that know each other and R; both may use R and reach each other through it. */
static void world(node *a, node *b, relay *r, const ts_addr *b_ep) {
  relay_init(r);
  R = r;
  node_init(a, 1, "10.0.0.1", 1001);
  node_init(b, 2, "10.0.0.2", 1002);
  nodes[0] = a, nodes[1] = b;
  for (int i = 0; i < 2; i++) {
    node *self = nodes[i], *other = nodes[1 - i];
    CHECK(ts_ms_peer_set(self->ms, other->node_pub, other->disco_pub, REGION, i == 0 ? b_ep : NULL, i == 0 && b_ep ? 1 : 0, now) != NULL);
    CHECK(ts_ms_peer_set(self->ms, r->node_pub, r->disco_pub, REGION, NULL, 0, now) != NULL);
    uint8_t sv[1][32], tg[1][32];
    memcpy(sv[0], r->node_pub, 32);
    memcpy(tg[0], other->node_pub, 32);
    ts_ms_set_relay(self->ms, (const uint8_t(*)[32])sv, 1, (const uint8_t(*)[32])tg, 1);
    ts_ms_set_endpoints(self->ms, &self->addr, 1);
  }
}

static node *node_by_key(const uint8_t key[32]) {
  for (int i = 0; i < 2; i++)
    if (memcmp(nodes[i]->node_pub, key, 32) == 0) return nodes[i];
  return NULL;
}
static node *node_by_addr(const ts_addr *a) {
  for (int i = 0; i < 2; i++)
    if (ts_addr_equal(&nodes[i]->addr, a)) return nodes[i];
  return NULL;
}

/* R: an allocation request from `from` over DERP; answers with a fresh endpoint. */
static void relay_node_input(node *from, const uint8_t *p, size_t len) {
  uint8_t shared[32], clear[512], out[512];
  CHECK_EQ_INT(ts_disco_shared_key(shared, from->disco_pub, R->disco_priv), 0);
  long n = ts_disco_open(clear, sizeof clear, p, len, shared);
  CHECK(n > 0);
  ts_disco_relay_msg m;
  if (n <= 0 || ts_disco_relay_decode(&m, clear, (size_t)n) != 0) return;
  CHECK_EQ_INT(m.type, TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST);
  CHECK(memcmp(m.client_disco[0], from->disco_pub, 32) == 0 || memcmp(m.client_disco[1], from->disco_pub, 32) == 0);
  R->allocs++;
  if (R->ignore_allocs) return;
  ts_disco_relay_msg resp;
  memset(&resp, 0, sizeof resp);
  resp.type = TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE;
  resp.generation = m.generation;
  memcpy(resp.ep.server_disco, R->s_pub, 32);
  memcpy(resp.ep.client_disco, m.client_disco, sizeof m.client_disco);
  resp.ep.lamport_id = R->next_vni;
  resp.ep.vni = R->next_vni++;
  resp.ep.bind_lifetime_ns = 5 * SEC;
  resp.ep.steady_lifetime_ns = 300 * SEC;
  resp.ep.n_addrs = 1;
  resp.ep.addrs[0] = R->addr;
  size_t e = R->n_eps++;
  R->eps[e].vni = resp.ep.vni;
  memcpy(R->eps[e].disco, m.client_disco, sizeof m.client_disco);
  long c = ts_disco_relay_encode(clear, sizeof clear, &resp);
  long k = ts_disco_seal(out, sizeof out, R->disco_pub, shared, NULL, clear, (size_t)c);
  ts_ms_path via = {.kind = TS_MS_PATH_DERP, .region = REGION};
  CHECK_EQ_INT(ts_ms_disco_input(from->ms, now, out, (size_t)k, &via, R->node_pub), TS_MS_RX_OK);
}

static int ep_find(uint32_t vni) {
  for (size_t i = 0; i < R->n_eps; i++)
    if (R->eps[i].vni == vni) return (int)i;
  return -1;
}

/* S: a datagram to the relay server's address from `from`. */
static void server_input(node *from, const uint8_t *p, size_t len) {
  ts_geneve g;
  if (ts_geneve_decode(&g, p, len) != 0) return;
  int e = ep_find(g.vni);
  if (e < 0) return;
  if (!g.control) { /* data: forward to the other bound client */
    int me = ts_addr_equal(&R->eps[e].bound[0], &from->addr) ? 0 : ts_addr_equal(&R->eps[e].bound[1], &from->addr) ? 1 : -1;
    if (me < 0 || R->eps[e].bound[1 - me].family == 0 || R->drop_all) return;
    node *to = node_by_addr(&R->eps[e].bound[1 - me]);
    R->forwarded++;
    if (g.protocol == TS_GENEVE_PROTO_WIREGUARD) {
      R->forwarded_wg++;
      return;
    }
    CHECK_EQ_INT(ts_ms_relay_input(to->ms, now, p, len, &R->addr), TS_MS_RX_OK);
    return;
  }
  uint8_t shared[32], clear[256], out[256];
  CHECK_EQ_INT(ts_disco_shared_key(shared, from->disco_pub, R->s_priv), 0);
  long n = ts_disco_open(clear, sizeof clear, p + TS_GENEVE_LEN, len - TS_GENEVE_LEN, shared);
  CHECK(n > 0);
  ts_disco_relay_msg m;
  if (n <= 0 || ts_disco_relay_decode(&m, clear, (size_t)n) != 0) return;
  int me = memcmp(R->eps[e].disco[0], from->disco_pub, 32) == 0 ? 0 : 1;
  /* The challenge: the client's address and the generation, so an Answer from elsewhere fails. */
  uint8_t want[32];
  memset(want, 0, sizeof want);
  memcpy(want, from->addr.ip, 4);
  memcpy(want + 4, &m.generation, 4);
  want[8] = (uint8_t)from->addr.port;
  if (m.type == TS_DISCO_BIND_UDP_RELAY_ENDPOINT) {
    R->binds++;
    CHECK_MEM(m.remote_key, R->eps[e].disco[1 - me], 32);
    ts_disco_relay_msg c = m;
    c.type = TS_DISCO_BIND_UDP_RELAY_ENDPOINT_CHALLENGE;
    memcpy(c.challenge, want, 32);
    ts_geneve h = {.control = 1, .protocol = TS_GENEVE_PROTO_DISCO, .vni = g.vni};
    ts_geneve_encode(out, &h);
    long cn = ts_disco_relay_encode(clear, sizeof clear, &c);
    long k = ts_disco_seal(out + 8, sizeof out - 8, R->s_pub, shared, NULL, clear, (size_t)cn);
    /* Unknown when the client moved to the other end's endpoint meanwhile (two allocations crossing). */
    int rc = ts_ms_relay_input(from->ms, now, out, (size_t)k + 8, &R->addr);
    CHECK(rc == TS_MS_RX_OK || rc == TS_MS_RX_UNKNOWN_PEER);
  } else if (m.type == TS_DISCO_BIND_UDP_RELAY_ENDPOINT_ANSWER) {
    CHECK_MEM(m.challenge, want, 32);
    R->answers++;
    R->eps[e].bound[me] = from->addr;
  }
}

/* Delivers everything queued until the network is quiet. */
static void pump(void) {
  for (int round = 0; round < 50; round++) {
    int any = 0;
    for (int i = 0; i < 2; i++) {
      node *n = nodes[i];
      size_t cnt = n->nq;
      pkt *batch = malloc(cnt * sizeof *batch + 1);
      memcpy(batch, n->q, cnt * sizeof *batch);
      n->nq = 0;
      for (size_t j = 0; j < cnt; j++) {
        pkt *k = &batch[j];
        any = 1;
        if (k->path.kind == TS_MS_PATH_DERP) {
          if (memcmp(k->key, R->node_pub, 32) == 0) {
            relay_node_input(n, k->data, k->len);
          } else {
            node *to = node_by_key(k->key);
            ts_ms_path from = {.kind = TS_MS_PATH_DERP, .region = REGION};
            if (to) ts_ms_disco_input(to->ms, now, k->data, k->len, &from, n->node_pub);
          }
        } else if (k->path.kind == TS_MS_PATH_UDP) {
          if (ts_addr_equal(&k->path.addr, &R->addr)) {
            server_input(n, k->data, k->len);
          } else if (R->direct_ok && node_by_addr(&k->path.addr)) {
            ts_ms_path from = {.kind = TS_MS_PATH_UDP, .addr = n->addr};
            ts_ms_disco_input(node_by_addr(&k->path.addr)->ms, now, k->data, k->len, &from, NULL);
          } else {
            R->dropped_direct++;
          }
        }
      }
      free(batch);
    }
    if (!any) return;
  }
}

static ts_ms_peer *peer_of(node *self, node *other) { return ts_ms_peer_by_node(self->ms, other->node_pub); }

/* Routes one WireGuard packet self -> other (the session is active) and returns the path kind. */
static int route(node *self, node *other, ts_ms_path *out) {
  ts_ms_path paths[2];
  int k = ts_ms_route(self->ms, peer_of(self, other), now, paths);
  if (out) *out = paths[0];
  if (k == 1 && paths[0].kind == TS_MS_PATH_RELAY) return TS_MS_PATH_RELAY;
  for (int i = 0; i < k; i++)
    if (paths[i].kind == TS_MS_PATH_UDP && k == 1) return TS_MS_PATH_UDP;
  return k ? TS_MS_PATH_DERP : TS_MS_PATH_NONE;
}

/* Advances time by `ns` in 100 ms steps: both keep routing (an active session) and run their timers. */
static void run(uint64_t ns) {
  for (uint64_t end = now + ns; now < end; now += 100 * MS) {
    for (int i = 0; i < 2; i++) {
      (void)route(nodes[i], nodes[1 - i], NULL);
      ts_ms_timers(nodes[i]->ms, now);
    }
    pump();
  }
}

static void test_a_allocates_both_bind(void) {
  node a, b;
  relay r;
  now = 1000 * SEC;
  world(&a, &b, &r, NULL);
  ts_ms_path p;
  CHECK_EQ_INT(route(&a, &b, &p), TS_MS_PATH_DERP); /* nothing proven: DERP, and A asks R for an endpoint */
  pump();
  CHECK_EQ_INT(r.allocs, 1);
  CHECK_EQ_INT(r.binds, 2); /* A from the response, B from A's CallMeMaybeVia */
  CHECK_EQ_INT(r.answers, 2);
  /* A pinged before B had bound: that ping was not forwarded. B's ping reached A, whose answer proved the path
   * to B, and A pinged back at once: both are proven without waiting for a resend. */
  ts_ms_peer_info ia0, ib0;
  ts_ms_peer_info_get(peer_of(&a, &b), now, &ia0);
  ts_ms_peer_info_get(peer_of(&b, &a), now, &ib0);
  CHECK_EQ_INT(ia0.relay.kind, TS_MS_PATH_RELAY);
  CHECK_EQ_INT(ib0.relay.kind, TS_MS_PATH_RELAY);
  run(2 * SEC);
  CHECK_EQ_INT(route(&a, &b, &p), TS_MS_PATH_RELAY);
  CHECK_EQ_INT(p.vni, 7);
  CHECK(ts_addr_equal(&p.addr, &r.addr));
  CHECK_EQ_INT(route(&b, &a, &p), TS_MS_PATH_RELAY);
  CHECK_EQ_INT(p.vni, 7);
  ts_ms_peer_info ia, ib;
  ts_ms_peer_info_get(peer_of(&a, &b), now, &ia);
  ts_ms_peer_info_get(peer_of(&b, &a), now, &ib);
  CHECK_EQ_INT(ia.relay.kind, TS_MS_PATH_RELAY);
  CHECK_EQ_INT(ia.relay_allocs, 1);
  CHECK_EQ_INT(ia.relay_cmm_via_sent, 1);
  CHECK_EQ_INT(ib.relay_cmm_via_received, 1);
  CHECK_EQ_INT(ib.relay_allocs, 0); /* B had no reason to allocate: it was bound before it needed a path */
  CHECK_EQ_INT(ia.trusted, 0);
  CHECK(a.on_path >= 1 && b.on_path >= 1);
  /* Heartbeats keep it proven while the session is active, with no new allocation. */
  run(30 * SEC);
  CHECK_EQ_INT(route(&a, &b, NULL), TS_MS_PATH_RELAY);
  CHECK_EQ_INT(route(&b, &a, NULL), TS_MS_PATH_RELAY);
  CHECK_EQ_INT(r.allocs, 1);
  CHECK(r.forwarded > 10);
  /* The relay stops forwarding: trust runs out, packets fall back to DERP and the change is reported. */
  r.drop_all = 1;
  int before = a.on_path;
  run(8 * SEC);
  CHECK_EQ_INT(route(&a, &b, NULL), TS_MS_PATH_DERP);
  CHECK(a.on_path > before);
  /* The server forgot the endpoint (restarted): after the retry delay a new allocation proves a new one. */
  r.drop_all = 0;
  r.n_eps = 0;
  run(TS_MS_RELAY_SETUP_TIMEOUT + TS_MS_RELAY_RETRY + 5 * SEC);
  CHECK_EQ_INT(route(&a, &b, &p), TS_MS_PATH_RELAY);
  CHECK(p.vni != 7);
  node_free(&a);
  node_free(&b);
}

static void test_both_allocate_one_endpoint(void) {
  node a, b;
  relay r;
  now = 1000 * SEC;
  world(&a, &b, &r, NULL);
  /* Both need a path at the same moment: two allocations, two CallMeMaybeVias crossing. */
  (void)route(&a, &b, NULL);
  (void)route(&b, &a, NULL);
  pump();
  CHECK_EQ_INT(r.allocs, 2);
  run(3 * SEC);
  ts_ms_path pa, pb;
  CHECK_EQ_INT(route(&a, &b, &pa), TS_MS_PATH_RELAY);
  CHECK_EQ_INT(route(&b, &a, &pb), TS_MS_PATH_RELAY);
  CHECK_EQ_INT(pa.vni, pb.vni); /* the smaller disco key's endpoint */
  int a_smaller = memcmp(a.disco_pub, b.disco_pub, 32) < 0;
  CHECK_EQ_INT(pa.vni, a_smaller ? 7 : 8);
  node_free(&a);
  node_free(&b);
}

static void test_direct_beats_relay(void) {
  node a, b;
  relay r;
  now = 1000 * SEC;
  ts_addr b_ep = A("10.0.0.2", 1002);
  world(&a, &b, &r, &b_ep);
  (void)route(&a, &b, NULL);
  pump();
  run(3 * SEC);
  CHECK_EQ_INT(route(&a, &b, NULL), TS_MS_PATH_RELAY);
  r.direct_ok = 1; /* a direct path appears: the next discovery round proves it and it wins */
  run(8 * SEC);
  CHECK_EQ_INT(route(&a, &b, NULL), TS_MS_PATH_UDP);
  ts_ms_peer_info ia;
  ts_ms_peer_info_get(peer_of(&a, &b), now, &ia);
  CHECK_EQ_INT(ia.trusted, 1);
  node_free(&a);
  node_free(&b);
}

static void test_rejects(void) {
  node a, b;
  relay r;
  now = 1000 * SEC;
  world(&a, &b, &r, NULL);
  ts_ms_counters c0, c1;
  /* R never answers: the allocation times out and is not retried before TS_MS_RELAY_RETRY. */
  r.ignore_allocs = 1;
  (void)route(&a, &b, NULL);
  pump();
  run(TS_MS_RELAY_ALLOC_TIMEOUT + SEC);
  CHECK_EQ_INT(r.allocs, 2); /* A's and B's */
  run(TS_MS_RELAY_RETRY);
  CHECK_EQ_INT(r.allocs, 4);
  /* A Geneve disco datagram from an address that is no relay endpoint of ours, and a malformed one. */
  uint8_t junk[TS_GENEVE_LEN + TS_DISCO_OVERHEAD + 20];
  memset(junk, 0, sizeof junk);
  ts_geneve h = {.protocol = TS_GENEVE_PROTO_DISCO, .vni = 7};
  ts_geneve_encode(junk, &h);
  memcpy(junk + TS_GENEVE_LEN, ts_disco_magic, TS_DISCO_MAGIC_LEN);
  memcpy(junk + TS_GENEVE_LEN + TS_DISCO_MAGIC_LEN, b.disco_pub, 32);
  ts_ms_counters_get(a.ms, &c0);
  CHECK_EQ_INT(ts_ms_relay_input(a.ms, now, junk, sizeof junk, &r.addr), TS_MS_RX_UNKNOWN_PEER);
  CHECK_EQ_INT(ts_ms_relay_input(a.ms, now, junk, 5, &r.addr), TS_MS_RX_NOT_DISCO);
  CHECK_EQ_INT(ts_ms_relay_input(a.ms, now, NULL, 0, NULL), TS_MS_RX_NOT_DISCO);
  ts_ms_counters_get(a.ms, &c1);
  CHECK_EQ_INT(c1.rx_unknown_peer - c0.rx_unknown_peer, 1);
  /* A CallMeMaybeVia from a peer that is not a relay target is refused. */
  ts_ms_set_relay(b.ms, NULL, 0, NULL, 0);
  r.ignore_allocs = 0;
  run(2 * TS_MS_RELAY_RETRY + TS_MS_RELAY_ALLOC_TIMEOUT);
  ts_ms_peer_info ib;
  ts_ms_peer_info_get(peer_of(&b, &a), now, &ib);
  CHECK_EQ_INT(ib.relay_state, 0);
  CHECK_EQ_INT(route(&a, &b, NULL), TS_MS_PATH_DERP);
  ts_ms_counters_get(b.ms, &c1);
  CHECK(c1.rx_bad > 0);
  node_free(&a);
  node_free(&b);
}

int main(void) {
  if (ts_crypto_init() != 0) return 1;
  RUN(test_a_allocates_both_bind);
  RUN(test_both_allocate_one_endpoint);
  RUN(test_direct_beats_relay);
  RUN(test_rejects);
  TEST_MAIN_END();
}
