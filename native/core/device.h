/* A device: one node's data plane on the engine thread. It joins the TCP/IP stack (a netif and its TCP
 * bridge) to a link that carries IP packets to peers. The link is WireGuard over UDP (wg/, net/); a memory
 * link joining two devices of the same process exists for tests and for measuring the stack alone.
 * Engine thread only, except where noted. */
#ifndef TS_DEVICE_H
#define TS_DEVICE_H

#include <stdint.h>

#include "engine/engine.h"
#include "engine/evq.h"
#include "events.h"
#include "stack/netif.h"
#include "stack/tcp_bridge.h"

typedef struct ts_device ts_device;

ts_device *ts_device_new(ts_engine *e, ts_evq *evq, uint32_t id);
void ts_device_free(ts_device *d);
int ts_device_add_addr(ts_device *d, int family, const uint8_t *addr);
ts_tcp_host *ts_device_tcp(ts_device *d);
ts_netif *ts_device_netif(ts_device *d);
uint32_t ts_device_id(const ts_device *d);

/* Memory link: packets a sends are delivered to b and vice versa, on a later loop turn (never re-entrantly
 * inside lwIP). Unlinked by ts_device_free. */
int ts_device_link_memory(ts_device *a, ts_device *b);
/* Packet capture: every IP packet in and out becomes a TS_EV_CAPTURE event with this id; 0 stops. */
void ts_device_set_capture(ts_device *d, uint64_t id);

/* Starts the WireGuard link: a UDP socket on bind_addr:port (NULL: "::"; 0: ephemeral) and the WireGuard core
 * with our private key. 0 or a negative code. */
struct ts_link_wg;
int ts_device_wg_start(ts_device *d, const uint8_t priv[32], const char *bind_addr, uint16_t port);
/* The device's WireGuard link, or NULL. */
struct ts_link_wg *ts_device_wg(ts_device *d);

/* Tailscale mode (see ts_link_wg_magicsock): relay requests, relay state and STUN answers become events
 * (TS_EV_DERP_WANT, TS_EV_DERP_STATE, TS_EV_STUN in events.h). */
int ts_device_magicsock(ts_device *d, const uint8_t disco_priv[32]);

/* UDP sockets: open (bound port in *bound), send one datagram, close. Codes are negative uv errors. */
int ts_device_udp_open(ts_device *d, uint64_t id, int family, uint16_t port, uint16_t *bound);
int ts_device_udp_send(ts_device *d, uint64_t id, const ts_addr *dst, const uint8_t *data, size_t len);
void ts_device_udp_close(ts_device *d, uint64_t id);

#endif
