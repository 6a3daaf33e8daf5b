/* IP packet header parsing for the filter: just enough of IPv4/IPv6 (with extension headers) and the
 * transport header to judge a packet. Bounds-checked against both the buffer and the length the IP header
 * claims; never reads past either. Internal to native/core/filter. */
#ifndef TS_FILTER_PKT_H
#define TS_FILTER_PKT_H

#include <stddef.h>
#include <stdint.h>

typedef enum ts_fpkt_status {
  TS_FPKT_OK = 0,        /* whole or first fragment: transport fields valid as far as proto has them */
  TS_FPKT_FRAGMENT,      /* non-first fragment: only addresses, proto and frag_offset are valid */
  TS_FPKT_MALFORMED,
} ts_fpkt_status;

typedef struct ts_fpkt {
  uint8_t family;       /* 4 or 6 */
  uint8_t proto;        /* transport protocol (IPv6: after the extension headers) */
  uint8_t tcp_flags;    /* TCP only */
  uint8_t icmp_type, icmp_code; /* ICMPv4 in IPv4, ICMPv6 in IPv6 */
  uint16_t sport, dport;        /* TCP, UDP, SCTP; else 0 */
  uint32_t frag_offset;         /* bytes; nonzero only for TS_FPKT_FRAGMENT */
  const uint8_t *src, *dst;     /* point into the packet: 4 or 16 bytes */
} ts_fpkt;

#define TS_FPKT_TCP_SYN 0x02
#define TS_FPKT_TCP_RST 0x04
#define TS_FPKT_TCP_ACK 0x10

ts_fpkt_status ts_fpkt_parse(const uint8_t *p, size_t len, ts_fpkt *out);

#endif
