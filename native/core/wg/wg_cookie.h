/* MAC1/MAC2 and cookie replies (whitepaper 5.4.4 and 5.4.7): the DoS defence of the handshake.
 * The checker is the receiving side (one per device: keys from our static public key, a secret rotated
 * every 120 s); the generator is the sending side (one per peer: keys from the peer's public key, the
 * last cookie the peer gave us and the mac1 of our last handshake message, needed to open a reply). */
#ifndef TS_WG_COOKIE_H
#define TS_WG_COOKIE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "wg_msg.h"

#define TS_WG_COOKIE_REFRESH_NS (120ULL * 1000000000ULL)
#define TS_WG_COOKIE_SRC_MAX 40 /* longest source address a cookie is bound to (TS_WG_ENDPOINT_MAX) */

/* Under a flood every initiation reaches this checker, so its per-message work is kept to MACs and no
 * system calls (docs/architecture.md, "Handshake floods"): mac1's keyed hash resumes from a state that has
 * already absorbed the key block and the type byte, a zero mac2 (what an initiator without a cookie sends)
 * is recognised without hashing, the cookie of the last source is cached until the secret rotates, and
 * reply nonces are a random prefix drawn with the secret plus a counter. */
typedef struct ts_wg_cookie_checker {
  uint8_t mac1_key[32];   /* HASH("mac1----" || our public key) */
  uint8_t cookie_key[32]; /* HASH("cookie--" || our public key) */
  ts_blake2s_ctx mac1_pre[2]; /* MAC state after the key block and type byte 1 (initiation), 2 (response) */
  uint8_t secret[32];
  uint64_t secret_time;
  int secret_valid;
  uint8_t nonce_prefix[16];   /* reply nonce: prefix || little-endian counter (unique under cookie_key) */
  uint64_t nonce_counter;
  uint8_t last_src[TS_WG_COOKIE_SRC_MAX]; /* source of the cached cookie */
  size_t last_src_len;       /* 0: no cached cookie */
  uint8_t last_cookie[16];
} ts_wg_cookie_checker;

typedef struct ts_wg_cookie_gen {
  uint8_t mac1_key[32];
  uint8_t cookie_key[32];
  uint8_t cookie[16];
  uint64_t cookie_time;
  int cookie_valid;
  uint8_t last_mac1[16];
  int has_last_mac1; /* a reply is accepted once per message we sent */
} ts_wg_cookie_gen;

void ts_wg_cookie_checker_init(ts_wg_cookie_checker *c, const uint8_t our_pub[32]);
/* msg is a whole initiation or response (type byte 1 or 2); mac1_off its mac1 offset (mac2 follows at
 * mac1_off + 16). */
int ts_wg_cookie_check_mac1(const ts_wg_cookie_checker *c, const uint8_t *msg, size_t mac1_off);
/* src/src_len: the outer source address bytes the cookie is bound to (at most TS_WG_COOKIE_SRC_MAX).
 * 1 valid, 0 not. Not const: it caches the cookie of the last source. */
int ts_wg_cookie_check_mac2(ts_wg_cookie_checker *c, uint64_t now, const uint8_t *msg, size_t mac1_off,
                            const uint8_t *src, size_t src_len);
/* Builds a cookie reply to msg (whose sender index is `receiver`) into out; rotates the secret when stale.
 * rng is called only then (for the new secret and nonce prefix), not per reply. */
void ts_wg_cookie_make_reply(ts_wg_cookie_checker *c, uint64_t now, const uint8_t *msg, size_t mac1_off,
                             uint32_t receiver, const uint8_t *src, size_t src_len,
                             void (*rng)(void *ctx, void *buf, size_t len), void *rng_ctx,
                             uint8_t out[TS_WG_COOKIE_LEN]);

void ts_wg_cookie_gen_init(ts_wg_cookie_gen *g, const uint8_t peer_pub[32]);
/* Fills mac1 and mac2 of an outgoing handshake message (mac2 zero without a fresh cookie). */
void ts_wg_cookie_add_macs(ts_wg_cookie_gen *g, uint64_t now, uint8_t *msg, size_t mac1_off);
/* Opens a cookie reply addressed to us; 1 when it authenticated and the cookie was stored. */
int ts_wg_cookie_consume_reply(ts_wg_cookie_gen *g, uint64_t now, const ts_wg_msg_cookie *m);

#endif
