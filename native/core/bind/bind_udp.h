/* The plain-UDP bind (plain WireGuard): one batched UDP socket (net/udp), WireGuard endpoints are UDP
 * addresses. Datagrams queued during one loop turn leave in one flush just before the loop would block, so
 * back-to-back packets share GSO sends. The magicsock bind (bind_ms.h) runs on top of one of these: it sees
 * every datagram first (STUN, disco) and sends its own. Engine thread only. */
#ifndef TS_BIND_UDP_H
#define TS_BIND_UDP_H

#include "bind/bind.h"
#include "engine/engine.h"
#include "net/udp.h"

typedef struct ts_bind_udp ts_bind_udp;

/* Opens the socket on bind_addr:port (NULL: "::"; 0: ephemeral). NULL with *err (negative code) on failure. */
ts_bind_udp *ts_bind_udp_new(ts_engine *e, const char *bind_addr, uint16_t port, const ts_bind_up *up, int *err);
ts_bind *ts_bind_udp_bind(ts_bind_udp *u);

/* Control's switches for the socket's kernel offloads (ts_udp_set_offload), kept across rebinds. */
void ts_bind_udp_set_offload(ts_bind_udp *u, int gso, int gro, int equal_tail_guard);
typedef struct ts_bind_udp_offload_info {
  uint8_t gso, gro, equal_tail_guard; /* in use now */
  uint64_t tx_gso_sends, tx_gso_sentinels, rx_gro_bufs; /* the socket's counters (since the last rebind) */
  uint64_t rx_sentinels; /* equal-tail sentinels received from peers and dropped */
} ts_bind_udp_offload_info;
void ts_bind_udp_offload(const ts_bind_udp *u, ts_bind_udp_offload_info *out);

/* ---- for the bind that runs on top (bind_ms.c) ---- */
/* A datagram the upper bind consumes (returns 1) never goes up as a WireGuard message. */
typedef int (*ts_bind_udp_hook)(void *ctx, uint64_t now, const ts_udp_dgram *d);
void ts_bind_udp_set_hook(ts_bind_udp *u, ts_bind_udp_hook hook, void *ctx);
/* Queues a datagram; while a reservation is open, it waits and leaves before the reserved one. */
void ts_bind_udp_queue(ts_bind_udp *u, const ts_addr *dst, const uint8_t *buf, size_t len);
/* Ends the open reservation: its first len bytes go to dst, or (dst NULL) nowhere. */
void ts_bind_udp_finish(ts_bind_udp *u, const ts_addr *dst, size_t len);
/* Messages came up outside a socket read (relayed): ask the link to flush at the end of the loop turn. */
void ts_bind_udp_note_rx(ts_bind_udp *u);
const ts_bind_up *ts_bind_udp_up(const ts_bind_udp *u);

#endif
