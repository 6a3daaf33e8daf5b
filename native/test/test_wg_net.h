/* A fake network for the WireGuard tests: nodes whose sinks append datagrams to an outbox that the test
 * delivers by hand, a deterministic RNG, and IP packet builders. Included by the test_wg*.c files. */
#ifndef TS_TEST_WG_NET_H
#define TS_TEST_WG_NET_H

#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "wg/wg.h"

#define SEC 1000000000ULL
#define MS 1000000ULL
#define WALL0 1700000000000000000ULL /* an arbitrary Unix time in ns */
#define OUTBOX 512

typedef struct {
  uint8_t *data;
  size_t len;
  ts_wg_peer *peer;
  ts_wg_endpoint ep;
} net_pkt;

typedef struct {
  uint64_t state;
} test_rng;

typedef struct node {
  ts_wg_device *dev;
  test_rng rng;
  ts_wg_endpoint ep; /* the address this node sends from */
  net_pkt out[OUTBOX];
  int n_out;
  uint8_t priv[32], pub[32];
} node;

static inline void rng_fill(void *ctx, void *buf, size_t len) {
  test_rng *r = ctx;
  uint8_t *b = buf;
  for (size_t i = 0; i < len; i++) {
    r->state ^= r->state << 13;
    r->state ^= r->state >> 7;
    r->state ^= r->state << 17;
    b[i] = (uint8_t)(r->state >> 24);
  }
}

static inline void sink_send(void *ctx, ts_wg_peer *peer, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  node *n = ctx;
  if (n->n_out >= OUTBOX) abort();
  net_pkt *p = &n->out[n->n_out++];
  p->data = malloc(len ? len : 1);
  memcpy(p->data, buf, len);
  p->len = len;
  p->peer = peer;
  p->ep = *ep;
}

static inline ts_wg_endpoint mk_ep(uint8_t a, uint16_t port) {
  ts_wg_endpoint e;
  memset(&e, 0, sizeof e);
  e.len = 6;
  e.host_len = 4;
  e.data[0] = 192, e.data[1] = 168, e.data[2] = 0, e.data[3] = a;
  e.data[4] = (uint8_t)(port >> 8), e.data[5] = (uint8_t)port;
  return e;
}

static inline void node_init_cfg(node *n, uint8_t id, ts_wg_config *cfg) {
  memset(n, 0, sizeof *n);
  n->rng.state = 0x9E3779B97F4A7C15ULL * (id + 1);
  for (int i = 0; i < 32; i++) n->priv[i] = (uint8_t)(id * 31 + i + 1);
  ts_x25519_clamp(n->priv);
  ts_x25519_public(n->pub, n->priv);
  n->ep = mk_ep(id, 51820);
  cfg->rng = rng_fill;
  cfg->rng_ctx = &n->rng;
  cfg->sink.ctx = n;
  cfg->sink.send = sink_send;
  n->dev = ts_wg_device_new(n->priv, cfg);
}

static inline void node_init(node *n, uint8_t id) {
  ts_wg_config cfg;
  memset(&cfg, 0, sizeof cfg);
  node_init_cfg(n, id, &cfg);
}

static inline void outbox_clear(node *n) {
  for (int i = 0; i < n->n_out; i++) free(n->out[i].data);
  n->n_out = 0;
}

static inline void node_free(node *n) {
  outbox_clear(n);
  ts_wg_device_free(n->dev);
  n->dev = NULL;
}

/* Removes and returns the i-th outgoing datagram (caller frees .data). */
static inline net_pkt outbox_take(node *n, int i) {
  net_pkt p = n->out[i];
  memmove(&n->out[i], &n->out[i + 1], (size_t)(n->n_out - i - 1) * sizeof n->out[0]);
  n->n_out--;
  return p;
}

typedef struct {
  int n, data, keepalive, handshake, cookie, drop;
  ts_wg_rx last;
  uint8_t last_data[2048];
  size_t last_len;
} deliver_stats;

/* Delivers everything in from's outbox to `to` (from from->ep) and tallies the results. */
static inline deliver_stats deliver(node *from, node *to, uint64_t now) {
  deliver_stats st;
  memset(&st, 0, sizeof st);
  int n = from->n_out;
  net_pkt pk[OUTBOX];
  memcpy(pk, from->out, (size_t)n * sizeof pk[0]);
  from->n_out = 0;
  for (int i = 0; i < n; i++) {
    ts_wg_rx rx;
    ts_wg_receive(to->dev, now, WALL0 + now, pk[i].data, pk[i].len, &from->ep, &rx);
    st.n++;
    st.last = rx;
    switch (rx.kind) {
    case TS_WG_RX_DATA:
      st.data++;
      if (rx.len <= sizeof st.last_data) memcpy(st.last_data, rx.data, rx.len), st.last_len = rx.len;
      break;
    case TS_WG_RX_KEEPALIVE: st.keepalive++; break;
    case TS_WG_RX_HANDSHAKE: st.handshake++; break;
    case TS_WG_RX_COOKIE: st.cookie++; break;
    default: st.drop++; break;
    }
    free(pk[i].data);
  }
  return st;
}

/* Delivers back and forth until both outboxes are empty. */
static inline void pump(node *a, node *b, uint64_t now) {
  for (int i = 0; i < 16 && (a->n_out || b->n_out); i++) {
    deliver(a, b, now);
    deliver(b, a, now);
  }
}

/* A minimal IPv4 packet (UDP-ish payload) of total length len >= 20. */
static inline size_t ip4(uint8_t *buf, size_t len, const uint8_t src[4], const uint8_t dst[4], uint8_t fill) {
  memset(buf, fill, len);
  buf[0] = 0x45;
  buf[1] = 0;
  buf[2] = (uint8_t)(len >> 8), buf[3] = (uint8_t)len;
  buf[8] = 64, buf[9] = 17;
  memcpy(buf + 12, src, 4);
  memcpy(buf + 16, dst, 4);
  return len;
}

static inline size_t ip6(uint8_t *buf, size_t len, const uint8_t src[16], const uint8_t dst[16], uint8_t fill) {
  memset(buf, fill, len);
  buf[0] = 0x60;
  buf[1] = buf[2] = buf[3] = 0;
  buf[4] = (uint8_t)((len - 40) >> 8), buf[5] = (uint8_t)(len - 40);
  buf[6] = 17, buf[7] = 64;
  memcpy(buf + 8, src, 16);
  memcpy(buf + 24, dst, 16);
  return len;
}

static inline int count_type(const node *n, uint8_t type) {
  int c = 0;
  for (int i = 0; i < n->n_out; i++)
    if (n->out[i].len >= 1 && n->out[i].data[0] == type) c++;
  return c;
}

static inline uint64_t total_drops(const ts_wg_device *d) {
  uint64_t t = 0;
  for (int i = 1; i < TS_WG_DROP_COUNT; i++) t += ts_wg_drops(d, (ts_wg_drop)i);
  return t;
}

#endif
