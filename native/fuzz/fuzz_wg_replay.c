/* libFuzzer target: the replay window against a reference model (a sorted list of accepted counters;
 * a counter is fresh iff unseen, below the limit and within the window of the newest accepted). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wg/wg_replay.h"

#define MAXSEEN 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint64_t seen[MAXSEEN];
  size_t nseen = 0;
  ts_wg_replay r;
  ts_wg_replay_reset(&r);
  uint64_t newest = 0, limit = UINT64_MAX - (1ULL << 13);
  int any = 0;
  for (size_t i = 0; i + 3 <= size && nseen < MAXSEEN; i += 3) {
    uint16_t v = (uint16_t)(data[i + 1] | data[i + 2] << 8);
    uint64_t c;
    switch (data[i] % 4) {
    case 0: c = newest + v; break;                  /* ahead */
    case 1: c = newest > v ? newest - v : 0; break; /* behind, often within the window */
    case 2: c = newest + ((uint64_t)v << 20); break; /* far ahead */
    default: c = limit - 1 - (v & 7); break;         /* near the limit */
    }
    int fresh = c < limit && (!any || c > newest || newest - c <= TS_WG_REPLAY_WINDOW);
    for (size_t j = 0; j < nseen && fresh; j++)
      if (seen[j] == c) fresh = 0;
    int got = ts_wg_replay_check(&r, c, limit);
    if (got != fresh) abort();
    if (got) {
      seen[nseen++] = c;
      if (!any || c > newest) newest = c;
      any = 1;
    }
  }
  return 0;
}
