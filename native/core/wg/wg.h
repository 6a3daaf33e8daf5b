/* WireGuard protocol core: a sans-I/O state machine (no sockets, threads, clocks or globals).
 *
 * A device is one WireGuard interface: our static key, its peers (keyed by static public key), their
 * AllowedIPs and sessions. The caller feeds it received datagrams (ts_wg_receive), outbound IP packets
 * (ts_wg_send) and the passage of time (ts_wg_timers), always passing the time in: `now` is a monotonic
 * clock in ns (any origin, never decreasing), `wall` the Unix time in ns (for TAI64N only).
 * Messages the device originates itself (handshakes, cookie replies, keepalives, packets that waited for a
 * session) go out synchronously through the sink given at creation. The sink must not call back into
 * the device. Data packets are encrypted and decrypted in caller buffers without allocation.
 *
 * A device is not thread-safe: one thread (the engine's) drives it. Many devices may coexist.
 */
#ifndef TS_WG_H
#define TS_WG_H

#include <stddef.h>
#include <stdint.h>

#define TS_WG_KEY_LEN 32
#define TS_WG_ENDPOINT_MAX 40
#define TS_WG_MAX_PACKET 65535 /* largest IP packet accepted for sending */
#define TS_WG_AEAD_TAG 16
#define TS_WG_DATA_OVERHEAD 32 /* 16-byte header + 16-byte tag; padding comes on top */
#define TS_WG_NS_PER_SEC 1000000000ULL

/* Protocol constants (whitepaper section 6.1; the same values as wireguard-go). */
#define TS_WG_REKEY_AFTER_MESSAGES (1ULL << 60)
#define TS_WG_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13)) /* 2^64 - 2^13 - 1 */
#define TS_WG_REKEY_AFTER_TIME (120 * TS_WG_NS_PER_SEC)
#define TS_WG_REJECT_AFTER_TIME (180 * TS_WG_NS_PER_SEC)
#define TS_WG_REKEY_ATTEMPT_TIME (90 * TS_WG_NS_PER_SEC)
#define TS_WG_REKEY_TIMEOUT (5 * TS_WG_NS_PER_SEC)
#define TS_WG_REKEY_TIMEOUT_JITTER (334 * 1000000ULL) /* jitter is uniform in [0, this) */
#define TS_WG_KEEPALIVE_TIMEOUT (10 * TS_WG_NS_PER_SEC)
#define TS_WG_MAX_TIMER_HANDSHAKES (TS_WG_REKEY_ATTEMPT_TIME / TS_WG_REKEY_TIMEOUT) /* 18 */
#define TS_WG_HANDSHAKE_INITIATION_RATE (TS_WG_NS_PER_SEC / 50) /* per peer, responder side */
#define TS_WG_LOST_RETRY_FIRST (TS_WG_NS_PER_SEC / 4) /* ts_wg_peer_unreachable: first early retry */
#define TS_WG_CROSSING_RETRY (1 * TS_WG_NS_PER_SEC)   /* crossing initiations: ours again if unanswered */
#define TS_WG_UNDER_LOAD_AFTER (1 * TS_WG_NS_PER_SEC) /* stay "under load" this long after it ends */

/* Opaque outer address of a datagram (a sockaddr, a DERP node key...): compared bytewise. The first
 * host_len bytes (host_len 0: all of them) identify the sending host for the handshake rate limit, so a
 * caller that puts the IP before the port can limit per IP. len 0 means "unknown" (sink routes by peer).
 * Roaming: a peer's endpoint becomes the source of its last authenticated datagram. A caller that chooses
 * paths itself (magicsock) can make that a no-op by passing an endpoint that names the path it wants. */
typedef struct ts_wg_endpoint {
  uint8_t len, host_len;
  uint8_t data[TS_WG_ENDPOINT_MAX];
} ts_wg_endpoint;

typedef struct ts_wg_device ts_wg_device;
typedef struct ts_wg_peer ts_wg_peer;

/* Why a packet was dropped; one counter per reason and device (ts_wg_drops). */
typedef enum ts_wg_drop {
  TS_WG_DROP_NONE = 0,
  TS_WG_DROP_BAD_TYPE,          /* unknown type byte or nonzero reserved bytes */
  TS_WG_DROP_BAD_LENGTH,        /* length does not fit the message type */
  TS_WG_DROP_MAC1,              /* handshake message with a wrong mac1 */
  TS_WG_DROP_COOKIE_SENT,       /* under load and no valid mac2: answered with a cookie reply */
  TS_WG_DROP_RATE_LIMITED,      /* under load and the source exceeded its handshake rate */
  TS_WG_DROP_HANDSHAKE_DECRYPT, /* handshake failed to authenticate (or a low-order key) */
  TS_WG_DROP_UNKNOWN_PEER,      /* initiation from a static key we have no peer for */
  TS_WG_DROP_TIMESTAMP_REPLAY,  /* initiation timestamp not newer than the last accepted one */
  TS_WG_DROP_INITIATION_FLOOD,  /* initiations from one peer faster than 50/s */
  TS_WG_DROP_UNKNOWN_INDEX,     /* receiver index matches no session or pending handshake */
  TS_WG_DROP_HANDSHAKE_STATE,   /* response not expected in the current handshake state */
  TS_WG_DROP_COOKIE_INVALID,    /* cookie reply that does not authenticate or was not expected */
  TS_WG_DROP_KEYPAIR_EXPIRED,   /* data on a session older than REJECT_AFTER_TIME */
  TS_WG_DROP_DECRYPT,           /* data failed to authenticate */
  TS_WG_DROP_REPLAY,            /* counter seen before, too old, or over the limit */
  TS_WG_DROP_BAD_INNER,         /* decrypted payload is not a well-formed IP packet */
  TS_WG_DROP_SOURCE_NOT_ALLOWED,/* inner source address not in the peer's AllowedIPs */
  TS_WG_DROP_NO_ROUTE,          /* outbound: no peer's AllowedIPs contain the destination */
  TS_WG_DROP_TOO_BIG,           /* outbound: packet over TS_WG_MAX_PACKET or output buffer too small */
  TS_WG_DROP_QUEUE_FULL,        /* pre-session queue full: its oldest packet was dropped */
  TS_WG_DROP_QUEUE_FLUSHED,     /* queued packet discarded (handshake gave up, keys zeroed, peer removed) */
  TS_WG_DROP_NO_MEMORY,
  TS_WG_DROP_PEER_KEY,          /* the peer's public key is a low-order point: no handshake possible */
  TS_WG_DROP_COOKIE_LIMITED,    /* under load, no valid mac2, and this source endpoint had its cookie replies */
  TS_WG_DROP_COUNT
} ts_wg_drop;
const char *ts_wg_drop_name(ts_wg_drop d);

typedef struct ts_wg_sink {
  void *ctx;
  /* peer is NULL for cookie replies (sent to an unauthenticated source). */
  void (*send)(void *ctx, ts_wg_peer *peer, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len);
} ts_wg_sink;

typedef struct ts_wg_config {
  uint32_t under_load_threshold; /* handshake messages per second that put the device under load; 0: 128 */
  uint32_t queue_max;            /* per-peer pre-session queue length; 0: 128 */
  uint32_t mtu;                  /* pad plaintext up to this at most (0: only to a multiple of 16) */
  /* Random bytes (indices, ephemeral keys, jitter, cookie secrets); NULL: ts_random. */
  void (*rng)(void *ctx, void *buf, size_t len);
  void *rng_ctx;
  ts_wg_sink sink;
  /* Optional, for peers configured on demand: called when an initiation with a valid mac1 decrypts to a
   * static key that is no peer. It may add that peer (ts_wg_peer_add and ts_wg_peer_allow are the only
   * device calls allowed from inside) and return it, or return NULL to drop the initiation. Anyone can
   * make up keys, so answer from a table, cheaply. */
  ts_wg_peer *(*peer_lookup)(void *ctx, ts_wg_device *dev, const uint8_t pub[TS_WG_KEY_LEN]);
  void *peer_lookup_ctx;
  /* Optional: a handshake with peer completed (either side initiated). Informational: it must not call back
   * into the device. */
  void (*on_handshake)(void *ctx, ts_wg_peer *peer);
  void *on_handshake_ctx;
} ts_wg_config;

/* priv: our static private key (clamped internally). NULL on bad arguments or out of memory.
 * ts_crypto_init must have been called. */
ts_wg_device *ts_wg_device_new(const uint8_t priv[TS_WG_KEY_LEN], const ts_wg_config *cfg);
/* Wipes every key and frees the device and all its peers. */
void ts_wg_device_free(ts_wg_device *dev);
void ts_wg_device_public_key(const ts_wg_device *dev, uint8_t pub[TS_WG_KEY_LEN]);
/* Replaces our static private key at run time (a node key renewal; wireguard-go's SetPrivateKey). Peers, their
 * AllowedIPs, endpoints, pre-session queues and keepalive settings stay. Everything made with the old key goes:
 * every peer's sessions and pending handshake are wiped (a message on them is then an unknown index), its
 * static-static DH is recomputed at its next handshake, and the cookie checker is rebuilt from the new public
 * key (a handshake addressed to the old one fails mac1). A peer with a session or packets waiting gets a
 * handshake with the new key at the next ts_wg_timers call (idle peers none). The old private key is wiped. 0 ok (also when the key is unchanged: nothing is
 * dropped then), -1 bad arguments, -2 the new public key is one of our peers' (remove that peer first). */
int ts_wg_device_set_private_key(ts_wg_device *dev, const uint8_t priv[TS_WG_KEY_LEN]);
/* 1: always under load (tests), 0: automatic (rate threshold). */
void ts_wg_device_force_under_load(ts_wg_device *dev, int on);
int ts_wg_device_under_load(const ts_wg_device *dev, uint64_t now);
uint64_t ts_wg_drops(const ts_wg_device *dev, ts_wg_drop reason);
size_t ts_wg_peer_count(const ts_wg_device *dev);

/* The handshake DoS defence at work (docs/architecture.md, "Handshake floods"). */
typedef struct ts_wg_load_stats {
  uint64_t handshakes_computed; /* initiations and responses that reached the Noise computation (DH) */
  uint64_t cookie_replies;      /* cookie replies sent (under load, no valid mac2) */
  uint64_t cookies_withheld;    /* no reply either: the source endpoint is over its cookie-reply rate */
  uint64_t rate_limited;        /* valid mac2 but over the per-source rate: dropped */
  int under_load;               /* at `now` */
} ts_wg_load_stats;
void ts_wg_device_load_stats(const ts_wg_device *dev, uint64_t now, ts_wg_load_stats *st);

/* ---- peers ---- */
typedef struct ts_wg_peer_config {
  const uint8_t *psk;                 /* 32 bytes, or NULL for none (all zero) */
  uint16_t persistent_keepalive_s;    /* 0: off */
  const ts_wg_endpoint *endpoint;     /* initial endpoint, or NULL */
} ts_wg_peer_config;

/* Adds a peer (cfg may be NULL). Returns the existing peer unchanged if pub is already a peer; NULL if pub
 * is our own key or out of memory. Peer pointers stay valid until ts_wg_peer_remove. */
ts_wg_peer *ts_wg_peer_add(ts_wg_device *dev, const uint8_t pub[TS_WG_KEY_LEN], const ts_wg_peer_config *cfg);
ts_wg_peer *ts_wg_peer_find(const ts_wg_device *dev, const uint8_t pub[TS_WG_KEY_LEN]);
/* Wipes the peer's keys, drops its queue and AllowedIPs, frees it. */
void ts_wg_peer_remove(ts_wg_device *dev, ts_wg_peer *peer);
const uint8_t *ts_wg_peer_public_key(const ts_wg_peer *peer);
/* A changed preshared key takes effect at the next handshake. */
void ts_wg_peer_set_psk(ts_wg_peer *peer, const uint8_t *psk);
/* Turning it on sends a keepalive at the next ts_wg_timers call, as wg(8) does. */
void ts_wg_peer_set_persistent_keepalive(ts_wg_peer *peer, uint64_t now, uint16_t secs);
void ts_wg_peer_set_endpoint(ts_wg_peer *peer, const ts_wg_endpoint *ep);
/* What carried our messages reports that they could not reach the peer (a DERP relay's PeerGone "not here":
 * the peer had no connection to it). If a handshake initiation is waiting for its response, it was lost, so
 * the next one goes after TS_WG_LOST_RETRY_FIRST, doubling with each report until REKEY_TIMEOUT, instead of
 * one REKEY_TIMEOUT after the last: a peer that is just coming up is reached in a fraction of a second. */
void ts_wg_peer_unreachable(ts_wg_peer *peer, uint64_t now);
void ts_wg_peer_set_user(ts_wg_peer *peer, void *user);
void *ts_wg_peer_user(const ts_wg_peer *peer);

/* AllowedIPs: family 4 (addr 4 bytes) or 6 (16 bytes), network order. A prefix belongs to one peer:
 * adding it to another moves it. 0 ok, -1 bad arguments or out of memory. */
int ts_wg_peer_allow(ts_wg_device *dev, ts_wg_peer *peer, int family, const uint8_t *addr, unsigned cidr);
/* 1 removed, 0 the peer did not hold that prefix. */
int ts_wg_peer_disallow(ts_wg_device *dev, ts_wg_peer *peer, int family, const uint8_t *addr, unsigned cidr);
void ts_wg_peer_clear_allowed(ts_wg_device *dev, ts_wg_peer *peer);
/* The peer whose AllowedIPs hold the longest prefix containing addr, or NULL. */
ts_wg_peer *ts_wg_route(const ts_wg_device *dev, int family, const uint8_t *addr);

typedef struct ts_wg_peer_stats {
  uint64_t last_handshake_wall; /* Unix ns of the last completed handshake, 0 if none */
  uint64_t rx_bytes, tx_bytes;  /* outer (UDP payload) bytes of authenticated/sent messages */
  ts_wg_endpoint endpoint;
  uint32_t queued;              /* packets waiting for a session */
  int has_session;              /* a current session usable for sending */
} ts_wg_peer_stats;
void ts_wg_peer_stats_get(const ts_wg_peer *peer, uint64_t now, ts_wg_peer_stats *st);

/* ---- receive ---- */
typedef enum ts_wg_rx_kind {
  TS_WG_RX_DROP = 0,   /* see .drop (already counted) */
  TS_WG_RX_DATA,       /* .data/.len: the inner IP packet (inside the caller's buffer), .peer its sender */
  TS_WG_RX_KEEPALIVE,
  TS_WG_RX_HANDSHAKE,  /* an initiation or response was processed (any reply went to the sink) */
  TS_WG_RX_COOKIE,     /* a cookie reply was accepted */
} ts_wg_rx_kind;

typedef struct ts_wg_rx {
  ts_wg_rx_kind kind;
  ts_wg_drop drop;
  ts_wg_peer *peer;
  uint8_t *data;
  size_t len;
} ts_wg_rx;

/* Processes one received datagram from src. Decrypts data messages in place (buf is modified). */
ts_wg_rx_kind ts_wg_receive(ts_wg_device *dev, uint64_t now, uint64_t wall, uint8_t *buf, size_t len,
                            const ts_wg_endpoint *src, ts_wg_rx *out);

/* ---- send ---- */
typedef enum ts_wg_tx_kind {
  TS_WG_TX_DROP = 0,  /* see .drop (already counted) */
  TS_WG_TX_READY,     /* out[0 .. .len) is a data message for .peer to send to .endpoint */
  TS_WG_TX_QUEUED,    /* no session yet: the packet was copied to the peer's queue, a handshake started */
} ts_wg_tx_kind;

typedef struct ts_wg_tx {
  ts_wg_tx_kind kind;
  ts_wg_drop drop;
  ts_wg_peer *peer;
  const ts_wg_endpoint *endpoint; /* the peer's current endpoint (valid until the next device call) */
  size_t len;
} ts_wg_tx;

/* Size a data message for a plaintext of len bytes needs (header, padding, tag) under this device's MTU. */
size_t ts_wg_data_len(const ts_wg_device *dev, size_t len);
/* Routes an IP packet by destination over AllowedIPs and encrypts it into out (cap bytes, at least
 * ts_wg_data_len(len)). pkt may be out + 16 (encryption in place); otherwise it must not overlap out.
 * Packets that waited for a session go out through the sink first, so order is kept. */
ts_wg_tx_kind ts_wg_send(ts_wg_device *dev, uint64_t now, uint64_t wall, const uint8_t *pkt, size_t len,
                         uint8_t *out, size_t cap, ts_wg_tx *res);
/* The same to a given peer without routing (len 0 sends a keepalive). Calling it repeatedly for one peer
 * with consecutive slices of one buffer builds a batch (for example a UDP GSO buffer). */
ts_wg_tx_kind ts_wg_peer_send(ts_wg_device *dev, ts_wg_peer *peer, uint64_t now, uint64_t wall,
                              const uint8_t *pkt, size_t len, uint8_t *out, size_t cap, ts_wg_tx *res);

/* ---- time ---- */
/* Runs every timer due at now and returns the next deadline (monotonic ns; UINT64_MAX: none). Any device
 * call may make a deadline earlier, so re-ask after each. The value is never late but may be early (a
 * cancelled timer is forgotten lazily, to keep the packet path free of heap updates): calling
 * ts_wg_timers then fires nothing and returns the true next deadline. */
uint64_t ts_wg_timers(ts_wg_device *dev, uint64_t now, uint64_t wall);
uint64_t ts_wg_next_deadline(const ts_wg_device *dev);

/* ---- test hooks ---- */
/* Sets the send counter of the peer's current session (to test message-count limits). 0 ok, -1 none. */
int ts_wg_test_set_send_counter(ts_wg_peer *peer, uint64_t counter);
/* 1 when the peer holds no key material (sessions and handshake secrets all zero). */
int ts_wg_test_keys_zeroed(const ts_wg_peer *peer);
/* Which session slots hold a keypair: bit 0 previous, bit 1 current, bit 2 next. */
int ts_wg_test_sessions(const ts_wg_peer *peer);
/* 1 once the peer's session slots are allocated (with its first session). */
int ts_wg_test_has_keypair_slots(const ts_wg_peer *peer);
/* Retransmissions counted against REKEY_ATTEMPT_TIME since the handshake began. */
uint32_t ts_wg_test_handshake_attempts(const ts_wg_peer *peer);

#endif
