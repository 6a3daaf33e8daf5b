/* TSMP, Tailscale's in-tunnel message protocol (docs/protocol/magicsock.md §5): IP protocol 99 inside the
 * WireGuard tunnel, never handed to the TCP/IP stack. Pure functions: no sockets, clocks or global state.
 *
 * After the IPv4 or IPv6 header the first payload byte is the message type:
 *     'a'  disco key advertisement: type || the sender's disco public key[32]   (capability version 144)
 *     'p'  ping: type || 8 opaque bytes; answered with
 *     'o'  pong: type || the ping's 8 bytes || our PeerAPI port u16 BE (0: none)
 *     '!'  rejected connection                                                  (recognised, not handled)
 * Receivers ignore bytes after the fields they know. Only the fixed IPv6 header is read (TSMP carries no
 * extension headers); an IPv4 fragment is malformed (no TSMP message needs more than one packet).
 *
 *     ts_tsmp_msg m;
 *     switch (ts_tsmp_parse(&m, pkt, len)) { case TS_TSMP_DISCO_ADVERT: use m.disco_key; ... }
 */
#ifndef TS_DISCO_TSMP_H
#define TS_DISCO_TSMP_H

#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TS_TSMP_PROTO 99
#define TS_TSMP_TYPE_DISCO_ADVERT 'a'
#define TS_TSMP_TYPE_REJECT '!'
#define TS_TSMP_TYPE_PING 'p'
#define TS_TSMP_TYPE_PONG 'o'
#define TS_TSMP_DISCO_ADVERT_LEN 33 /* type + key */
#define TS_TSMP_KEY_LEN 32
#define TS_TSMP_PING_DATA_LEN 8
#define TS_TSMP_PING_LEN 9            /* type + data */
#define TS_TSMP_PONG_LEN 11           /* type + data + PeerAPI port */
#define TS_TSMP_MAX_REPLY (40 + TS_TSMP_PONG_LEN) /* a pong with an IPv6 header */

typedef enum ts_tsmp_kind {
  TS_TSMP_NOT = 0,          /* not an IPv4/IPv6 packet of protocol 99 */
  TS_TSMP_DISCO_ADVERT = 1, /* m.disco_key holds the advertised key (possibly all zero: the caller decides) */
  TS_TSMP_OTHER = 2,        /* a well-formed TSMP packet of another type (m.type) */
  TS_TSMP_PING = 3,         /* m.ping_data holds the bytes to echo */
  TS_TSMP_PONG = 4,         /* m.ping_data holds the echoed bytes of our ping */
  TS_TSMP_MALFORMED = -1    /* protocol 99, but truncated, fragmented, empty, or inconsistent lengths */
} ts_tsmp_kind;

typedef struct ts_tsmp_msg {
  uint8_t type;                      /* first payload byte (0 when there is none) */
  ts_addr src, dst;                  /* from the IP header; port 0 */
  uint8_t disco_key[TS_TSMP_KEY_LEN]; /* TS_TSMP_DISCO_ADVERT only */
  uint8_t ping_data[TS_TSMP_PING_DATA_LEN]; /* TS_TSMP_PING and TS_TSMP_PONG */
} ts_tsmp_msg;

/* 1 if pkt is an IP packet whose protocol (IPv4) or next header (IPv6) is 99. Reads at most 10 bytes. */
int ts_tsmp_is(const uint8_t *pkt, size_t len);
/* Parses pkt; m is filled for DISCO_ADVERT, PING, PONG and OTHER (zeroed otherwise). A ping or pong shorter
 * than 9 bytes is malformed (a pong's PeerAPI port is optional here: nothing reads it). */
ts_tsmp_kind ts_tsmp_parse(ts_tsmp_msg *m, const uint8_t *pkt, size_t len);
/* Builds a disco key advertisement from src to dst (same family; ports ignored) into out. Returns its
 * length (20 + 33 for IPv4, 40 + 33 for IPv6), or -1 if cap is too small or the families differ. */
long ts_tsmp_disco_advert_encode(uint8_t *out, size_t cap, const ts_addr *src, const ts_addr *dst,
                                 const uint8_t key[TS_TSMP_KEY_LEN]);

/* Builds the pong to a ping parsed into m: from m->dst to m->src, echoing m->ping_data, with peerapi_port.
 * Returns its length (20 or 40 + 11), or -1 if cap is too small or m is no ping. */
long ts_tsmp_pong_encode(uint8_t *out, size_t cap, const ts_tsmp_msg *m, uint16_t peerapi_port);
/* Builds a ping from src to dst (same family) carrying data. Returns its length (20 or 40 + 9), or -1. */
long ts_tsmp_ping_encode(uint8_t *out, size_t cap, const ts_addr *src, const ts_addr *dst,
                         const uint8_t data[TS_TSMP_PING_DATA_LEN]);

#ifdef __cplusplus
}
#endif
#endif
