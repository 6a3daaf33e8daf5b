/* Device and peer state shared by the files of the WireGuard core (not part of the public API). */
#ifndef TS_WG_INTERNAL_H
#define TS_WG_INTERNAL_H

#include "wg.h"
#include "wg_allowedips.h"
#include "wg_cookie.h"
#include "wg_noise.h"
#include "wg_ratelimit.h"
#include "wg_replay.h"

typedef struct ts_wg_keypair {
  uint8_t send_key[32], recv_key[32];
  uint64_t created;      /* monotonic ns at derivation */
  uint64_t send_counter; /* next counter to use */
  uint32_t local_index, remote_index;
  int initiator;
  int in_use;
  ts_wg_replay replay;
} ts_wg_keypair;

typedef struct ts_wg_qpkt {
  struct ts_wg_qpkt *next;
  size_t len;
  uint8_t data[];
} ts_wg_qpkt;

/* Receiver-index table: open addressing with linear probing, backward-shift deletion. */
typedef struct ts_wg_index_entry {
  uint32_t index;
  ts_wg_peer *peer; /* NULL: free slot */
  ts_wg_keypair *kp; /* NULL: the peer's pending handshake */
} ts_wg_index_entry;

typedef struct ts_wg_index_table {
  ts_wg_index_entry *e;
  size_t cap, n;
} ts_wg_index_table;

enum { TS_WG_T_RETRANSMIT, TS_WG_T_SEND_KEEPALIVE, TS_WG_T_NEW_HANDSHAKE, TS_WG_T_ZERO_KEYS,
       TS_WG_T_PERSISTENT, TS_WG_T_COUNT };

struct ts_wg_peer {
  ts_wg_device *dev;
  ts_wg_noise_peer np;
  ts_wg_handshake hs;
  int hs_index_live; /* hs.local_index is in the index table as a handshake entry */
  ts_wg_cookie_gen cookie;

  uint8_t last_timestamp[TS_WG_TAI64N_LEN]; /* greatest accepted initiation timestamp (zero: none) */
  uint64_t last_init_consumed;
  int has_init_consumed;
  uint64_t last_sent_handshake;
  int has_sent_handshake;

  /* Four slots: at most three live at once, so one is always free for a new session. Allocated with the first
   * session: a peer that never handshakes (most of an idle node's) keeps no replay windows (2 KiB). */
  ts_wg_keypair *kps;
  ts_wg_keypair *prev, *cur, *next;

  ts_wg_endpoint endpoint;
  ts_wg_qpkt *q_head, *q_tail;
  uint32_t q_len;

  uint64_t timer[TS_WG_T_COUNT]; /* deadlines, 0 = not armed */
  uint32_t handshake_attempts;
  uint64_t early_retry_at; /* the waiting initiation goes again then, before the retransmission timer; 0: no */
  uint32_t lost_retries;   /* losses reported since the last completed handshake: the backoff's exponent */
  int init_lost;           /* the waiting initiation is known lost (ts_wg_peer_unreachable) */
  int need_another_keepalive;
  int sent_last_minute_handshake;
  uint16_t persistent_keepalive_s;

  uint64_t rx_bytes, tx_bytes, last_handshake_wall;
  void *user;

  size_t heap_pos;
  uint64_t wake; /* this peer's key in the device timer heap: <= its earliest deadline */
};

struct ts_wg_device {
  ts_wg_noise_identity id;
  ts_wg_cookie_checker checker;
  ts_wg_ratelimit rl;        /* handshakes with a valid mac2, per source IP */
  ts_wg_ratelimit cookie_rl; /* cookie replies, per source endpoint */
  ts_wg_config cfg;
  ts_wg_allowedips aip;

  ts_wg_peer **peers; /* open addressing by public key */
  size_t peer_cap, npeers;
  uint64_t peer_seed;
  uint64_t jitter_state; /* timer jitter needs no secrecy: a generator seeded once, not a syscall per packet */

  ts_wg_index_table idx;

  ts_wg_peer **heap;
  size_t heap_n, heap_cap;

  uint64_t load_window_start, under_load_until;
  uint32_t load_count;
  int load_seen, force_load;
  uint64_t hs_computed; /* handshake messages that got past the DoS gate to the Noise computation */

  uint64_t drops[TS_WG_DROP_COUNT];
  uint8_t *scratch; /* for messages the device sends itself */
  size_t scratch_cap;
};

/* wg_index.c */
int ts_wg_index_init(ts_wg_index_table *t);
void ts_wg_index_free(ts_wg_index_table *t);
ts_wg_index_entry *ts_wg_index_get(const ts_wg_index_table *t, uint32_t index);
/* Inserts a fresh random index for (peer, kp). 0 ok, -1 out of memory. */
int ts_wg_index_new(ts_wg_device *dev, ts_wg_peer *peer, ts_wg_keypair *kp, uint32_t *index);
void ts_wg_index_del(ts_wg_index_table *t, uint32_t index);

/* wg_timers.c: the events of the whitepaper's section 6 and wireguard-go's timers. */
void ts_wg_timer_arm(ts_wg_peer *p, int which, uint64_t deadline);
uint64_t ts_wg_jitter(ts_wg_device *dev);
void ts_wg_ev_data_sent(ts_wg_peer *p, uint64_t now);
void ts_wg_ev_data_received(ts_wg_peer *p, uint64_t now);
void ts_wg_ev_any_sent(ts_wg_peer *p);
void ts_wg_ev_any_received(ts_wg_peer *p);
void ts_wg_ev_handshake_initiated(ts_wg_peer *p, uint64_t now);
void ts_wg_ev_handshake_complete(ts_wg_peer *p, uint64_t wall);
void ts_wg_ev_session_derived(ts_wg_peer *p, uint64_t now);
void ts_wg_ev_traversal(ts_wg_peer *p, uint64_t now);
int ts_wg_heap_add(ts_wg_device *dev, ts_wg_peer *p);
void ts_wg_heap_remove(ts_wg_device *dev, ts_wg_peer *p);

/* wg_device.c, used by the timers */
void ts_wg_send_initiation(ts_wg_peer *p, uint64_t now, uint64_t wall, int retry);
/* The waiting initiation goes again at `at` if that is before its retransmission (and before any early
 * retry already set). */
void ts_wg_retry_early(ts_wg_peer *p, uint64_t at);
void ts_wg_send_keepalive(ts_wg_peer *p, uint64_t now, uint64_t wall);
void ts_wg_flush_queue(ts_wg_peer *p, ts_wg_drop reason);
void ts_wg_zero_all(ts_wg_peer *p);

static inline void ts_wg_count(ts_wg_device *dev, ts_wg_drop d) { dev->drops[d]++; }
static inline void ts_wg_rng(ts_wg_device *dev, void *buf, size_t len) { dev->cfg.rng(dev->cfg.rng_ctx, buf, len); }

#endif
