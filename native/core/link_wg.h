/* The WireGuard link of a device: netif <-> wg <-> bind (docs/architecture.md, "The link: netif, wg, bind").
 * IP packets from the netif are encrypted by the WireGuard core (wg/) and handed to a bind (bind/bind.h):
 * the plain-UDP bind (plain WireGuard) or, once ts_link_wg_magicsock switched it, the magicsock bind (disco,
 * DERP, STUN). Received messages come back from the bind, are decrypted and fed to the netif.
 *
 * This header and device.h are the C entry points the addon calls. Engine thread only. */
#ifndef TS_LINK_WG_H
#define TS_LINK_WG_H

#include <stdint.h>

#include "bind/bind_ms.h"
#include "engine/engine.h"
#include "filter/filter.h"
#include "net/addr.h"
#include "stack/netif.h"
#include "stack/tcp_bridge.h"
#include "wg/wg.h"

typedef struct ts_link_wg ts_link_wg;

/* Opens the UDP socket (bind_addr NULL: "::", port 0: ephemeral) and creates the WireGuard device with priv.
 * Returns NULL with *err (negative uv/errno code) on failure. */
ts_link_wg *ts_link_wg_new(ts_engine *e, ts_netif *netif, ts_tcp_host *tcp, const uint8_t priv[32],
                           const char *bind_addr, uint16_t port, int *err);
void ts_link_wg_free(ts_link_wg *l);
uint16_t ts_link_wg_port(const ts_link_wg *l);
/* Moves the link to a new UDP socket (port 0: ephemeral), as after a network change; peers follow through
 * disco and the endpoints we report. 0 or a negative code (the old socket stays then). */
int ts_link_wg_rebind(ts_link_wg *l, const char *bind_addr, uint16_t port);
ts_wg_device *ts_link_wg_device(ts_link_wg *l);
/* A node key renewal: the WireGuard core takes the new static key (ts_wg_device_set_private_key: sessions of
 * the old key dropped, peers kept), handshake initiations stashed for peers without a path are forgotten
 * (made with the old key), and in Tailscale mode the magicsock bind's relays log in again with the new key.
 * 0, UV_EEXIST (the new key is a peer's), UV_EINVAL. */
int ts_link_wg_set_private_key(ts_link_wg *l, const uint8_t priv[32]);
/* Control's UDP offload switches (docs/protocol/capver.md, 140 and 141) and what the socket does now. */
void ts_link_wg_set_udp_offload(ts_link_wg *l, int gso, int gro, int equal_tail_guard);
void ts_link_wg_udp_offload(const ts_link_wg *l, ts_bind_udp_offload_info *out);

/* Peers. endpoint may be NULL (the peer must reach us first). Returns 0 or a negative code. */
int ts_link_wg_peer_set(ts_link_wg *l, const uint8_t pub[32], const uint8_t *psk, const ts_addr *endpoint,
                        uint16_t keepalive_s);
int ts_link_wg_peer_allow(ts_link_wg *l, const uint8_t pub[32], int family, const uint8_t *addr, unsigned cidr);
/* An IP prefix for ts_link_wg_peer_set_allowed. */
typedef struct ts_link_prefix {
  int family; /* 4 or 6 */
  uint8_t addr[16];
  unsigned cidr;
} ts_link_prefix;
/* Replaces the peer's AllowedIPs with exactly these n prefixes, in one step on the engine thread (the UAPI's
 * replace_allowed_ips): a prefix the peer no longer owns stops being accepted from it at once. */
int ts_link_wg_peer_set_allowed(ts_link_wg *l, const uint8_t pub[32], const ts_link_prefix *list, size_t n);
int ts_link_wg_peer_remove(ts_link_wg *l, const uint8_t pub[32]);
/* 1 if some peer's AllowedIPs route addr. */
int ts_link_wg_routes(const ts_link_wg *l, int family, const uint8_t *addr);
/* Sends a TSMP ping (disco/tsmp.h) from src (one of our addresses) to dst through the tunnel; its pong comes
 * back through the magicsock bind's tsmp_pong event. 0, UV_EHOSTUNREACH (no peer routes dst) or UV_EINVAL. */
int ts_link_wg_tsmp_ping(ts_link_wg *l, const ts_addr *src, const ts_addr *dst, const uint8_t data[8]);

/* Turns on the inbound packet filter (tailnet ACLs) and replaces its rules and local prefixes; without a
 * call, everything AllowedIPs admits gets in (plain WireGuard semantics). 0 or a negative code. */
int ts_link_wg_filter_set(ts_link_wg *l, const ts_filter_rule *rules, size_t n, const ts_filter_prefix *local,
                          size_t nlocal);
/* Per-reason counters of the filter (all zero without one). */
void ts_link_wg_filter_counters(const ts_link_wg *l, uint64_t out[TS_FILTER_REASON_COUNT]);

/* Calls fn for every peer with its public key and statistics. */
void ts_link_wg_foreach_peer(ts_link_wg *l, void (*fn)(void *ctx, const uint8_t pub[32], const ts_wg_peer_stats *st),
                             void *ctx);

/* ---- Tailscale mode: the magicsock bind (bind/bind_ms.h): path choice, DERP relays, STUN ---- */
/* Switches the link to Tailscale mode: peers are reached on the path magicsock chooses (direct UDP proven by
 * disco, else DERP) instead of WireGuard endpoints, and the UDP socket also carries disco and STUN. Once. */
int ts_link_wg_magicsock(ts_link_wg *l, const uint8_t disco_priv[32], const ts_bind_ms_events *ev);
/* Relay connections other than home's close after this long without a packet (0: 60 s, the default). */
void ts_link_wg_ms_derp_idle(ts_link_wg *l, uint64_t idle_ms);
/* Debugging (Tailscale's TS_DEBUG_ALWAYS_USE_DERP): never prove a direct path; everything goes through DERP. */
void ts_link_wg_ms_derp_only(ts_link_wg *l, int on);
/* Adds or updates a peer (WireGuard and magicsock) from the netmap: node key, disco key (NULL: none), home
 * region (0: unknown), UDP endpoints. AllowedIPs go through ts_link_wg_peer_allow. */
int ts_link_wg_ms_peer_set(ts_link_wg *l, const uint8_t node_key[32], const uint8_t *disco_key, uint32_t home,
                           const ts_addr *eps, size_t n);
/* Our endpoints (sent to peers in CallMeMaybe) and home region (the relay told it is our home). */
int ts_link_wg_ms_set_self(ts_link_wg *l, const ts_addr *eps, size_t n, uint32_t home);
/* A relay connection for region, over a socketpair whose other end goes to JavaScript (*js_fd), or the
 * stream transport if stream is set (bind/derp_conn.h). host: the HTTP Host; server_key: from the relay's
 * meta certificate (fast start) or NULL. Replaces an existing one. */
int ts_link_wg_derp_attach(ts_link_wg *l, uint32_t region, const char *host, const uint8_t *server_key,
                           const ts_derp_stream *stream, int *js_fd);
/* The relay connection of stream id, or NULL. */
ts_derp_conn *ts_link_wg_derp_stream(ts_link_wg *l, uint64_t id);
/* Sends a STUN binding request to dst from the link's socket; the answer comes as events.stun. */
int ts_link_wg_stun_probe(ts_link_wg *l, uint32_t region, const ts_addr *dst);
/* The magicsock state (NULL in plain WireGuard mode), for statistics. */
ts_ms *ts_link_wg_ms(ts_link_wg *l);
/* Relay statistics: calls fn per region. */
void ts_link_wg_foreach_region(ts_link_wg *l, void (*fn)(void *ctx, uint32_t region, int connected,
                                                         const ts_derp_conn_stats *st),
                               void *ctx);

/* Conversions between UDP addresses and WireGuard's opaque endpoints (IP first, so the handshake rate
 * limit counts per host). */
void ts_link_wg_endpoint(ts_wg_endpoint *ep, const ts_addr *a);
int ts_link_wg_udp_addr(ts_addr *a, const ts_wg_endpoint *ep);

#endif
