/* ChaCha20-Poly1305 (RFC 8439) for WireGuard's transport and handshake messages: the engine's one AEAD,
 * behind ts_chacha_seal/ts_chacha_open (crypto.h). Built on OpenSSL's ChaCha20 and Poly1305 assembly where
 * the target has it (aead_asm.h), else libsodium's (docs/dependencies.md, "OpenSSL's ChaCha20 and Poly1305
 * assembly"). */
#ifndef TS_AEAD_H
#define TS_AEAD_H

#include <stddef.h>
#include <stdint.h>

/* dst receives len + 16 bytes (ciphertext then tag); dst may equal src. */
void ts_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                  const uint8_t nonce[12], const uint8_t key[32]);
/* src holds len bytes including the 16-byte tag; dst (which may equal src) receives len - 16 bytes, or
 * zeros when the tag does not match (then -1). 0 on success. */
int ts_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
                 const uint8_t nonce[12], const uint8_t key[32]);

/* Which code seals and opens: "openssl-asm" or "libsodium". */
const char *ts_aead_backend(void);

/* CPU features the assembly may use (aead_cpu.c). ts_aead_cpu_init reads them from the CPU the first time it
 * is called (ts_crypto_init calls it, before the engine runs); until then the assembly takes its plain
 * (scalar) paths. */
void ts_aead_cpu_init(void);

/* Test-only: limits the assembly to the paths of one level, so a test can exercise each on a CPU that has
 * more (a level above the CPU's gives what the CPU has; TS_AEAD_LEVEL_ALL restores everything). Not for use
 * while another thread seals or opens. */
enum ts_aead_level {
  TS_AEAD_LEVEL_SCALAR,   /* x86_64: integer code; arm64: integer code */
  TS_AEAD_LEVEL_SSSE3,    /* x86_64 */
  TS_AEAD_LEVEL_AVX,      /* x86_64 (and XOP on the AMD CPUs that have it) */
  TS_AEAD_LEVEL_AVX2,     /* x86_64 */
  TS_AEAD_LEVEL_AVX512VL, /* x86_64: ChaCha20 on 256-bit AVX-512VL */
  TS_AEAD_LEVEL_AVX512F,  /* x86_64: ChaCha20 and Poly1305 on 512-bit AVX-512 */
  TS_AEAD_LEVEL_ALL       /* everything the CPU has: AVX-512 IFMA on x86_64, NEON on arm64 */
};
/* Returns 1 if the level changed the code that runs compared with the level below (the CPU has it). */
int ts_aead_cpu_limit(enum ts_aead_level level);

#endif
