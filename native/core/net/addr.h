/* One address type for the whole core: an IP address with port, as the UDP socket, magicsock, disco, STUN
 * and the TCP/IP stack all see it. A plain value with no I/O behind it, so the sans-I/O protocol code can
 * use it without the socket module (docs/architecture.md, "The link: netif, wg, bind").
 *
 * IPv4 (including an IPv4 peer seen as ::ffff:a.b.c.d on a dual-stack socket) is always family TS_ADDR_V4 with
 * the address in ip[0..3] and ip[4..15] zero, so two addresses are equal exactly when their bytes are
 * (ts_addr_equal). Build them with ts_addr_parse/ts_addr_set, or zero the struct and fill it: the padding byte
 * must be zero. */
#ifndef TS_NET_ADDR_H
#define TS_NET_ADDR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { TS_ADDR_V4 = 4, TS_ADDR_V6 = 6 };

typedef struct ts_addr {
  uint8_t family;    /* TS_ADDR_V4, TS_ADDR_V6, 0 = none */
  uint8_t zero_;     /* padding, always 0 */
  uint16_t port;     /* host byte order */
  uint32_t scope_id; /* IPv6 zone (interface index) for link-local addresses, else 0 */
  uint8_t ip[16];    /* network byte order */
} ts_addr;

/* Parses a numeric IPv4 or IPv6 address (no names, no zone suffix). An IPv4-mapped IPv6 address comes out as
 * IPv4. Returns 0, or -EINVAL. */
int ts_addr_parse(ts_addr *a, const char *ip, uint16_t port);
/* Sets a from raw bytes: family TS_ADDR_V4 takes 4 bytes, TS_ADDR_V6 16 (v4-mapped is normalized to IPv4). */
void ts_addr_set(ts_addr *a, int family, const uint8_t *ip, uint16_t port);
/* "1.2.3.4:5" or "[::1]:5" into buf (always NUL-terminated when cap > 0). Returns the length it needed. */
int ts_addr_format(const ts_addr *a, char *buf, size_t cap);
int ts_addr_equal(const ts_addr *a, const ts_addr *b);

#ifdef __cplusplus
}
#endif

#endif /* TS_NET_ADDR_H */
