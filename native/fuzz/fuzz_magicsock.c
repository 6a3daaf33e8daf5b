/* libFuzzer target: the magicsock core driven by a script of operations from the input. One ts_ms (A) knows
 * peer B (disco), D (sharing B's disco key, as node sharing does) and C (no disco). Operations:
 *   raw bytes as a disco packet over UDP or DERP; cleartexts sealed with B's disco key (so they open);
 *   structured Pings, Pongs (echoing TxIDs A really sent, read back from its captured pings) and
 *   CallMeMaybes; route(); timers and clock jumps; netmap updates (endpoints, disco key changes);
 *   peer removal and re-adding; WireGuard receive notes; our endpoints.
 * Invariants checked after every step (abort on violation): route() returns 0-2 sendable paths and only
 * the best address while trusted; candidates stay bounded; every packet A sends is a disco packet that
 * B's current key opens and decodes; timers never leave a deadline at or before now. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "disco/disco.h"
#include "magicsock/magicsock.h"

typedef struct fz {
  const uint8_t *d;
  size_t n;
  ts_ms *ms;
  uint64_t now, rng;
  uint8_t a_disco_priv[32], a_disco_pub[32], a_node[32];
  uint8_t b_disco_priv[2][32], b_disco_pub[2][32];
  int b_key; /* which of B's two disco keys the netmap has; -1: none */
  uint8_t b_node[32], c_node[32], d_node[32];
  ts_ms_peer *b, *c, *dp;
  uint8_t tx[16][12];
  ts_addr tx_to[16];
  size_t n_tx;
} fz;

static const char *ips[] = {"10.0.0.2", "127.0.0.1", "192.168.1.9", "169.254.3.3", "2001:db8::5",
                            "fe80::9", "fd00::1", "198.51.100.4"};

static uint8_t take(fz *f) {
  if (!f->n) return 0;
  f->n--;
  return *f->d++;
}

static ts_addr pick_addr(fz *f) {
  uint8_t b = take(f);
  ts_addr a;
  ts_addr_parse(&a, ips[b % 8], (uint16_t)(1 + (b >> 3) % 4));
  return a;
}

static void rng_cb(void *ctx, void *buf, size_t len) {
  fz *f = ctx;
  uint8_t *p = buf;
  for (size_t i = 0; i < len; i++) p[i] = (uint8_t)((++f->rng * 0x9E3779B97F4A7C15ULL) >> 56);
}

static void send_cb(void *ctx, const ts_ms_path *path, const uint8_t key[32], const uint8_t *pkt, size_t len) {
  fz *f = ctx;
  if (!ts_disco_is_disco(pkt, len)) abort();
  if (path->kind == TS_MS_PATH_UDP) {
    if (path->addr.family != TS_ADDR_V4 && path->addr.family != TS_ADDR_V6) abort();
  } else if (path->kind != TS_MS_PATH_DERP || path->region == 0) {
    abort();
  }
  if (memcmp(key, f->c_node, 32) == 0) abort(); /* C speaks no disco */
  if (memcmp(key, f->b_node, 32) != 0 && memcmp(key, f->d_node, 32) != 0) abort();
  if (f->b_key < 0) abort();
  uint8_t shared[32], clear[2048];
  if (ts_disco_shared_key(shared, f->a_disco_pub, f->b_disco_priv[f->b_key]) != 0) abort();
  if (memcmp(ts_disco_sender(pkt), f->a_disco_pub, 32) != 0) abort();
  long c = ts_disco_open(clear, sizeof clear, pkt, len, shared);
  if (c < 0) abort();
  ts_disco_msg m;
  if (ts_disco_decode(&m, clear, (size_t)c) != 0) abort();
  if (m.type == TS_DISCO_PING) {
    if (path->kind != TS_MS_PATH_UDP || !m.has_node_key || memcmp(m.node_key, f->a_node, 32) != 0) abort();
    memcpy(f->tx[f->n_tx % 16], m.tx_id, 12);
    f->tx_to[f->n_tx % 16] = path->addr;
    f->n_tx++;
  } else if (m.type == TS_DISCO_CALL_ME_MAYBE) {
    if (path->kind != TS_MS_PATH_DERP || m.n_endpoints > TS_MS_MAX_ENDPOINTS) abort();
  }
}

static void check_peer(fz *f, ts_ms_peer *p) {
  if (!p) return;
  ts_ms_peer_info i;
  ts_ms_peer_info_get(p, f->now, &i);
  if (i.n_candidates > TS_MS_MAX_CANDIDATES) abort();
  if (i.trusted && i.best.kind != TS_MS_PATH_UDP) abort();
  ts_ms_path out[2];
  int k = ts_ms_route(f->ms, p, f->now, out);
  if (k < 0 || k > 2) abort();
  for (int j = 0; j < k; j++) {
    if (out[j].kind == TS_MS_PATH_UDP && out[j].addr.port == 0) abort();
    if (out[j].kind == TS_MS_PATH_DERP && out[j].region == 0) abort();
    if (out[j].kind != TS_MS_PATH_UDP && out[j].kind != TS_MS_PATH_DERP) abort();
  }
  if (i.trusted && (k != 1 || out[0].kind != TS_MS_PATH_UDP || !ts_addr_equal(&out[0].addr, &i.best.addr)))
    abort();
}

static void set_b(fz *f) {
  ts_addr eps[4];
  size_t n = take(f) % 5;
  for (size_t i = 0; i < n; i++) eps[i] = pick_addr(f);
  uint8_t k = take(f);
  f->b_key = k % 3 == 2 ? -1 : k % 3;
  const uint8_t *dk = f->b_key < 0 ? NULL : f->b_disco_pub[f->b_key];
  f->b = ts_ms_peer_set(f->ms, f->b_node, dk, k >> 4, eps, n, f->now);
  if (!f->b) abort();
  if (f->dp) f->dp = ts_ms_peer_set(f->ms, f->d_node, dk, 1, NULL, 0, f->now);
}

static void input(fz *f, const uint8_t *pkt, size_t len) {
  ts_ms_path from;
  memset(&from, 0, sizeof from);
  uint8_t how = take(f);
  const uint8_t *src = NULL;
  if (how & 1) {
    from.kind = TS_MS_PATH_DERP;
    from.region = (how >> 1) % 4;
    src = (how & 0x10) ? f->b_node : (how & 0x20) ? f->d_node : (how & 0x40) ? f->c_node : NULL;
  } else {
    from.kind = TS_MS_PATH_UDP;
    from.addr = pick_addr(f);
  }
  int r = ts_ms_disco_input(f->ms, f->now, pkt, len, &from, src);
  if (r > 0 || r < TS_MS_RX_STALE) abort();
}

static void sealed(fz *f, const ts_disco_msg *m, const uint8_t *clear, size_t clen) {
  int k = f->b_key < 0 ? 0 : f->b_key;
  uint8_t shared[32], pkt[4096];
  if (ts_disco_shared_key(shared, f->a_disco_pub, f->b_disco_priv[k]) != 0) abort();
  long n = m ? ts_disco_seal_msg(pkt, sizeof pkt, f->b_disco_pub[k], shared, NULL, m)
             : ts_disco_seal(pkt, sizeof pkt, f->b_disco_pub[k], shared, NULL, clear, clen);
  if (n > 0) input(f, pkt, (size_t)n);
}

static void step(fz *f) {
  uint8_t op = take(f);
  ts_disco_msg m;
  memset(&m, 0, sizeof m);
  switch (op % 12) {
  case 0: { /* raw bytes */
    size_t len = take(f);
    len = len < f->n ? len : f->n;
    uint8_t *buf = malloc(len + 1);
    memcpy(buf, f->d, len);
    if (len >= 6 && (len & 1)) memcpy(buf, ts_disco_magic, 6);
    if (len >= 38 && (len & 2)) memcpy(buf + 6, f->b_disco_pub[0], 32);
    f->d += len, f->n -= len;
    input(f, buf, len);
    free(buf);
    break;
  }
  case 1: { /* a cleartext sealed by B */
    size_t len = take(f) % 64;
    len = len < f->n ? len : f->n;
    uint8_t clear[64];
    memcpy(clear, f->d, len);
    f->d += len, f->n -= len; /* before sealed(): input() takes bytes too */
    sealed(f, NULL, clear, len);
    break;
  }
  case 2: /* a Pong echoing one of A's pings */
    m.type = TS_DISCO_PONG;
    if (f->n_tx) {
      size_t i = take(f) % (f->n_tx < 16 ? f->n_tx : 16);
      memcpy(m.tx_id, f->tx[i], 12);
    }
    m.src = pick_addr(f);
    f->now += take(f) * 1000000ULL;
    sealed(f, &m, NULL, 0);
    break;
  case 3: /* CallMeMaybe */
    m.type = TS_DISCO_CALL_ME_MAYBE;
    m.n_endpoints = take(f) % 6;
    for (size_t i = 0; i < m.n_endpoints; i++) m.endpoints[i] = pick_addr(f);
    sealed(f, &m, NULL, 0);
    break;
  case 4: /* Ping */
    m.type = TS_DISCO_PING;
    m.tx_id[0] = take(f);
    m.has_node_key = take(f) & 1;
    memcpy(m.node_key, (f->n & 1) ? f->b_node : f->d_node, 32);
    sealed(f, &m, NULL, 0);
    break;
  case 5: check_peer(f, f->b); break;
  case 6: check_peer(f, (take(f) & 1) ? f->c : f->dp); break;
  case 7: { /* timers at the deadline (never late) or a clock jump */
    uint64_t d = ts_ms_next_deadline(f->ms);
    if ((take(f) & 1) && d != UINT64_MAX && d > f->now) f->now = d;
    else f->now += (uint64_t)take(f) * 250000000ULL;
    uint64_t r = ts_ms_timers(f->ms, f->now);
    if (r != ts_ms_next_deadline(f->ms) || r <= f->now) abort();
    break;
  }
  case 8: set_b(f); break;
  case 9:
    if (f->dp) {
      ts_ms_peer_remove(f->ms, f->dp);
      f->dp = NULL;
    } else {
      f->dp = ts_ms_peer_set(f->ms, f->d_node, f->b_key < 0 ? NULL : f->b_disco_pub[f->b_key], 1, NULL, 0, f->now);
    }
    break;
  case 10: { /* WireGuard from somewhere */
    ts_ms_path from = {.kind = (take(f) & 1) ? TS_MS_PATH_DERP : TS_MS_PATH_UDP, .region = take(f) % 3};
    from.addr = pick_addr(f);
    ts_ms_peer *p = (f->n & 1) ? f->b : f->c;
    ts_ms_note_wg_rx(f->ms, p, &from, f->now);
    ts_ms_peer *q = ts_ms_peer_by_addr(f->ms, &from.addr);
    if (from.kind == TS_MS_PATH_UDP && q != p) abort();
    if (q && q != f->b && q != f->c && q != f->dp) abort();
    break;
  }
  default: { /* our endpoints */
    ts_addr eps[3];
    size_t n = take(f) % 4;
    for (size_t i = 0; i < n; i++) eps[i] = pick_addr(f);
    ts_ms_set_endpoints(f->ms, eps, n);
    break;
  }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int inited;
  if (!inited) {
    if (ts_crypto_init() != 0) abort();
    inited = 1;
  }
  fz f;
  memset(&f, 0, sizeof f);
  f.d = data, f.n = size;
  f.now = 1000000000000ULL;
  memset(f.a_disco_priv, 0x11, 32);
  ts_x25519_public(f.a_disco_pub, f.a_disco_priv);
  memset(f.a_node, 0xa1, 32);
  for (int k = 0; k < 2; k++) {
    memset(f.b_disco_priv[k], 0x21 + k, 32);
    ts_x25519_public(f.b_disco_pub[k], f.b_disco_priv[k]);
  }
  memset(f.b_node, 0xb1, 32), memset(f.c_node, 0xc1, 32), memset(f.d_node, 0xd1, 32);
  ts_ms_config cfg = {.send = send_cb, .ctx = &f, .rng = rng_cb, .rng_ctx = &f};
  memcpy(cfg.disco_private, f.a_disco_priv, 32);
  memcpy(cfg.node_public, f.a_node, 32);
  f.ms = ts_ms_new(&cfg);
  if (!f.ms) abort();
  ts_addr ours;
  ts_addr_parse(&ours, "10.0.0.1", 41641);
  ts_ms_set_endpoints(f.ms, &ours, 1);
  ts_addr b_ep;
  ts_addr_parse(&b_ep, "10.0.0.2", 1);
  f.b = ts_ms_peer_set(f.ms, f.b_node, f.b_disco_pub[0], 2, &b_ep, 1, f.now);
  f.c = ts_ms_peer_set(f.ms, f.c_node, NULL, 3, &b_ep, 1, f.now);
  f.dp = ts_ms_peer_set(f.ms, f.d_node, f.b_disco_pub[0], 1, NULL, 0, f.now);
  if (!f.b || !f.c || !f.dp) abort();
  for (int i = 0; i < 400 && f.n; i++) step(&f);
  ts_ms_free(f.ms);
  return 0;
}
