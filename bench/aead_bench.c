/* Microbenchmark of the engine's ChaCha20-Poly1305 (native/core/crypto/aead.c) against libsodium's: seal and
 * open of one packet size (default 1280 bytes, WireGuard's usual payload) for each code path the CPU has.
 * docs/performance.md, "ChaCha20-Poly1305 on OpenSSL's assembly". Built with -DTS_BENCH=ON.
 * Usage: aead_bench [bytes] [seals per batch] [batches] */
#include "crypto/aead.h"
#include "crypto/crypto.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sodium_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t nonce[12], const uint8_t key[32]) {
  crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, src, len, NULL, 0, NULL, nonce, key);
}
static int sodium_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t nonce[12], const uint8_t key[32]) {
  return crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len, NULL, 0, nonce, key);
}
static void ours_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t nonce[12], const uint8_t key[32]) {
  ts_aead_seal(dst, src, len, NULL, 0, nonce, key);
}
static int ours_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t nonce[12], const uint8_t key[32]) {
  return ts_aead_open(dst, src, len, NULL, 0, nonce, key);
}

/* One batch of iters seals, then iters opens; keeps the fastest batch of each (the machine is shared: the
 * minimum over many short batches is the least disturbed figure). */
static void run(const char *name, size_t len, long iters, int round, double best[2],
                void (*seal)(uint8_t *, const uint8_t *, size_t, const uint8_t *, const uint8_t *),
                int (*open)(uint8_t *, const uint8_t *, size_t, const uint8_t *, const uint8_t *)) {
  uint8_t key[32], nonce[12] = {0};
  uint8_t *buf = malloc(len + 16), *out = malloc(len + 16);
  ts_random(key, sizeof key);
  ts_random(buf, len);
  double t0 = now();
  for (long i = 0; i < iters; i++) {
    nonce[0] = (uint8_t)i;
    seal(buf, buf, len, nonce, key);
  }
  double t1 = now();
  int bad = 0;
  seal(out, buf, len, nonce, key);
  for (long i = 0; i < iters; i++) bad |= open(buf, out, len + 16, nonce, key);
  double t2 = now();
  double s = (t1 - t0) / (double)iters * 1e9, o = (t2 - t1) / (double)iters * 1e9;
  if (round == 0 || s < best[0]) best[0] = s;
  if (round == 0 || o < best[1]) best[1] = o;
  if (bad) printf("%s: OPEN FAILED\n", name);
  free(buf);
  free(out);
}

int main(int argc, char **argv) {
  size_t len = argc > 1 ? (size_t)atol(argv[1]) : 1280;
  long iters = argc > 2 ? atol(argv[2]) : 100;
  if (ts_crypto_init() != 0) return 1;
  int rounds = argc > 3 ? atoi(argv[3]) : 500;
  static const char *const names[] = {"scalar", "ssse3", "avx", "avx2", "avx512vl", "avx512f", "all"};
  double best[8][2];
  for (int r = 0; r < rounds; r++) {
    run("libsodium", len, iters, r, best[7], sodium_seal, sodium_open);
    for (int level = TS_AEAD_LEVEL_SCALAR; level <= TS_AEAD_LEVEL_ALL; level++) {
      if (!ts_aead_cpu_limit((enum ts_aead_level)level)) continue;
      run(names[level], len, iters, r, best[level], ours_seal, ours_open);
    }
    ts_aead_cpu_limit(TS_AEAD_LEVEL_ALL);
  }
  printf("fastest of %d batches of %ld, %zu-byte packets\n", rounds, iters, len);
  for (int i = -1; i <= TS_AEAD_LEVEL_ALL; i++) {
    int level = i < 0 ? 7 : i;
    if (i >= 0 && !ts_aead_cpu_limit((enum ts_aead_level)level)) continue;
    printf("%-12s %-9s seal %6.1f ns %5.2f GB/s   open %6.1f ns %5.2f GB/s\n", i < 0 ? "libsodium" : ts_aead_backend(),
           i < 0 ? "" : names[level], best[level][0], (double)len / best[level][0], best[level][1],
           (double)len / best[level][1]);
  }
  ts_aead_cpu_limit(TS_AEAD_LEVEL_ALL);
  return 0;
}
