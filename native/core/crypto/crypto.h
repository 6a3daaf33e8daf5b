/* Cryptographic primitives used by WireGuard, DERP and disco: thin wrappers over libsodium (X25519,
 * XChaCha20-Poly1305, NaCl box), aead.h (ChaCha20-Poly1305 on OpenSSL's assembly) and libb2 (BLAKE2s).
 * No global mutable state beyond libsodium's own one-time initialisation and the CPU feature vector
 * (aead_cpu.c), both set by ts_crypto_init. */
#ifndef TS_CRYPTO_H
#define TS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define TS_KEY_LEN 32          /* X25519 keys, symmetric keys, BLAKE2s-256 output */
#define TS_AEAD_TAG_LEN 16     /* Poly1305 tag */
#define TS_XNONCE_LEN 24       /* XChaCha20 and XSalsa20 nonces */
#define TS_BLAKE2S_OUT 32
#define TS_BLAKE2S_BLOCK 64

/* Must be called once before any other function (idempotent and thread-safe). 0 on success. */
int ts_crypto_init(void);

/* ---- random, compare, wipe ---- */
void ts_random(void *buf, size_t len);
/* 1 if equal, 0 if not; time depends only on len. */
int ts_ct_equal(const void *a, const void *b, size_t len);
/* 1 if all len bytes are zero, in constant time. */
int ts_ct_is_zero(const void *a, size_t len);
/* Zeroes memory in a way the compiler cannot elide. */
void ts_wipe(void *buf, size_t len);

/* ---- X25519 (RFC 7748) ---- */
void ts_x25519_clamp(uint8_t key[TS_KEY_LEN]);
/* Generates a clamped private key and its public key. */
void ts_x25519_keypair(uint8_t priv[TS_KEY_LEN], uint8_t pub[TS_KEY_LEN]);
/* pub = priv * basepoint (priv is clamped internally). */
void ts_x25519_public(uint8_t pub[TS_KEY_LEN], const uint8_t priv[TS_KEY_LEN]);
/* out = priv * peer_pub. Returns -1 (and zeroes out) when the result is all zeros (low-order point). */
int ts_x25519(uint8_t out[TS_KEY_LEN], const uint8_t priv[TS_KEY_LEN], const uint8_t peer_pub[TS_KEY_LEN]);

/* ---- ChaCha20-Poly1305 IETF (RFC 8439), 12-byte nonce ---- */
/* dst receives len + 16 bytes; dst may equal src. */
void ts_chacha_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                    const uint8_t nonce[12], const uint8_t key[TS_KEY_LEN]);
/* src holds len bytes including the tag (len >= 16); dst receives len - 16 bytes. 0 ok, -1 bad tag. */
int ts_chacha_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                   const uint8_t nonce[12], const uint8_t key[TS_KEY_LEN]);
/* WireGuard's nonce: 4 zero bytes then the 64-bit counter little-endian. */
void ts_chacha_seal_ctr(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                        uint64_t counter, const uint8_t key[TS_KEY_LEN]);
int ts_chacha_open_ctr(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                       uint64_t counter, const uint8_t key[TS_KEY_LEN]);

/* ---- XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha), 24-byte nonce: WireGuard cookie replies ---- */
void ts_xchacha_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                     const uint8_t nonce[TS_XNONCE_LEN], const uint8_t key[TS_KEY_LEN]);
int ts_xchacha_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                    const uint8_t nonce[TS_XNONCE_LEN], const uint8_t key[TS_KEY_LEN]);

/* ---- NaCl box: Curve25519-XSalsa20-Poly1305 (DERP ClientInfo/ServerInfo, disco) ---- */
/* Output layout is libsodium's "easy" form: 16-byte tag then ciphertext (dst gets len + 16). */
int ts_box_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t nonce[TS_XNONCE_LEN],
                const uint8_t peer_pub[TS_KEY_LEN], const uint8_t priv[TS_KEY_LEN]);
/* src has len >= 16 bytes; dst gets len - 16. 0 ok, -1 on failure. */
int ts_box_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t nonce[TS_XNONCE_LEN],
                const uint8_t peer_pub[TS_KEY_LEN], const uint8_t priv[TS_KEY_LEN]);
/* Precomputed shared key (crypto_box_beforenm) and the _afternm forms, for per-peer caching. */
int ts_box_beforenm(uint8_t shared[TS_KEY_LEN], const uint8_t peer_pub[TS_KEY_LEN], const uint8_t priv[TS_KEY_LEN]);
void ts_box_seal_afternm(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t nonce[TS_XNONCE_LEN],
                         const uint8_t shared[TS_KEY_LEN]);
int ts_box_open_afternm(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t nonce[TS_XNONCE_LEN],
                        const uint8_t shared[TS_KEY_LEN]);

/* ---- BLAKE2s (RFC 7693) ---- */
/* Unkeyed (key_len 0) or keyed (key_len 1..32) hash with output length 1..32. 0 ok, -1 bad lengths. */
int ts_blake2s(uint8_t *out, size_t out_len, const void *in, size_t in_len, const void *key, size_t key_len);

typedef union ts_blake2s_ctx {
  /* Opaque, large enough for libb2's blake2s_state (checked by static assertions in crypto.c). */
  uint64_t align_;
  uint8_t opaque[256];
} ts_blake2s_ctx;
int ts_blake2s_init(ts_blake2s_ctx *ctx, size_t out_len, const void *key, size_t key_len);
void ts_blake2s_update(ts_blake2s_ctx *ctx, const void *in, size_t in_len);
/* out_len must be the out_len given to ts_blake2s_init (otherwise out_len bytes of zeros are written).
 * The context is wiped afterwards. */
void ts_blake2s_final(ts_blake2s_ctx *ctx, uint8_t *out, size_t out_len);

/* HMAC (RFC 2104) over BLAKE2s-256, as the Noise framework and WireGuard use it. */
void ts_hmac_blake2s(uint8_t out[TS_BLAKE2S_OUT], const uint8_t *key, size_t key_len, const uint8_t *in,
                     size_t in_len);
/* Noise HKDF with HMAC-BLAKE2s: derives 1, 2 or 3 32-byte outputs from chaining key ck and input.
 * out2/out3 may be NULL. */
void ts_kdf(uint8_t out1[TS_KEY_LEN], uint8_t *out2, uint8_t *out3, const uint8_t ck[TS_KEY_LEN],
            const uint8_t *input, size_t input_len);

#endif
