#include "crypto/crypto.h"

#include "crypto/aead.h"

#include <blake2.h>
#include <sodium.h>
#include <string.h>

_Static_assert(sizeof(blake2s_state) <= sizeof(((ts_blake2s_ctx *)0)->opaque), "ts_blake2s_ctx too small");
_Static_assert(_Alignof(blake2s_state) <= _Alignof(ts_blake2s_ctx), "ts_blake2s_ctx alignment");

int ts_crypto_init(void) {
  ts_aead_cpu_init();
  return sodium_init() < 0 ? -1 : 0;
}

void ts_random(void *buf, size_t len) { randombytes_buf(buf, len); }

int ts_ct_equal(const void *a, const void *b, size_t len) {
  const volatile uint8_t *x = a, *y = b;
  uint8_t d = 0;
  for (size_t i = 0; i < len; i++) d |= x[i] ^ y[i];
  /* d == 0 -> 0xffffffff >> 8 has bit 0 set; 1 <= d <= 255 -> (d - 1) >> 8 == 0. Unsigned, so the shift is
   * well defined (a negative int shifted right is implementation-defined). */
  return (int)(1u & (((unsigned)d - 1u) >> 8));
}

int ts_ct_is_zero(const void *a, size_t len) { return sodium_is_zero(a, len); }

void ts_wipe(void *buf, size_t len) { sodium_memzero(buf, len); }

void ts_x25519_clamp(uint8_t k[TS_KEY_LEN]) {
  k[0] &= 248;
  k[31] = (uint8_t)((k[31] & 127) | 64);
}

void ts_x25519_public(uint8_t pub[TS_KEY_LEN], const uint8_t priv[TS_KEY_LEN]) {
  /* libsodium clamps internally; this cannot fail for the base point. */
  (void)crypto_scalarmult_curve25519_base(pub, priv);
}

void ts_x25519_keypair(uint8_t priv[TS_KEY_LEN], uint8_t pub[TS_KEY_LEN]) {
  ts_random(priv, TS_KEY_LEN);
  ts_x25519_clamp(priv);
  ts_x25519_public(pub, priv);
}

int ts_x25519(uint8_t out[TS_KEY_LEN], const uint8_t priv[TS_KEY_LEN], const uint8_t peer_pub[TS_KEY_LEN]) {
  /* libsodium returns -1 for an all-zero result (a low-order peer point). */
  if (crypto_scalarmult_curve25519(out, priv, peer_pub) != 0) {
    ts_wipe(out, TS_KEY_LEN);
    return -1;
  }
  return 0;
}

void ts_chacha_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                    const uint8_t nonce[12], const uint8_t key[TS_KEY_LEN]) {
  ts_aead_seal(dst, src, len, ad, ad_len, nonce, key);
}

int ts_chacha_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                   const uint8_t nonce[12], const uint8_t key[TS_KEY_LEN]) {
  return ts_aead_open(dst, src, len, ad, ad_len, nonce, key);
}

static void ctr_nonce(uint8_t n[12], uint64_t counter) {
  memset(n, 0, 4);
  for (int i = 0; i < 8; i++) n[4 + i] = (uint8_t)(counter >> (8 * i));
}

void ts_chacha_seal_ctr(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                        uint64_t counter, const uint8_t key[TS_KEY_LEN]) {
  uint8_t n[12];
  ctr_nonce(n, counter);
  ts_chacha_seal(dst, src, len, ad, ad_len, n, key);
}

int ts_chacha_open_ctr(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                       uint64_t counter, const uint8_t key[TS_KEY_LEN]) {
  uint8_t n[12];
  ctr_nonce(n, counter);
  return ts_chacha_open(dst, src, len, ad, ad_len, n, key);
}

void ts_xchacha_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                     const uint8_t nonce[TS_XNONCE_LEN], const uint8_t key[TS_KEY_LEN]) {
  crypto_aead_xchacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad, ad_len, NULL, nonce, key);
}

int ts_xchacha_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                    const uint8_t nonce[TS_XNONCE_LEN], const uint8_t key[TS_KEY_LEN]) {
  if (len < TS_AEAD_TAG_LEN) return -1;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len, ad, ad_len, nonce, key) == 0 ? 0
                                                                                                            : -1;
}

int ts_box_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t nonce[TS_XNONCE_LEN],
                const uint8_t peer_pub[TS_KEY_LEN], const uint8_t priv[TS_KEY_LEN]) {
  return crypto_box_easy(dst, src, len, nonce, peer_pub, priv) == 0 ? 0 : -1;
}

int ts_box_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t nonce[TS_XNONCE_LEN],
                const uint8_t peer_pub[TS_KEY_LEN], const uint8_t priv[TS_KEY_LEN]) {
  if (len < crypto_box_MACBYTES) return -1;
  return crypto_box_open_easy(dst, src, len, nonce, peer_pub, priv) == 0 ? 0 : -1;
}

int ts_box_beforenm(uint8_t shared[TS_KEY_LEN], const uint8_t peer_pub[TS_KEY_LEN], const uint8_t priv[TS_KEY_LEN]) {
  if (crypto_box_beforenm(shared, peer_pub, priv) != 0) {
    ts_wipe(shared, TS_KEY_LEN);
    return -1;
  }
  return 0;
}

void ts_box_seal_afternm(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t nonce[TS_XNONCE_LEN],
                         const uint8_t shared[TS_KEY_LEN]) {
  crypto_box_easy_afternm(dst, src, len, nonce, shared);
}

int ts_box_open_afternm(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t nonce[TS_XNONCE_LEN],
                        const uint8_t shared[TS_KEY_LEN]) {
  if (len < crypto_box_MACBYTES) return -1;
  return crypto_box_open_easy_afternm(dst, src, len, nonce, shared) == 0 ? 0 : -1;
}

int ts_blake2s(uint8_t *out, size_t out_len, const void *in, size_t in_len, const void *key, size_t key_len) {
  if (out_len == 0 || out_len > TS_BLAKE2S_OUT || key_len > TS_KEY_LEN) return -1;
  /* libb2's argument order: out, in, key, outlen, inlen, keylen. */
  return blake2s(out, in, key, out_len, in_len, key_len) == 0 ? 0 : -1;
}

int ts_blake2s_init(ts_blake2s_ctx *ctx, size_t out_len, const void *key, size_t key_len) {
  blake2s_state *s = (blake2s_state *)ctx->opaque;
  if (out_len == 0 || out_len > TS_BLAKE2S_OUT || key_len > TS_KEY_LEN) return -1;
  if (key_len) return blake2s_init_key(s, out_len, key, key_len) == 0 ? 0 : -1;
  return blake2s_init(s, out_len) == 0 ? 0 : -1;
}

void ts_blake2s_update(ts_blake2s_ctx *ctx, const void *in, size_t in_len) {
  blake2s_update((blake2s_state *)ctx->opaque, in, in_len);
}

void ts_blake2s_final(ts_blake2s_ctx *ctx, uint8_t *out, size_t out_len) {
  /* libb2 refuses an out_len other than the one given to init and then leaves out untouched; since this
   * function cannot report that, zero out instead of handing back whatever it held. */
  if (blake2s_final((blake2s_state *)ctx->opaque, out, out_len) != 0 && out && out_len) ts_wipe(out, out_len);
  ts_wipe(ctx, sizeof *ctx);
}

void ts_hmac_blake2s(uint8_t out[TS_BLAKE2S_OUT], const uint8_t *key, size_t key_len, const uint8_t *in,
                     size_t in_len) {
  uint8_t k[TS_BLAKE2S_BLOCK] = {0}, pad[TS_BLAKE2S_BLOCK], inner[TS_BLAKE2S_OUT];
  ts_blake2s_ctx c;
  if (key_len > TS_BLAKE2S_BLOCK) ts_blake2s(k, TS_BLAKE2S_OUT, key, key_len, NULL, 0);
  else if (key_len) memcpy(k, key, key_len);

  for (int i = 0; i < TS_BLAKE2S_BLOCK; i++) pad[i] = k[i] ^ 0x36;
  ts_blake2s_init(&c, TS_BLAKE2S_OUT, NULL, 0);
  ts_blake2s_update(&c, pad, sizeof pad);
  ts_blake2s_update(&c, in, in_len);
  ts_blake2s_final(&c, inner, sizeof inner);

  for (int i = 0; i < TS_BLAKE2S_BLOCK; i++) pad[i] = k[i] ^ 0x5c;
  ts_blake2s_init(&c, TS_BLAKE2S_OUT, NULL, 0);
  ts_blake2s_update(&c, pad, sizeof pad);
  ts_blake2s_update(&c, inner, sizeof inner);
  ts_blake2s_final(&c, out, TS_BLAKE2S_OUT);

  ts_wipe(k, sizeof k);
  ts_wipe(pad, sizeof pad);
  ts_wipe(inner, sizeof inner);
}

void ts_kdf(uint8_t out1[TS_KEY_LEN], uint8_t *out2, uint8_t *out3, const uint8_t ck[TS_KEY_LEN],
            const uint8_t *input, size_t input_len) {
  uint8_t prk[TS_KEY_LEN], buf[TS_KEY_LEN + 1], t[TS_KEY_LEN];
  ts_hmac_blake2s(prk, ck, TS_KEY_LEN, input, input_len);

  buf[0] = 1;
  ts_hmac_blake2s(t, prk, TS_KEY_LEN, buf, 1);
  memcpy(out1, t, TS_KEY_LEN);
  if (out2) {
    memcpy(buf, t, TS_KEY_LEN);
    buf[TS_KEY_LEN] = 2;
    ts_hmac_blake2s(t, prk, TS_KEY_LEN, buf, sizeof buf);
    memcpy(out2, t, TS_KEY_LEN);
    if (out3) {
      memcpy(buf, t, TS_KEY_LEN);
      buf[TS_KEY_LEN] = 3;
      ts_hmac_blake2s(t, prk, TS_KEY_LEN, buf, sizeof buf);
      memcpy(out3, t, TS_KEY_LEN);
    }
  }
  ts_wipe(prk, sizeof prk);
  ts_wipe(buf, sizeof buf);
  ts_wipe(t, sizeof t);
}
