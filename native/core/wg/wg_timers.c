/* WireGuard's timers (whitepaper section 6, with wireguard-go's event hooks): per-peer deadlines driven
 * by protocol events, and a device-wide min-heap of peers so ts_wg_timers costs O(log n) per due peer.
 * A peer's heap key (wake) is lowered when a deadline is set earlier; cancelled or postponed deadlines
 * leave it early, which costs one harmless visit that recomputes it. */
#include <stdlib.h>
#include <string.h>

#include "wg_internal.h"

/* ---- heap ---- */

static void heap_set(ts_wg_device *d, size_t i, ts_wg_peer *p) {
  d->heap[i] = p;
  p->heap_pos = i;
}

static void sift_up(ts_wg_device *d, size_t i) {
  ts_wg_peer *p = d->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (d->heap[parent]->wake <= p->wake) break;
    heap_set(d, i, d->heap[parent]);
    i = parent;
  }
  heap_set(d, i, p);
}

static void sift_down(ts_wg_device *d, size_t i) {
  ts_wg_peer *p = d->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= d->heap_n) break;
    if (c + 1 < d->heap_n && d->heap[c + 1]->wake < d->heap[c]->wake) c++;
    if (p->wake <= d->heap[c]->wake) break;
    heap_set(d, i, d->heap[c]);
    i = c;
  }
  heap_set(d, i, p);
}

int ts_wg_heap_add(ts_wg_device *d, ts_wg_peer *p) {
  if (d->heap_n == d->heap_cap) {
    size_t cap = d->heap_cap ? d->heap_cap * 2 : 16;
    ts_wg_peer **h = realloc(d->heap, cap * sizeof *h);
    if (!h) return -1;
    d->heap = h;
    d->heap_cap = cap;
  }
  p->wake = UINT64_MAX;
  heap_set(d, d->heap_n++, p);
  sift_up(d, p->heap_pos);
  return 0;
}

void ts_wg_heap_remove(ts_wg_device *d, ts_wg_peer *p) {
  size_t i = p->heap_pos;
  ts_wg_peer *last = d->heap[--d->heap_n];
  if (last == p) return;
  heap_set(d, i, last);
  sift_down(d, i);
  sift_up(d, last->heap_pos);
}

void ts_wg_timer_arm(ts_wg_peer *p, int which, uint64_t deadline) {
  if (deadline == 0) deadline = 1; /* 0 means "not armed" */
  p->timer[which] = deadline;
  if (deadline < p->wake) {
    p->wake = deadline;
    sift_up(p->dev, p->heap_pos);
  }
}

uint64_t ts_wg_jitter(ts_wg_device *dev) {
  /* splitmix64: the data path arms a jittered timer for almost every packet sent */
  uint64_t z = (dev->jitter_state += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return (z ^ (z >> 31)) % TS_WG_REKEY_TIMEOUT_JITTER;
}

/* ---- events ---- */

void ts_wg_ev_data_sent(ts_wg_peer *p, uint64_t now) {
  /* Data sent and nothing heard back within this: assume the session is dead, start a new handshake. */
  if (!p->timer[TS_WG_T_NEW_HANDSHAKE])
    ts_wg_timer_arm(p, TS_WG_T_NEW_HANDSHAKE,
                    now + TS_WG_KEEPALIVE_TIMEOUT + TS_WG_REKEY_TIMEOUT + ts_wg_jitter(p->dev));
}

void ts_wg_ev_data_received(ts_wg_peer *p, uint64_t now) {
  /* Passive keepalive: answer data within KEEPALIVE_TIMEOUT if we have nothing to send. */
  if (!p->timer[TS_WG_T_SEND_KEEPALIVE]) ts_wg_timer_arm(p, TS_WG_T_SEND_KEEPALIVE, now + TS_WG_KEEPALIVE_TIMEOUT);
  else p->need_another_keepalive = 1;
}

void ts_wg_ev_any_sent(ts_wg_peer *p) { p->timer[TS_WG_T_SEND_KEEPALIVE] = 0; }

void ts_wg_ev_any_received(ts_wg_peer *p) { p->timer[TS_WG_T_NEW_HANDSHAKE] = 0; }

void ts_wg_retry_early(ts_wg_peer *p, uint64_t at) {
  if (!p->timer[TS_WG_T_RETRANSMIT] || at >= p->timer[TS_WG_T_RETRANSMIT]) return;
  if (p->early_retry_at && p->early_retry_at <= at) return;
  p->early_retry_at = at;
  ts_wg_timer_arm(p, TS_WG_T_RETRANSMIT, at);
}

void ts_wg_ev_handshake_initiated(ts_wg_peer *p, uint64_t now) {
  ts_wg_timer_arm(p, TS_WG_T_RETRANSMIT, now + TS_WG_REKEY_TIMEOUT + ts_wg_jitter(p->dev));
}

void ts_wg_ev_handshake_complete(ts_wg_peer *p, uint64_t wall) {
  p->timer[TS_WG_T_RETRANSMIT] = 0;
  p->handshake_attempts = 0;
  p->early_retry_at = 0;
  p->lost_retries = 0;
  p->init_lost = 0;
  p->sent_last_minute_handshake = 0;
  p->last_handshake_wall = wall;
  if (p->dev->cfg.on_handshake) p->dev->cfg.on_handshake(p->dev->cfg.on_handshake_ctx, p);
}

void ts_wg_ev_session_derived(ts_wg_peer *p, uint64_t now) {
  ts_wg_timer_arm(p, TS_WG_T_ZERO_KEYS, now + 3 * TS_WG_REJECT_AFTER_TIME);
}

void ts_wg_ev_traversal(ts_wg_peer *p, uint64_t now) {
  if (p->persistent_keepalive_s)
    ts_wg_timer_arm(p, TS_WG_T_PERSISTENT, now + p->persistent_keepalive_s * TS_WG_NS_PER_SEC);
}

/* ---- expiry ---- */

static void expire(ts_wg_peer *p, int which, uint64_t now, uint64_t wall) {
  switch (which) {
  case TS_WG_T_RETRANSMIT:
    if (p->handshake_attempts > TS_WG_MAX_TIMER_HANDSHAKES) {
      /* Gave up after REKEY_ATTEMPT_TIME: drop what waited; keys go after 3 x REJECT_AFTER_TIME. */
      p->timer[TS_WG_T_SEND_KEEPALIVE] = 0;
      ts_wg_flush_queue(p, TS_WG_DROP_QUEUE_FLUSHED);
      if (!p->timer[TS_WG_T_ZERO_KEYS]) ts_wg_timer_arm(p, TS_WG_T_ZERO_KEYS, now + 3 * TS_WG_REJECT_AFTER_TIME);
    } else {
      /* An early retry does not use up one of the REKEY_ATTEMPT_TIME attempts. */
      if (!p->early_retry_at) p->handshake_attempts++;
      ts_wg_send_initiation(p, now, wall, 1);
    }
    break;
  case TS_WG_T_SEND_KEEPALIVE:
    ts_wg_send_keepalive(p, now, wall);
    if (p->need_another_keepalive) {
      p->need_another_keepalive = 0;
      ts_wg_timer_arm(p, TS_WG_T_SEND_KEEPALIVE, now + TS_WG_KEEPALIVE_TIMEOUT);
    }
    break;
  case TS_WG_T_NEW_HANDSHAKE: ts_wg_send_initiation(p, now, wall, 0); break;
  case TS_WG_T_ZERO_KEYS: ts_wg_zero_all(p); break;
  case TS_WG_T_PERSISTENT:
    if (p->persistent_keepalive_s) ts_wg_send_keepalive(p, now, wall);
    break;
  }
}

static uint64_t earliest(const ts_wg_peer *p, int *which) {
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < TS_WG_T_COUNT; i++)
    if (p->timer[i] && p->timer[i] < best) best = p->timer[i], *which = i;
  return best;
}

uint64_t ts_wg_timers(ts_wg_device *dev, uint64_t now, uint64_t wall) {
  while (dev->heap_n && dev->heap[0]->wake <= now) {
    ts_wg_peer *p = dev->heap[0];
    int which = 0;
    /* Due timers fire in deadline order, so a late call behaves like calls made on time. Each expiry
     * either disarms its timer or re-arms it later than now, so this ends. */
    while (earliest(p, &which) <= now) {
      p->timer[which] = 0;
      expire(p, which, now, wall);
    }
    p->wake = earliest(p, &which);
    sift_down(dev, p->heap_pos);
  }
  return ts_wg_next_deadline(dev);
}

uint64_t ts_wg_next_deadline(const ts_wg_device *dev) { return dev->heap_n ? dev->heap[0]->wake : UINT64_MAX; }
