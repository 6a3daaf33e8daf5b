/* Token buckets keyed by a seeded hash of the source host. Collisions merely share a bucket; a probe
 * sequence of 8 slots with eviction of the stalest entry bounds the work per message. */
#include "wg_ratelimit.h"

#include <stdlib.h>
#include <string.h>

#define SEC 1000000000ULL
#define COST (SEC / TS_WG_RATELIMIT_PER_SEC)
#define MAX_TOKENS (COST * TS_WG_RATELIMIT_BURST)
#define PROBES 8

int ts_wg_ratelimit_init(ts_wg_ratelimit *r, const uint8_t seed[16]) {
  memcpy(r->seed, seed, 16);
  r->slots = NULL; /* 96 KiB, allocated when first needed: only a device under load consults it */
  return 0;
}

void ts_wg_ratelimit_free(ts_wg_ratelimit *r) {
  free(r->slots);
  r->slots = NULL;
}

/* A seeded multiply-xorshift hash: the seed keeps remote senders from choosing colliding sources. */
static uint64_t hash_src(const ts_wg_ratelimit *r, const uint8_t *src, size_t len) {
  uint64_t h = r->seed[0] ^ (len * 0x9E3779B97F4A7C15ULL);
  for (size_t i = 0; i < len; i++) {
    h = (h ^ src[i]) * 0x100000001B3ULL;
    h ^= h >> 29;
  }
  h ^= r->seed[1];
  h *= 0xBF58476D1CE4E5B9ULL;
  h ^= h >> 31;
  return h | 1; /* never 0, which marks a free slot */
}

int ts_wg_ratelimit_allow(ts_wg_ratelimit *r, uint64_t now, const uint8_t *src, size_t len) {
  if (!r->slots && !(r->slots = calloc(TS_WG_RATELIMIT_SLOTS, sizeof *r->slots))) return 0; /* no memory: refuse */
  uint64_t h = hash_src(r, src, len);
  ts_wg_rl_slot *victim = NULL;
  for (unsigned i = 0; i < PROBES; i++) {
    ts_wg_rl_slot *s = &r->slots[(h + i) & (TS_WG_RATELIMIT_SLOTS - 1)];
    if (s->hash == h) {
      uint64_t dt = now > s->last ? now - s->last : 0;
      s->last = now;
      s->tokens = dt >= MAX_TOKENS || s->tokens + dt > MAX_TOKENS ? MAX_TOKENS : s->tokens + dt;
      if (s->tokens < COST) return 0;
      s->tokens -= COST;
      return 1;
    }
    /* Prefer a free slot, else the one idle longest (an idle bucket is full anyway). */
    if (!victim || (victim->hash != 0 && (s->hash == 0 || s->last < victim->last))) victim = s;
  }
  victim->hash = h;
  victim->last = now;
  victim->tokens = MAX_TOKENS - COST;
  return 1;
}
