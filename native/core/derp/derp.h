/* DERP relay protocol, client side (docs/protocol/derp.md): a frame codec and a sans-I/O client state machine.
 *
 * No sockets, threads, clocks or global state. The caller owns the transport (a TLS stream from Node, for
 * example) and passes in:
 *   - received bytes, in chunks of any size (partial frames, many frames per chunk): ts_derp_client_input;
 *   - the time, a monotonic clock in ns (any origin, never decreasing), to every call that takes `now`;
 * and takes out:
 *   - bytes to write to the transport: ts_derp_client_output / ts_derp_client_output_consumed;
 *   - events (connected, packet received, peer gone, health, restarting...) through the callback given at
 *     creation, synchronously from ts_derp_client_input / ts_derp_client_tick.
 *
 * Typical use by the engine:
 *
 *     ts_derp_client_config cfg = {0};
 *     memcpy(cfg.node_private, our_node_priv, 32);
 *     cfg.expect_http = 1;                       // the stream starts with the server's HTTP response
 *     cfg.on_event = handler; cfg.ctx = me;
 *     ts_derp_client *c = ts_derp_client_new(&cfg, now);
 *     n = ts_derp_http_request(req, sizeof req, "derp1.example", NULL);   // write req to the TLS stream
 *     ...on bytes:  if (ts_derp_client_input(c, buf, len, now) < 0) reconnect(ts_derp_client_error(c));
 *     ...then/when writable: p = ts_derp_client_output(c, &n); k = write(p, n); ts_derp_client_output_consumed(c, k);
 *     ...on timer (at ts_derp_client_next_deadline): ts_derp_client_tick(c, now);
 *     ...to relay: ts_derp_client_send_packet(c, dst_node_key, wg_or_disco_bytes, len);
 *     ts_derp_client_free(c);                    // wipes keys
 *
 * The handshake: server sends ServerKey (magic + key); we queue ClientInfo (our node public key, then a
 * NaCl box of {"version":2,"CanAckPings":true} to the server key); the server answers ServerInfo (a box to
 * us with its token-bucket limits): then the client is CONNECTED (event TS_DERP_EV_CONNECTED). With
 * Frames that arrive after ClientInfo but before ServerInfo are handled as when connected (Tailscale's client
 * does not wait for ServerInfo either); sending packets waits for CONNECTED. With
 * `fast_start` and a server key known in advance (from the TLS certificate, docs/protocol/derp.md §1) ClientInfo is queued at
 * creation and the ServerKey frame, when it comes, must carry the same key.
 *
 * Errors are final: after a negative return the client is in TS_DERP_ST_ERROR, ignores input, refuses sends,
 * and ts_derp_client_error() tells why. The caller drops the connection and makes a new client.
 *
 * Bounds: frames over TS_DERP_MAX_FRAME (1 MiB) are an error; packets over TS_DERP_MAX_PACKET (64 KiB) are
 * refused for sending and an error when received; frames of unknown type are skipped without buffering
 * them; Health text beyond TS_DERP_MAX_HEALTH is truncated. Memory per client: one receive buffer of
 * TS_DERP_RX_CAP bytes and an output queue of cfg.out_cap bytes, both allocated at creation.
 *
 * Not thread-safe: one thread drives a client. Callbacks may call ts_derp_client_send_* and
 * ts_derp_client_output*, but never ts_derp_client_input/tick/free on the same client.
 */
#ifndef TS_DERP_H
#define TS_DERP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TS_DERP_KEY_LEN 32
#define TS_DERP_NONCE_LEN 24
#define TS_DERP_BOX_OVERHEAD 16                 /* Poly1305 tag */
#define TS_DERP_MAGIC_LEN 8                     /* "DERP🔑" */
#define TS_DERP_HDR_LEN 5                       /* type u8 + payload length u32 BE */
#define TS_DERP_PROTOCOL_VERSION 2
#define TS_DERP_MAX_PACKET 65536                /* SendPacket/RecvPacket payload (after the key) */
#define TS_DERP_MAX_FRAME (1u << 20)            /* largest frame payload accepted */
#define TS_DERP_MAX_HEALTH 4096                 /* Health text delivered (longer text is truncated) */
#define TS_DERP_MAX_INFO 4096                   /* largest ServerInfo/ClientInfo box accepted by the client */
#define TS_DERP_RX_CAP (TS_DERP_KEY_LEN + TS_DERP_MAX_PACKET) /* largest payload the client buffers */
#define TS_DERP_NS_PER_SEC 1000000000ULL

/* Timing (docs/protocol/derp.md §4): the server sends KeepAlive every 60 s (+ jitter); the client gives up after 120 s without
 * any byte, and after 10 s when the handshake has not completed. */
#define TS_DERP_READ_TIMEOUT (120 * TS_DERP_NS_PER_SEC)
#define TS_DERP_HANDSHAKE_TIMEOUT (10 * TS_DERP_NS_PER_SEC)

extern const uint8_t ts_derp_magic[TS_DERP_MAGIC_LEN];

/* ---------------------------------------------------------------- frame codec */

typedef enum ts_derp_frame_type {
  TS_DERP_FRAME_SERVER_KEY = 0x01,     /* S→C magic[8] key[32] (+ ignored bytes) */
  TS_DERP_FRAME_CLIENT_INFO = 0x02,    /* C→S key[32] nonce[24] box(JSON) */
  TS_DERP_FRAME_SERVER_INFO = 0x03,    /* S→C nonce[24] box(JSON) */
  TS_DERP_FRAME_SEND_PACKET = 0x04,    /* C→S dst key[32] packet */
  TS_DERP_FRAME_RECV_PACKET = 0x05,    /* S→C src key[32] packet */
  TS_DERP_FRAME_KEEP_ALIVE = 0x06,     /* S→C empty */
  TS_DERP_FRAME_NOTE_PREFERRED = 0x07, /* C→S 1 byte: 1 home region, 0 not */
  TS_DERP_FRAME_PEER_GONE = 0x08,      /* S→C key[32] [reason u8] */
  TS_DERP_FRAME_PEER_PRESENT = 0x09,   /* S→C key[32] [ip[16] port u16] [flags u8] */
  TS_DERP_FRAME_FORWARD_PACKET = 0x0a, /* S→S src key[32] dst key[32] packet */
  TS_DERP_FRAME_WATCH_CONNS = 0x10,    /* C→S empty (mesh key required) */
  TS_DERP_FRAME_CLOSE_PEER = 0x11,     /* C→S key[32] (mesh key required) */
  TS_DERP_FRAME_PING = 0x12,           /* both: 8 bytes */
  TS_DERP_FRAME_PONG = 0x13,           /* both: the ping's 8 bytes */
  TS_DERP_FRAME_HEALTH = 0x14,         /* S→C UTF-8 text; empty = healthy again */
  TS_DERP_FRAME_RESTARTING = 0x15      /* S→C reconnect-in ms u32, try-for ms u32 */
} ts_derp_frame_type;

/* PeerGone reasons and PeerPresent flags. */
#define TS_DERP_PEER_GONE_DISCONNECTED 0x00
#define TS_DERP_PEER_GONE_NOT_HERE 0x01
#define TS_DERP_PEER_PRESENT_REGULAR 0x01
#define TS_DERP_PEER_PRESENT_MESH 0x02
#define TS_DERP_PEER_PRESENT_PROBER 0x04
#define TS_DERP_PEER_PRESENT_NOT_IDEAL 0x08

/* Error codes (negative returns). */
typedef enum ts_derp_err {
  TS_DERP_OK = 0,
  TS_DERP_E_FRAME_TOO_BIG = -1,  /* frame length over TS_DERP_MAX_FRAME */
  TS_DERP_E_MALFORMED = -2,      /* a known frame with a payload that does not fit its type */
  TS_DERP_E_PACKET_TOO_BIG = -3, /* packet over TS_DERP_MAX_PACKET (send, or received) */
  TS_DERP_E_BAD_MAGIC = -4,      /* ServerKey without the DERP magic */
  TS_DERP_E_BAD_KEY = -5,        /* server key differs from the one expected, or a low-order key */
  TS_DERP_E_DECRYPT = -6,        /* ServerInfo box did not open */
  TS_DERP_E_BAD_INFO = -7,       /* ServerInfo JSON unusable, or too long */
  TS_DERP_E_UNEXPECTED = -8,     /* frame not allowed in the current state (e.g. data before ServerKey) */
  TS_DERP_E_TIMEOUT = -9,        /* nothing received for TS_DERP_READ_TIMEOUT, or handshake too slow */
  TS_DERP_E_HTTP = -10,          /* HTTP upgrade response not 101 / not DERP / unparseable */
  TS_DERP_E_STATE = -11,         /* call not valid in this state (send before CONNECTED, after an error) */
  TS_DERP_E_AGAIN = -12,         /* output queue full: drain ts_derp_client_output first (packet not queued) */
  TS_DERP_E_BUFFER = -13,        /* codec: output buffer too small */
  TS_DERP_E_ARG = -14,           /* bad argument */
  TS_DERP_E_NOMEM = -15
} ts_derp_err;
const char *ts_derp_err_name(int err);

/* A decoded frame. Which fields are set depends on type (see the enum); pointers point into the payload
 * given to ts_derp_frame_decode. Encoding reads the same fields. */
typedef struct ts_derp_frame {
  uint8_t type;
  uint8_t key[TS_DERP_KEY_LEN];  /* ServerKey: server key; ClientInfo: client key; SendPacket: dst;
                                    RecvPacket/ForwardPacket: src; PeerGone/PeerPresent/ClosePeer: peer */
  uint8_t key2[TS_DERP_KEY_LEN]; /* ForwardPacket: dst */
  const uint8_t *data;           /* packet (Send/Recv/Forward); nonce+box (ClientInfo/ServerInfo); Health text;
                                    ServerKey: bytes after the key; unknown types: the whole payload */
  size_t data_len;
  uint8_t ping[8];               /* Ping / Pong */
  uint8_t preferred;             /* NotePreferred */
  uint8_t has_reason;            /* PeerGone: reason byte present */
  uint8_t reason;                /* PeerGone */
  uint8_t has_addr, has_flags;   /* PeerPresent: optional parts present */
  uint8_t ip[16];                /* PeerPresent (IPv4 as v4-mapped) */
  uint16_t port;                 /* PeerPresent */
  uint8_t flags;                 /* PeerPresent */
  uint32_t reconnect_in_ms;      /* Restarting */
  uint32_t try_for_ms;           /* Restarting */
} ts_derp_frame;

/* Writes the 5-byte header. */
void ts_derp_put_header(uint8_t out[TS_DERP_HDR_LEN], uint8_t type, uint32_t len);
/* Parses a header: type and payload length. Returns TS_DERP_E_FRAME_TOO_BIG if len > TS_DERP_MAX_FRAME. */
int ts_derp_get_header(const uint8_t in[TS_DERP_HDR_LEN], uint8_t *type, uint32_t *len);
/* Decodes one frame's payload (without header). Unknown types decode to data = payload. Returns 0, or
 * TS_DERP_E_MALFORMED / TS_DERP_E_PACKET_TOO_BIG / TS_DERP_E_FRAME_TOO_BIG / TS_DERP_E_BAD_MAGIC. Trailing
 * bytes are allowed where the protocol allows them (ServerKey, PeerGone, PeerPresent, Ping, Pong,
 * Restarting), as the Go implementation does. */
int ts_derp_frame_decode(ts_derp_frame *f, uint8_t type, const uint8_t *payload, size_t len);
/* Encodes a whole frame (header included) into out. Returns its length, or TS_DERP_E_BUFFER (cap too small),
 * TS_DERP_E_PACKET_TOO_BIG, TS_DERP_E_FRAME_TOO_BIG. Optional parts (PeerGone reason, PeerPresent addr/flags)
 * follow has_*. For unknown types data is the payload. */
long ts_derp_frame_encode(uint8_t *out, size_t cap, const ts_derp_frame *f);
/* Encoded size of f (header included), or a negative error. */
long ts_derp_frame_size(const ts_derp_frame *f);

/* ---------------------------------------------------------------- ClientInfo / ServerInfo boxes */

/* The JSON our client sends (no mesh key, not a prober). */
#define TS_DERP_CLIENT_INFO_JSON "{\"version\":2,\"CanAckPings\":true}"

/* Seals json into out as nonce[24] || box (len json_len + 40). nonce NULL = random. Returns the length or a
 * negative error. Used for ClientInfo (our priv, server pub) and, by test servers, ServerInfo. */
long ts_derp_seal_info(uint8_t *out, size_t cap, const uint8_t *json, size_t json_len,
                       const uint8_t nonce[TS_DERP_NONCE_LEN], const uint8_t peer_pub[TS_DERP_KEY_LEN],
                       const uint8_t priv[TS_DERP_KEY_LEN]);
/* Opens nonce||box into out (cap >= sealed_len - 40). Returns the plaintext length or TS_DERP_E_DECRYPT. */
long ts_derp_open_info(uint8_t *out, size_t cap, const uint8_t *sealed, size_t sealed_len,
                       const uint8_t peer_pub[TS_DERP_KEY_LEN], const uint8_t priv[TS_DERP_KEY_LEN]);

/* What ServerInfo said. Missing fields are 0. */
typedef struct ts_derp_server_info {
  int64_t version;
  int64_t token_bucket_bytes_per_second; /* 0: no client-side rate limit */
  int64_t token_bucket_bytes_burst;
} ts_derp_server_info;
/* Parses ServerInfo JSON (a JSON object; unknown members skipped, member names matched case-insensitively as
 * Go does). 0, or TS_DERP_E_BAD_INFO. */
int ts_derp_parse_server_info(ts_derp_server_info *si, const uint8_t *json, size_t len);

/* ---------------------------------------------------------------- HTTP upgrade helper */

/* Writes "GET /derp HTTP/1.1" with Host, Connection: Upgrade, Upgrade: DERP and, when set, Ideal-Node and
 * Derp-Fast-Start: 1. path NULL = "/derp". Returns the length written (without a NUL; a NUL is added when it
 * fits), or TS_DERP_E_BUFFER / TS_DERP_E_ARG (CR, LF or NUL in host/ideal_node). */
long ts_derp_http_request(char *out, size_t cap, const char *host, const char *path, const char *ideal_node,
                          int fast_start);

typedef struct ts_derp_http_response {
  int status;                          /* e.g. 101 */
  int upgrade_derp;                    /* Upgrade: DERP present */
  int derp_version;                    /* Derp-Version, 0 if absent */
  int has_public_key;                  /* Derp-Public-Key parsed */
  uint8_t public_key[TS_DERP_KEY_LEN];
} ts_derp_http_response;
#define TS_DERP_HTTP_MAX_HEADER 16384
/* Parses the response head in buf. Returns the head's length (bytes up to and including the blank line; the
 * DERP frames start after it), 0 if more bytes are needed, or TS_DERP_E_HTTP (malformed, or no end within
 * TS_DERP_HTTP_MAX_HEADER). It does not judge the status: check r->status == 101 && r->upgrade_derp. */
long ts_derp_http_parse_response(ts_derp_http_response *r, const uint8_t *buf, size_t len);

/* ---------------------------------------------------------------- client */

typedef enum ts_derp_state {
  TS_DERP_ST_HTTP = 1,        /* waiting for the HTTP 101 response head (cfg.expect_http) */
  TS_DERP_ST_SERVER_KEY,      /* waiting for ServerKey */
  TS_DERP_ST_SERVER_INFO,     /* ClientInfo queued, waiting for ServerInfo */
  TS_DERP_ST_CONNECTED,
  TS_DERP_ST_ERROR
} ts_derp_state;

typedef enum ts_derp_event_type {
  TS_DERP_EV_CONNECTED = 1, /* server_key, info */
  TS_DERP_EV_RECV_PACKET,   /* key = source node, data/len = packet (valid during the callback only) */
  TS_DERP_EV_PEER_GONE,     /* key, reason (TS_DERP_PEER_GONE_*; DISCONNECTED when the server sent none) */
  TS_DERP_EV_PEER_PRESENT,  /* key, has_addr/ip/port, flags */
  TS_DERP_EV_HEALTH,        /* data/len = problem text; len 0 = the problem is gone */
  TS_DERP_EV_RESTARTING,    /* reconnect_in_ms, try_for_ms: server restarting; reconnect after, retry for */
  TS_DERP_EV_PING,          /* server pinged us (a Pong is already queued): ping */
  TS_DERP_EV_PONG,          /* answer to ts_derp_client_send_ping: ping, rtt_ns (0 if not ours) */
  TS_DERP_EV_KEEP_ALIVE     /* server keep-alive */
} ts_derp_event_type;

typedef struct ts_derp_event {
  ts_derp_event_type type;
  const uint8_t *key;        /* 32 bytes: peer key, or the server key for CONNECTED */
  const uint8_t *data;
  size_t len;
  int health_truncated;      /* HEALTH: the text was longer than TS_DERP_MAX_HEALTH */
  uint8_t reason, flags, has_addr;
  uint8_t ip[16];
  uint16_t port;
  uint8_t ping[8];
  uint64_t rtt_ns;
  uint32_t reconnect_in_ms, try_for_ms;
  ts_derp_server_info info;  /* CONNECTED */
} ts_derp_event;

typedef void (*ts_derp_event_fn)(void *ctx, const ts_derp_event *ev);
/* Random bytes for nonces; NULL = ts_random (libsodium). Tests inject deterministic ones. */
typedef void (*ts_derp_rng_fn)(void *ctx, void *buf, size_t len);

typedef struct ts_derp_client_config {
  uint8_t node_private[TS_DERP_KEY_LEN]; /* our node private key (copied; the caller may wipe its copy) */
  uint8_t server_key[TS_DERP_KEY_LEN];   /* expected server key, if has_server_key */
  uint8_t has_server_key;                /* ServerKey must then carry this key */
  uint8_t fast_start;                    /* with has_server_key: queue ClientInfo at once (Derp-Fast-Start) */
  uint8_t expect_http;                   /* the input starts with the HTTP response head (not with fast_start) */
  uint8_t can_ack_pings_off;             /* 1: do not claim CanAckPings, do not answer Pings (tests only) */
  size_t out_cap;                        /* output queue bytes; 0 = 256 KiB; at least 128 KiB is enforced */
  uint64_t read_timeout_ns;              /* 0 = TS_DERP_READ_TIMEOUT */
  uint64_t handshake_timeout_ns;         /* 0 = TS_DERP_HANDSHAKE_TIMEOUT */
  ts_derp_event_fn on_event;             /* may be NULL */
  void *ctx;
  ts_derp_rng_fn rng;                    /* NULL = ts_random */
  void *rng_ctx;
} ts_derp_client_config;

typedef struct ts_derp_client ts_derp_client;

/* Creates a client (NULL on allocation failure or bad config). The caller must have called ts_crypto_init. */
ts_derp_client *ts_derp_client_new(const ts_derp_client_config *cfg, uint64_t now);
/* Wipes keys and buffers and frees. NULL is fine. */
void ts_derp_client_free(ts_derp_client *c);

/* Feeds received bytes. Returns 0, or a negative ts_derp_err (the client is then in TS_DERP_ST_ERROR). */
int ts_derp_client_input(ts_derp_client *c, const uint8_t *buf, size_t len, uint64_t now);
/* Timeout bookkeeping: call at ts_derp_client_next_deadline (or any time). 0 or TS_DERP_E_TIMEOUT. */
int ts_derp_client_tick(ts_derp_client *c, uint64_t now);
/* The time by which ts_derp_client_tick must next run (UINT64_MAX after an error). */
uint64_t ts_derp_client_next_deadline(const ts_derp_client *c);

/* Pending output: a pointer to n bytes to write (NULL, n = 0 when none). Valid until the next client call. */
const uint8_t *ts_derp_client_output(const ts_derp_client *c, size_t *n);
/* Marks n bytes of the pending output as written. */
void ts_derp_client_output_consumed(ts_derp_client *c, size_t n);
size_t ts_derp_client_output_pending(const ts_derp_client *c);

/* Queues SendPacket. Only in TS_DERP_ST_CONNECTED. 0, TS_DERP_E_AGAIN (queue full; dropped: datagram
 * semantics), TS_DERP_E_PACKET_TOO_BIG, TS_DERP_E_STATE. Data packets leave TS_DERP_CTRL_RESERVE bytes of the
 * queue free for control frames (pongs). */
#define TS_DERP_CTRL_RESERVE 4096
int ts_derp_client_send_packet(ts_derp_client *c, const uint8_t dst[TS_DERP_KEY_LEN], const uint8_t *pkt,
                               size_t len);
/* Queues NotePreferred (1 = this region is our home). Allowed once ClientInfo is queued. */
int ts_derp_client_note_preferred(ts_derp_client *c, int preferred);
/* Queues a Ping with 8 bytes of data (data NULL = random); the matching Pong gives TS_DERP_EV_PONG with the
 * round-trip time. One ping outstanding at a time (a new one replaces the old). */
int ts_derp_client_send_ping(ts_derp_client *c, const uint8_t data[8], uint64_t now);
/* Queues WatchConns / ClosePeer (mesh clients; the server ignores them from others). */
int ts_derp_client_watch_conns(ts_derp_client *c);
int ts_derp_client_close_peer(ts_derp_client *c, const uint8_t key[TS_DERP_KEY_LEN]);

ts_derp_state ts_derp_client_state(const ts_derp_client *c);
/* The error that put the client in TS_DERP_ST_ERROR (0 otherwise). */
int ts_derp_client_error(const ts_derp_client *c);
/* The server key (after ServerKey, or from the config), NULL before. */
const uint8_t *ts_derp_client_server_key(const ts_derp_client *c);
/* ServerInfo contents once connected (NULL before). */
const ts_derp_server_info *ts_derp_client_server_info(const ts_derp_client *c);
/* The HTTP response (when cfg.expect_http), NULL before it has been parsed. */
const ts_derp_http_response *ts_derp_client_http_response(const ts_derp_client *c);
/* Health text currently reported by the server (len 0 = none). */
const uint8_t *ts_derp_client_health(const ts_derp_client *c, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
