/* libFuzzer target: the whole WireGuard receive path. Two devices with a live session; the input is a
 * script of operations: raw datagrams to either device, validly encrypted packets with fuzzed plaintext
 * (reaching the inner-packet checks), real handshake/data messages with fuzzed bit flips, time jumps with
 * timers, load toggling, and peer churn. Any crash, sanitizer report or broken invariant aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "wg/wg.h"
#include "wg/wg_cookie.h"
#include "wg/wg_msg.h"

#define SEC 1000000000ULL
#define SLOTS 16
#define MAXLEN 2048

typedef struct {
  uint8_t buf[SLOTS][MAXLEN];
  size_t len[SLOTS];
  int n;
  uint64_t rng;
} box;

static void rng(void *ctx, void *buf, size_t len) {
  box *b = ctx;
  uint8_t *p = buf;
  for (size_t i = 0; i < len; i++) {
    b->rng ^= b->rng << 13;
    b->rng ^= b->rng >> 7;
    b->rng ^= b->rng << 17;
    p[i] = (uint8_t)(b->rng >> 24);
  }
}

static void sink(void *ctx, ts_wg_peer *peer, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  (void)peer, (void)ep;
  box *b = ctx;
  if (b->n == SLOTS || len > MAXLEN) return; /* a lossy network */
  memcpy(b->buf[b->n], buf, len);
  b->len[b->n++] = len;
}

typedef struct {
  ts_wg_device *dev;
  box out;
  ts_wg_endpoint ep;
  uint8_t priv[32], pub[32];
  ts_wg_peer *peer;
  const uint8_t *lookup_key; /* the key this side configures on demand */
} side;

static const uint8_t IP4[2][4] = {{10, 0, 0, 1}, {10, 0, 0, 2}};
static const uint8_t IP6[2][16] = {{0xfd, [15] = 1}, {0xfd, [15] = 2}};

/* Side 1 configures side 0 on demand when it is not a peer (after churn removed it). */
static ts_wg_peer *lookup(void *ctx, ts_wg_device *dev, const uint8_t pub[32]) {
  side *self = ctx;
  if (!self->lookup_key || memcmp(pub, self->lookup_key, 32) != 0) return NULL;
  self->peer = ts_wg_peer_add(dev, pub, NULL);
  if (self->peer) ts_wg_peer_allow(dev, self->peer, 4, IP4[0], 32);
  return self->peer;
}

static void side_init(side *s, int id) {
  memset(s, 0, sizeof *s);
  s->out.rng = 0x1234567ULL * (uint64_t)(id + 1);
  for (int i = 0; i < 32; i++) s->priv[i] = (uint8_t)(id * 17 + i);
  ts_x25519_clamp(s->priv);
  ts_x25519_public(s->pub, s->priv);
  s->ep.len = 6;
  s->ep.data[3] = (uint8_t)id;
  ts_wg_config cfg = {0};
  cfg.rng = rng;
  cfg.rng_ctx = &s->out;
  cfg.sink.ctx = &s->out;
  cfg.sink.send = sink;
  cfg.under_load_threshold = 8;
  if (id == 1) {
    cfg.peer_lookup = lookup;
    cfg.peer_lookup_ctx = s;
  }
  s->dev = ts_wg_device_new(s->priv, &cfg);
}

static void add_peer(side *s, const side *o, int oid) {
  s->peer = ts_wg_peer_add(s->dev, o->pub, NULL);
  ts_wg_peer_allow(s->dev, s->peer, 4, IP4[oid], 32);
  ts_wg_peer_allow(s->dev, s->peer, 6, IP6[oid], 128);
}

static uint8_t scratch[MAXLEN + 64];

/* Delivers from's queued datagrams to `to`, optionally flipping bits in them first; with remac, handshake
 * messages get a correct mac1 again so the flips reach the Noise layer. */
static void deliver_ex(side *from, side *to, uint64_t now, const uint8_t *mask, size_t mlen, int remac) {
  int n = from->out.n;
  static uint8_t copy[SLOTS][MAXLEN];
  size_t lens[SLOTS];
  for (int i = 0; i < n; i++) memcpy(copy[i], from->out.buf[i], from->out.len[i]), lens[i] = from->out.len[i];
  from->out.n = 0;
  for (int i = 0; i < n; i++) {
    for (size_t j = 0; j < mlen && j < lens[i]; j++) copy[i][j] ^= mask[j];
    if (remac && (lens[i] == TS_WG_INITIATION_LEN || lens[i] == TS_WG_RESPONSE_LEN)) {
      ts_wg_cookie_gen g;
      ts_wg_cookie_gen_init(&g, to->pub);
      ts_wg_cookie_add_macs(&g, now, copy[i], lens[i] == TS_WG_INITIATION_LEN ? TS_WG_INITIATION_MAC1_OFF
                                                                              : TS_WG_RESPONSE_MAC1_OFF);
    }
    ts_wg_rx rx;
    ts_wg_rx_kind k = ts_wg_receive(to->dev, now, now, copy[i], lens[i], &from->ep, &rx);
    if (k == TS_WG_RX_DATA && (rx.data < copy[i] || rx.data + rx.len > copy[i] + lens[i])) abort();
    if (k == TS_WG_RX_DROP && rx.drop == TS_WG_DROP_NONE) abort();
  }
}

static void deliver(side *from, side *to, uint64_t now, const uint8_t *mask, size_t mlen) {
  deliver_ex(from, to, now, mask, mlen, 0);
}

static void pump(side *a, side *b, uint64_t now) {
  for (int i = 0; i < 6 && (a->out.n || b->out.n); i++) {
    deliver(a, b, now, NULL, 0);
    deliver(b, a, now, NULL, 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int inited;
  if (!inited) {
    if (ts_crypto_init()) abort();
    inited = 1;
  }
  side s[2];
  side_init(&s[0], 0);
  side_init(&s[1], 1);
  s[1].lookup_key = s[0].pub;
  add_peer(&s[0], &s[1], 1);
  add_peer(&s[1], &s[0], 0);
  /* Two peers that never answer, so queues, retransmissions and give-ups run next to the live one. */
  for (int k = 0; k < 2; k++) {
    uint8_t pub[32];
    memset(pub, 0x50 + k, 32);
    pub[31] &= 0x7f;
    ts_wg_peer *q = ts_wg_peer_add(s[0].dev, pub, NULL);
    ts_wg_peer_allow(s[0].dev, q, 4, (const uint8_t[4]){10, 0, 1, (uint8_t)(k * 128)}, 25);
  }
  uint64_t now = 1;
  /* A session first, so the script starts deep in the state machine. */
  uint8_t pkt[64] = {0x45, 0, 0, 64};
  memcpy(pkt + 12, IP4[0], 4);
  memcpy(pkt + 16, IP4[1], 4);
  ts_wg_tx tx;
  ts_wg_send(s[0].dev, now, now, pkt, sizeof pkt, scratch, sizeof scratch, &tx);
  pump(&s[0], &s[1], now);

  size_t i = 0;
  while (i + 2 <= size) {
    uint8_t op = data[i++];
    int who = op & 1; /* the receiving side for most ops */
    side *to = &s[who], *from = &s[!who];
    size_t n = data[i++];
    if (op & 0x80) n = n * 8;
    if (n > size - i) n = size - i;
    if (n > MAXLEN) n = MAXLEN;
    const uint8_t *arg = data + i;
    i += n;
    switch ((op >> 1) % 12) {
    case 0: { /* raw bytes */
      memcpy(scratch, arg, n);
      ts_wg_rx rx;
      ts_wg_receive(to->dev, now, now, scratch, n, &from->ep, &rx);
      break;
    }
    case 1: { /* fuzzed plaintext, validly encrypted on the session */
      if (from->peer && ts_wg_peer_send(from->dev, from->peer, now, now, arg, n, scratch, sizeof scratch, &tx) ==
                            TS_WG_TX_READY) {
        ts_wg_rx rx;
        ts_wg_receive(to->dev, now, now, scratch, tx.len, &from->ep, &rx);
      }
      break;
    }
    case 2: { /* routed send of fuzzed bytes, then deliver with a fuzzed bit mask */
      if (ts_wg_send(from->dev, now, now, arg, n, scratch, sizeof scratch, &tx) == TS_WG_TX_READY) {
        for (size_t j = 0; j < n && j < tx.len; j++) scratch[j] ^= arg[n - 1 - j] & 0x11;
        ts_wg_rx rx;
        ts_wg_receive(to->dev, now, now, scratch, tx.len, &from->ep, &rx);
      }
      break;
    }
    case 3: /* time passes; timers run; the network delivers */
      now += (n ? arg[0] : 1) * (op & 0x40 ? SEC : SEC / 50) + 1;
      ts_wg_timers(s[0].dev, now, now);
      ts_wg_timers(s[1].dev, now, now);
      pump(&s[0], &s[1], now);
      break;
    case 4: /* deliver whatever `from` sent, with flipped bits (and maybe a repaired mac1) */
      deliver_ex(from, to, now, arg, n, op & 0x40);
      break;
    case 5:
      ts_wg_device_force_under_load(to->dev, n & 1);
      break;
    case 6: /* roam */
      if (n) from->ep.data[0] = arg[0];
      break;
    case 7: /* peer churn: remove and re-add */
      if (to->peer) {
        ts_wg_peer_remove(to->dev, to->peer);
        to->peer = NULL;
      } else {
        add_peer(to, from, !who);
      }
      break;
    case 9: /* the network loses everything in flight */
      s[0].out.n = s[1].out.n = 0;
      break;
    case 10: { /* a burst, possibly after a counter jump, delivered in a fuzzed order with duplicates */
      static uint8_t burst[32][256];
      size_t blen[32];
      int k = 0;
      if (!from->peer || !n) break;
      if (op & 0x40) ts_wg_test_set_send_counter(from->peer, (uint64_t)arg[0] << (arg[0] % 40));
      uint8_t plain[64] = {0x45, 0, 0, 64};
      memcpy(plain + 12, IP4[!who], 4);
      memcpy(plain + 16, IP4[who], 4);
      for (; k < 32 && k < 1 + arg[0] % 32; k++) {
        if (ts_wg_peer_send(from->dev, from->peer, now, now, plain, sizeof plain, burst[k], 256, &tx) != TS_WG_TX_READY)
          break;
        blen[k] = tx.len;
      }
      for (size_t j = 1; j < n && k; j++) {
        uint8_t tmp[256];
        int idx = arg[j] % k;
        memcpy(tmp, burst[idx], blen[idx]);
        ts_wg_rx rx;
        ts_wg_receive(to->dev, now, now, tmp, blen[idx], &from->ep, &rx);
      }
      break;
    }
    case 11: { /* traffic to the silent peers */
      uint8_t plain[48] = {0x45, 0, 0, 48};
      memcpy(plain + 12, IP4[0], 4);
      plain[16] = 10, plain[17] = 0, plain[18] = 1, plain[19] = n ? arg[0] : 0;
      for (int k = 0; k < 1 + (int)(n % 200); k++)
        ts_wg_send(s[0].dev, now, now, plain, sizeof plain, scratch, sizeof scratch, &tx);
      break;
    }
    case 8: /* persistent keepalive and psk changes */
      if (to->peer) {
        ts_wg_peer_set_persistent_keepalive(to->peer, now, n ? arg[0] % 4 : 0);
        if (n >= 32 && (op & 0x40)) ts_wg_peer_set_psk(to->peer, arg);
      }
      break;
    }
  }
  ts_wg_device_free(s[0].dev);
  ts_wg_device_free(s[1].dev);
  return 0;
}
