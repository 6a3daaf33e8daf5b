/* MAC1, MAC2 and cookie replies. MAC(key, x) = keyed BLAKE2s with a 16-byte output. */
#include "wg_cookie.h"

#include <string.h>

#include "crypto/crypto.h"

static void label_hash(uint8_t out[32], const char label[8], const uint8_t pub[32]) {
  uint8_t buf[8 + 32];
  memcpy(buf, label, 8);
  memcpy(buf + 8, pub, 32);
  ts_blake2s(out, 32, buf, sizeof buf, NULL, 0);
}

static void mac16(uint8_t out[16], const uint8_t *key, size_t key_len, const uint8_t *in, size_t in_len) {
  ts_blake2s(out, 16, in, in_len, key, key_len);
}

static int secret_fresh(const ts_wg_cookie_checker *c, uint64_t now) {
  return c->secret_valid && now - c->secret_time < TS_WG_COOKIE_REFRESH_NS && now >= c->secret_time;
}

void ts_wg_cookie_checker_init(ts_wg_cookie_checker *c, const uint8_t our_pub[32]) {
  memset(c, 0, sizeof *c);
  label_hash(c->mac1_key, "mac1----", our_pub);
  label_hash(c->cookie_key, "cookie--", our_pub);
}

int ts_wg_cookie_check_mac1(const ts_wg_cookie_checker *c, const uint8_t *msg, size_t mac1_off) {
  uint8_t mac[16];
  mac16(mac, c->mac1_key, 32, msg, mac1_off);
  return ts_ct_equal(mac, msg + mac1_off, 16);
}

/* The cookie: MAC(secret, source address). */
static void cookie_for(const ts_wg_cookie_checker *c, uint8_t out[16], const uint8_t *src, size_t src_len) {
  mac16(out, c->secret, 32, src, src_len);
}

int ts_wg_cookie_check_mac2(const ts_wg_cookie_checker *c, uint64_t now, const uint8_t *msg, size_t mac1_off,
                            const uint8_t *src, size_t src_len) {
  if (!secret_fresh(c, now)) return 0;
  uint8_t cookie[16], mac[16];
  cookie_for(c, cookie, src, src_len);
  mac16(mac, cookie, 16, msg, mac1_off + 16);
  int ok = ts_ct_equal(mac, msg + mac1_off + 16, 16);
  ts_wipe(cookie, sizeof cookie);
  return ok;
}

void ts_wg_cookie_make_reply(ts_wg_cookie_checker *c, uint64_t now, const uint8_t *msg, size_t mac1_off,
                             uint32_t receiver, const uint8_t *src, size_t src_len,
                             void (*rng)(void *ctx, void *buf, size_t len), void *rng_ctx,
                             uint8_t out[TS_WG_COOKIE_LEN]) {
  if (!secret_fresh(c, now)) {
    rng(rng_ctx, c->secret, sizeof c->secret);
    c->secret_time = now;
    c->secret_valid = 1;
  }
  ts_wg_msg_cookie m;
  uint8_t cookie[16];
  m.receiver = receiver;
  rng(rng_ctx, m.nonce, sizeof m.nonce);
  cookie_for(c, cookie, src, src_len);
  /* The AD is the mac1 of the message being answered, so only its sender can open the reply. */
  ts_xchacha_seal(m.enc_cookie, cookie, 16, msg + mac1_off, 16, m.nonce, c->cookie_key);
  ts_wg_msg_cookie_write(out, &m);
  ts_wipe(cookie, sizeof cookie);
}

void ts_wg_cookie_gen_init(ts_wg_cookie_gen *g, const uint8_t peer_pub[32]) {
  memset(g, 0, sizeof *g);
  label_hash(g->mac1_key, "mac1----", peer_pub);
  label_hash(g->cookie_key, "cookie--", peer_pub);
}

void ts_wg_cookie_add_macs(ts_wg_cookie_gen *g, uint64_t now, uint8_t *msg, size_t mac1_off) {
  mac16(msg + mac1_off, g->mac1_key, 32, msg, mac1_off);
  memcpy(g->last_mac1, msg + mac1_off, 16);
  g->has_last_mac1 = 1;
  if (g->cookie_valid && now >= g->cookie_time && now - g->cookie_time < TS_WG_COOKIE_REFRESH_NS)
    mac16(msg + mac1_off + 16, g->cookie, 16, msg, mac1_off + 16);
  else
    memset(msg + mac1_off + 16, 0, 16);
}

int ts_wg_cookie_consume_reply(ts_wg_cookie_gen *g, uint64_t now, const ts_wg_msg_cookie *m) {
  if (!g->has_last_mac1) return 0;
  uint8_t cookie[16];
  if (ts_xchacha_open(cookie, m->enc_cookie, sizeof m->enc_cookie, g->last_mac1, 16, m->nonce, g->cookie_key))
    return 0;
  memcpy(g->cookie, cookie, 16);
  g->cookie_time = now;
  g->cookie_valid = 1;
  g->has_last_mac1 = 0;
  ts_wipe(cookie, sizeof cookie);
  return 1;
}
