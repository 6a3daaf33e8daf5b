/* magicsock: per-peer path choice between direct UDP and the DERP relay, driven by disco
 * (docs/architecture.md, "magicsock: path choice in the engine").
 *
 * Sans-I/O, like wg/ and derp/: no sockets, threads, clocks or global state. The engine (bind/bind_ms.c) passes in
 * received disco packets, authenticated WireGuard traffic and the time (monotonic ns), and asks which path a
 * WireGuard packet for a peer should take. Disco messages this module originates (pings, pongs,
 * call-me-maybe) leave synchronously through cfg.send, with the path to use.
 *
 *     ts_ms_config cfg = {...};  ts_ms *ms = ts_ms_new(&cfg);
 *     ts_ms_peer *p = ts_ms_peer_set(ms, node_key, disco_key, home_region, endpoints, n, now);   // from the netmap
 *     ...WireGuard packet for p:  ts_ms_path out[2]; int k = ts_ms_route(ms, p, now, out);  // send to each
 *     ...UDP datagram that ts_disco_is_disco:  ts_ms_disco_input(ms, now, buf, len, &(ts_ms_path){UDP, src}, NULL);
 *     ...DERP RecvPacket that is disco:        ts_ms_disco_input(ms, now, buf, len, &(ts_ms_path){DERP, region}, src_key);
 *     ...WireGuard authenticated from a path:  ts_ms_note_wg_rx(ms, p, &path, now);
 *     ...timer at ts_ms_next_deadline:          ts_ms_timers(ms, now);
 *
 * Per peer ("endpoint" in Tailscale): candidate UDP addresses = the netmap's Endpoints, addresses learned
 * from CallMeMaybe (received via DERP only), and sources of pings received over UDP. The best address is
 * the one whose pong scored best (betterAddr, docs/protocol/magicsock.md §3); it is used exclusively while trusted (6.5 s after its
 * last pong). Otherwise packets go to DERP (peer's home region, else the region the peer was last heard on)
 * and to the untrusted best address if any, and discovery runs: ping each candidate (at most once per 5 s
 * each), and send CallMeMaybe with our endpoints via DERP. While the session is active (a route() call in
 * the last 45 s) the best address is pinged every 3 s (heartbeat); every 60 s all candidates are re-pinged
 * unless the best latency is under 5 ms. Ping-learned candidates expire 45 s after their last ping.
 * Heartbeat pings go to the best address every 3 s regardless of the 5 s discovery rate limit (as in
 * Tailscale); a CallMeMaybe received via DERP lifts that limit once and pings every candidate at once.
 * A pong updates the best address when betterAddr prefers it or the current best is no longer trusted.
 * A ping over DERP is answered over DERP with "source" 127.3.3.40:<region> (Tailscale's DERP magic address).
 *
 * Not thread-safe: one thread drives it.
 */
#ifndef TS_MAGICSOCK_H
#define TS_MAGICSOCK_H

#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TS_MS_KEY_LEN 32
#define TS_MS_NS_PER_SEC 1000000000ULL
#define TS_MS_NS_PER_MS 1000000ULL

/* Timers (docs/protocol/magicsock.md §3; Tailscale's wgengine/magicsock). */
#define TS_MS_HEARTBEAT_INTERVAL (3 * TS_MS_NS_PER_SEC)
#define TS_MS_TRUST_UDP_ADDR_DURATION (6500 * TS_MS_NS_PER_MS)
#define TS_MS_SESSION_ACTIVE_TIMEOUT (45 * TS_MS_NS_PER_SEC)
#define TS_MS_UPGRADE_INTERVAL (60 * TS_MS_NS_PER_SEC)
#define TS_MS_GOOD_ENOUGH_LATENCY (5 * TS_MS_NS_PER_MS)
#define TS_MS_DISCO_PING_INTERVAL (5 * TS_MS_NS_PER_SEC)
#define TS_MS_PING_TIMEOUT (5 * TS_MS_NS_PER_SEC)
#define TS_MS_PING_CANDIDATE_TTL (45 * TS_MS_NS_PER_SEC) /* ping-learned candidates */

#define TS_MS_MAX_CANDIDATES 32 /* per peer; further addresses are ignored (counted) */
#define TS_MS_MAX_ENDPOINTS 32  /* our own endpoints sent in CallMeMaybe */

typedef enum ts_ms_path_kind {
  TS_MS_PATH_NONE = 0,
  TS_MS_PATH_UDP = 1,  /* .addr */
  TS_MS_PATH_DERP = 2, /* .region (and, for sending, the destination node key given alongside) */
  TS_MS_PATH_RELAY = 3 /* a peer relay: .addr is the relay server's address, .vni its endpoint; packets to it
                          start with a Geneve header (docs/protocol/peer-relay.md §4). route() only */
} ts_ms_path_kind;

typedef struct ts_ms_path {
  uint8_t kind;
  uint32_t region;
  ts_addr addr;
  uint32_t vni; /* TS_MS_PATH_RELAY */
} ts_ms_path;

typedef struct ts_ms ts_ms;
typedef struct ts_ms_peer ts_ms_peer;

/* Sends a disco packet (already sealed) on path. For DERP paths, node_key is the destination peer's node
 * key. Must not call back into the ts_ms. */
typedef void (*ts_ms_send_fn)(void *ctx, const ts_ms_path *path, const uint8_t node_key[TS_MS_KEY_LEN],
                              const uint8_t *pkt, size_t len);
/* Optional: a peer's chosen path changed (direct address proven, lost, or a different one chosen). Called
 * from inside ts_ms calls (route, disco_input, timers, peer_set) at the moment the change is seen, at the
 * latest when trust runs out (a deadline of its own); it may read the peer (ts_ms_peer_info_get) but must
 * not change the ts_ms. Not called for a peer being removed. */
typedef void (*ts_ms_path_fn)(void *ctx, ts_ms_peer *peer);

typedef struct ts_ms_config {
  uint8_t disco_private[TS_MS_KEY_LEN]; /* copied, wiped on free */
  uint8_t node_public[TS_MS_KEY_LEN];   /* ours; sent in pings */
  ts_ms_send_fn send;
  ts_ms_path_fn on_path;                /* may be NULL */
  /* May be NULL: a pong to one of ts_ms_ping_peer's pings (from: the path it came on; tag: the caller's).
   * Same rules as on_path. */
  void (*on_ping_pong)(void *ctx, ts_ms_peer *peer, const ts_ms_path *from, uint64_t latency_ns, uint32_t tag);
  void *ctx;
  void (*rng)(void *ctx, void *buf, size_t len); /* NULL: ts_random */
  void *rng_ctx;
} ts_ms_config;

/* A disco ping on demand (Tailscale's `ping` of type disco): pings each candidate address of p and, through its
 * relay region, p itself; pongs are reported to on_ping_pong with `tag` (nonzero). Returns the pings sent. */
int ts_ms_ping_peer(ts_ms *ms, ts_ms_peer *p, uint64_t now, uint32_t tag);

/* NULL on bad config (low-order disco key) or out of memory. ts_crypto_init must have been called. */
ts_ms *ts_ms_new(const ts_ms_config *cfg);
/* Wipes keys (ours and every peer's shared key) and frees everything. NULL is fine. */
void ts_ms_free(ts_ms *ms);
void ts_ms_disco_public(const ts_ms *ms, uint8_t out[TS_MS_KEY_LEN]);

/* Our current endpoints (local and STUN-mapped), sent in CallMeMaybe. Replaces the previous list; at most
 * TS_MS_MAX_ENDPOINTS are kept. */
void ts_ms_set_endpoints(ts_ms *ms, const ts_addr *eps, size_t n);
/* Our home DERP region (0: none). Used for nothing but information today; peers reach us through it. */
void ts_ms_set_home_region(ts_ms *ms, uint32_t region);
/* Our node public key changed (a key renewal): pings carry the new one from now on. */
void ts_ms_set_node_public(ts_ms *ms, const uint8_t node_public[TS_MS_KEY_LEN]);

/* ---- peers ---- */
/* Adds or updates a peer from the netmap. disco_key NULL (or all zero): the peer speaks no disco; it is then
 * reached at its first endpoint, else over DERP. A changed disco key resets the peer's path state (the peer
 * restarted); a low-order disco key (no shared secret) counts as none. Netmap endpoints replace the
 * previous netmap endpoints (other candidates stay; a dropped best address takes the direct path with it).
 * Returns the peer, or NULL (out of memory, an all-zero node key or our own). */
ts_ms_peer *ts_ms_peer_set(ts_ms *ms, const uint8_t node_key[TS_MS_KEY_LEN], const uint8_t *disco_key,
                           uint32_t home_region, const ts_addr *endpoints, size_t n, uint64_t now);
void ts_ms_peer_remove(ts_ms *ms, ts_ms_peer *p);
ts_ms_peer *ts_ms_peer_by_node(const ts_ms *ms, const uint8_t node_key[TS_MS_KEY_LEN]);
/* The peer a UDP source belongs to: an address that answered a ping, sent us a ping, or carried WireGuard
 * that authenticated as the peer (ts_ms_note_wg_rx). NULL if unknown. A hash table (expected O(1)); at
 * most 16 sources per peer are remembered, the least recently seen making room, and a source seen from
 * another peer moves to it. */
ts_ms_peer *ts_ms_peer_by_addr(const ts_ms *ms, const ts_addr *a);
const uint8_t *ts_ms_peer_node_key(const ts_ms_peer *p);
void ts_ms_peer_set_user(ts_ms_peer *p, void *user);
void *ts_ms_peer_user(const ts_ms_peer *p);

/* ---- peer relays (docs/protocol/peer-relay.md; ms_relay.c) ----
 * servers: node keys of the peers that may relay for us (relay candidates, §1); targets: node keys of the
 * peers we may reach through one (Tailscale: peers claiming capability version 121 or more). Both replace the
 * previous lists (at most TS_MS_MAX_RELAY_SERVERS servers are kept). A target without a trusted direct path
 * gets a relay path: an allocation request to the first usable server over DERP, the bind handshake from our
 * UDP socket, CallMeMaybeVia to the target over DERP, then disco pings through the relay; a pong makes the
 * relay path trusted for TS_MS_TRUST_UDP_ADDR_DURATION, like a direct address. A CallMeMaybeVia from a target
 * binds us to the endpoint it names. Direct beats peer relay beats DERP. */
#define TS_MS_MAX_RELAY_SERVERS 16
#define TS_MS_RELAY_ALLOC_TIMEOUT (5 * TS_MS_NS_PER_SEC)  /* no AllocateUDPRelayEndpointResponse: give up */
#define TS_MS_RELAY_RESEND (1 * TS_MS_NS_PER_SEC)         /* Bind resent, relay pinged, until it answers */
#define TS_MS_RELAY_SETUP_TIMEOUT (10 * TS_MS_NS_PER_SEC) /* bind + first pong; also an untrusted bound path */
#define TS_MS_RELAY_RETRY (10 * TS_MS_NS_PER_SEC)         /* after a failure, before the next allocation */
void ts_ms_set_relay(ts_ms *ms, const uint8_t (*servers)[TS_MS_KEY_LEN], size_t n_servers,
                     const uint8_t (*targets)[TS_MS_KEY_LEN], size_t n_targets);
/* A UDP datagram that ts_udp_classify called Geneve disco (header included). TS_MS_RX_OK when it was a
 * relay server's Challenge for one of our handshakes or a ping/pong from a peer through its relay endpoint;
 * else a ts_ms_rx error (counted as disco input is). */
int ts_ms_relay_input(ts_ms *ms, uint64_t now, const uint8_t *pkt, size_t len, const ts_addr *from);

/* ---- data path ---- */
/* Where a WireGuard packet for p goes now: fills out[0..k) and returns k (0, 1 or 2: the untrusted best UDP
 * address and DERP; a trusted relay path alone). 0: no path at all (no endpoint, no DERP region): drop. Marks the session active and may
 * start discovery (pings and CallMeMaybe through cfg.send). For DERP paths the destination is
 * ts_ms_peer_node_key(p). */
int ts_ms_route(ts_ms *ms, ts_ms_peer *p, uint64_t now, ts_ms_path out[2]);

typedef enum ts_ms_rx {
  TS_MS_RX_OK = 0,           /* handled */
  TS_MS_RX_NOT_DISCO = -1,   /* not a disco packet */
  TS_MS_RX_UNKNOWN_PEER = -2,/* sender's disco key is no peer's (dropped, as Tailscale does) */
  TS_MS_RX_DECRYPT = -3,     /* box did not open */
  TS_MS_RX_BAD = -4,         /* unknown type, too short, or not allowed on this path (CallMeMaybe over UDP,
                                DERP source node key that does not match the disco key's peer) */
  TS_MS_RX_STALE = -5        /* a pong for no outstanding ping */
} ts_ms_rx;
/* A received disco packet. from: UDP (source address) or DERP (region); derp_src: the DERP source node key
 * (DERP only, else NULL). Returns a ts_ms_rx (also counted, see ts_ms_counters). */
int ts_ms_disco_input(ts_ms *ms, uint64_t now, const uint8_t *pkt, size_t len, const ts_ms_path *from,
                      const uint8_t *derp_src);
/* A WireGuard message from `from` authenticated as p. UDP: the address now maps to p (crypto routing, for
 * ts_ms_peer_by_addr); it does not become the send path without a pong. DERP: the region is remembered as
 * the fallback route to p when p has no home region. */
void ts_ms_note_wg_rx(ts_ms *ms, ts_ms_peer *p, const ts_ms_path *from, uint64_t now);

typedef enum ts_ms_tsmp {
  TS_MS_TSMP_APPLIED = 0,   /* a disco key advertisement changed p's disco key */
  TS_MS_TSMP_UNCHANGED = 1, /* it named the key p already has */
  TS_MS_TSMP_OTHER = 2,     /* another TSMP type: not handled, dropped */
  TS_MS_TSMP_PING = 3,      /* a ping: the caller answers it (ts_tsmp_pong_encode) */
  TS_MS_TSMP_PONG = 4,      /* a pong to one of our pings: the caller reports it (ts_tsmp_parse for its data) */
  TS_MS_TSMP_BAD = -1       /* malformed, an all-zero or low-order key, or no peer: dropped */
} ts_ms_tsmp;
/* A decrypted in-tunnel packet of IP protocol 99 (disco/tsmp.h) that WireGuard authenticated as coming from
 * p (docs/protocol/magicsock.md §5). A disco key advertisement ('a') with a new, usable key replaces p's disco
 * key as a netmap change would (the peer restarted; its path state starts over), and the key stays while
 * later netmaps keep naming the key control had before: control has not heard of the new key yet. A netmap
 * naming any other key wins. Returns a ts_ms_tsmp (also counted). */
int ts_ms_tsmp_input(ts_ms *ms, ts_ms_peer *p, const uint8_t *pkt, size_t len, uint64_t now);

/* ---- time ---- */
/* Runs due work (heartbeats, re-pings, ping timeouts, expiring candidates) and returns the next deadline
 * (UINT64_MAX: none). Other calls may make the deadline earlier: re-ask ts_ms_next_deadline after each. */
uint64_t ts_ms_timers(ts_ms *ms, uint64_t now);
uint64_t ts_ms_next_deadline(const ts_ms *ms);

/* ---- introspection ---- */
typedef struct ts_ms_peer_info {
  ts_ms_path best;          /* best UDP address (kind NONE: none) */
  uint64_t latency_ns;      /* of the best address's last pong */
  int trusted;              /* route() uses best only (a pong within TS_MS_TRUST_UDP_ADDR_DURATION) */
  uint32_t home_region;     /* from the netmap */
  uint32_t derp_region;     /* region route() uses for DERP (home, else last heard), 0: none */
  size_t n_candidates;
  uint64_t pings_sent, pongs_received, pings_received, cmm_sent, cmm_received;
  uint64_t tx_udp, tx_derp; /* route() results (packets) */
  /* peer relay: state 0 none, 1 allocating, 2 binding, 3 bound (pinging); relay.kind RELAY when trusted */
  int relay_state;
  ts_ms_path relay;
  uint64_t relay_latency_ns, tx_relay, relay_allocs, relay_cmm_via_sent, relay_cmm_via_received;
} ts_ms_peer_info;
void ts_ms_peer_info_get(const ts_ms_peer *p, uint64_t now, ts_ms_peer_info *out);

typedef struct ts_ms_counters {
  uint64_t rx_ok, rx_not_disco, rx_unknown_peer, rx_decrypt, rx_bad, rx_stale;
  uint64_t candidates_dropped; /* over TS_MS_MAX_CANDIDATES */
  /* in-tunnel TSMP (ts_ms_tsmp_input): disco key advertisements applied or carrying the key we had, pings
   * (the caller answers them), other TSMP types (dropped), and malformed ones or unusable keys (dropped) */
  uint64_t tsmp_disco_applied, tsmp_disco_unchanged, tsmp_ping, tsmp_pong, tsmp_other, tsmp_bad;
} ts_ms_counters;
void ts_ms_counters_get(const ts_ms *ms, ts_ms_counters *out);

#ifdef __cplusplus
}
#endif
#endif
