/* UDP sockets on a device's stack (listenPacket, dial 'udp'). Datagrams reach JavaScript as events (the
 * event queue batches them); sends arrive as engine calls. Engine thread only. */
#ifndef TS_UDP_BRIDGE_H
#define TS_UDP_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/evq.h"
#include "events.h"
#include "stack/netif.h"

typedef struct ts_udpb ts_udpb;

/* Binds port (0: ephemeral) on the netif's addresses; family 0 (both), 4 or 6. NULL with *err on failure. */
ts_udpb *ts_udpb_open(ts_evq *q, ts_netif *n, uint32_t device, uint64_t id, int family, uint16_t port, int *err);
uint16_t ts_udpb_port(const ts_udpb *u);
uint64_t ts_udpb_id(const ts_udpb *u);
/* Sends one datagram. 0, or a negative uv code (UV_EMSGSIZE, UV_EHOSTUNREACH, UV_ENOBUFS). */
int ts_udpb_send(ts_udpb *u, const ts_addr *dst, const uint8_t *data, size_t len);
void ts_udpb_close(ts_udpb *u);
/* The list link, for the owner's table of sockets. */
ts_udpb **ts_udpb_next(ts_udpb *u);

#endif
