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

/* Takes the one-time Poly1305 key from block 0's keystream (its first 32 bytes). */
static void poly_start(poly *p, const uint8_t block0[32]) {
  if (!ts_ossl_poly1305_init(p->state, block0, &p->fns)) {
    /* Only a NULL key makes init decline; keep the generic code anyway. */
    p->fns.blocks = ts_ossl_poly1305_blocks;
    p->fns.emit = ts_ossl_poly1305_emit;
  }
  for (int i = 0; i < 4; i++) p->s[i] = le32(block0 + 16 + 4 * i);
}

static void chacha_start(chacha *c, const uint8_t nonce[12], const uint8_t key[32]) {
  for (int i = 0; i < 8; i++) c->key[i] = le32(key + 4 * i);
  c->ctr[0] = 0;
  for (int i = 0; i < 3; i++) c->ctr[1 + i] = le32(nonce + 4 * i);
}

/* Block 0 alone (one latency-bound ChaCha20 block: about as long as 8 blocks in a wide loop). */
static void start(chacha *c, poly *p, const uint8_t nonce[12], const uint8_t key[32]) {
  chacha_start(c, nonce, key);
  uint8_t block0[64] = {0};
  ts_ossl_ChaCha20_ctr32(block0, block0, sizeof block0, c->key, c->ctr);
  poly_start(p, block0);
  ts_wipe(block0, sizeof block0);
  c->ctr[0] = 1;
}

#if defined(TS_AEAD_X86_64)
/* The wide x86_64 loops (global under these names by scripts/openssl-asm.sh): ChaCha20_16x takes 16 blocks
 * per round (AVX-512F), ChaCha20_8xvl and ChaCha20_8x 8 (AVX-512VL, AVX2), whatever the length, so a message
 * whose last round is partial has room in it for block 0. The wide path below puts block 0 and the message's
 * first (len mod round) bytes in one call, the rest in whole rounds: for 1280 bytes, 5 blocks through
 * ChaCha20_8xvl and 16 through ChaCha20_16x instead of block 0 on its own then 20 blocks (two rounds of 16). */
typedef void chacha_fn(uint8_t *out, const uint8_t *in, size_t len, const uint32_t key[8], const uint32_t counter[4]);
chacha_fn ts_ossl_ChaCha20_16x, ts_ossl_ChaCha20_8xvl, ts_ossl_ChaCha20_8x;
extern unsigned int ts_ossl_OPENSSL_ia32cap_P[4];

typedef struct wide {
  chacha_fn *big, *small;
  size_t round; /* bytes per round of big */
  size_t small_max; /* the longest input small does in one round */
} wide;

#define WIDE_HEAD_MAX (64 + 1024)

/* 1 and fills w when the CPU has a wide loop (as ChaCha20_ctr32 would pick it: aead_cpu.c, the bit layout). */
static int wide_pick(wide *w) {
  const unsigned int c2 = ts_ossl_OPENSSL_ia32cap_P[2];
  const unsigned int f = 1u << 16, vl = 1u << 31, avx2 = 1u << 5;
  if ((c2 & (f | vl)) == (f | vl)) *w = (wide){ts_ossl_ChaCha20_16x, ts_ossl_ChaCha20_8xvl, 1024, 512};
  else if (c2 & f) return 0; /* AVX-512F without VL: no CPU has it; ChaCha20_ctr32's own choice */
  else if (c2 & vl) *w = (wide){ts_ossl_ChaCha20_8xvl, ts_ossl_ChaCha20_8xvl, 512, 512};
  else if (c2 & avx2) *w = (wide){ts_ossl_ChaCha20_8x, ts_ossl_ChaCha20_8x, 512, 512};
  else return 0;
  return 1;
}

/* Runs block 0 and the first head bytes of src (returned; whole blocks, or all of len) through one call into
 * scratch (block 0's keystream, then the head's output), and keys p. The rest is whole rounds' worth of
 * blocks, for wide_rest. */
static size_t wide_head(const wide *w, chacha *c, poly *p, uint8_t scratch[WIDE_HEAD_MAX], const uint8_t *src,
                        size_t len, const uint8_t nonce[12], const uint8_t key[32]) {
  chacha_start(c, nonce, key);
  size_t head = len % w->round;
  head = (head + 63) & ~(size_t)63;
  if (head > len) head = len;
  memset(scratch, 0, 64);
  if (head) memcpy(scratch + 64, src, head);
  const size_t n = 64 + head;
  chacha_fn *fn = n <= 128 ? ts_ossl_ChaCha20_ctr32 : n <= w->small_max ? w->small : w->big;
  fn(scratch, scratch, n, c->key, c->ctr);
  poly_start(p, scratch);
  c->ctr[0] = 1 + (uint32_t)(head / 64);
  return head;
}

/* The bytes from head on (none when head == len; then src may be NULL). */
static void wide_rest(const wide *w, const chacha *c, uint8_t *dst, const uint8_t *src, size_t head, size_t len) {
  if (len > head) w->big(dst + head, src + head, len - head, c->key, c->ctr);
}
#endif

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
#if defined(TS_AEAD_X86_64)
  wide w;
  if (wide_pick(&w)) {
    uint8_t scratch[WIDE_HEAD_MAX];
    const size_t head = wide_head(&w, &c, &p, scratch, src, len, nonce, key);
    wide_rest(&w, &c, dst, src, head, len);
    if (head) memcpy(dst, scratch + 64, head);
    ts_wipe(scratch, 64 + head);
  } else
#endif
  {
    start(&c, &p, nonce, key);
    if (len) ts_ossl_ChaCha20_ctr32(dst, src, len, c.key, c.ctr);
  }
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
  int ok;
#if defined(TS_AEAD_X86_64)
  wide w;
  if (wide_pick(&w)) {
    /* The head's plaintext waits in scratch until the tag is checked. */
    uint8_t scratch[WIDE_HEAD_MAX];
    const size_t head = wide_head(&w, &c, &p, scratch, src, len, nonce, key);
    mac(&p, ad, ad_len, src, len, tag);
    ok = ts_ct_equal(tag, src + len, sizeof tag);
    if (ok) {
      wide_rest(&w, &c, dst, src, head, len);
      if (head) memcpy(dst, scratch + 64, head);
    }
    ts_wipe(scratch, 64 + head);
  } else
#endif
  {
    start(&c, &p, nonce, key);
    mac(&p, ad, ad_len, src, len, tag);
    ok = ts_ct_equal(tag, src + len, sizeof tag);
    if (ok && len) ts_ossl_ChaCha20_ctr32(dst, src, len, c.key, c.ctr);
  }
  if (!ok) memset(dst, 0, len);
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
