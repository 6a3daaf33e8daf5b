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
  for (uint8_t type = 1; type <= 2; type++) {
    ts_blake2s_init(&c->mac1_pre[type - 1], 16, c->mac1_key, 32);
    ts_blake2s_update(&c->mac1_pre[type - 1], &type, 1); /* makes the hash compress the key block now */
  }
}

int ts_wg_cookie_check_mac1(const ts_wg_cookie_checker *c, const uint8_t *msg, size_t mac1_off) {
  uint8_t mac[16];
  if (mac1_off < 1) return 0;
  if (msg[0] == 1 || msg[0] == 2) {
    ts_blake2s_ctx x = c->mac1_pre[msg[0] - 1];
    ts_blake2s_update(&x, msg + 1, mac1_off - 1);
    ts_blake2s_final(&x, mac, sizeof mac);
  } else {
    mac16(mac, c->mac1_key, 32, msg, mac1_off);
  }
  return ts_ct_equal(mac, msg + mac1_off, 16);
}

/* The cookie: MAC(secret, source address), cached for the last source (a flood comes from few). The
 * caller has checked that the secret is fresh. */
static const uint8_t *cookie_for(ts_wg_cookie_checker *c, const uint8_t *src, size_t src_len) {
  if (src_len > TS_WG_COOKIE_SRC_MAX) src_len = TS_WG_COOKIE_SRC_MAX;
  if (!c->last_src_len || c->last_src_len != src_len || memcmp(c->last_src, src, src_len)) {
    mac16(c->last_cookie, c->secret, 32, src, src_len);
    memcpy(c->last_src, src, src_len);
    c->last_src_len = src_len;
  }
  return c->last_cookie;
}

int ts_wg_cookie_check_mac2(ts_wg_cookie_checker *c, uint64_t now, const uint8_t *msg, size_t mac1_off,
                            const uint8_t *src, size_t src_len) {
  /* An initiator without a cookie sends zeros; a real mac2 is zero with probability 2^-128. */
  if (!secret_fresh(c, now) || ts_ct_is_zero(msg + mac1_off + 16, 16)) return 0;
  uint8_t mac[16];
  mac16(mac, cookie_for(c, src, src_len), 16, msg, mac1_off + 16);
  return ts_ct_equal(mac, msg + mac1_off + 16, 16);
}

void ts_wg_cookie_make_reply(ts_wg_cookie_checker *c, uint64_t now, const uint8_t *msg, size_t mac1_off,
                             uint32_t receiver, const uint8_t *src, size_t src_len,
                             void (*rng)(void *ctx, void *buf, size_t len), void *rng_ctx,
                             uint8_t out[TS_WG_COOKIE_LEN]) {
  if (!secret_fresh(c, now)) {
    uint8_t fresh[48];
    rng(rng_ctx, fresh, sizeof fresh);
    memcpy(c->secret, fresh, 32);
    memcpy(c->nonce_prefix, fresh + 32, 16);
    ts_wipe(fresh, sizeof fresh);
    c->nonce_counter = 0;
    c->secret_time = now;
    c->secret_valid = 1;
    ts_wipe(c->last_cookie, sizeof c->last_cookie);
    c->last_src_len = 0;
  }
  ts_wg_msg_cookie m;
  m.receiver = receiver;
  /* XChaCha20's 24-byte nonce only has to be unique under cookie_key: a random 16-byte prefix per secret
   * and a counter give that without a random draw (a system call) per reply. */
  memcpy(m.nonce, c->nonce_prefix, 16);
  uint64_t n = c->nonce_counter++;
  for (int i = 0; i < 8; i++) m.nonce[16 + i] = (uint8_t)(n >> (8 * i));
  /* The AD is the mac1 of the message being answered, so only its sender can open the reply. */
  ts_xchacha_seal(m.enc_cookie, cookie_for(c, src, src_len), 16, msg + mac1_off, 16, m.nonce, c->cookie_key);
  ts_wg_msg_cookie_write(out, &m);
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
