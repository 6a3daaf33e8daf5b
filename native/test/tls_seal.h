/* A TLS 1.3 record sealed straight from the primitives (not through tls_record.c), for the record layer's test
 * and fuzz target: key and iv from the traffic secret, sequence seq, inner content type, pad zero bytes. */
#ifndef TS_TEST_TLS_SEAL_H
#define TS_TEST_TLS_SEAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crypto/crypto.h"
#include "derp/tls_record.h"

static inline size_t ts_test_tls_seal(uint8_t *dst, const uint8_t secret[32], uint64_t seq, uint8_t type,
                                      const uint8_t *p, size_t n, size_t pad) {
  uint8_t key[32], iv[12];
  ts_tls13_expand_label(key, 32, secret, "key", NULL, 0);
  ts_tls13_expand_label(iv, 12, secret, "iv", NULL, 0);
  for (int i = 0; i < 8; i++) iv[4 + i] ^= (uint8_t)(seq >> (56 - 8 * i));
  size_t inner = n + 1 + pad;
  dst[0] = 23, dst[1] = 3, dst[2] = 3, dst[3] = (uint8_t)((inner + 16) >> 8), dst[4] = (uint8_t)(inner + 16);
  memcpy(dst + 5, p, n);
  dst[5 + n] = type;
  memset(dst + 6 + n, 0, pad);
  ts_chacha_seal(dst + 5, dst + 5, inner, dst, 5, iv, key);
  return 5 + inner + 16;
}

#endif
