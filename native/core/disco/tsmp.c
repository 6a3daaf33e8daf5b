/* TSMP parsing, the disco key advertisement and the pong (tsmp.h; docs/protocol/magicsock.md §5). */
#include "disco/tsmp.h"

#include <string.h>

#define IP4_MIN_HDR 20
#define IP6_HDR 40

int ts_tsmp_is(const uint8_t *pkt, size_t len) {
  if (!pkt || len < 1) return 0;
  switch (pkt[0] >> 4) {
  case 4: return len >= IP4_MIN_HDR && pkt[9] == TS_TSMP_PROTO;
  case 6: return len >= IP6_HDR && pkt[6] == TS_TSMP_PROTO;
  default: return 0;
  }
}

static ts_tsmp_kind payload(ts_tsmp_msg *m, const uint8_t *p, size_t n) {
  if (n < 1) return TS_TSMP_MALFORMED;
  m->type = p[0];
  if (p[0] == TS_TSMP_TYPE_PING || p[0] == TS_TSMP_TYPE_PONG) {
    if (n < TS_TSMP_PING_LEN) return TS_TSMP_MALFORMED;
    memcpy(m->ping_data, p + 1, TS_TSMP_PING_DATA_LEN);
    return p[0] == TS_TSMP_TYPE_PING ? TS_TSMP_PING : TS_TSMP_PONG;
  }
  if (p[0] != TS_TSMP_TYPE_DISCO_ADVERT) return TS_TSMP_OTHER;
  if (n < TS_TSMP_DISCO_ADVERT_LEN) return TS_TSMP_MALFORMED;
  memcpy(m->disco_key, p + 1, TS_TSMP_KEY_LEN);
  return TS_TSMP_DISCO_ADVERT;
}

ts_tsmp_kind ts_tsmp_parse(ts_tsmp_msg *m, const uint8_t *pkt, size_t len) {
  memset(m, 0, sizeof *m);
  if (!ts_tsmp_is(pkt, len)) return TS_TSMP_NOT;
  ts_tsmp_kind k;
  if ((pkt[0] >> 4) == 4) {
    size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
    size_t total = (size_t)pkt[2] << 8 | pkt[3];
    uint16_t frag = (uint16_t)((pkt[6] << 8 | pkt[7]) & 0x3fff); /* MF flag and offset */
    if (ihl < IP4_MIN_HDR || total < ihl || total > len || frag != 0) return TS_TSMP_MALFORMED;
    k = payload(m, pkt + ihl, total - ihl);
    if (k == TS_TSMP_MALFORMED) goto bad;
    ts_addr_set(&m->src, TS_ADDR_V4, pkt + 12, 0);
    ts_addr_set(&m->dst, TS_ADDR_V4, pkt + 16, 0);
  } else {
    size_t plen = (size_t)pkt[4] << 8 | pkt[5];
    if (IP6_HDR + plen > len) return TS_TSMP_MALFORMED;
    k = payload(m, pkt + IP6_HDR, plen);
    if (k == TS_TSMP_MALFORMED) goto bad;
    ts_addr_set(&m->src, TS_ADDR_V6, pkt + 8, 0);
    ts_addr_set(&m->dst, TS_ADDR_V6, pkt + 24, 0);
  }
  return k;
bad:
  memset(m, 0, sizeof *m);
  return TS_TSMP_MALFORMED;
}

static uint16_t ip4_checksum(const uint8_t *h, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(h[i] << 8 | h[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* An IPv4 or IPv6 header of protocol 99 from src to dst for a payload of plen bytes; its length, or 0. */
static size_t ip_header(uint8_t *out, size_t cap, const ts_addr *src, const ts_addr *dst, size_t plen) {
  if (!out || !src || !dst || src->family != dst->family) return 0;
  if (src->family == TS_ADDR_V4) {
    if (cap < IP4_MIN_HDR + plen) return 0;
    memset(out, 0, IP4_MIN_HDR);
    size_t total = IP4_MIN_HDR + plen;
    out[0] = 0x45;
    out[2] = (uint8_t)(total >> 8);
    out[3] = (uint8_t)total;
    out[8] = 64; /* TTL */
    out[9] = TS_TSMP_PROTO;
    memcpy(out + 12, src->ip, 4);
    memcpy(out + 16, dst->ip, 4);
    uint16_t c = ip4_checksum(out, IP4_MIN_HDR);
    out[10] = (uint8_t)(c >> 8);
    out[11] = (uint8_t)c;
    return IP4_MIN_HDR;
  }
  if (src->family == TS_ADDR_V6) {
    if (cap < IP6_HDR + plen) return 0;
    memset(out, 0, IP6_HDR);
    out[0] = 0x60;
    out[4] = (uint8_t)(plen >> 8);
    out[5] = (uint8_t)plen;
    out[6] = TS_TSMP_PROTO;
    out[7] = 64; /* hop limit */
    memcpy(out + 8, src->ip, 16);
    memcpy(out + 24, dst->ip, 16);
    return IP6_HDR;
  }
  return 0;
}

long ts_tsmp_disco_advert_encode(uint8_t *out, size_t cap, const ts_addr *src, const ts_addr *dst,
                                 const uint8_t key[TS_TSMP_KEY_LEN]) {
  if (!key) return -1;
  size_t hdr = ip_header(out, cap, src, dst, TS_TSMP_DISCO_ADVERT_LEN);
  if (!hdr) return -1;
  out[hdr] = TS_TSMP_TYPE_DISCO_ADVERT;
  memcpy(out + hdr + 1, key, TS_TSMP_KEY_LEN);
  return (long)(hdr + TS_TSMP_DISCO_ADVERT_LEN);
}

long ts_tsmp_ping_encode(uint8_t *out, size_t cap, const ts_addr *src, const ts_addr *dst,
                         const uint8_t data[TS_TSMP_PING_DATA_LEN]) {
  if (!data) return -1;
  size_t hdr = ip_header(out, cap, src, dst, TS_TSMP_PING_LEN);
  if (!hdr) return -1;
  out[hdr] = TS_TSMP_TYPE_PING;
  memcpy(out + hdr + 1, data, TS_TSMP_PING_DATA_LEN);
  return (long)(hdr + TS_TSMP_PING_LEN);
}

long ts_tsmp_pong_encode(uint8_t *out, size_t cap, const ts_tsmp_msg *m, uint16_t peerapi_port) {
  if (!m || m->type != TS_TSMP_TYPE_PING) return -1;
  size_t hdr = ip_header(out, cap, &m->dst, &m->src, TS_TSMP_PONG_LEN);
  if (!hdr) return -1;
  out[hdr] = TS_TSMP_TYPE_PONG;
  memcpy(out + hdr + 1, m->ping_data, TS_TSMP_PING_DATA_LEN);
  out[hdr + 9] = (uint8_t)(peerapi_port >> 8);
  out[hdr + 10] = (uint8_t)peerapi_port;
  return (long)(hdr + TS_TSMP_PONG_LEN);
}
