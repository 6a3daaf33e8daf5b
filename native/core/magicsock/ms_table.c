/* magicsock lookups: peers by node key and by disco key (chained hash tables), UDP sources to peers (open
 * addressing), and the peers' timer heap. Hashes are seeded per instance; keys come from the netmap or
 * from authenticated traffic, so chains stay short. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "magicsock/ms_internal.h"

static uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

static size_t key_bucket(const ts_ms *ms, const uint8_t *key, size_t nb) {
  uint64_t w;
  memcpy(&w, key, 8);
  return (size_t)(mix(w ^ ms->seed) & (nb - 1));
}

static size_t addr_slot(const ts_ms *ms, const ts_addr *a, size_t na) {
  uint64_t w[3];
  _Static_assert(sizeof(ts_addr) == sizeof w, "ts_addr has no padding");
  memcpy(w, a, sizeof w);
  return (size_t)(mix(mix(mix(ms->seed ^ w[0]) ^ w[1]) ^ w[2]) & (na - 1));
}

int ms_tables_init(ts_ms *ms) {
  ms->nb = 16;
  ms->na = 64;
  ms->node_b = calloc(ms->nb, sizeof *ms->node_b);
  ms->disco_b = calloc(ms->nb, sizeof *ms->disco_b);
  ms->amap = calloc(ms->na, sizeof *ms->amap);
  return ms->node_b && ms->disco_b && ms->amap ? 0 : -1;
}

void ms_tables_free(ts_ms *ms) {
  free(ms->node_b);
  free(ms->disco_b);
  free(ms->amap);
  free(ms->heap);
}

/* ---- node and disco chains ---- */

static void disco_insert(ts_ms *ms, ts_ms_peer *p) {
  if (!p->has_disco) return; /* disco-less peers stay out: they would all share the zero key's bucket */
  size_t b = key_bucket(ms, p->disco_key, ms->nb);
  p->disco_next = ms->disco_b[b];
  ms->disco_b[b] = p;
}

static void chain_insert(ts_ms *ms, ts_ms_peer *p) {
  size_t b = key_bucket(ms, p->node_key, ms->nb);
  p->node_next = ms->node_b[b];
  ms->node_b[b] = p;
  disco_insert(ms, p);
}

static void unchain(ts_ms_peer **head, ts_ms_peer *p, size_t next_off) {
  for (ts_ms_peer **pp = head; *pp; pp = (ts_ms_peer **)((char *)*pp + next_off)) {
    if (*pp == p) {
      *pp = *(ts_ms_peer **)((char *)p + next_off);
      return;
    }
  }
}

static int grow_chains(ts_ms *ms) {
  size_t nb = ms->nb * 2;
  ts_ms_peer **nodeb = calloc(nb, sizeof *nodeb), **discob = calloc(nb, sizeof *discob);
  if (!nodeb || !discob) {
    free(nodeb), free(discob);
    return -1;
  }
  ts_ms_peer **old = ms->node_b;
  size_t onb = ms->nb;
  free(ms->disco_b);
  ms->node_b = nodeb, ms->disco_b = discob, ms->nb = nb;
  for (size_t i = 0; i < onb; i++) {
    for (ts_ms_peer *p = old[i], *next; p; p = next) {
      next = p->node_next;
      chain_insert(ms, p);
    }
  }
  free(old);
  return 0;
}

int ms_peer_link(ts_ms *ms, ts_ms_peer *p) {
  if (ms->n_peers >= ms->nb) (void)grow_chains(ms); /* on failure the chains just get longer */
  chain_insert(ms, p);
  ms->n_peers++;
  return 0;
}

void ms_peer_unlink(ts_ms *ms, ts_ms_peer *p) {
  unchain(&ms->node_b[key_bucket(ms, p->node_key, ms->nb)], p, offsetof(ts_ms_peer, node_next));
  ms_disco_unchain(ms, p);
  ms->n_peers--;
}

void ms_disco_unchain(ts_ms *ms, ts_ms_peer *p) {
  if (p->has_disco)
    unchain(&ms->disco_b[key_bucket(ms, p->disco_key, ms->nb)], p, offsetof(ts_ms_peer, disco_next));
}

void ms_disco_chain(ts_ms *ms, ts_ms_peer *p) { disco_insert(ms, p); }

ts_ms_peer *ts_ms_peer_by_node(const ts_ms *ms, const uint8_t node_key[TS_MS_KEY_LEN]) {
  if (!ms || !node_key) return NULL;
  for (ts_ms_peer *p = ms->node_b[key_bucket(ms, node_key, ms->nb)]; p; p = p->node_next)
    if (memcmp(p->node_key, node_key, TS_MS_KEY_LEN) == 0) return p;
  return NULL;
}

ts_ms_peer *ms_next_by_disco(const ts_ms_peer *p, const uint8_t key[TS_MS_KEY_LEN]) {
  for (p = p->disco_next; p; p = p->disco_next)
    if (p->has_disco && memcmp(p->disco_key, key, TS_MS_KEY_LEN) == 0) return (ts_ms_peer *)p;
  return NULL;
}

ts_ms_peer *ms_first_by_disco(const ts_ms *ms, const uint8_t key[TS_MS_KEY_LEN]) {
  ts_ms_peer *p = ms->disco_b[key_bucket(ms, key, ms->nb)];
  if (!p) return NULL;
  if (p->has_disco && memcmp(p->disco_key, key, TS_MS_KEY_LEN) == 0) return p;
  return ms_next_by_disco(p, key);
}

/* ---- UDP source -> peer ---- */

static size_t amap_find(const ts_ms *ms, const ts_addr *a) {
  for (size_t i = addr_slot(ms, a, ms->na);; i = (i + 1) & (ms->na - 1)) {
    if (ms->amap[i].addr.family == 0) return (size_t)-1;
    if (ts_addr_equal(&ms->amap[i].addr, a)) return i;
  }
}

static void amap_put_slot(ts_ms *ms, const ts_addr *a, ts_ms_peer *p) {
  size_t i = addr_slot(ms, a, ms->na);
  while (ms->amap[i].addr.family != 0) i = (i + 1) & (ms->na - 1);
  ms->amap[i].addr = *a;
  ms->amap[i].peer = p;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void amap_del_slot(ts_ms *ms, size_t i) {
  size_t mask = ms->na - 1;
  for (size_t j = (i + 1) & mask; ms->amap[j].addr.family != 0; j = (j + 1) & mask) {
    size_t h = addr_slot(ms, &ms->amap[j].addr, ms->na);
    /* j's entry may move into the hole at i unless its home h lies cyclically in (i, j]. */
    if (((j - h) & mask) >= ((j - i) & mask)) {
      ms->amap[i] = ms->amap[j];
      i = j;
    }
  }
  memset(&ms->amap[i], 0, sizeof ms->amap[i]);
  ms->n_amap--;
}

static int amap_grow(ts_ms *ms) {
  size_t ona = ms->na;
  ms_aslot *old = ms->amap, *n = calloc(ona * 2, sizeof *n);
  if (!n) return -1;
  ms->amap = n, ms->na = ona * 2;
  for (size_t i = 0; i < ona; i++)
    if (old[i].addr.family != 0) amap_put_slot(ms, &old[i].addr, old[i].peer);
  free(old);
  return 0;
}

static void mapped_drop(ts_ms_peer *p, const ts_addr *a) {
  for (size_t i = 0; i < p->n_mapped; i++) {
    if (ts_addr_equal(&p->mapped[i].addr, a)) {
      p->mapped[i] = p->mapped[--p->n_mapped];
      return;
    }
  }
}

void ms_map_addr(ts_ms *ms, ts_ms_peer *p, const ts_addr *a, uint64_t now) {
  if (!ms_addr_usable(a)) return;
  size_t i = amap_find(ms, a);
  if (i != (size_t)-1 && ms->amap[i].peer == p) {
    for (size_t k = 0; k < p->n_mapped; k++)
      if (ts_addr_equal(&p->mapped[k].addr, a)) p->mapped[k].at = now;
    return;
  }
  if (i != (size_t)-1) { /* the address moved to p (a NAT reused it, or the peer was re-keyed) */
    mapped_drop(ms->amap[i].peer, a);
    ms->amap[i].peer = p;
  } else {
    if (p->n_mapped == MS_MAX_MAPPED) { /* evict p's least recently seen source */
      size_t old = 0;
      for (size_t k = 1; k < p->n_mapped; k++)
        if (p->mapped[k].at < p->mapped[old].at) old = k;
      size_t s = amap_find(ms, &p->mapped[old].addr);
      if (s != (size_t)-1) amap_del_slot(ms, s);
      p->mapped[old] = p->mapped[--p->n_mapped];
    }
    if ((ms->n_amap + 1) * 2 > ms->na && amap_grow(ms) != 0) return;
    amap_put_slot(ms, a, p);
    ms->n_amap++;
  }
  p->mapped[p->n_mapped].addr = *a;
  p->mapped[p->n_mapped].at = now;
  p->n_mapped++;
}

void ms_unmap_peer(ts_ms *ms, ts_ms_peer *p) {
  for (size_t k = 0; k < p->n_mapped; k++) {
    size_t s = amap_find(ms, &p->mapped[k].addr);
    if (s != (size_t)-1 && ms->amap[s].peer == p) amap_del_slot(ms, s);
  }
  p->n_mapped = 0;
}

ts_ms_peer *ts_ms_peer_by_addr(const ts_ms *ms, const ts_addr *a) {
  if (!ms || !a || a->family == 0) return NULL;
  size_t i = amap_find(ms, a);
  return i == (size_t)-1 ? NULL : ms->amap[i].peer;
}

/* ---- timer heap ---- */

static void heap_set(ts_ms *ms, size_t i, ts_ms_peer *p) {
  ms->heap[i] = p;
  p->heap_idx = i;
}

static void heap_up(ts_ms *ms, size_t i) {
  ts_ms_peer *p = ms->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (ms->heap[parent]->deadline <= p->deadline) break;
    heap_set(ms, i, ms->heap[parent]);
    i = parent;
  }
  heap_set(ms, i, p);
}

static void heap_down(ts_ms *ms, size_t i) {
  ts_ms_peer *p = ms->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= ms->n_heap) break;
    if (c + 1 < ms->n_heap && ms->heap[c + 1]->deadline < ms->heap[c]->deadline) c++;
    if (ms->heap[c]->deadline >= p->deadline) break;
    heap_set(ms, i, ms->heap[c]);
    i = c;
  }
  heap_set(ms, i, p);
}

void ms_unschedule(ts_ms *ms, ts_ms_peer *p) {
  size_t i = p->heap_idx;
  if (i == MS_NO_HEAP) return;
  p->heap_idx = MS_NO_HEAP;
  ts_ms_peer *last = ms->heap[--ms->n_heap];
  if (last == p) return;
  heap_set(ms, i, last);
  heap_up(ms, i);
  heap_down(ms, last->heap_idx);
}

static uint64_t peer_deadline(const ts_ms_peer *p) {
  uint64_t d = UINT64_MAX;
  if (p->hb_on) d = p->hb_due;
  if (p->rep_trusted && p->trust_until < d) d = p->trust_until;
  for (size_t i = 0; i < p->n_cand; i++) {
    if (!(p->cand[i].src & MS_SRC_PING)) continue;
    uint64_t e = ms_add_sat(p->cand[i].ping_rx, TS_MS_PING_CANDIDATE_TTL);
    if (e < d) d = e;
  }
  uint64_t r = ms_relay_deadline(p);
  return r < d ? r : d;
}

void ms_schedule(ts_ms *ms, ts_ms_peer *p, uint64_t floor) {
  uint64_t d = peer_deadline(p);
  if (d < floor) d = floor;
  if (d == UINT64_MAX) {
    ms_unschedule(ms, p);
    return;
  }
  if (p->heap_idx == MS_NO_HEAP) {
    if (ms->n_heap == ms->cap_heap) {
      size_t cap = ms->cap_heap ? ms->cap_heap * 2 : 16;
      ts_ms_peer **h = realloc(ms->heap, cap * sizeof *h);
      if (!h) return; /* out of memory: the peer's timers wait for its next event */
      ms->heap = h, ms->cap_heap = cap;
    }
    p->deadline = d;
    heap_set(ms, ms->n_heap++, p);
    heap_up(ms, p->heap_idx);
    return;
  }
  uint64_t old = p->deadline;
  p->deadline = d;
  if (d < old) heap_up(ms, p->heap_idx);
  else if (d > old) heap_down(ms, p->heap_idx);
}

uint64_t ts_ms_next_deadline(const ts_ms *ms) { return ms && ms->n_heap ? ms->heap[0]->deadline : UINT64_MAX; }
