/* One DERP relay connection of a device, on the engine thread (docs/architecture.md, "DERP relays").
 *
 * The engine runs the DERP protocol (derp/, sans-I/O) over one end of a socketpair; JavaScript holds the other
 * end and pipes it to a TLS (or plain TCP) connection to the relay. Or, with the stream transport (no
 * descriptor: Bun, Windows), bytes for the relay leave as TS_EV_DERP_DATA events, at most
 * TS_DERP_STREAM_CREDIT of them not yet acknowledged by JavaScript, and bytes from the relay arrive by
 * ts_derp_conn_stream_input. So Node keeps CAs, proxies and certificate
 * pinning, and the engine sees a plain, flow-controlled byte stream with no call per frame across N-API.
 * The engine writes the HTTP upgrade request itself (or, with a server key from the relay's meta certificate,
 * starts at once: Derp-Fast-Start).
 *
 * Or, engine TLS (ts_derp_stream.tls set): the engine dials the relay itself, the stream carries only the TLS
 * handshake's records to and from Node's tls, and after ts_derp_conn_tls_takeover the engine seals and opens the
 * records (derp/tls_record.h): no relayed byte reaches JavaScript.
 *
 * The connection ends when either side closes: JavaScript (TLS closed) or the engine (protocol error, read
 * timeout). Then on_closed runs once and the owner frees it. Engine thread only. */
#ifndef TS_BIND_DERP_CONN_H
#define TS_BIND_DERP_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "engine/evq.h"
#include "net/addr.h"

typedef struct ts_derp_conn ts_derp_conn;

#define TS_DERP_STREAM_CREDIT (256u * 1024u)

/* The stream transport's event sink: events carry device and id (JavaScript's name for the stream). */
typedef struct ts_derp_stream {
  ts_evq *evq;
  uint32_t device;
  uint64_t id;
  /* Engine TLS (tls.family set): the engine dials TCP to tls itself; until ts_derp_conn_tls_takeover the stream
   * carries the TLS handshake's records between that connection and JavaScript's tls (docs/architecture.md,
   * "DERP relays": the engine's TLS record layer). */
  ts_addr tls;
} ts_derp_stream;

typedef struct ts_derp_conn_cb {
  void *ctx;
  /* A relayed packet from src (node key). pkt is writable scratch, valid during the call. */
  void (*packet)(void *ctx, ts_derp_conn *c, const uint8_t src[32], uint8_t *pkt, size_t len);
  /* ServerInfo arrived: packets can be sent. */
  void (*connected)(void *ctx, ts_derp_conn *c);
  /* The connection is over (err: a negative ts_derp_err or uv code, 0 for a clean end). Free it after. */
  void (*closed)(void *ctx, ts_derp_conn *c, int err);
  /* A peer we sent to is gone from this relay (optional). */
  void (*peer_gone)(void *ctx, ts_derp_conn *c, const uint8_t key[32], int reason);
} ts_derp_conn_cb;

/* Creates the connection and its socketpair; *js_fd is the end for JavaScript (owned by the caller from
 * then on). With stream set, no socketpair (*js_fd = -1): the stream transport. host: the Host header;
 * server_key: from the relay's certificate, or NULL. NULL on failure with *err set. */
ts_derp_conn *ts_derp_conn_new(ts_engine *e, uint32_t region, const uint8_t node_priv[32], const char *host,
                               const uint8_t *server_key, const ts_derp_conn_cb *cb, const ts_derp_stream *stream,
                               int *js_fd, int *err);
/* Closes the engine's end (JavaScript sees EOF, or TS_EV_DERP_END) and frees; no callback runs after. NULL is
 * fine. */
void ts_derp_conn_free(ts_derp_conn *c);

/* Stream transport: the stream's id (0 for a socketpair connection); bytes from the relay; JavaScript took n
 * bytes of TS_EV_DERP_DATA; JavaScript's side closed (on_closed follows, as for EOF on a socketpair). */
uint64_t ts_derp_conn_stream_id(const ts_derp_conn *c);
void ts_derp_conn_stream_input(ts_derp_conn *c, const uint8_t *data, size_t len);
void ts_derp_conn_stream_ack(ts_derp_conn *c, size_t n);
void ts_derp_conn_stream_close(ts_derp_conn *c);

uint32_t ts_derp_conn_region(const ts_derp_conn *c);
int ts_derp_conn_connected(const ts_derp_conn *c);
/* Relays a packet to the node dst. 0, or a negative code: not connected yet, queue full (dropped, as a
 * datagram), too big. */
int ts_derp_conn_send(ts_derp_conn *c, const uint8_t dst[32], const uint8_t *pkt, size_t len);
/* Engine TLS: JavaScript's handshake succeeded with TLS_CHACHA20_POLY1305_SHA256; the engine takes the
 * connection over with the two application traffic secrets (wiped after use) and the server key from the
 * relay's meta certificate (or NULL). From the client's Finished on, nothing more goes to or comes from
 * JavaScript. 0, or UV_EINVAL (not an engine-TLS connection, or taken over already). Failures found while
 * taking over end the connection (on_closed, UV_EPROTO). */
int ts_derp_conn_tls_takeover(ts_derp_conn *c, const uint8_t *server_key, uint8_t client_secret[32],
                              uint8_t server_secret[32]);
/* Tells the relay whether this is our home region. */
void ts_derp_conn_note_preferred(ts_derp_conn *c, int home);

typedef struct ts_derp_conn_stats {
  uint64_t tx_packets, rx_packets, tx_dropped, tx_bytes, rx_bytes;
} ts_derp_conn_stats;
void ts_derp_conn_stats_get(const ts_derp_conn *c, ts_derp_conn_stats *out);

#endif
