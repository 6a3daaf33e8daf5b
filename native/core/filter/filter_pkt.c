/* IP header parsing for the packet filter (see filter_pkt.h). */
#include "filter/filter_pkt.h"

#include <string.h>

/* More extension headers than any sane sender uses; a longer chain is treated as an evasion attempt. */
#define MAX_EXT_HEADERS 8

static uint16_t rd16(const uint8_t *p) { return (uint16_t)((unsigned)p[0] << 8 | p[1]); }

/* Transport fields of a whole packet or first fragment. The transport header we read must be complete:
 * a first fragment cut inside it is the classic "tiny fragment" filter bypass (RFC 1858). */
static ts_fpkt_status parse_transport(const uint8_t *s, size_t n, ts_fpkt *out) {
  switch (out->proto) {
  case 6: { /* TCP */
    if (n < 20) return TS_FPKT_MALFORMED;
    unsigned doff = (unsigned)(s[12] >> 4) * 4;
    if (doff < 20 || doff > n) return TS_FPKT_MALFORMED;
    out->sport = rd16(s);
    out->dport = rd16(s + 2);
    out->tcp_flags = s[13];
    return TS_FPKT_OK;
  }
  case 17: /* UDP */
    if (n < 8) return TS_FPKT_MALFORMED;
    out->sport = rd16(s);
    out->dport = rd16(s + 2);
    return TS_FPKT_OK;
  case 132: /* SCTP common header */
    if (n < 12) return TS_FPKT_MALFORMED;
    out->sport = rd16(s);
    out->dport = rd16(s + 2);
    return TS_FPKT_OK;
  default:
    break;
  }
  if ((out->family == 4 && out->proto == 1) || (out->family == 6 && out->proto == 58)) {
    if (n < 8) return TS_FPKT_MALFORMED; /* every ICMP message has at least 8 bytes */
    out->icmp_type = s[0];
    out->icmp_code = s[1];
  }
  return TS_FPKT_OK;
}

static ts_fpkt_status parse4(const uint8_t *p, size_t len, ts_fpkt *out) {
  if (len < 20) return TS_FPKT_MALFORMED;
  size_t ihl = (size_t)(p[0] & 0x0f) * 4;
  size_t total = rd16(p + 2);
  if (ihl < 20 || total < ihl || total > len) return TS_FPKT_MALFORMED;
  out->family = 4;
  out->proto = p[9];
  out->src = p + 12;
  out->dst = p + 16;
  uint32_t off = (uint32_t)(rd16(p + 6) & 0x1fff) * 8;
  if (off) {
    out->frag_offset = off;
    return TS_FPKT_FRAGMENT;
  }
  return parse_transport(p + ihl, total - ihl, out);
}

static ts_fpkt_status parse6(const uint8_t *p, size_t len, ts_fpkt *out) {
  if (len < 40) return TS_FPKT_MALFORMED;
  size_t end = 40 + (size_t)rd16(p + 4);
  /* Payload length 0 means a jumbogram (hop-by-hop option); never valid on a 1280-byte-MTU tunnel. */
  if (end == 40 || end > len) return TS_FPKT_MALFORMED;
  out->family = 6;
  out->src = p + 8;
  out->dst = p + 24;
  uint8_t nh = p[6];
  size_t off = 40;
  for (int i = 0;; i++) {
    size_t hl;
    if (nh != 0 && nh != 43 && nh != 60 && nh != 44 && nh != 51) break;
    if (i == MAX_EXT_HEADERS || end - off < 8) return TS_FPKT_MALFORMED;
    const uint8_t *h = p + off;
    if (nh == 44) { /* fragment header: fixed 8 bytes */
      uint32_t fo = rd16(h + 2) & 0xfff8u; /* offset field is in 8-byte units, already scaled */
      nh = h[0];
      off += 8;
      if (fo) {
        out->proto = nh;
        out->frag_offset = fo;
        return TS_FPKT_FRAGMENT;
      }
      continue;
    }
    hl = nh == 51 ? ((size_t)h[1] + 2) * 4 : ((size_t)h[1] + 1) * 8;
    if (hl > end - off) return TS_FPKT_MALFORMED;
    nh = h[0];
    off += hl;
  }
  out->proto = nh;
  return parse_transport(p + off, end - off, out);
}

ts_fpkt_status ts_fpkt_parse(const uint8_t *p, size_t len, ts_fpkt *out) {
  memset(out, 0, sizeof *out);
  if (!p || len < 1) return TS_FPKT_MALFORMED;
  switch (p[0] >> 4) {
  case 4:
    return parse4(p, len, out);
  case 6:
    return parse6(p, len, out);
  default:
    return TS_FPKT_MALFORMED;
  }
}
