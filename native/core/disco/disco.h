/* Disco messages (docs/protocol/magicsock.md §1-§2): the sealed outer packet and the Ping, Pong and CallMeMaybe
 * messages inside it. Pure functions: no sockets, clocks or global state.
 *
 * Outer packet, identical over UDP and inside DERP packets:
 *     magic "TS💬"[6] || sender disco public key[32] || nonce[24] || NaCl box(cleartext)   (box = tag[16] || ct)
 * The box key is the precomputed X25519 shared key of (our disco private key, their disco public key):
 * compute it once per peer with ts_disco_shared_key, keep it with the peer, wipe it (ts_wipe) when the peer
 * goes away.
 *
 * Cleartext: type u8 || version u8 (0) || payload; receivers ignore trailing bytes.
 *
 * Receive:
 *     if (ts_disco_is_disco(buf, len)) {
 *       const uint8_t *sender = ts_disco_sender(buf);          // look up the peer by disco key
 *       uint8_t clear[...];  long n = ts_disco_open(clear, sizeof clear, buf, len, peer->shared);
 *       ts_disco_msg m;  if (n >= 0 && ts_disco_decode(&m, clear, n) == 0) handle(&m);
 *     }
 * Send:
 *     ts_disco_msg m = {.type = TS_DISCO_PING};  ts_random(m.tx_id, 12); memcpy(m.node_key, ...); m.has_node_key = 1;
 *     long n = ts_disco_seal_msg(out, sizeof out, our_disco_pub, peer->shared, NULL, &m);   // NULL nonce = random
 *
 * Demultiplexing a datagram from the shared UDP socket (docs/protocol/magicsock.md §1): ts_stun_is_stun (disco/stun.h) →
 * netcheck; else ts_disco_is_disco → disco; else WireGuard. A DERP RecvPacket payload is disco when
 * ts_disco_is_disco says so, else WireGuard. CallMeMaybe is only to be accepted via DERP, from the node key
 * that the netmap pairs with the sender's disco key; disco from disco keys not in the netmap is dropped.
 *
 * Addresses use ts_addr (net/addr.h): IPv4 is family TS_ADDR_V4 with the address in ip[0..3]; on the wire
 * it is the v4-mapped IPv6 address ::ffff:a.b.c.d. Zone/scope ids are not carried.
 */
#ifndef TS_DISCO_H
#define TS_DISCO_H

#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TS_DISCO_KEY_LEN 32
#define TS_DISCO_MAGIC_LEN 6
#define TS_DISCO_NONCE_LEN 24
#define TS_DISCO_TAG_LEN 16
#define TS_DISCO_HDR_LEN (TS_DISCO_MAGIC_LEN + TS_DISCO_KEY_LEN)               /* 38 */
#define TS_DISCO_MIN_LEN (TS_DISCO_HDR_LEN + TS_DISCO_NONCE_LEN)               /* 62: looks like disco */
#define TS_DISCO_OVERHEAD (TS_DISCO_HDR_LEN + TS_DISCO_NONCE_LEN + TS_DISCO_TAG_LEN) /* 78 */

#define TS_DISCO_TXID_LEN 12
#define TS_DISCO_EP_LEN 18             /* ip[16] || port u16 BE */
#define TS_DISCO_MAX_ENDPOINTS 64      /* CallMeMaybe endpoints decoded (more are counted, not stored) */
#define TS_DISCO_MAX_PADDING 65535     /* Ping padding accepted by the encoder */

extern const uint8_t ts_disco_magic[TS_DISCO_MAGIC_LEN];

typedef enum ts_disco_type {
  TS_DISCO_PING = 0x01,
  TS_DISCO_PONG = 0x02,
  TS_DISCO_CALL_ME_MAYBE = 0x03
  /* 0x04-0x09: peer-relay messages, not implemented (decode reports TS_DISCO_E_UNKNOWN_TYPE) */
} ts_disco_type;

typedef enum ts_disco_err {
  TS_DISCO_E_NOT_DISCO = -1,     /* too short or no magic */
  TS_DISCO_E_DECRYPT = -2,       /* box did not open (wrong key, tampered) */
  TS_DISCO_E_SHORT = -3,         /* cleartext too short for its type */
  TS_DISCO_E_UNKNOWN_TYPE = -4,  /* a type this code does not know (ignore the message) */
  TS_DISCO_E_BUFFER = -5,        /* output buffer too small */
  TS_DISCO_E_ARG = -6,           /* bad argument (e.g. too many endpoints, address without family) */
  TS_DISCO_E_KEY = -7            /* low-order public key: no shared key */
} ts_disco_err;

typedef struct ts_disco_msg {
  uint8_t type;                        /* ts_disco_type */
  uint8_t version;                     /* 0 when sending; whatever came when receiving */
  uint8_t tx_id[TS_DISCO_TXID_LEN];    /* Ping, Pong */
  /* Ping */
  uint8_t has_node_key;                /* the sender's node key follows the tx id (Tailscale treats an all-zero
                                          key as absent and omits it when sending; so should callers) */
  uint8_t node_key[TS_DISCO_KEY_LEN];
  size_t padding;                      /* encode: zero bytes appended (MTU probes); decode: bytes after the key */
  /* Pong */
  ts_addr src;                     /* where the pinger's packet came from (as seen by the ponger) */
  /* CallMeMaybe (a version other than 0, or a length that is not a multiple of 18, decodes to no endpoints,
   * as in Tailscale) */
  size_t n_endpoints;                  /* decode: how many were on the wire (may exceed TS_DISCO_MAX_ENDPOINTS) */
  ts_addr endpoints[TS_DISCO_MAX_ENDPOINTS]; /* the first min(n_endpoints, MAX) of them */
} ts_disco_msg;

/* 1 if buf looks like a disco packet (magic and at least TS_DISCO_MIN_LEN bytes): the UDP demux test. */
int ts_disco_is_disco(const uint8_t *buf, size_t len);
/* The sender's disco public key inside a packet that passed ts_disco_is_disco. */
const uint8_t *ts_disco_sender(const uint8_t *pkt);

/* shared = X25519(our_priv, their_pub) hashed for XSalsa20 (crypto_box_beforenm). 0 or TS_DISCO_E_KEY. */
int ts_disco_shared_key(uint8_t shared[TS_DISCO_KEY_LEN], const uint8_t their_pub[TS_DISCO_KEY_LEN],
                        const uint8_t our_priv[TS_DISCO_KEY_LEN]);

/* Cleartext encoding of m (type, version 0... m->version is written as given). Returns its length or
 * TS_DISCO_E_BUFFER / TS_DISCO_E_ARG / TS_DISCO_E_UNKNOWN_TYPE. */
long ts_disco_encode(uint8_t *out, size_t cap, const ts_disco_msg *m);
/* Cleartext size of m, or a negative error. */
long ts_disco_encoded_len(const ts_disco_msg *m);
/* Decodes a cleartext. 0, TS_DISCO_E_SHORT or TS_DISCO_E_UNKNOWN_TYPE. */
int ts_disco_decode(ts_disco_msg *m, const uint8_t *clear, size_t len);

/* Seals a cleartext into out: magic || sender_pub || nonce || box. nonce NULL = random (ts_random). Returns
 * the packet length (clear_len + TS_DISCO_OVERHEAD) or TS_DISCO_E_BUFFER. */
long ts_disco_seal(uint8_t *out, size_t cap, const uint8_t sender_pub[TS_DISCO_KEY_LEN],
                   const uint8_t shared[TS_DISCO_KEY_LEN], const uint8_t nonce[TS_DISCO_NONCE_LEN],
                   const uint8_t *clear, size_t clear_len);
/* Encodes and seals m in one step. */
long ts_disco_seal_msg(uint8_t *out, size_t cap, const uint8_t sender_pub[TS_DISCO_KEY_LEN],
                       const uint8_t shared[TS_DISCO_KEY_LEN], const uint8_t nonce[TS_DISCO_NONCE_LEN],
                       const ts_disco_msg *m);
/* Opens a packet into clear (cap >= len - TS_DISCO_OVERHEAD). Returns the cleartext length, or
 * TS_DISCO_E_NOT_DISCO / TS_DISCO_E_DECRYPT / TS_DISCO_E_BUFFER. The sender key is not checked here: the
 * caller chose `shared` by ts_disco_sender(pkt). */
long ts_disco_open(uint8_t *clear, size_t cap, const uint8_t *pkt, size_t len,
                   const uint8_t shared[TS_DISCO_KEY_LEN]);

/* ip[16]+port <-> ts_addr (v4-mapped IPv6 becomes TS_ADDR_V4). */
void ts_disco_put_addr(uint8_t out[TS_DISCO_EP_LEN], const ts_addr *a);
void ts_disco_get_addr(ts_addr *a, const uint8_t in[TS_DISCO_EP_LEN]);

#ifdef __cplusplus
}
#endif
#endif
