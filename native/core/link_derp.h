/* One DERP relay connection of a device, on the engine thread (ARCHITECTURE §4).
 *
 * The engine runs the DERP protocol (derp/, sans-I/O) over one end of a socketpair; JavaScript holds the other
 * end and pipes it to a TLS (or plain TCP) connection to the relay. So Node keeps CAs, proxies and certificate
 * pinning, and the engine sees a plain, flow-controlled byte stream with no call per frame across N-API.
 * The engine writes the HTTP upgrade request itself (or, with a server key from the relay's meta certificate,
 * starts at once: Derp-Fast-Start).
 *
 * The connection ends when either side closes: JavaScript (TLS closed) or the engine (protocol error, read
 * timeout). Then on_closed runs once and the owner frees it. Engine thread only. */
#ifndef TS_LINK_DERP_H
#define TS_LINK_DERP_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

typedef struct ts_link_derp ts_link_derp;

typedef struct ts_link_derp_cb {
  void *ctx;
  /* A relayed packet from src (node key). pkt is writable scratch, valid during the call. */
  void (*packet)(void *ctx, ts_link_derp *c, const uint8_t src[32], uint8_t *pkt, size_t len);
  /* ServerInfo arrived: packets can be sent. */
  void (*connected)(void *ctx, ts_link_derp *c);
  /* The connection is over (err: a negative ts_derp_err or uv code, 0 for a clean end). Free it after. */
  void (*closed)(void *ctx, ts_link_derp *c, int err);
  /* A peer we sent to is gone from this relay (optional). */
  void (*peer_gone)(void *ctx, ts_link_derp *c, const uint8_t key[32], int reason);
} ts_link_derp_cb;

/* Creates the connection and its socketpair; *js_fd is the end for JavaScript (owned by the caller from
 * then on). host: the Host header; server_key: from the relay's certificate, or NULL. NULL on failure with
 * *err set. */
ts_link_derp *ts_link_derp_new(ts_engine *e, uint32_t region, const uint8_t node_priv[32], const char *host,
                               const uint8_t *server_key, const ts_link_derp_cb *cb, int *js_fd, int *err);
/* Closes the engine's end (JavaScript sees EOF) and frees; no callback runs after. NULL is fine. */
void ts_link_derp_free(ts_link_derp *c);

uint32_t ts_link_derp_region(const ts_link_derp *c);
int ts_link_derp_connected(const ts_link_derp *c);
/* Relays a packet to the node dst. 0, or a negative code: not connected yet, queue full (dropped, as a
 * datagram), too big. */
int ts_link_derp_send(ts_link_derp *c, const uint8_t dst[32], const uint8_t *pkt, size_t len);
/* Tells the relay whether this is our home region. */
void ts_link_derp_note_preferred(ts_link_derp *c, int home);

typedef struct ts_link_derp_stats {
  uint64_t tx_packets, rx_packets, tx_dropped, tx_bytes, rx_bytes;
} ts_link_derp_stats;
void ts_link_derp_stats_get(const ts_link_derp *c, ts_link_derp_stats *out);

#endif
