/* Disco packets and messages; see disco.h. Described in docs/protocol/magicsock.md §1-§2. */
#include "disco/disco.h"

#include <string.h>

#include "crypto/crypto.h"

const uint8_t ts_disco_magic[TS_DISCO_MAGIC_LEN] = {0x54, 0x53, 0xF0, 0x9F, 0x92, 0xAC};

int ts_disco_is_disco(const uint8_t *buf, size_t len) {
  return buf && len >= TS_DISCO_MIN_LEN && memcmp(buf, ts_disco_magic, TS_DISCO_MAGIC_LEN) == 0;
}

const uint8_t *ts_disco_sender(const uint8_t *pkt) { return pkt + TS_DISCO_MAGIC_LEN; }

int ts_disco_shared_key(uint8_t shared[TS_DISCO_KEY_LEN], const uint8_t their_pub[TS_DISCO_KEY_LEN],
                        const uint8_t our_priv[TS_DISCO_KEY_LEN]) {
  return ts_box_beforenm(shared, their_pub, our_priv) == 0 ? 0 : TS_DISCO_E_KEY;
}

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void ts_disco_put_addr(uint8_t out[TS_DISCO_EP_LEN], const ts_addr *a) {
  if (a->family == TS_ADDR_V4) {
    memcpy(out, v4mapped, 12);
    memcpy(out + 12, a->ip, 4);
  } else {
    memcpy(out, a->ip, 16);
  }
  out[16] = (uint8_t)(a->port >> 8);
  out[17] = (uint8_t)a->port;
}

void ts_disco_get_addr(ts_addr *a, const uint8_t in[TS_DISCO_EP_LEN]) {
  memset(a, 0, sizeof *a);
  if (memcmp(in, v4mapped, 12) == 0) {
    a->family = TS_ADDR_V4;
    memcpy(a->ip, in + 12, 4);
  } else {
    a->family = TS_ADDR_V6;
    memcpy(a->ip, in, 16);
  }
  a->port = (uint16_t)(in[16] << 8 | in[17]);
}

static int addr_ok(const ts_addr *a) { return a->family == TS_ADDR_V4 || a->family == TS_ADDR_V6; }

long ts_disco_encoded_len(const ts_disco_msg *m) {
  switch (m->type) {
  case TS_DISCO_PING:
    if (m->padding > TS_DISCO_MAX_PADDING) return TS_DISCO_E_ARG;
    return (long)(2 + TS_DISCO_TXID_LEN + (m->has_node_key ? TS_DISCO_KEY_LEN : 0) + m->padding);
  case TS_DISCO_PONG:
    if (!addr_ok(&m->src)) return TS_DISCO_E_ARG;
    return 2 + TS_DISCO_TXID_LEN + TS_DISCO_EP_LEN;
  case TS_DISCO_CALL_ME_MAYBE:
    if (m->n_endpoints > TS_DISCO_MAX_ENDPOINTS) return TS_DISCO_E_ARG;
    for (size_t i = 0; i < m->n_endpoints; i++)
      if (!addr_ok(&m->endpoints[i])) return TS_DISCO_E_ARG;
    return (long)(2 + m->n_endpoints * TS_DISCO_EP_LEN);
  default: return TS_DISCO_E_UNKNOWN_TYPE;
  }
}

long ts_disco_encode(uint8_t *out, size_t cap, const ts_disco_msg *m) {
  long n = ts_disco_encoded_len(m);
  if (n < 0) return n;
  if ((size_t)n > cap) return TS_DISCO_E_BUFFER;
  out[0] = m->type;
  out[1] = m->version;
  uint8_t *p = out + 2;
  switch (m->type) {
  case TS_DISCO_PING:
    memcpy(p, m->tx_id, TS_DISCO_TXID_LEN);
    p += TS_DISCO_TXID_LEN;
    if (m->has_node_key) {
      memcpy(p, m->node_key, TS_DISCO_KEY_LEN);
      p += TS_DISCO_KEY_LEN;
    }
    if (m->padding) memset(p, 0, m->padding);
    break;
  case TS_DISCO_PONG:
    memcpy(p, m->tx_id, TS_DISCO_TXID_LEN);
    ts_disco_put_addr(p + TS_DISCO_TXID_LEN, &m->src);
    break;
  default: /* CallMeMaybe */
    for (size_t i = 0; i < m->n_endpoints; i++) ts_disco_put_addr(p + i * TS_DISCO_EP_LEN, &m->endpoints[i]);
    break;
  }
  return n;
}

int ts_disco_decode(ts_disco_msg *m, const uint8_t *clear, size_t len) {
  memset(m, 0, sizeof *m);
  if (len < 2) return TS_DISCO_E_SHORT;
  m->type = clear[0];
  m->version = clear[1];
  const uint8_t *p = clear + 2;
  size_t n = len - 2;
  switch (m->type) {
  case TS_DISCO_PING:
    if (n < TS_DISCO_TXID_LEN) return TS_DISCO_E_SHORT;
    memcpy(m->tx_id, p, TS_DISCO_TXID_LEN);
    if (n >= TS_DISCO_TXID_LEN + TS_DISCO_KEY_LEN) {
      m->has_node_key = 1;
      memcpy(m->node_key, p + TS_DISCO_TXID_LEN, TS_DISCO_KEY_LEN);
      m->padding = n - TS_DISCO_TXID_LEN - TS_DISCO_KEY_LEN;
    }
    return 0;
  case TS_DISCO_PONG:
    if (n < TS_DISCO_TXID_LEN + TS_DISCO_EP_LEN) return TS_DISCO_E_SHORT;
    memcpy(m->tx_id, p, TS_DISCO_TXID_LEN);
    ts_disco_get_addr(&m->src, p + TS_DISCO_TXID_LEN);
    return 0;
  case TS_DISCO_CALL_ME_MAYBE:
    /* As Tailscale's parser: a length that is not a whole number of endpoints, or a version other than 0,
     * gives a CallMeMaybe without endpoints (not an error). */
    if (n % TS_DISCO_EP_LEN != 0 || m->version != 0) return 0;
    m->n_endpoints = n / TS_DISCO_EP_LEN;
    for (size_t i = 0; i < m->n_endpoints && i < TS_DISCO_MAX_ENDPOINTS; i++)
      ts_disco_get_addr(&m->endpoints[i], p + i * TS_DISCO_EP_LEN);
    return 0;
  default: return TS_DISCO_E_UNKNOWN_TYPE;
  }
}

long ts_disco_seal(uint8_t *out, size_t cap, const uint8_t sender_pub[TS_DISCO_KEY_LEN],
                   const uint8_t shared[TS_DISCO_KEY_LEN], const uint8_t nonce[TS_DISCO_NONCE_LEN],
                   const uint8_t *clear, size_t clear_len) {
  if (clear_len > cap || cap - clear_len < TS_DISCO_OVERHEAD) return TS_DISCO_E_BUFFER;
  uint8_t *np = out + TS_DISCO_HDR_LEN;
  memcpy(out, ts_disco_magic, TS_DISCO_MAGIC_LEN);
  memcpy(out + TS_DISCO_MAGIC_LEN, sender_pub, TS_DISCO_KEY_LEN);
  if (nonce) memcpy(np, nonce, TS_DISCO_NONCE_LEN);
  else ts_random(np, TS_DISCO_NONCE_LEN);
  ts_box_seal_afternm(np + TS_DISCO_NONCE_LEN, clear, clear_len, np, shared);
  return (long)(clear_len + TS_DISCO_OVERHEAD);
}

long ts_disco_seal_msg(uint8_t *out, size_t cap, const uint8_t sender_pub[TS_DISCO_KEY_LEN],
                       const uint8_t shared[TS_DISCO_KEY_LEN], const uint8_t nonce[TS_DISCO_NONCE_LEN],
                       const ts_disco_msg *m) {
  long n = ts_disco_encoded_len(m);
  if (n < 0) return n;
  if ((size_t)n > cap || cap - (size_t)n < TS_DISCO_OVERHEAD) return TS_DISCO_E_BUFFER;
  /* encode in place where the ciphertext goes (the box may work in place: libsodium allows overlap) */
  uint8_t *ct = out + TS_DISCO_OVERHEAD;
  ts_disco_encode(ct, (size_t)n, m);
  return ts_disco_seal(out, cap, sender_pub, shared, nonce, ct, (size_t)n);
}

long ts_disco_open(uint8_t *clear, size_t cap, const uint8_t *pkt, size_t len,
                   const uint8_t shared[TS_DISCO_KEY_LEN]) {
  if (!ts_disco_is_disco(pkt, len)) return TS_DISCO_E_NOT_DISCO;
  if (len < TS_DISCO_OVERHEAD) return TS_DISCO_E_DECRYPT;
  size_t n = len - TS_DISCO_OVERHEAD;
  if (cap < n) return TS_DISCO_E_BUFFER;
  const uint8_t *np = pkt + TS_DISCO_HDR_LEN;
  if (ts_box_open_afternm(clear, np + TS_DISCO_NONCE_LEN, len - TS_DISCO_HDR_LEN - TS_DISCO_NONCE_LEN, np,
                          shared) != 0)
    return TS_DISCO_E_DECRYPT;
  return (long)n;
}
