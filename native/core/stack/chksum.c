#include "chksum.h"

#include <string.h>

/* RFC 1071: the ones' complement sum does not depend on the word size it is computed in, as long as the
 * carries are folded back in, nor on byte order, as long as the words are read in memory order. So the bulk
 * is summed 8 bytes at a time into 64-bit accumulators (carries counted apart), then folded to 16 bits.
 * Loads go through memcpy: any alignment, and one instruction on the hosts we build for. lwIP's own routine
 * reads 2 bytes per addition (docs/performance.md, "The direct path per byte"). */

static inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* Adds v to *s and returns the carry out (0 or 1). */
static inline uint64_t add_c(uint64_t *s, uint64_t v) {
  *s += v;
  return *s < v;
}

uint16_t ts_chksum(const void *data, int len) {
  const uint8_t *p = data;
  size_t n = len > 0 ? (size_t)len : 0;
  uint64_t s0 = 0, s1 = 0, c = 0;
  /* Two independent accumulators so the additions of neighbouring words do not wait on each other. */
  while (n >= 32) {
    c += add_c(&s0, load64(p));
    c += add_c(&s1, load64(p + 8));
    c += add_c(&s0, load64(p + 16));
    c += add_c(&s1, load64(p + 24));
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    c += add_c(&s0, load64(p));
    p += 8;
    n -= 8;
  }
  c += add_c(&s0, s1);
  if (n) {
    /* The tail, zero-padded to a whole word: a lone last byte pairs with a zero byte after it. */
    uint8_t tail[8] = {0};
    memcpy(tail, p, n);
    c += add_c(&s0, load64(tail));
  }
  /* Fold: 2^64, 2^32 and 2^16 are all 1 modulo 2^16 - 1, so the carries and the high halves add back in. */
  uint64_t s = (s0 & 0xFFFFFFFFu) + (s0 >> 32) + c; /* < 2^34 */
  s = (s & 0xFFFF) + ((s >> 16) & 0xFFFF) + (s >> 32);
  s = (s & 0xFFFF) + (s >> 16);
  s = (s & 0xFFFF) + (s >> 16);
  return (uint16_t)s;
}
