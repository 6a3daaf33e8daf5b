/* The Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s handshake as WireGuard uses it (whitepaper 5.4.2-5.4.3):
 * pure functions over a per-peer handshake state. MACs, indices, lookups and timers are the caller's. */
#ifndef TS_WG_NOISE_H
#define TS_WG_NOISE_H

#include <stdint.h>

#include "wg_msg.h"

enum {
  TS_WG_HS_ZEROED = 0,
  TS_WG_HS_INITIATION_CREATED, /* we are the initiator, waiting for a response */
  TS_WG_HS_INITIATION_CONSUMED, /* we are the responder, about to answer */
  TS_WG_HS_RESPONSE_CREATED,
  TS_WG_HS_RESPONSE_CONSUMED,
};

/* Our identity: the static key pair and the protocol's initial chaining key and hash. */
typedef struct ts_wg_noise_identity {
  uint8_t priv[32], pub[32];
  uint8_t ck0[32];     /* HASH(construction) */
  uint8_t h0[32];      /* HASH(ck0 || identifier) */
  uint8_t h0_self[32]; /* HASH(h0 || our public key): where a responder starts */
} ts_wg_noise_identity;

/* What the handshake needs to know about a peer. */
typedef struct ts_wg_noise_peer {
  uint8_t pub[32];
  uint8_t psk[32];
  uint8_t ss[32];      /* DH(our static, peer static), computed at the first handshake */
  int ss_state;        /* 0 not computed yet, 1 ready, -1 low-order peer key: no handshake possible */
  uint8_t h0_peer[32]; /* HASH(h0 || peer public key): where an initiator starts */
} ts_wg_noise_peer;

typedef struct ts_wg_handshake {
  int state;
  uint8_t ck[32], h[32];
  uint8_t eph_priv[32];   /* our ephemeral private key */
  uint8_t remote_eph[32]; /* responder: the initiator's ephemeral */
  uint32_t local_index, remote_index;
} ts_wg_handshake;

void ts_wg_noise_identity_init(ts_wg_noise_identity *id, const uint8_t priv[32]);
void ts_wg_noise_peer_init(ts_wg_noise_peer *p, const ts_wg_noise_identity *id, const uint8_t pub[32],
                           const uint8_t psk[32] /* NULL: none */);
void ts_wg_handshake_clear(ts_wg_handshake *hs);
/* Computes the static-static DH on first use (adding thousands of peers then costs no DH). 0 ok, -1 the
 * peer's key is a low-order point. */
int ts_wg_noise_peer_prepare(ts_wg_noise_peer *p, const ts_wg_noise_identity *id);

/* Initiator: builds an initiation (mac1/mac2 left zero) from a fresh ephemeral private key (random bytes,
 * clamped here) and the wall clock. hs becomes INITIATION_CREATED. -1 if the peer key is unusable. */
int ts_wg_noise_create_initiation(ts_wg_handshake *hs, const ts_wg_noise_identity *id, const ts_wg_noise_peer *p,
                                  const uint8_t eph_random[32], uint64_t wall_ns, uint32_t local_index,
                                  ts_wg_msg_initiation *out);

/* Responder, step 1: decrypts the initiator's static key. On success *st holds the intermediate state and
 * peer_pub the claimed static key, for the caller to find the peer. */
typedef struct ts_wg_noise_init_state {
  uint8_t ck[32], h[32], remote_eph[32], peer_pub[32];
} ts_wg_noise_init_state;
int ts_wg_noise_consume_initiation1(ts_wg_noise_init_state *st, const ts_wg_noise_identity *id,
                                    const ts_wg_msg_initiation *m);
/* Step 2, with the peer found: decrypts the timestamp into ts. hs is only written by the caller via
 * ts_wg_noise_accept_initiation, after it checked the timestamp and flood limits. */
int ts_wg_noise_consume_initiation2(ts_wg_noise_init_state *st, const ts_wg_noise_peer *p,
                                    const ts_wg_msg_initiation *m, uint8_t ts[TS_WG_TAI64N_LEN]);
void ts_wg_noise_accept_initiation(ts_wg_handshake *hs, const ts_wg_noise_init_state *st,
                                   const ts_wg_msg_initiation *m);

/* Responder: builds the response (macs zero). hs must be INITIATION_CONSUMED; becomes RESPONSE_CREATED. */
int ts_wg_noise_create_response(ts_wg_handshake *hs, const ts_wg_noise_peer *p, const uint8_t eph_random[32],
                                uint32_t local_index, ts_wg_msg_response *out);

/* Initiator: processes a response to our initiation. hs must be INITIATION_CREATED and is only changed on
 * success (becomes RESPONSE_CONSUMED). */
int ts_wg_noise_consume_response(ts_wg_handshake *hs, const ts_wg_noise_identity *id, const ts_wg_noise_peer *p,
                                 const ts_wg_msg_response *m);

/* Derives the transport keys from a finished handshake (RESPONSE_CREATED or RESPONSE_CONSUMED) and zeroes
 * its secrets (the indices stay). Returns 1 if we were the initiator, 0 responder, -1 wrong state. */
int ts_wg_noise_derive(ts_wg_handshake *hs, uint8_t send_key[32], uint8_t recv_key[32]);

#endif
