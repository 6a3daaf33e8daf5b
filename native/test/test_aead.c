/* The engine's ChaCha20-Poly1305 (native/core/crypto/aead.c over OpenSSL's assembly, docs/dependencies.md):
 * RFC 8439's ChaCha20 (§2.4.2), Poly1305 (§2.5.2) and AEAD (§2.8.2) vectors, and a differential test against
 * libsodium's AEAD at every length 0..2048 and some larger ones, several alignments, with and without
 * additional data, tampered input rejected, run once for every code path the CPU has (ts_aead_cpu_limit:
 * scalar, SSSE3, AVX, AVX2, AVX-512VL, AVX-512F, IFMA on x86_64; scalar and NEON on arm64). */
#include "crypto/aead.h"
#include "crypto/aead_asm.h"
#include "crypto/crypto.h"
#include "test.h"

#include <sodium.h>
#include <stdlib.h>

#define HEX(buf, str) CHECK_EQ_INT(ts_hex((buf), sizeof(buf), (str)), sizeof(buf))

static const char *const level_names[] = {"scalar", "ssse3", "avx", "avx2", "avx512vl", "avx512f", "all"};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static void fill(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(rng() >> 24);
}

#if TS_AEAD_ASM
void ts_ossl_ChaCha20_ctr32(uint8_t *out, const uint8_t *in, size_t len, const uint32_t key[8],
                            const uint32_t counter[4]);
struct poly_fns {
  void (*blocks)(void *ctx, const uint8_t *in, size_t len, uint32_t padbit);
  void (*emit)(void *ctx, uint8_t mac[16], const uint32_t nonce[4]);
};
int ts_ossl_poly1305_init(void *ctx, const uint8_t key[16], struct poly_fns *fns);

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* RFC 8439 §2.4.2: ChaCha20 with counter 1 over the "sunscreen" text. */
static void chacha20_rfc8439_2_4_2(void) {
  uint8_t key[32], nonce[12], pt[114], want[114], out[114];
  HEX(key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  HEX(nonce, "000000000000004a00000000");
  HEX(pt, "4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
          "73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
          "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
          "637265656e20776f756c642062652069742e");
  HEX(want, "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
            "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
            "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
            "5af90bbf74a35be6b40b8eedf2785e42874d");
  uint32_t k[8], ctr[4] = {1, le32(nonce), le32(nonce + 4), le32(nonce + 8)};
  for (int i = 0; i < 8; i++) k[i] = le32(key + 4 * i);
  ts_ossl_ChaCha20_ctr32(out, pt, sizeof pt, k, ctr);
  CHECK_MEM(out, want, sizeof want);
}

/* RFC 8439 §2.5.2: Poly1305 over "Cryptographic Forum Research Group" (34 bytes: two whole blocks and a
 * 2-byte one, which gets its 0x01 byte here and padbit 0, as the assembly's callers do). */
static void poly1305_rfc8439_2_5_2(void) {
  uint8_t key[32], msg[34], want[16], tag[16], last[16] = {0};
  HEX(key, "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
  memcpy(msg, "Cryptographic Forum Research Group", 34);
  HEX(want, "a8061dc1305136c6c22b8baf0c0127a9");
  _Alignas(64) uint8_t state[256];
  struct poly_fns fns;
  CHECK_EQ_INT(ts_ossl_poly1305_init(state, key, &fns), 1);
  fns.blocks(state, msg, 32, 1);
  memcpy(last, msg + 32, 2);
  last[2] = 1;
  fns.blocks(state, last, 16, 0);
  uint32_t s[4] = {le32(key + 16), le32(key + 20), le32(key + 24), le32(key + 28)};
  fns.emit(state, tag, s);
  CHECK_MEM(tag, want, sizeof want);
}
#endif

/* RFC 8439 §2.8.2: the AEAD vector, sealed and opened, in place too. */
static void aead_rfc8439_2_8_2(void) {
  uint8_t pt[114], aad[12], key[32], nonce[12], want[114 + 16], out[114 + 16], back[114];
  HEX(pt, "4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
          "73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
          "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
          "637265656e20776f756c642062652069742e");
  HEX(aad, "50515253c0c1c2c3c4c5c6c7");
  HEX(key, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  HEX(nonce, "070000004041424344454647");
  HEX(want, "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
            "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
            "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
            "3ff4def08e4b7a9de576d26586cec64b6116"
            "1ae10b594f09e26a7e902ecbd0600691");
  ts_aead_seal(out, pt, sizeof pt, aad, sizeof aad, nonce, key);
  CHECK_MEM(out, want, sizeof want);
  CHECK_EQ_INT(ts_aead_open(back, out, sizeof out, aad, sizeof aad, nonce, key), 0);
  CHECK_MEM(back, pt, sizeof pt);
  memcpy(out, pt, sizeof pt);
  ts_aead_seal(out, out, sizeof pt, aad, sizeof aad, nonce, key);
  CHECK_MEM(out, want, sizeof want);
  CHECK_EQ_INT(ts_aead_open(out, out, sizeof out, aad, sizeof aad, nonce, key), 0);
  CHECK_MEM(out, pt, sizeof pt);
}

/* One length: ours and libsodium's give the same box; both open it; a flipped bit anywhere in the box or the
 * additional data fails and leaves zeros in dst. */
static int differential_one(size_t len, size_t align, size_t ad_len, uint8_t *mem) {
  uint8_t key[32], nonce[12], ad[64];
  fill(key, sizeof key);
  fill(nonce, sizeof nonce);
  fill(ad, ad_len);
  uint8_t *pt = mem + align, *ours = pt + len + 64 + align, *ref = ours + len + 16 + 64, *back = ref + len + 16 + 64;
  fill(pt, len);
  ts_aead_seal(ours, pt, len, ad, ad_len, nonce, key);
  unsigned long long reflen = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(ref, &reflen, pt, len, ad, ad_len, NULL, nonce, key);
  int bad = 0;
  if (reflen != len + 16 || memcmp(ours, ref, len + 16) != 0) bad |= 1;
  memset(back, 0xa5, len);
  if (ts_aead_open(back, ref, len + 16, ad, ad_len, nonce, key) != 0 || memcmp(back, pt, len) != 0) bad |= 2;
  /* In place. */
  memcpy(back, pt, len);
  ts_aead_seal(back, back, len, ad, ad_len, nonce, key);
  if (memcmp(back, ref, len + 16) != 0) bad |= 4;
  if (ts_aead_open(back, back, len + 16, ad, ad_len, nonce, key) != 0 || memcmp(back, pt, len) != 0) bad |= 8;
  /* Tampering: one bit of the box (ciphertext or tag) or of the additional data. */
  size_t at = (size_t)(rng() % (len + 16 + ad_len));
  uint8_t bit = (uint8_t)(1u << (rng() % 8));
  if (at < len + 16) ref[at] ^= bit;
  else ad[at - len - 16] ^= bit;
  memset(back, 0xa5, len);
  if (ts_aead_open(back, ref, len + 16, ad, ad_len, nonce, key) != -1) bad |= 16;
  for (size_t i = 0; i < len; i++) if (back[i]) { bad |= 32; break; }
  static int reported;
  if (bad && reported++ < 10) fprintf(stderr, "  len %zu align %zu ad %zu: %#x\n", len, align, ad_len, bad);
  return bad;
}

static void differential_all_levels(void) {
  static const size_t big[] = {4095, 4096, 8191, 9000, 65536 + 13, 1 << 20};
  static const size_t ad_lens[] = {0, 1, 15, 16, 17, 32, 63};
  uint8_t *mem = malloc(4 * ((1 << 20) + 256));
  if (!mem) { CHECK(mem); return; }
  int active = 0;
  for (int level = TS_AEAD_LEVEL_SCALAR; level <= TS_AEAD_LEVEL_ALL; level++) {
    if (!ts_aead_cpu_limit((enum ts_aead_level)level)) continue; /* the same code as the level below */
    active++;
    int failures = 0;
    for (size_t len = 0; len <= 2048; len++) {
      failures += differential_one(len, len % 4, ad_lens[len % 7], mem) != 0;
      if (len % 61 == 0) failures += differential_one(len, 3 + len % 13, ad_lens[(len / 61) % 7], mem) != 0;
    }
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
      failures += differential_one(big[i], i % 8, ad_lens[i % 7], mem) != 0;
    printf("  # level %s: %d failures\n", level_names[level], failures);
    CHECK_EQ_INT(failures, 0);
  }
  ts_aead_cpu_limit(TS_AEAD_LEVEL_ALL);
  /* scalar always counts; on x86_64 with the assembly, at least SSSE3 too (every x86_64 CPU since 2006). */
  CHECK(active >= (TS_AEAD_ASM ? 2 : 1));
  free(mem);
}

/* Handshake-sized messages (WireGuard's are sealed with 32 bytes of additional data), then the tag checks. */
static void short_input_rejected(void) {
  uint8_t key[32] = {1}, nonce[12] = {0}, box[16] = {0}, out[1];
  CHECK_EQ_INT(ts_aead_open(out, box, 15, NULL, 0, nonce, key), -1);
  CHECK_EQ_INT(ts_aead_open(out, box, 0, NULL, 0, nonce, key), -1);
  CHECK_EQ_INT(ts_aead_open(out, box, 16, NULL, 0, nonce, key), -1); /* a zero tag is not the right one */
  ts_aead_seal(box, NULL, 0, NULL, 0, nonce, key);
  CHECK_EQ_INT(ts_aead_open(out, box, 16, NULL, 0, nonce, key), 0);
}

int main(void) {
  if (ts_crypto_init() != 0) return 1;
  printf("  # backend %s\n", ts_aead_backend());
#if TS_AEAD_ASM
  for (int level = TS_AEAD_LEVEL_SCALAR; level <= TS_AEAD_LEVEL_ALL; level++) {
    if (!ts_aead_cpu_limit((enum ts_aead_level)level)) continue;
    printf("  # vectors at level %s\n", level_names[level]);
    RUN(chacha20_rfc8439_2_4_2);
    RUN(poly1305_rfc8439_2_5_2);
    RUN(aead_rfc8439_2_8_2);
  }
  ts_aead_cpu_limit(TS_AEAD_LEVEL_ALL);
#else
  RUN(aead_rfc8439_2_8_2);
#endif
  RUN(differential_all_levels);
  RUN(short_input_rejected);
  TEST_MAIN_END();
}
