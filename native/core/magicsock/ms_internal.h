/* magicsock internals shared by its files: the peer and instance structs, the lookup tables (ms_table.c),
 * the timer heap (ms_table.c) and the disco handling (ms_disco.c). Not part of the public interface. */
#ifndef TS_MS_INTERNAL_H
#define TS_MS_INTERNAL_H

#include "magicsock/magicsock.h"
#include "magicsock/relay_bind.h"

#define MS_MAX_PINGS 64  /* outstanding pings per peer; a full round is 32 plus heartbeats. Oldest evicted. */
#define MS_MAX_MAPPED 16 /* UDP sources mapped to one peer (ts_ms_peer_by_addr); least recently seen evicted */
#define MS_RXBUF (65536 + 64) /* largest disco cleartext we open: a DERP packet's payload is below 64 KiB */
#define MS_NO_HEAP ((size_t)-1)

/* Why an address is a candidate; it is dropped when no reason is left. */
enum { MS_SRC_NETMAP = 1, MS_SRC_CMM = 2, MS_SRC_PING = 4 };

typedef struct ms_cand {
  ts_addr addr;
  uint8_t src;        /* MS_SRC_* */
  uint8_t pinged;     /* last_ping is valid */
  uint8_t has_rx_tx;  /* rx_tx is valid */
  uint8_t rx_tx[12];  /* TxID of the last ping from it: a duplicate is not answered again */
  uint64_t last_ping; /* we pinged it (discovery rate limit) */
  uint64_t ping_rx;   /* it last pinged us (MS_SRC_PING expiry) */
} ms_cand;

typedef struct ms_sent {
  uint8_t tx[12];
  ts_addr to;   /* family 0: sent through the relay */
  uint64_t at;
  uint32_t tag; /* ts_ms_ping_peer's, 0 for magicsock's own pings */
} ms_sent;

/* A peer's relay path (ms_relay.c), allocated when first tried. */
enum { MS_RELAY_NONE = 0, MS_RELAY_ALLOCATING = 1, MS_RELAY_BINDING = 2, MS_RELAY_BOUND = 3 };
typedef struct ms_relay {
  uint8_t state;                      /* MS_RELAY_* */
  uint8_t mine;                       /* the endpoint is our allocation (not one a CallMeMaybeVia named) */
  uint8_t peer_pinged;                /* a ping from the peer came through the endpoint */
  uint8_t server_node[TS_MS_KEY_LEN]; /* the relay node asked to allocate */
  uint32_t alloc_gen;
  uint64_t since;                     /* the state was entered */
  uint64_t due;                       /* next resend (BINDING, BOUND untrusted) or timeout */
  uint64_t retry_at;                  /* no allocation before (after a failure) */
  ts_relay_bind bind;                 /* BINDING, BOUND */
  ts_addr server;                     /* the endpoint address we bound */
  uint64_t trust_until, latency, last_ping;
  struct { uint8_t tx[12]; uint64_t at; } pings[4];
  size_t n_pings;
  uint64_t allocs, cmm_via_sent, cmm_via_received;
} ms_relay;

typedef struct ms_mapped {
  ts_addr addr;
  uint64_t at;
} ms_mapped;

struct ts_ms_peer {
  uint8_t node_key[TS_MS_KEY_LEN];
  uint8_t disco_key[TS_MS_KEY_LEN];
  uint8_t shared[TS_MS_KEY_LEN]; /* disco box key; wiped when the peer goes or its disco key changes */
  uint8_t has_disco;
  uint8_t tsmp_disco;                   /* disco_key came from a TSMP advertisement, not the netmap */
  uint8_t netmap_disco[TS_MS_KEY_LEN];  /* the disco key the netmap last named (zero: none) */
  uint32_t home_region, last_region; /* last_region: where the peer was last heard over DERP */
  ts_addr first_ep;              /* the first netmap endpoint: the path for peers without disco */

  ms_cand *cand;
  size_t n_cand, cap_cand;
  ms_sent *sent;
  size_t n_sent, cap_sent;
  ms_mapped mapped[MS_MAX_MAPPED];
  size_t n_mapped;

  ts_addr best;
  uint8_t has_best;
  uint64_t best_latency, trust_until;
  uint8_t rep_trusted;  /* the path last reported through on_path: trusted best (rep_addr) or none */
  ts_addr rep_addr;
  uint8_t rep_relay;    /* ... or a trusted relay path (rep_addr is the relay server, rep_vni) */
  uint32_t rep_vni;
  uint8_t relay_target; /* ts_ms_set_relay: may be reached through a peer relay */
  ms_relay *relay;

  uint8_t hb_on, full_pinged;
  uint64_t last_route, hb_due, last_full_ping;
  uint64_t next_ping_ok; /* no candidate is due a discovery ping before this (route's fast path) */

  ts_ms_peer *node_next, *disco_next; /* hash chains */
  size_t heap_idx;                    /* MS_NO_HEAP when not scheduled */
  uint64_t deadline;
  void *user;

  uint64_t pings_sent, pongs_received, pings_received, cmm_sent, cmm_received, tx_udp, tx_derp, tx_relay;
};

typedef struct ms_aslot {
  ts_addr addr; /* family 0: empty */
  ts_ms_peer *peer;
} ms_aslot;

struct ts_ms {
  ts_ms_config cfg; /* cfg.disco_private is ours to wipe */
  uint8_t disco_public[TS_MS_KEY_LEN];
  uint64_t seed; /* hash seed, random per instance */
  ts_addr eps[TS_MS_MAX_ENDPOINTS];
  size_t n_eps;
  uint32_t home_region;

  ts_ms_peer **node_b, **disco_b; /* chained by node key and by disco key; nb buckets (power of two) */
  size_t nb, n_peers;
  ms_aslot *amap; /* open addressing, linear probing, at most half full; na slots (power of two) */
  size_t na, n_amap;
  ts_ms_peer **heap; /* min-heap on deadline: the next deadline is heap[0]'s */
  size_t n_heap, cap_heap;

  uint8_t relay_servers[TS_MS_MAX_RELAY_SERVERS][TS_MS_KEY_LEN];
  size_t n_relay_servers;
  uint8_t (*relay_targets)[TS_MS_KEY_LEN]; /* sorted by nothing; looked up when a peer is added */
  size_t n_relay_targets;

  ts_ms_counters ctr;
  uint8_t rx[MS_RXBUF];
};

/* ---- ms_table.c ---- */
int ms_tables_init(ts_ms *ms);
void ms_tables_free(ts_ms *ms);
int ms_peer_link(ts_ms *ms, ts_ms_peer *p); /* into both chains; -1 out of memory */
void ms_peer_unlink(ts_ms *ms, ts_ms_peer *p);
/* Around a change of disco_key/has_disco: out of the disco chain before, back in after. */
void ms_disco_unchain(ts_ms *ms, ts_ms_peer *p);
void ms_disco_chain(ts_ms *ms, ts_ms_peer *p);
ts_ms_peer *ms_first_by_disco(const ts_ms *ms, const uint8_t key[TS_MS_KEY_LEN]);
ts_ms_peer *ms_next_by_disco(const ts_ms_peer *p, const uint8_t key[TS_MS_KEY_LEN]);
/* Maps a UDP source to p (replacing another peer's mapping of it). */
void ms_map_addr(ts_ms *ms, ts_ms_peer *p, const ts_addr *a, uint64_t now);
void ms_unmap_peer(ts_ms *ms, ts_ms_peer *p);
/* Recomputes p's deadline (at least floor: ts_ms_timers, having run p's due work, passes now + 1 so it
 * can never spin) and places p in the heap. */
void ms_schedule(ts_ms *ms, ts_ms_peer *p, uint64_t floor);
void ms_unschedule(ts_ms *ms, ts_ms_peer *p);

/* ---- ms_disco.c ---- */
int ms_input(ts_ms *ms, uint64_t now, const uint8_t *pkt, size_t len, const ts_ms_path *from,
             const uint8_t *derp_src);
void ms_send_ping(ts_ms *ms, ts_ms_peer *p, const ts_addr *to, uint64_t now);
/* Discovery round: pings every candidate not pinged within TS_MS_DISCO_PING_INTERVAL; with cmm, a
 * CallMeMaybe follows via DERP if any ping went out. */
void ms_send_pings(ts_ms *ms, ts_ms_peer *p, uint64_t now, int cmm);
/* 1 if a (latency la) should replace b (latency lb): betterAddr, docs/protocol/magicsock.md §3. */
int ms_better_addr(const ts_addr *a, uint64_t la, const ts_addr *b, uint64_t lb);

/* ---- ms_relay.c ---- */
/* Disco types 4-9 received over DERP from p (already opened; the DERP source checked). */
int ms_relay_derp_input(ts_ms *ms, ts_ms_peer *p, const uint8_t *clear, size_t len, uint64_t now);
int ms_relay_trusted(const ts_ms_peer *p, uint64_t now);
/* route() found no trusted direct path: start an allocation if p qualifies and none is under way. */
void ms_relay_kick(ts_ms *ms, ts_ms_peer *p, uint64_t now);
void ms_relay_tick(ts_ms *ms, ts_ms_peer *p, uint64_t now); /* resends, timeouts */
void ms_relay_heartbeat(ts_ms *ms, ts_ms_peer *p, uint64_t now);
uint64_t ms_relay_deadline(const ts_ms_peer *p);
void ms_relay_drop(ts_ms_peer *p); /* wipes and frees p's relay state */
int ms_relay_is_target(const ts_ms *ms, const uint8_t node_key[TS_MS_KEY_LEN]);
void ms_rand(ts_ms *ms, void *buf, size_t len);

/* ---- magicsock.c / ms_peer.c ---- */
ms_cand *ms_cand_find(ts_ms_peer *p, const ts_addr *a);
/* Adds src reasons to a (new or existing) candidate; NULL when the peer is full (counted). */
ms_cand *ms_cand_add(ts_ms *ms, ts_ms_peer *p, const ts_addr *a, uint8_t src);
/* Drops candidates with no reason left; the best address goes with its candidate. */
void ms_cand_prune(ts_ms_peer *p);
uint32_t ms_derp_region(const ts_ms_peer *p);
int ms_trusted(const ts_ms_peer *p, uint64_t now);
/* Reports a change of the chosen path through on_path; 1 if it changed. */
int ms_path_check(ts_ms *ms, ts_ms_peer *p, uint64_t now);
uint64_t ms_add_sat(uint64_t a, uint64_t b);
int ms_addr_usable(const ts_addr *a);

#endif
