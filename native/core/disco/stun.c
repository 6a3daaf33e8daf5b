/* STUN Binding request/response; see stun.h. Described in docs/protocol/magicsock.md §4 and RFC 5389. */
#include "disco/stun.h"

#include <string.h>

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

uint32_t ts_stun_crc32(const uint8_t *buf, size_t len) {
  /* Reflected CRC-32, polynomial 0xEDB88320, four bits at a time from a 16-entry table. */
  static const uint32_t t[16] = {0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4,
                                 0x4DB26158, 0x5005713C, 0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
                                 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C};
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; i++) {
    c ^= buf[i];
    c = (c >> 4) ^ t[c & 15];
    c = (c >> 4) ^ t[c & 15];
  }
  return c ^ 0xFFFFFFFFu;
}

int ts_stun_is_stun(const uint8_t *buf, size_t len) {
  return buf && len >= TS_STUN_HDR_LEN && (buf[0] & 0xC0) == 0 && be32(buf + 4) == TS_STUN_MAGIC_COOKIE;
}

int ts_stun_is_binding_response(const uint8_t *buf, size_t len) {
  return ts_stun_is_stun(buf, len) && be16(buf) == TS_STUN_BINDING_SUCCESS;
}

void ts_stun_request(uint8_t out[TS_STUN_REQUEST_LEN], const uint8_t txid[TS_STUN_TXID_LEN]) {
  put16(out, TS_STUN_BINDING_REQUEST);
  put16(out + 2, TS_STUN_REQUEST_LEN - TS_STUN_HDR_LEN);
  put32(out + 4, TS_STUN_MAGIC_COOKIE);
  memcpy(out + 8, txid, TS_STUN_TXID_LEN);
  put16(out + 20, TS_STUN_ATTR_SOFTWARE);
  put16(out + 22, 8);
  memcpy(out + 24, "tailnode", 8);
  put16(out + 32, TS_STUN_ATTR_FINGERPRINT);
  put16(out + 34, 4);
  put32(out + 36, ts_stun_crc32(out, 32) ^ TS_STUN_FINGERPRINT_XOR);
}

/* Walks the attributes of a message of the given type. Calls back for each attribute except FINGERPRINT,
 * which it verifies (it must be last). */
typedef int (*attr_fn)(void *ctx, const uint8_t *msg, uint16_t type, const uint8_t *val, uint16_t len);

static int walk(const uint8_t *buf, size_t len, uint16_t want_type, attr_fn fn, void *ctx) {
  if (!ts_stun_is_stun(buf, len) || be16(buf) != want_type) return TS_STUN_E_NOT_STUN;
  size_t mlen = be16(buf + 2);
  if ((mlen & 3) || TS_STUN_HDR_LEN + mlen > len) return TS_STUN_E_MALFORMED;
  size_t end = TS_STUN_HDR_LEN + mlen, off = TS_STUN_HDR_LEN;
  while (off < end) {
    if (end - off < 4) return TS_STUN_E_MALFORMED;
    uint16_t at = be16(buf + off), al = be16(buf + off + 2);
    size_t padded = ((size_t)al + 3) & ~(size_t)3;
    if (end - off - 4 < padded) return TS_STUN_E_MALFORMED;
    const uint8_t *val = buf + off + 4;
    if (at == TS_STUN_ATTR_FINGERPRINT) {
      if (al != 4 || off + 8 != end) return TS_STUN_E_MALFORMED;
      if (be32(val) != (ts_stun_crc32(buf, off) ^ TS_STUN_FINGERPRINT_XOR)) return TS_STUN_E_FINGERPRINT;
    } else if (fn) {
      int r = fn(ctx, buf, at, val, al);
      if (r) return r;
    }
    off += 4 + padded;
  }
  return 0;
}

int ts_stun_parse_request(const uint8_t *buf, size_t len, uint8_t txid[TS_STUN_TXID_LEN]) {
  int r = walk(buf, len, TS_STUN_BINDING_REQUEST, NULL, NULL);
  if (r) return r;
  memcpy(txid, buf + 8, TS_STUN_TXID_LEN);
  return 0;
}

typedef struct {
  ts_addr xor_addr, plain_addr;
  int have_xor, have_plain;
} resp_ctx;

/* family byte 1 = IPv4 (4 bytes), 2 = IPv6 (16 bytes); xor with cookie (and txid for IPv6) when xored. */
static int get_addr(ts_addr *a, const uint8_t *msg, const uint8_t *val, uint16_t len, int xored) {
  if (len < 4) return -1;
  uint8_t fam = val[1];
  uint16_t port = be16(val + 2);
  size_t alen = fam == 1 ? 4 : fam == 2 ? 16 : 0;
  if (!alen || len < 4 + alen) return -1;
  memset(a, 0, sizeof *a);
  memcpy(a->ip, val + 4, alen);
  if (xored) {
    port ^= (uint16_t)(TS_STUN_MAGIC_COOKIE >> 16);
    for (size_t i = 0; i < alen; i++) a->ip[i] ^= msg[4 + i]; /* cookie, then transaction id */
  }
  a->family = fam == 1 ? TS_ADDR_V4 : TS_ADDR_V6;
  a->port = port;
  if (a->family == TS_ADDR_V6) { /* normalize a v4-mapped address the way ts_addr expects */
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a->ip, mapped, 12) == 0) {
      memmove(a->ip, a->ip + 12, 4);
      memset(a->ip + 4, 0, 12);
      a->family = TS_ADDR_V4;
    }
  }
  return 0;
}

static int resp_attr(void *ctx, const uint8_t *msg, uint16_t type, const uint8_t *val, uint16_t len) {
  resp_ctx *rc = ctx;
  if ((type == TS_STUN_ATTR_XOR_MAPPED_ADDRESS || type == TS_STUN_ATTR_XOR_MAPPED_ADDRESS_OLD) && !rc->have_xor) {
    if (get_addr(&rc->xor_addr, msg, val, len, 1) == 0) rc->have_xor = 1;
  } else if (type == TS_STUN_ATTR_MAPPED_ADDRESS && !rc->have_plain) {
    if (get_addr(&rc->plain_addr, msg, val, len, 0) == 0) rc->have_plain = 1;
  }
  return 0;
}

int ts_stun_parse_response(const uint8_t *buf, size_t len, uint8_t txid[TS_STUN_TXID_LEN], ts_addr *addr) {
  resp_ctx rc;
  memset(&rc, 0, sizeof rc);
  int r = walk(buf, len, TS_STUN_BINDING_SUCCESS, resp_attr, &rc);
  if (r) return r;
  if (!rc.have_xor && !rc.have_plain) return TS_STUN_E_NO_ADDRESS;
  memcpy(txid, buf + 8, TS_STUN_TXID_LEN);
  *addr = rc.have_xor ? rc.xor_addr : rc.plain_addr;
  return 0;
}

long ts_stun_response(uint8_t *out, size_t cap, const uint8_t txid[TS_STUN_TXID_LEN], const ts_addr *addr,
                      int fingerprint) {
  size_t alen = addr->family == TS_ADDR_V4 ? 4 : 16;
  size_t n = TS_STUN_HDR_LEN + 4 + 4 + alen + (fingerprint ? 8 : 0);
  if (cap < n) return TS_STUN_E_BUFFER;
  put16(out, TS_STUN_BINDING_SUCCESS);
  put16(out + 2, (uint16_t)(n - TS_STUN_HDR_LEN));
  put32(out + 4, TS_STUN_MAGIC_COOKIE);
  memcpy(out + 8, txid, TS_STUN_TXID_LEN);
  uint8_t *a = out + TS_STUN_HDR_LEN;
  put16(a, TS_STUN_ATTR_XOR_MAPPED_ADDRESS);
  put16(a + 2, (uint16_t)(4 + alen));
  a[4] = 0;
  a[5] = addr->family == TS_ADDR_V4 ? 1 : 2;
  put16(a + 6, (uint16_t)(addr->port ^ (TS_STUN_MAGIC_COOKIE >> 16)));
  for (size_t i = 0; i < alen; i++) a[8 + i] = (uint8_t)(addr->ip[i] ^ out[4 + i]);
  if (fingerprint) {
    size_t off = n - 8;
    put16(out + off, TS_STUN_ATTR_FINGERPRINT);
    put16(out + off + 2, 4);
    put32(out + off + 4, ts_stun_crc32(out, off) ^ TS_STUN_FINGERPRINT_XOR);
  }
  return (long)n;
}
