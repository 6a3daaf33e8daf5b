/* Per-source handshake rate limit while under load: a token bucket per source host (20 messages/s, burst
 * of 5), in a fixed-size table allocated once, so a flood of spoofed sources cannot make it grow. */
#ifndef TS_WG_RATELIMIT_H
#define TS_WG_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define TS_WG_RATELIMIT_SLOTS 4096 /* power of two */
#define TS_WG_RATELIMIT_PER_SEC 20
#define TS_WG_RATELIMIT_BURST 5

typedef struct ts_wg_rl_slot {
  uint64_t hash; /* 0 = free */
  uint64_t last; /* time tokens were last refilled */
  uint64_t tokens; /* in ns of "credit", at most BURST * cost */
} ts_wg_rl_slot;

typedef struct ts_wg_ratelimit {
  uint64_t seed[2];
  ts_wg_rl_slot *slots;
} ts_wg_ratelimit;

int ts_wg_ratelimit_init(ts_wg_ratelimit *r, const uint8_t seed[16]);
void ts_wg_ratelimit_free(ts_wg_ratelimit *r);
/* 1 if a message from this source may be processed now (and charges it), 0 if over the limit. */
int ts_wg_ratelimit_allow(ts_wg_ratelimit *r, uint64_t now, const uint8_t *src, size_t len);

#endif
