/* Sliding replay window for transport counters (RFC 6479 style): a ring of 64-bit words, so advancing the
 * window clears whole words instead of shifting bits, and reordering within the window is accepted. */
#ifndef TS_WG_REPLAY_H
#define TS_WG_REPLAY_H

#include <stdint.h>

#define TS_WG_REPLAY_WORDS 64 /* ring of 4096 bits */
#define TS_WG_REPLAY_WINDOW ((TS_WG_REPLAY_WORDS - 1) * 64) /* 4032 counters behind the newest */

typedef struct ts_wg_replay {
  uint64_t last;   /* highest counter accepted so far, plus one (0 = none yet) */
  uint64_t bits[TS_WG_REPLAY_WORDS];
} ts_wg_replay;

void ts_wg_replay_reset(ts_wg_replay *r);
/* Accepts counter (and records it) iff it is below limit, not older than the window, and not seen before.
 * Call only after the packet authenticated, or an attacker could advance the window. 1 accept, 0 reject. */
int ts_wg_replay_check(ts_wg_replay *r, uint64_t counter, uint64_t limit);

#endif
