/* ChaCha20-Poly1305 (RFC 8439 section 2.8) from OpenSSL's ChaCha20 and Poly1305 assembly: the keystream's
 * block 0 keys Poly1305, blocks 1.. encrypt, and the tag covers the additional data and the ciphertext, each
 * zero-padded to 16 bytes, then both lengths as 64-bit little-endian words. docs/dependencies.md, "OpenSSL's
 * ChaCha20 and Poly1305 assembly", says where the assembly comes from and how it stays private. */
#include "crypto/aead.h"
#include "crypto/aead_asm.h"
#include "crypto/crypto.h"

#include <sodium.h>
#include <string.h>

#if TS_AEAD_ASM

/* The assembly's entry points (OpenSSL's names with the ts_ossl_ prefix scripts/openssl-asm.sh gives them).
 * Keys and counters are arrays of 32-bit little-endian words; both targets are little-endian. */
void ts_ossl_ChaCha20_ctr32(uint8_t *out, const uint8_t *in, size_t len, const uint32_t key[8],
                            const uint32_t counter[4]);
typedef void (*poly_blocks_fn)(void *ctx, const uint8_t *in, size_t len, uint32_t padbit);
typedef void (*poly_emit_fn)(void *ctx, uint8_t mac[16], const uint32_t nonce[4]);
struct poly_fns {
  poly_blocks_fn blocks;
  poly_emit_fn emit;
};
/* Clamps r, zeroes the accumulator and picks the blocks/emit code for the CPU (fns); 1 when it did. */
int ts_ossl_poly1305_init(void *ctx, const uint8_t key[16], struct poly_fns *fns);
void ts_ossl_poly1305_blocks(void *ctx, const uint8_t *in, size_t len, uint32_t padbit);
void ts_ossl_poly1305_emit(void *ctx, uint8_t mac[16], const uint32_t nonce[4]);

/* OpenSSL's POLY1305 keeps the assembly's state in 24 doubles (192 bytes); room to spare, cache-aligned. */
typedef struct poly {
  _Alignas(64) uint8_t state[256];
  struct poly_fns fns;
  uint32_t s[4]; /* the key's second half, added at the end */
} poly;

typedef struct chacha {
  uint32_t key[8];
  uint32_t ctr[4]; /* block counter, then the nonce's three words */
} chacha;

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* Sets up the cipher and, from its block 0, the one-time Poly1305 key. */
static void start(chacha *c, poly *p, const uint8_t nonce[12], const uint8_t key[32]) {
  for (int i = 0; i < 8; i++) c->key[i] = le32(key + 4 * i);
  c->ctr[0] = 0;
  for (int i = 0; i < 3; i++) c->ctr[1 + i] = le32(nonce + 4 * i);
  uint8_t block0[64] = {0};
  ts_ossl_ChaCha20_ctr32(block0, block0, sizeof block0, c->key, c->ctr);
  if (!ts_ossl_poly1305_init(p->state, block0, &p->fns)) {
    /* Only a NULL key makes init decline; keep the generic code anyway. */
    p->fns.blocks = ts_ossl_poly1305_blocks;
    p->fns.emit = ts_ossl_poly1305_emit;
  }
  for (int i = 0; i < 4; i++) p->s[i] = le32(block0 + 16 + 4 * i);
  ts_wipe(block0, sizeof block0);
  c->ctr[0] = 1;
}

/* MACs the additional data and the ciphertext as RFC 8439 lays them out, into tag. */
static void mac(poly *p, const uint8_t *ad, size_t ad_len, const uint8_t *ct, size_t ct_len, uint8_t tag[16]) {
  uint8_t buf[48] = {0};
  if (ad_len) {
    size_t whole = ad_len & ~(size_t)15;
    if (whole) p->fns.blocks(p->state, ad, whole, 1);
    if (ad_len > whole) {
      memcpy(buf, ad + whole, ad_len - whole);
      p->fns.blocks(p->state, buf, 16, 1);
      memset(buf, 0, 16);
    }
  }
  size_t whole = ct_len & ~(size_t)15, rest = ct_len - whole, n = 0;
  if (whole) p->fns.blocks(p->state, ct, whole, 1);
  /* The ciphertext's padded last block and the lengths block in one call. */
  if (rest) {
    memcpy(buf, ct + whole, rest);
    n = 16;
  }
  for (int i = 0; i < 8; i++) {
    buf[n + i] = (uint8_t)((uint64_t)ad_len >> (8 * i));
    buf[n + 8 + i] = (uint8_t)((uint64_t)ct_len >> (8 * i));
  }
  p->fns.blocks(p->state, buf, n + 16, 1);
  p->fns.emit(p->state, tag, p->s);
  ts_wipe(buf, sizeof buf);
}

void ts_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                  const uint8_t nonce[12], const uint8_t key[32]) {
  chacha c;
  poly p;
  start(&c, &p, nonce, key);
  ts_ossl_ChaCha20_ctr32(dst, src, len, c.key, c.ctr);
  mac(&p, ad, ad_len, dst, len, dst + len);
  ts_wipe(&c, sizeof c);
  ts_wipe(&p, sizeof p);
}

int ts_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                 const uint8_t nonce[12], const uint8_t key[32]) {
  if (len < 16) return -1;
  len -= 16;
  chacha c;
  poly p;
  uint8_t tag[16];
  start(&c, &p, nonce, key);
  mac(&p, ad, ad_len, src, len, tag);
  const int ok = ts_ct_equal(tag, src + len, sizeof tag);
  if (ok) ts_ossl_ChaCha20_ctr32(dst, src, len, c.key, c.ctr);
  else memset(dst, 0, len);
  ts_wipe(&c, sizeof c);
  ts_wipe(&p, sizeof p);
  ts_wipe(tag, sizeof tag);
  return ok ? 0 : -1;
}

const char *ts_aead_backend(void) { return "openssl-asm"; }

#else

void ts_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                  const uint8_t nonce[12], const uint8_t key[32]) {
  crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad, ad_len, NULL, nonce, key);
}

int ts_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                 const uint8_t nonce[12], const uint8_t key[32]) {
  if (len < 16) return -1;
  return crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len, ad, ad_len, nonce, key) == 0 ? 0 : -1;
}

const char *ts_aead_backend(void) { return "libsodium"; }

#endif
