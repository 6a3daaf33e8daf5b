/* The client side of the peer-relay bind handshake (docs/protocol/peer-relay.md §3): sans-I/O, no clocks; the
 * caller sends what it returns to the relay server's address and decides when to retransmit.
 *
 *   ts_relay_bind b;
 *   ts_relay_bind_init(&b, &resp.ep, our_disco_priv, our_disco_pub, generation);   // from a type 9 or 7
 *   n = ts_relay_bind_request(&b, out, sizeof out, NULL);    send out[0..n) to ep.addrs[k]
 *   ...a datagram from that address that ts_udp_classify calls Geneve disco:
 *   n = ts_relay_bind_input(&b, pkt, len, out, sizeof out, NULL);  n > 0: send the answer; b.state ANSWERED
 *   ...then disco-ping the other client through the endpoint (ts_relay_encap with TS_GENEVE_PROTO_DISCO); its
 *   pong proves the path. WireGuard goes out as ts_relay_encap(TS_GENEVE_PROTO_WIREGUARD).
 *   ts_relay_bind_wipe(&b) when done (wipes the shared key).
 *
 * The server answers a Bind with a Challenge (a MAC over VNI, generation, remote key and our address:port)
 * and binds our address when the Answer echoes it; it sends nothing on success. A retransmitted Bind gets a
 * new Challenge, which is answered again. */
#ifndef TS_MAGICSOCK_RELAY_BIND_H
#define TS_MAGICSOCK_RELAY_BIND_H

#include <stddef.h>
#include <stdint.h>

#include "disco/disco_relay.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TS_RELAY_E_NOT_OURS (-20)   /* not a Geneve control disco packet for this endpoint from its server */
#define TS_RELAY_E_UNEXPECTED (-21) /* opened, but not a Challenge for this handshake (type, VNI, generation,
                                       remote key) or no Bind sent yet */

/* Largest handshake datagram: Geneve || disco overhead || 2 + 72. */
#define TS_RELAY_BIND_PKT_LEN (TS_GENEVE_LEN + TS_DISCO_OVERHEAD + 2 + TS_DISCO_RELAY_BIND_LEN)

typedef enum ts_relay_bind_state {
  TS_RELAY_BIND_IDLE = 0,
  TS_RELAY_BIND_SENT = 1,     /* Bind sent, waiting for the Challenge */
  TS_RELAY_BIND_ANSWERED = 2  /* Answer sent: bound unless it was lost (a ping through the relay tells) */
} ts_relay_bind_state;

typedef struct ts_relay_bind {
  ts_disco_relay_ep ep;
  uint8_t our_pub[TS_DISCO_KEY_LEN];
  uint8_t remote[TS_DISCO_KEY_LEN];  /* the other client of the endpoint */
  uint8_t shared[TS_DISCO_KEY_LEN];  /* box key with ep.server_disco */
  uint32_t generation;
  uint8_t state;                     /* ts_relay_bind_state */
  uint32_t challenges;               /* Challenges answered */
} ts_relay_bind;

/* 0, TS_DISCO_E_ARG (our key is not exactly one of the endpoint's two clients, generation 0, VNI over 24
 * bits) or TS_DISCO_E_KEY (low-order server key). */
int ts_relay_bind_init(ts_relay_bind *b, const ts_disco_relay_ep *ep, const uint8_t our_priv[TS_DISCO_KEY_LEN],
                       const uint8_t our_pub[TS_DISCO_KEY_LEN], uint32_t generation);
/* The Bind datagram (Geneve control header || sealed BindUDPRelayEndpoint). nonce NULL = random. Returns
 * its length or TS_DISCO_E_BUFFER. Moves IDLE to SENT; callable again to retransmit. */
long ts_relay_bind_request(ts_relay_bind *b, uint8_t *out, size_t cap, const uint8_t nonce[TS_DISCO_NONCE_LEN]);
/* A datagram from the relay server. Returns the Answer datagram's length (state ANSWERED), or
 * TS_RELAY_E_NOT_OURS, TS_DISCO_E_DECRYPT, TS_DISCO_E_SHORT, TS_RELAY_E_UNEXPECTED, TS_DISCO_E_BUFFER. */
long ts_relay_bind_input(ts_relay_bind *b, const uint8_t *pkt, size_t len, uint8_t *out, size_t cap,
                         const uint8_t nonce[TS_DISCO_NONCE_LEN]);
void ts_relay_bind_wipe(ts_relay_bind *b);

/* out = Geneve data header (control 0, proto, vni) || payload. Returns TS_GENEVE_LEN + len, or
 * TS_DISCO_E_BUFFER / TS_DISCO_E_ARG (VNI over 24 bits). out and payload must not overlap. */
long ts_relay_encap(uint8_t *out, size_t cap, uint32_t vni, uint16_t proto, const uint8_t *payload, size_t len);

#ifdef __cplusplus
}
#endif
#endif
