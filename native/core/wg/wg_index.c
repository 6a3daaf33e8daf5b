/* Receiver-index table. Indices are random 32-bit values we chose ourselves, so a remote sender cannot
 * steer them into collisions; a multiplicative hash spreads them anyway. */
#include <stdlib.h>
#include <string.h>

#include "wg_internal.h"

static size_t slot_of(const ts_wg_index_table *t, uint32_t index) {
  return (size_t)(((uint64_t)index * 0x9E3779B97F4A7C15ULL) >> 20) & (t->cap - 1);
}

int ts_wg_index_init(ts_wg_index_table *t) {
  t->cap = 64;
  t->n = 0;
  t->e = calloc(t->cap, sizeof *t->e);
  return t->e ? 0 : -1;
}

void ts_wg_index_free(ts_wg_index_table *t) {
  free(t->e);
  memset(t, 0, sizeof *t);
}

ts_wg_index_entry *ts_wg_index_get(const ts_wg_index_table *t, uint32_t index) {
  for (size_t i = slot_of(t, index);; i = (i + 1) & (t->cap - 1)) {
    ts_wg_index_entry *e = &t->e[i];
    if (!e->peer) return NULL;
    if (e->index == index) return e;
  }
}

static void put(ts_wg_index_table *t, ts_wg_index_entry ent) {
  size_t i = slot_of(t, ent.index);
  while (t->e[i].peer) i = (i + 1) & (t->cap - 1);
  t->e[i] = ent;
  t->n++;
}

/* Keeps the load at most 1/2 so probe sequences stay short. */
static int grow(ts_wg_index_table *t) {
  if ((t->n + 1) * 2 <= t->cap) return 0;
  ts_wg_index_table nt = {calloc(t->cap * 2, sizeof *t->e), t->cap * 2, 0};
  if (!nt.e) return -1;
  for (size_t i = 0; i < t->cap; i++)
    if (t->e[i].peer) put(&nt, t->e[i]);
  free(t->e);
  *t = nt;
  return 0;
}

int ts_wg_index_new(ts_wg_device *dev, ts_wg_peer *peer, ts_wg_keypair *kp, uint32_t *index) {
  ts_wg_index_table *t = &dev->idx;
  if (grow(t)) return -1;
  uint32_t v;
  do ts_wg_rng(dev, &v, sizeof v);
  while (ts_wg_index_get(t, v));
  put(t, (ts_wg_index_entry){v, peer, kp});
  *index = v;
  return 0;
}

void ts_wg_index_del(ts_wg_index_table *t, uint32_t index) {
  size_t i = slot_of(t, index);
  for (;; i = (i + 1) & (t->cap - 1)) {
    if (!t->e[i].peer) return;
    if (t->e[i].index == index) break;
  }
  /* Backward-shift: move later entries of the cluster into the hole when their home slot allows it. */
  size_t hole = i;
  for (size_t j = (i + 1) & (t->cap - 1); t->e[j].peer; j = (j + 1) & (t->cap - 1)) {
    size_t home = slot_of(t, t->e[j].index);
    /* Entry j may move to hole iff home is not cyclically within (hole, j]. */
    int within = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!within) {
      t->e[hole] = t->e[j];
      hole = j;
    }
  }
  memset(&t->e[hole], 0, sizeof t->e[hole]);
  t->n--;
}
