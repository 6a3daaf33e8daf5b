/* Replay window (RFC 6479): bit i of the ring marks counter i as seen. */
#include "wg_replay.h"

#include <string.h>

#define WORD_BITS 64
#define RING_BITS (TS_WG_REPLAY_WORDS * WORD_BITS)

void ts_wg_replay_reset(ts_wg_replay *r) { memset(r, 0, sizeof *r); }

int ts_wg_replay_check(ts_wg_replay *r, uint64_t counter, uint64_t limit) {
  if (counter >= limit) return 0;
  uint64_t word = counter / WORD_BITS;
  if (counter + 1 > r->last) {
    /* Moving forward: clear the words between the old newest word and the new one (at most the ring). */
    uint64_t cur = r->last ? (r->last - 1) / WORD_BITS : 0;
    uint64_t steps = word - cur;
    if (r->last == 0) steps = TS_WG_REPLAY_WORDS; /* first packet: the ring is already zero, nothing stale */
    if (steps > TS_WG_REPLAY_WORDS) steps = TS_WG_REPLAY_WORDS;
    for (uint64_t i = 1; i <= steps && r->last != 0; i++)
      r->bits[(cur + i) % TS_WG_REPLAY_WORDS] = 0;
    r->last = counter + 1;
  } else if (r->last - 1 - counter > TS_WG_REPLAY_WINDOW) {
    return 0; /* too old: its bit may already belong to a newer counter */
  }
  uint64_t *w = &r->bits[word % TS_WG_REPLAY_WORDS];
  uint64_t bit = 1ULL << (counter % WORD_BITS);
  if (*w & bit) return 0;
  *w |= bit;
  return 1;
}
