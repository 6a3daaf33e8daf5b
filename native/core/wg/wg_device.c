/* Device and peer state, the receive and send paths, and the session (keypair) rotation. */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "mem/pages.h"
#include "wg_internal.h"

#define DEFAULT_UNDER_LOAD 128
#define DEFAULT_QUEUE_MAX 128

static const char *const DROP_NAMES[TS_WG_DROP_COUNT] = {
    "none", "bad_type", "bad_length", "mac1", "cookie_sent", "rate_limited", "handshake_decrypt",
    "unknown_peer", "timestamp_replay", "initiation_flood", "unknown_index", "handshake_state",
    "cookie_invalid", "keypair_expired", "decrypt", "replay", "bad_inner", "source_not_allowed", "no_route",
    "too_big", "queue_full", "queue_flushed", "no_memory", "peer_key", "cookie_limited",
};

const char *ts_wg_drop_name(ts_wg_drop d) { return (unsigned)d < TS_WG_DROP_COUNT ? DROP_NAMES[d] : "?"; }

static void default_rng(void *ctx, void *buf, size_t len) {
  (void)ctx;
  ts_random(buf, len);
}

static uint64_t since(uint64_t now, uint64_t t) { return now > t ? now - t : 0; }

/* ---- device ---- */

ts_wg_device *ts_wg_device_new(const uint8_t priv[TS_WG_KEY_LEN], const ts_wg_config *cfg) {
  if (!priv || !cfg || !cfg->sink.send) return NULL;
  ts_wg_device *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->cfg = *cfg;
  if (!d->cfg.rng) d->cfg.rng = default_rng;
  if (!d->cfg.under_load_threshold) d->cfg.under_load_threshold = DEFAULT_UNDER_LOAD;
  if (!d->cfg.queue_max) d->cfg.queue_max = DEFAULT_QUEUE_MAX;
  ts_wg_noise_identity_init(&d->id, priv);
  ts_wg_cookie_checker_init(&d->checker, d->id.pub);
  ts_wg_aip_init(&d->aip);
  uint8_t seed[48];
  ts_wg_rng(d, seed, sizeof seed);
  memcpy(&d->peer_seed, seed + 16, 8);
  memcpy(&d->jitter_state, seed + 24, 8);
  d->scratch_cap = TS_WG_MAX_PACKET + TS_WG_DATA_OVERHEAD + 16;
  d->scratch = ts_pages_alloc(d->scratch_cap);
  d->peer_cap = 16;
  d->peers = calloc(d->peer_cap, sizeof *d->peers);
  if (ts_wg_ratelimit_init(&d->rl, seed) || ts_wg_ratelimit_init(&d->cookie_rl, seed + 32) ||
      ts_wg_index_init(&d->idx) || !d->scratch || !d->peers) {
    ts_wg_device_free(d);
    return NULL;
  }
  return d;
}

static void peer_destroy(ts_wg_device *d, ts_wg_peer *p);

void ts_wg_device_free(ts_wg_device *d) {
  if (!d) return;
  ts_wg_aip_free(&d->aip); /* first, so each peer's prefix removal is free */
  for (size_t i = 0; d->peers && i < d->peer_cap; i++)
    if (d->peers[i]) peer_destroy(d, d->peers[i]);
  free(d->peers);
  ts_wg_index_free(&d->idx);
  ts_wg_ratelimit_free(&d->rl);
  ts_wg_ratelimit_free(&d->cookie_rl);
  free(d->heap);
  if (d->scratch) ts_wipe(d->scratch, d->scratch_cap);
  ts_pages_free(d->scratch, d->scratch_cap);
  ts_wipe(d, sizeof *d);
  free(d);
}

void ts_wg_device_public_key(const ts_wg_device *d, uint8_t pub[TS_WG_KEY_LEN]) { memcpy(pub, d->id.pub, 32); }

static void peer_forget_sessions(ts_wg_peer *p);

int ts_wg_device_set_private_key(ts_wg_device *d, const uint8_t priv[TS_WG_KEY_LEN]) {
  if (!d || !priv) return -1;
  ts_wg_noise_identity next;
  ts_wg_noise_identity_init(&next, priv);
  if (ts_ct_equal(next.pub, d->id.pub, 32)) {
    ts_wipe(&next, sizeof next);
    return 0;
  }
  if (ts_wg_peer_find(d, next.pub)) {
    ts_wipe(&next, sizeof next);
    return -2;
  }
  ts_wipe(&d->id, sizeof d->id);
  d->id = next;
  ts_wipe(&next, sizeof next);
  ts_wipe(&d->checker, sizeof d->checker);
  ts_wg_cookie_checker_init(&d->checker, d->id.pub);
  for (size_t i = 0; i < d->peer_cap; i++)
    if (d->peers[i]) peer_forget_sessions(d->peers[i]);
  return 0;
}
void ts_wg_device_force_under_load(ts_wg_device *d, int on) { d->force_load = on != 0; }
uint64_t ts_wg_drops(const ts_wg_device *d, ts_wg_drop r) { return (unsigned)r < TS_WG_DROP_COUNT ? d->drops[r] : 0; }
size_t ts_wg_peer_count(const ts_wg_device *d) { return d->npeers; }

int ts_wg_device_under_load(const ts_wg_device *d, uint64_t now) {
  return d->force_load || (d->load_seen && now < d->under_load_until);
}

void ts_wg_device_load_stats(const ts_wg_device *d, uint64_t now, ts_wg_load_stats *st) {
  st->handshakes_computed = d->hs_computed;
  st->cookie_replies = d->drops[TS_WG_DROP_COOKIE_SENT];
  st->cookies_withheld = d->drops[TS_WG_DROP_COOKIE_LIMITED];
  st->rate_limited = d->drops[TS_WG_DROP_RATE_LIMITED];
  st->under_load = ts_wg_device_under_load(d, now);
}

/* Counts handshake messages per one-second window; above the threshold the device is under load, and
 * stays so for TS_WG_UNDER_LOAD_AFTER after the last busy window. */
static void note_handshake(ts_wg_device *d, uint64_t now) {
  if (!d->load_seen || since(now, d->load_window_start) >= TS_WG_NS_PER_SEC) {
    d->load_window_start = now;
    d->load_count = 0;
    d->load_seen = 1;
  }
  if (++d->load_count > d->cfg.under_load_threshold) d->under_load_until = now + TS_WG_UNDER_LOAD_AFTER;
}

/* ---- peers by public key ---- */

static size_t key_slot(const ts_wg_device *d, const uint8_t pub[32]) {
  uint64_t h;
  memcpy(&h, pub, 8);
  h ^= d->peer_seed;
  h *= 0xBF58476D1CE4E5B9ULL;
  h ^= h >> 31;
  return (size_t)h & (d->peer_cap - 1);
}

ts_wg_peer *ts_wg_peer_find(const ts_wg_device *d, const uint8_t pub[32]) {
  for (size_t i = key_slot(d, pub);; i = (i + 1) & (d->peer_cap - 1)) {
    ts_wg_peer *p = d->peers[i];
    if (!p) return NULL;
    if (ts_ct_equal(p->np.pub, pub, 32)) return p;
  }
}

static void key_put(ts_wg_device *d, ts_wg_peer *p) {
  size_t i = key_slot(d, p->np.pub);
  while (d->peers[i]) i = (i + 1) & (d->peer_cap - 1);
  d->peers[i] = p;
}

static int key_grow(ts_wg_device *d) {
  if ((d->npeers + 1) * 2 <= d->peer_cap) return 0;
  ts_wg_peer **old = d->peers;
  size_t old_cap = d->peer_cap;
  ts_wg_peer **nw = calloc(old_cap * 2, sizeof *nw);
  if (!nw) return -1;
  d->peers = nw;
  d->peer_cap = old_cap * 2;
  for (size_t i = 0; i < old_cap; i++)
    if (old[i]) key_put(d, old[i]);
  free(old);
  return 0;
}

static void key_del(ts_wg_device *d, ts_wg_peer *p) {
  size_t i = key_slot(d, p->np.pub);
  while (d->peers[i] != p) i = (i + 1) & (d->peer_cap - 1);
  size_t hole = i;
  for (size_t j = (i + 1) & (d->peer_cap - 1); d->peers[j]; j = (j + 1) & (d->peer_cap - 1)) {
    size_t home = key_slot(d, d->peers[j]->np.pub);
    int within = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!within) {
      d->peers[hole] = d->peers[j];
      hole = j;
    }
  }
  d->peers[hole] = NULL;
}

ts_wg_peer *ts_wg_peer_add(ts_wg_device *d, const uint8_t pub[32], const ts_wg_peer_config *cfg) {
  if (!pub || ts_ct_equal(pub, d->id.pub, 32)) return NULL;
  ts_wg_peer *p = ts_wg_peer_find(d, pub);
  if (p) return p;
  if (key_grow(d)) return NULL;
  p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->dev = d;
  ts_wg_noise_peer_init(&p->np, &d->id, pub, cfg ? cfg->psk : NULL);
  ts_wg_cookie_gen_init(&p->cookie, pub);
  if (cfg) {
    p->persistent_keepalive_s = cfg->persistent_keepalive_s;
    if (cfg->endpoint) p->endpoint = *cfg->endpoint;
  }
  if (ts_wg_heap_add(d, p)) {
    ts_wipe(p, sizeof *p);
    free(p);
    return NULL;
  }
  key_put(d, p);
  d->npeers++;
  return p;
}

static void peer_destroy(ts_wg_device *d, ts_wg_peer *p) {
  ts_wg_zero_all(p);
  ts_wg_aip_remove_owner(&d->aip, p);
  ts_wg_heap_remove(d, p);
  if (p->kps) {
    ts_wipe(p->kps, 4 * sizeof *p->kps);
    free(p->kps);
  }
  ts_wipe(p, sizeof *p);
  free(p);
}

void ts_wg_peer_remove(ts_wg_device *d, ts_wg_peer *p) {
  if (!p || p->dev != d) return;
  key_del(d, p);
  d->npeers--;
  peer_destroy(d, p);
}

const uint8_t *ts_wg_peer_public_key(const ts_wg_peer *p) { return p->np.pub; }

void ts_wg_peer_set_psk(ts_wg_peer *p, const uint8_t *psk) {
  if (psk) memcpy(p->np.psk, psk, 32);
  else ts_wipe(p->np.psk, 32);
}

void ts_wg_peer_set_persistent_keepalive(ts_wg_peer *p, uint64_t now, uint16_t secs) {
  uint16_t old = p->persistent_keepalive_s;
  p->persistent_keepalive_s = secs;
  if (!secs) p->timer[TS_WG_T_PERSISTENT] = 0;
  else if (!old) ts_wg_timer_arm(p, TS_WG_T_PERSISTENT, now);
}

void ts_wg_peer_set_endpoint(ts_wg_peer *p, const ts_wg_endpoint *ep) {
  if (ep) p->endpoint = *ep;
  else memset(&p->endpoint, 0, sizeof p->endpoint);
}

void ts_wg_peer_unreachable(ts_wg_peer *p, uint64_t now) {
  /* Only an initiation still waiting for its response was lost; one report counts per initiation. */
  if (!p->timer[TS_WG_T_RETRANSMIT] || !p->has_sent_handshake || p->init_lost) return;
  p->init_lost = 1;
  if (p->lost_retries >= 5) return; /* 250 ms doubled five times passes REKEY_TIMEOUT: the timer is as soon */
  uint64_t at = p->last_sent_handshake + (TS_WG_LOST_RETRY_FIRST << p->lost_retries);
  p->lost_retries++;
  ts_wg_retry_early(p, at > now ? at : now);
}

void ts_wg_peer_set_user(ts_wg_peer *p, void *user) { p->user = user; }
void *ts_wg_peer_user(const ts_wg_peer *p) { return p->user; }

int ts_wg_peer_allow(ts_wg_device *d, ts_wg_peer *p, int family, const uint8_t *addr, unsigned cidr) {
  return ts_wg_aip_insert(&d->aip, family, addr, cidr, p);
}
int ts_wg_peer_disallow(ts_wg_device *d, ts_wg_peer *p, int family, const uint8_t *addr, unsigned cidr) {
  return ts_wg_aip_remove(&d->aip, family, addr, cidr, p);
}
void ts_wg_peer_clear_allowed(ts_wg_device *d, ts_wg_peer *p) { ts_wg_aip_remove_owner(&d->aip, p); }
ts_wg_peer *ts_wg_route(const ts_wg_device *d, int family, const uint8_t *addr) {
  return ts_wg_aip_lookup(&d->aip, family, addr);
}

static int keypair_usable(const ts_wg_keypair *kp, uint64_t now) {
  return kp && kp->send_counter < TS_WG_REJECT_AFTER_MESSAGES && since(now, kp->created) < TS_WG_REJECT_AFTER_TIME;
}

void ts_wg_peer_stats_get(const ts_wg_peer *p, uint64_t now, ts_wg_peer_stats *st) {
  st->last_handshake_wall = p->last_handshake_wall;
  st->rx_bytes = p->rx_bytes;
  st->tx_bytes = p->tx_bytes;
  st->endpoint = p->endpoint;
  st->queued = p->q_len;
  st->has_session = keypair_usable(p->cur, now);
}

/* ---- keypairs ---- */

static void keypair_delete(ts_wg_peer *p, ts_wg_keypair *kp) {
  if (!kp) return;
  ts_wg_index_entry *e = ts_wg_index_get(&p->dev->idx, kp->local_index);
  if (e && e->kp == kp) ts_wg_index_del(&p->dev->idx, kp->local_index);
  ts_wipe(kp, sizeof *kp);
}

/* Drops the pending handshake's index from the table (its slot is reused by the next handshake). */
static void hs_index_release(ts_wg_peer *p) {
  if (!p->hs_index_live) return;
  ts_wg_index_entry *e = ts_wg_index_get(&p->dev->idx, p->hs.local_index);
  if (e && e->peer == p && !e->kp) ts_wg_index_del(&p->dev->idx, p->hs.local_index);
  p->hs_index_live = 0;
}

void ts_wg_zero_all(ts_wg_peer *p) {
  keypair_delete(p, p->prev);
  keypair_delete(p, p->cur);
  keypair_delete(p, p->next);
  p->prev = p->cur = p->next = NULL;
  hs_index_release(p);
  ts_wg_handshake_clear(&p->hs);
  ts_wg_flush_queue(p, TS_WG_DROP_QUEUE_FLUSHED);
}

/* After our static key changed: nothing derived from the old one may stay. The static-static DH is
 * recomputed lazily (as for a new peer). A peer we had a session with, or packets waiting for, gets a
 * handshake with the new key at the next ts_wg_timers call (NEW_HANDSHAKE at deadline 1: due at once):
 * the peer cannot reach us on the old key any more, and the caller (magicsock) holds the initiation until a
 * path exists (a relay logging in again with the new key), so traffic resumes without waiting for a
 * retransmission (REKEY_TIMEOUT). Idle peers are left alone. */
static void peer_forget_sessions(ts_wg_peer *p) {
  int active = p->prev || p->cur || p->next || p->q_head;
  keypair_delete(p, p->prev);
  keypair_delete(p, p->cur);
  keypair_delete(p, p->next);
  p->prev = p->cur = p->next = NULL;
  hs_index_release(p);
  ts_wg_handshake_clear(&p->hs);
  ts_wipe(p->np.ss, sizeof p->np.ss);
  p->np.ss_state = 0;
  p->has_sent_handshake = 0; /* the rate limit was for the old identity: a new handshake may go at once */
  p->handshake_attempts = 0;
  p->early_retry_at = 0;
  p->lost_retries = 0;
  p->init_lost = 0;
  p->sent_last_minute_handshake = 0;
  p->need_another_keepalive = 0;
  p->timer[TS_WG_T_RETRANSMIT] = p->timer[TS_WG_T_SEND_KEEPALIVE] = 0;
  p->timer[TS_WG_T_NEW_HANDSHAKE] = p->timer[TS_WG_T_ZERO_KEYS] = 0;
  if (active) ts_wg_timer_arm(p, TS_WG_T_NEW_HANDSHAKE, 1);
}

/* Turns the finished handshake into a session. The initiator uses it at once; the responder keeps it as
 * "next" until the initiator proves it has it (key confirmation: first data received on it). */
static int begin_session(ts_wg_peer *p, uint64_t now) {
  ts_wg_keypair *kp = NULL;
  if (!p->kps && !(p->kps = calloc(4, sizeof *p->kps))) return -1;
  for (int i = 0; i < 4 && !kp; i++)
    if (!p->kps[i].in_use) kp = &p->kps[i];
  if (!kp) return -1; /* cannot happen: at most three are live */
  int initiator = ts_wg_noise_derive(&p->hs, kp->send_key, kp->recv_key);
  if (initiator < 0) return -1;
  kp->in_use = 1;
  kp->initiator = initiator;
  kp->created = now;
  kp->send_counter = 0;
  kp->local_index = p->hs.local_index;
  kp->remote_index = p->hs.remote_index;
  ts_wg_replay_reset(&kp->replay);
  /* The handshake's index now names this session. */
  ts_wg_index_entry *e = ts_wg_index_get(&p->dev->idx, kp->local_index);
  if (e && e->peer == p) e->kp = kp;
  p->hs_index_live = 0;
  p->hs.state = TS_WG_HS_ZEROED;

  if (initiator) {
    ts_wg_keypair *old_prev = p->prev;
    if (p->next) {
      p->prev = p->next;
      p->next = NULL;
      keypair_delete(p, p->cur);
    } else {
      p->prev = p->cur;
    }
    keypair_delete(p, old_prev);
    p->cur = kp;
  } else {
    keypair_delete(p, p->next);
    keypair_delete(p, p->prev);
    p->prev = NULL;
    p->next = kp;
  }
  ts_wg_ev_session_derived(p, now);
  return 0;
}

/* Data arrived on kp: if it is "next", the initiator confirmed it; rotate. 1 if rotated. */
static int received_with_keypair(ts_wg_peer *p, ts_wg_keypair *kp) {
  if (p->next != kp) return 0;
  keypair_delete(p, p->prev);
  p->prev = p->cur;
  p->cur = p->next;
  p->next = NULL;
  return 1;
}

/* ---- output ---- */

static void emit(ts_wg_peer *p, const uint8_t *buf, size_t len) {
  p->tx_bytes += len;
  p->dev->cfg.sink.send(p->dev->cfg.sink.ctx, p, &p->endpoint, buf, len);
}

size_t ts_wg_data_len(const ts_wg_device *d, size_t len) {
  size_t padded = (len + 15) & ~(size_t)15;
  uint32_t mtu = d->cfg.mtu;
  /* Padding never pushes a packet that fits the MTU beyond it. */
  if (mtu && padded > mtu && len <= mtu) padded = mtu;
  return TS_WG_DATA_HEADER_LEN + padded + TS_WG_AEAD_TAG;
}

/* Encrypts one packet on kp into out (room checked by the caller). */
static size_t seal(ts_wg_device *d, ts_wg_keypair *kp, const uint8_t *pkt, size_t len, uint8_t *out) {
  size_t total = ts_wg_data_len(d, len), padded = total - TS_WG_DATA_OVERHEAD;
  uint8_t *body = out + TS_WG_DATA_HEADER_LEN;
  if (pkt != body && len) memmove(body, pkt, len);
  memset(body + len, 0, padded - len);
  uint64_t ctr = kp->send_counter++;
  ts_wg_msg_data_header_write(out, kp->remote_index, ctr);
  ts_chacha_seal_ctr(body, body, padded, NULL, 0, ctr, kp->send_key);
  return total;
}

/* After sending data: rekey when the session is old (initiator) or has carried many messages. */
static void keep_key_fresh_sending(ts_wg_peer *p, uint64_t now, uint64_t wall) {
  ts_wg_keypair *kp = p->cur;
  if (!kp) return;
  if (kp->send_counter > TS_WG_REKEY_AFTER_MESSAGES ||
      (kp->initiator && since(now, kp->created) > TS_WG_REKEY_AFTER_TIME))
    ts_wg_send_initiation(p, now, wall, 0);
}

/* After receiving data: an initiator whose session is about to expire rekeys once, so the responder
 * (which does not rekey on time) does not wait for a dead session. */
static void keep_key_fresh_receiving(ts_wg_peer *p, uint64_t now, uint64_t wall) {
  ts_wg_keypair *kp = p->cur;
  if (!kp || !kp->initiator || p->sent_last_minute_handshake) return;
  if (since(now, kp->created) > TS_WG_REJECT_AFTER_TIME - TS_WG_KEEPALIVE_TIMEOUT - TS_WG_REKEY_TIMEOUT) {
    p->sent_last_minute_handshake = 1;
    ts_wg_send_initiation(p, now, wall, 0);
  }
}

static void after_data_sent(ts_wg_peer *p, size_t plain_len, uint64_t now) {
  ts_wg_ev_traversal(p, now);
  ts_wg_ev_any_sent(p);
  if (plain_len) ts_wg_ev_data_sent(p, now);
}

void ts_wg_flush_queue(ts_wg_peer *p, ts_wg_drop reason) {
  while (p->q_head) {
    ts_wg_qpkt *q = p->q_head;
    p->q_head = q->next;
    ts_wipe(q->data, q->len);
    free(q);
    ts_wg_count(p->dev, reason);
  }
  p->q_tail = NULL;
  p->q_len = 0;
}

/* Sends what waited for a session, or starts a handshake if there is none. */
static void send_queued(ts_wg_peer *p, uint64_t now, uint64_t wall) {
  if (!p->q_head) return;
  if (!keypair_usable(p->cur, now)) {
    ts_wg_send_initiation(p, now, wall, 0);
    return;
  }
  ts_wg_device *d = p->dev;
  while (p->q_head && keypair_usable(p->cur, now)) {
    ts_wg_qpkt *q = p->q_head;
    p->q_head = q->next;
    if (!p->q_head) p->q_tail = NULL;
    p->q_len--;
    size_t n = seal(d, p->cur, q->data, q->len, d->scratch);
    size_t plain = q->len;
    ts_wipe(q->data, q->len);
    free(q);
    emit(p, d->scratch, n);
    after_data_sent(p, plain, now);
  }
  if (p->q_head) ts_wg_send_initiation(p, now, wall, 0); /* counter ran out midway */
  keep_key_fresh_sending(p, now, wall);
}

static int enqueue(ts_wg_peer *p, const uint8_t *pkt, size_t len) {
  ts_wg_qpkt *q = malloc(sizeof *q + len);
  if (!q) {
    ts_wg_count(p->dev, TS_WG_DROP_NO_MEMORY);
    return -1;
  }
  q->next = NULL;
  q->len = len;
  if (len) memcpy(q->data, pkt, len);
  if (p->q_len >= p->dev->cfg.queue_max) { /* bounded: the oldest goes */
    ts_wg_qpkt *old = p->q_head;
    p->q_head = old->next;
    if (!p->q_head) p->q_tail = NULL;
    p->q_len--;
    ts_wipe(old->data, old->len);
    free(old);
    ts_wg_count(p->dev, TS_WG_DROP_QUEUE_FULL);
  }
  if (p->q_tail) p->q_tail->next = q;
  else p->q_head = q;
  p->q_tail = q;
  p->q_len++;
  return 0;
}

void ts_wg_send_keepalive(ts_wg_peer *p, uint64_t now, uint64_t wall) {
  if (!p->q_head) {
    if (keypair_usable(p->cur, now)) {
      ts_wg_device *d = p->dev;
      size_t n = seal(d, p->cur, NULL, 0, d->scratch);
      emit(p, d->scratch, n);
      after_data_sent(p, 0, now);
      keep_key_fresh_sending(p, now, wall);
      return;
    }
    enqueue(p, NULL, 0); /* the keepalive waits for the session like data would */
  }
  send_queued(p, now, wall);
}

void ts_wg_send_initiation(ts_wg_peer *p, uint64_t now, uint64_t wall, int retry) {
  ts_wg_device *d = p->dev;
  if (!retry) p->handshake_attempts = 0;
  /* At most one initiation per REKEY_TIMEOUT, whatever asks for it, unless an early retry is due. */
  if (p->has_sent_handshake && since(now, p->last_sent_handshake) < TS_WG_REKEY_TIMEOUT &&
      !(p->early_retry_at && now >= p->early_retry_at))
    return;
  p->early_retry_at = 0;
  p->init_lost = 0;
  if (ts_wg_noise_peer_prepare(&p->np, &d->id)) {
    ts_wg_count(d, TS_WG_DROP_PEER_KEY);
    return;
  }
  p->last_sent_handshake = now;
  p->has_sent_handshake = 1;
  hs_index_release(p);
  uint32_t index;
  if (ts_wg_index_new(d, p, NULL, &index)) {
    ts_wg_count(d, TS_WG_DROP_NO_MEMORY);
    return;
  }
  p->hs_index_live = 1;
  p->hs.local_index = index;
  uint8_t eph[32];
  ts_wg_msg_initiation m;
  ts_wg_rng(d, eph, sizeof eph);
  int rc = ts_wg_noise_create_initiation(&p->hs, &d->id, &p->np, eph, wall, index, &m);
  ts_wipe(eph, sizeof eph);
  if (rc) {
    hs_index_release(p);
    ts_wg_count(d, TS_WG_DROP_PEER_KEY);
    return;
  }
  uint8_t buf[TS_WG_INITIATION_LEN];
  ts_wg_msg_initiation_write(buf, &m);
  ts_wg_cookie_add_macs(&p->cookie, now, buf, TS_WG_INITIATION_MAC1_OFF);
  emit(p, buf, sizeof buf);
  ts_wg_ev_traversal(p, now);
  ts_wg_ev_any_sent(p);
  ts_wg_ev_handshake_initiated(p, now);
}

/* ---- send ---- */

ts_wg_tx_kind ts_wg_peer_send(ts_wg_device *d, ts_wg_peer *p, uint64_t now, uint64_t wall, const uint8_t *pkt,
                              size_t len, uint8_t *out, size_t cap, ts_wg_tx *res) {
  memset(res, 0, sizeof *res);
  res->peer = p;
  res->endpoint = &p->endpoint;
  if (len > TS_WG_MAX_PACKET || cap < ts_wg_data_len(d, len)) {
    ts_wg_count(d, TS_WG_DROP_TOO_BIG);
    res->drop = TS_WG_DROP_TOO_BIG;
    return res->kind = TS_WG_TX_DROP;
  }
  if (!keypair_usable(p->cur, now)) {
    if (enqueue(p, pkt, len)) {
      res->drop = TS_WG_DROP_NO_MEMORY;
      return res->kind = TS_WG_TX_DROP;
    }
    ts_wg_send_initiation(p, now, wall, 0);
    return res->kind = TS_WG_TX_QUEUED;
  }
  if (p->q_head) send_queued(p, now, wall); /* keep order: what waited goes first */
  if (!keypair_usable(p->cur, now)) { /* the queue used up the counter */
    enqueue(p, pkt, len);
    return res->kind = TS_WG_TX_QUEUED;
  }
  res->len = seal(d, p->cur, pkt, len, out);
  p->tx_bytes += res->len;
  after_data_sent(p, len, now);
  keep_key_fresh_sending(p, now, wall);
  return res->kind = TS_WG_TX_READY;
}

ts_wg_tx_kind ts_wg_send(ts_wg_device *d, uint64_t now, uint64_t wall, const uint8_t *pkt, size_t len,
                         uint8_t *out, size_t cap, ts_wg_tx *res) {
  const uint8_t *dst;
  int family = ts_wg_ip_addr(pkt, len, 0, &dst);
  ts_wg_peer *p = family ? ts_wg_aip_lookup(&d->aip, family, dst) : NULL;
  if (!p) {
    memset(res, 0, sizeof *res);
    res->drop = family ? TS_WG_DROP_NO_ROUTE : TS_WG_DROP_BAD_INNER;
    ts_wg_count(d, res->drop);
    return res->kind = TS_WG_TX_DROP;
  }
  return ts_wg_peer_send(d, p, now, wall, pkt, len, out, cap, res);
}

/* ---- receive ---- */

static ts_wg_rx_kind drop(ts_wg_device *d, ts_wg_rx *out, ts_wg_drop why) {
  ts_wg_count(d, why);
  out->kind = TS_WG_RX_DROP;
  out->drop = why;
  return TS_WG_RX_DROP;
}

static void roam(ts_wg_peer *p, const ts_wg_endpoint *src) {
  if (src && src->len && (src->len != p->endpoint.len || memcmp(src->data, p->endpoint.data, src->len) ||
                          src->host_len != p->endpoint.host_len))
    p->endpoint = *src;
}

static const uint8_t *src_bytes(const ts_wg_endpoint *src, size_t *n, int host) {
  size_t len = src->len > TS_WG_ENDPOINT_MAX ? TS_WG_ENDPOINT_MAX : src->len;
  if (host && src->host_len && src->host_len < len) len = src->host_len;
  *n = len;
  return src->data;
}

/* mac1, and under load mac2 (or a cookie reply) and the per-source rate limit. 0 to go on.
 * Cookie replies are themselves limited per source endpoint (IP and port) with the same token bucket: a
 * WireGuard peer sends us at most one handshake message per REKEY_TIMEOUT from its socket, so this never
 * withholds a reply one needs, while a flood from one socket, or with a spoofed victim's address as its
 * source, costs only the mac1 check (docs/architecture.md, "Handshake floods"). */
static int handshake_gate(ts_wg_device *d, uint64_t now, const uint8_t *buf, size_t mac1_off, uint32_t sender,
                          const ts_wg_endpoint *src, ts_wg_rx *out) {
  note_handshake(d, now);
  if (!ts_wg_cookie_check_mac1(&d->checker, buf, mac1_off)) return drop(d, out, TS_WG_DROP_MAC1), -1;
  if (!ts_wg_device_under_load(d, now)) return 0;
  size_t n;
  const uint8_t *a = src_bytes(src, &n, 0);
  if (!ts_wg_cookie_check_mac2(&d->checker, now, buf, mac1_off, a, n)) {
    if (!ts_wg_ratelimit_allow(&d->cookie_rl, now, a, n)) return drop(d, out, TS_WG_DROP_COOKIE_LIMITED), -1;
    uint8_t reply[TS_WG_COOKIE_LEN];
    ts_wg_cookie_make_reply(&d->checker, now, buf, mac1_off, sender, a, n, d->cfg.rng, d->cfg.rng_ctx, reply);
    d->cfg.sink.send(d->cfg.sink.ctx, NULL, src, reply, sizeof reply);
    return drop(d, out, TS_WG_DROP_COOKIE_SENT), -1;
  }
  a = src_bytes(src, &n, 1);
  if (!ts_wg_ratelimit_allow(&d->rl, now, a, n)) return drop(d, out, TS_WG_DROP_RATE_LIMITED), -1;
  return 0;
}

static ts_wg_rx_kind rx_initiation(ts_wg_device *d, uint64_t now, const uint8_t *buf,
                                   const ts_wg_endpoint *src, ts_wg_rx *out) {
  ts_wg_msg_initiation m;
  ts_wg_msg_initiation_parse(&m, buf);
  if (handshake_gate(d, now, buf, TS_WG_INITIATION_MAC1_OFF, m.sender, src, out)) return TS_WG_RX_DROP;
  ts_wg_noise_init_state st;
  uint8_t ts[TS_WG_TAI64N_LEN];
  d->hs_computed++;
  if (ts_wg_noise_consume_initiation1(&st, &d->id, &m)) return drop(d, out, TS_WG_DROP_HANDSHAKE_DECRYPT);
  ts_wg_peer *p = ts_wg_peer_find(d, st.peer_pub);
  if (!p && d->cfg.peer_lookup) {
    p = d->cfg.peer_lookup(d->cfg.peer_lookup_ctx, d, st.peer_pub);
    if (p && (p->dev != d || !ts_ct_equal(p->np.pub, st.peer_pub, 32))) p = NULL;
  }
  if (!p) {
    ts_wipe(&st, sizeof st);
    return drop(d, out, TS_WG_DROP_UNKNOWN_PEER);
  }
  out->peer = p;
  if (ts_wg_noise_peer_prepare(&p->np, &d->id)) {
    ts_wipe(&st, sizeof st);
    return drop(d, out, TS_WG_DROP_PEER_KEY);
  }
  if (ts_wg_noise_consume_initiation2(&st, &p->np, &m, ts)) return drop(d, out, TS_WG_DROP_HANDSHAKE_DECRYPT);
  /* TAI64N is big-endian, so bytewise order is time order. */
  int replay = memcmp(ts, p->last_timestamp, sizeof ts) <= 0;
  int flood = p->has_init_consumed && since(now, p->last_init_consumed) <= TS_WG_HANDSHAKE_INITIATION_RATE;
  if (replay || flood) {
    ts_wipe(&st, sizeof st);
    return drop(d, out, replay ? TS_WG_DROP_TIMESTAMP_REPLAY : TS_WG_DROP_INITIATION_FLOOD);
  }
  memcpy(p->last_timestamp, ts, sizeof ts);
  /* Both sides initiated at once. Were each to answer the other, each would then drop the response to its
   * own initiation (its handshake state has moved on) and neither would have a session until a
   * retransmission REKEY_TIMEOUT later. So the side with the lower public key keeps its initiation and
   * drops the other's, which answers ours (docs/architecture.md, "Handshakes that cross"). Its timestamp
   * is kept: a copy arriving later by another path (relay and direct) is then a replay, not answered.
   * Ours may have been lost, though (sent through a relay before the peer was connected to it): known lost,
   * theirs is answered instead; else ours goes again after TS_WG_CROSSING_RETRY if still unanswered, not a
   * whole REKEY_TIMEOUT later, since the peer is evidently reachable now. */
  if (p->hs.state == TS_WG_HS_INITIATION_CREATED && p->has_sent_handshake && !p->init_lost &&
      since(now, p->last_sent_handshake) < TS_WG_REKEY_TIMEOUT && memcmp(d->id.pub, p->np.pub, 32) < 0) {
    ts_wipe(&st, sizeof st);
    ts_wg_retry_early(p, now + TS_WG_CROSSING_RETRY);
    return drop(d, out, TS_WG_DROP_HANDSHAKE_STATE);
  }
  p->last_init_consumed = now;
  p->has_init_consumed = 1;
  hs_index_release(p);
  ts_wg_noise_accept_initiation(&p->hs, &st, &m);
  ts_wipe(&st, sizeof st);
  roam(p, src);
  p->rx_bytes += TS_WG_INITIATION_LEN;
  ts_wg_ev_traversal(p, now);
  ts_wg_ev_any_received(p);

  /* Answer at once: the response completes the handshake on our side. It counts as a handshake sent, so
   * we do not also initiate towards this peer within REKEY_TIMEOUT (wireguard-go does the same). */
  p->last_sent_handshake = now;
  p->has_sent_handshake = 1;
  uint32_t index;
  if (ts_wg_index_new(d, p, NULL, &index)) return drop(d, out, TS_WG_DROP_NO_MEMORY);
  p->hs_index_live = 1;
  p->hs.local_index = index;
  uint8_t eph[32];
  ts_wg_msg_response r;
  ts_wg_rng(d, eph, sizeof eph);
  int rc = ts_wg_noise_create_response(&p->hs, &p->np, eph, index, &r);
  ts_wipe(eph, sizeof eph);
  if (rc || begin_session(p, now)) {
    hs_index_release(p);
    ts_wg_handshake_clear(&p->hs);
    return drop(d, out, TS_WG_DROP_HANDSHAKE_DECRYPT);
  }
  uint8_t rb[TS_WG_RESPONSE_LEN];
  ts_wg_msg_response_write(rb, &r);
  ts_wg_cookie_add_macs(&p->cookie, now, rb, TS_WG_RESPONSE_MAC1_OFF);
  emit(p, rb, sizeof rb);
  ts_wg_ev_traversal(p, now);
  ts_wg_ev_any_sent(p);
  out->kind = TS_WG_RX_HANDSHAKE;
  return TS_WG_RX_HANDSHAKE;
}

static ts_wg_rx_kind rx_response(ts_wg_device *d, uint64_t now, uint64_t wall, const uint8_t *buf,
                                 const ts_wg_endpoint *src, ts_wg_rx *out) {
  ts_wg_msg_response m;
  ts_wg_msg_response_parse(&m, buf);
  if (handshake_gate(d, now, buf, TS_WG_RESPONSE_MAC1_OFF, m.sender, src, out)) return TS_WG_RX_DROP;
  ts_wg_index_entry *e = ts_wg_index_get(&d->idx, m.receiver);
  if (!e || e->kp) return drop(d, out, TS_WG_DROP_UNKNOWN_INDEX);
  ts_wg_peer *p = e->peer;
  out->peer = p;
  if (p->hs.state != TS_WG_HS_INITIATION_CREATED) return drop(d, out, TS_WG_DROP_HANDSHAKE_STATE);
  d->hs_computed++;
  if (ts_wg_noise_consume_response(&p->hs, &d->id, &p->np, &m)) return drop(d, out, TS_WG_DROP_HANDSHAKE_DECRYPT);
  roam(p, src);
  p->rx_bytes += TS_WG_RESPONSE_LEN;
  ts_wg_ev_traversal(p, now);
  ts_wg_ev_any_received(p);
  if (begin_session(p, now)) return drop(d, out, TS_WG_DROP_HANDSHAKE_STATE);
  ts_wg_ev_handshake_complete(p, wall);
  /* Confirm the session to the responder right away: queued data, or else a keepalive. */
  ts_wg_send_keepalive(p, now, wall);
  out->kind = TS_WG_RX_HANDSHAKE;
  return TS_WG_RX_HANDSHAKE;
}

static ts_wg_rx_kind rx_cookie(ts_wg_device *d, uint64_t now, const uint8_t *buf, ts_wg_rx *out) {
  ts_wg_msg_cookie m;
  ts_wg_msg_cookie_parse(&m, buf);
  ts_wg_index_entry *e = ts_wg_index_get(&d->idx, m.receiver);
  if (!e) return drop(d, out, TS_WG_DROP_UNKNOWN_INDEX);
  out->peer = e->peer;
  if (!ts_wg_cookie_consume_reply(&e->peer->cookie, now, &m)) return drop(d, out, TS_WG_DROP_COOKIE_INVALID);
  out->kind = TS_WG_RX_COOKIE;
  return TS_WG_RX_COOKIE;
}

static ts_wg_rx_kind rx_data(ts_wg_device *d, uint64_t now, uint64_t wall, uint8_t *buf, size_t len,
                             const ts_wg_endpoint *src, ts_wg_rx *out) {
  ts_wg_index_entry *e = ts_wg_index_get(&d->idx, ts_wg_msg_data_receiver(buf));
  if (!e || !e->kp) return drop(d, out, TS_WG_DROP_UNKNOWN_INDEX);
  ts_wg_peer *p = e->peer;
  ts_wg_keypair *kp = e->kp;
  out->peer = p;
  uint64_t ctr = ts_wg_msg_data_counter(buf);
  if (since(now, kp->created) >= TS_WG_REJECT_AFTER_TIME) return drop(d, out, TS_WG_DROP_KEYPAIR_EXPIRED);
  if (ctr >= TS_WG_REJECT_AFTER_MESSAGES) return drop(d, out, TS_WG_DROP_REPLAY);
  uint8_t *body = buf + TS_WG_DATA_HEADER_LEN;
  size_t clen = len - TS_WG_DATA_HEADER_LEN;
  if (ts_chacha_open_ctr(body, body, clen, NULL, 0, ctr, kp->recv_key)) return drop(d, out, TS_WG_DROP_DECRYPT);
  if (!ts_wg_replay_check(&kp->replay, ctr, TS_WG_REJECT_AFTER_MESSAGES)) return drop(d, out, TS_WG_DROP_REPLAY);

  /* Authenticated: this packet counts for roaming, timers and key confirmation. */
  if (received_with_keypair(p, kp)) {
    ts_wg_ev_handshake_complete(p, wall);
    send_queued(p, now, wall);
  }
  roam(p, src);
  p->rx_bytes += len;
  keep_key_fresh_receiving(p, now, wall);
  ts_wg_ev_traversal(p, now);
  ts_wg_ev_any_received(p);
  size_t plen = clen - TS_WG_AEAD_TAG;
  if (plen == 0) {
    out->kind = TS_WG_RX_KEEPALIVE;
    return TS_WG_RX_KEEPALIVE;
  }
  ts_wg_ev_data_received(p, now);
  size_t ip_len = ts_wg_ip_len(body, plen);
  if (!ip_len) return drop(d, out, TS_WG_DROP_BAD_INNER);
  const uint8_t *sa;
  int family = ts_wg_ip_addr(body, ip_len, 1, &sa);
  if (ts_wg_aip_lookup(&d->aip, family, sa) != p) return drop(d, out, TS_WG_DROP_SOURCE_NOT_ALLOWED);
  out->kind = TS_WG_RX_DATA;
  out->data = body;
  out->len = ip_len;
  return TS_WG_RX_DATA;
}

ts_wg_rx_kind ts_wg_receive(ts_wg_device *d, uint64_t now, uint64_t wall, uint8_t *buf, size_t len,
                            const ts_wg_endpoint *src, ts_wg_rx *out) {
  static const ts_wg_endpoint none;
  memset(out, 0, sizeof *out);
  if (!src) src = &none;
  int type = ts_wg_msg_classify(buf, len);
  if (!type) {
    int known = len >= 4 && !(buf[1] | buf[2] | buf[3]) && buf[0] >= 1 && buf[0] <= 4;
    return drop(d, out, known ? TS_WG_DROP_BAD_LENGTH : TS_WG_DROP_BAD_TYPE);
  }
  switch (type) {
  case TS_WG_MSG_INITIATION: return rx_initiation(d, now, buf, src, out);
  case TS_WG_MSG_RESPONSE: return rx_response(d, now, wall, buf, src, out);
  case TS_WG_MSG_COOKIE: return rx_cookie(d, now, buf, out);
  default: return rx_data(d, now, wall, buf, len, src, out);
  }
}

/* ---- test hooks ---- */

int ts_wg_test_set_send_counter(ts_wg_peer *p, uint64_t counter) {
  if (!p->cur) return -1;
  p->cur->send_counter = counter;
  return 0;
}

int ts_wg_test_keys_zeroed(const ts_wg_peer *p) {
  int z = ts_ct_is_zero(&p->hs.ck, sizeof p->hs.ck) && ts_ct_is_zero(&p->hs.h, sizeof p->hs.h) &&
          ts_ct_is_zero(&p->hs.eph_priv, sizeof p->hs.eph_priv);
  for (int i = 0; i < 4 && p->kps; i++)
    z &= ts_ct_is_zero(p->kps[i].send_key, 32) && ts_ct_is_zero(p->kps[i].recv_key, 32);
  return z && !p->prev && !p->cur && !p->next;
}

int ts_wg_test_has_keypair_slots(const ts_wg_peer *p) { return p->kps != NULL; }

uint32_t ts_wg_test_handshake_attempts(const ts_wg_peer *p) { return p->handshake_attempts; }
int ts_wg_test_sessions(const ts_wg_peer *p) { return (p->prev ? 1 : 0) | (p->cur ? 2 : 0) | (p->next ? 4 : 0); }
