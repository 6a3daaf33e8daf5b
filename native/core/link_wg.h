/* The WireGuard link of a device: IP packets from the netif are encrypted by the WireGuard core (wg/) and
 * sent in batches over one UDP socket (net/udp); received datagrams are decrypted and fed to the netif.
 * Output generated during one loop iteration is flushed once, just before the loop would block, so
 * back-to-back packets share GSO sends. Engine thread only. */
#ifndef TS_LINK_WG_H
#define TS_LINK_WG_H

#include <stdint.h>

#include "engine/engine.h"
#include "net/udp.h"
#include "stack/netif.h"
#include "stack/tcp_bridge.h"
#include "filter/filter.h"
#include "wg/wg.h"

typedef struct ts_link_wg ts_link_wg;

/* Opens the UDP socket (bind_addr NULL: "::", port 0: ephemeral) and creates the WireGuard device with priv.
 * Returns NULL with *err (negative uv/errno code) on failure. */
ts_link_wg *ts_link_wg_new(ts_engine *e, ts_netif *netif, ts_tcp_host *tcp, const uint8_t priv[32],
                           const char *bind_addr, uint16_t port, int *err);
void ts_link_wg_free(ts_link_wg *l);
uint16_t ts_link_wg_port(const ts_link_wg *l);
ts_wg_device *ts_link_wg_device(ts_link_wg *l);

/* Peers. endpoint may be NULL (the peer must reach us first). Returns 0 or a negative code. */
int ts_link_wg_peer_set(ts_link_wg *l, const uint8_t pub[32], const uint8_t *psk, const ts_udp_addr *endpoint,
                        uint16_t keepalive_s);
int ts_link_wg_peer_allow(ts_link_wg *l, const uint8_t pub[32], int family, const uint8_t *addr, unsigned cidr);
int ts_link_wg_peer_remove(ts_link_wg *l, const uint8_t pub[32]);
/* 1 if some peer's AllowedIPs route addr. */
int ts_link_wg_routes(const ts_link_wg *l, int family, const uint8_t *addr);

/* Turns on the inbound packet filter (tailnet ACLs) and replaces its rules and local prefixes; without a
 * call, everything AllowedIPs admits gets in (plain WireGuard semantics). 0 or a negative code. */
int ts_link_wg_filter_set(ts_link_wg *l, const ts_filter_rule *rules, size_t n, const ts_filter_prefix *local,
                          size_t nlocal);
/* Per-reason counters of the filter (all zero without one). */
void ts_link_wg_filter_counters(const ts_link_wg *l, uint64_t out[TS_FILTER_REASON_COUNT]);

/* Calls fn for every peer with its public key and statistics. */
void ts_link_wg_foreach_peer(ts_link_wg *l, void (*fn)(void *ctx, const uint8_t pub[32], const ts_wg_peer_stats *st),
                             void *ctx);

/* Conversions between UDP addresses and WireGuard's opaque endpoints (IP first, so the handshake rate
 * limit counts per host). */
void ts_link_wg_endpoint(ts_wg_endpoint *ep, const ts_udp_addr *a);
int ts_link_wg_udp_addr(ts_udp_addr *a, const ts_wg_endpoint *ep);

#endif
