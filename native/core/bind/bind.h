/* A bind: what carries the WireGuard link's messages to peers and back, in the manner of wireguard-go's
 * conn.Bind. The link (link_wg.c) hands it sealed messages with the peer and that peer's WireGuard endpoint;
 * the bind delivers received messages upward in batches. The link never learns how a message travels: over
 * one UDP socket (bind_udp.c, plain WireGuard) or on the path magicsock chooses, direct UDP proven by disco
 * or a DERP relay (bind_ms.c, Tailscale mode). See docs/architecture.md, "The link: netif, wg, bind".
 *
 * A bind may keep its own per-peer state in the WireGuard peer's user pointer (ts_wg_peer_set_user): the
 * link leaves that pointer to the bind. Engine thread only. */
#ifndef TS_BIND_H
#define TS_BIND_H

#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"
#include "wg/wg.h"

typedef struct ts_bind ts_bind;

/* A received WireGuard message. data is writable (WireGuard decrypts in place) and valid during the call. */
typedef struct ts_bind_msg {
  uint8_t *data;
  size_t len;
  ts_wg_endpoint src; /* where it came from: becomes the peer's endpoint when it authenticates (roaming) */
  uint8_t relayed;    /* it came over a DERP relay (TCP bounds what it has in flight there: stack/tcp_relayed.h) */
} ts_bind_msg;

/* What a bind calls upward (the link). */
typedef struct ts_bind_up {
  void *ctx;
  /* A batch of received messages (n >= 1), at engine time now. */
  void (*recv)(void *ctx, ts_bind_msg *msgs, size_t n, uint64_t now);
  /* A burst of received messages is over: flush what they set off (delayed ACKs, timers). */
  void (*recv_done)(void *ctx);
  /* Paths changed: a message that found none (a handshake initiation) may have one now. */
  void (*paths)(void *ctx);
  /* What carried messages to the peer with this public key reports they cannot reach it (optional; a DERP
   * relay the peer is not connected to): WireGuard retries a lost handshake sooner. */
  void (*unreachable)(void *ctx, const uint8_t peer_key[32], uint64_t now);
} ts_bind_up;

typedef struct ts_bind_ops {
  /* Sends buf to peer (NULL: not known) at its WireGuard endpoint ep (NULL or len 0: none). Returns how many
   * paths it went out on; 0: there was nowhere to send it (dropped). */
  int (*send)(ts_bind *b, ts_wg_peer *peer, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len);
  /* In-place sending, for the data path: room for len bytes in the next outgoing datagram, written before
   * the destination is known (NULL: no room; use send). Exactly one commit or cancel follows; sends made in
   * between (WireGuard's own messages, disco) leave before it. commit sends its first len bytes like send
   * and returns the same. */
  uint8_t *(*reserve)(ts_bind *b, size_t len);
  int (*commit)(ts_bind *b, ts_wg_peer *peer, const ts_wg_endpoint *ep, size_t len);
  void (*cancel)(ts_bind *b);
  /* A received message from src authenticated as peer (optional): the bind learns where the peer is. */
  void (*authenticated)(ts_bind *b, ts_wg_peer *peer, const ts_wg_endpoint *src, uint64_t now);
  /* The peer is about to be removed (optional): the bind drops its state for it. */
  void (*peer_removed)(ts_bind *b, ts_wg_peer *peer);
  /* Moves to a new UDP socket on bind_addr:port (NULL: "::"; 0: ephemeral). 0, or a negative code (the old
   * socket stays then). */
  int (*rebind)(ts_bind *b, const char *bind_addr, uint16_t port);
  uint16_t (*port)(const ts_bind *b);
  /* Sends what is queued (best effort), closes, and frees once its handles are closed. Nothing is called
   * upward after it. */
  void (*close)(ts_bind *b);
} ts_bind_ops;

struct ts_bind {
  const ts_bind_ops *ops;
};

/* Conversions between UDP addresses and WireGuard's opaque endpoints (IP first, so the handshake rate limit
 * counts per host). ts_bind_addr_of: 0, or -1 when ep is no UDP address. */
void ts_bind_endpoint_of(ts_wg_endpoint *ep, const ts_addr *a);
int ts_bind_addr_of(ts_addr *a, const ts_wg_endpoint *ep);

#endif
