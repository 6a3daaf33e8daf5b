/* The magicsock bind (Tailscale mode): each WireGuard message for a peer goes on the path magicsock chooses,
 * the direct UDP address disco proved or a DERP relay (magicsock/, sans-I/O). It runs on top of a plain-UDP
 * bind whose socket also carries disco and STUN, and holds the relay connections (derp_conn.h), which
 * JavaScript dials on request. See docs/architecture.md, "magicsock: path choice in the engine". Engine
 * thread only. */
#ifndef TS_BIND_MS_H
#define TS_BIND_MS_H

#include "bind/bind_udp.h"
#include "bind/derp_conn.h"
#include "magicsock/magicsock.h"

typedef struct ts_bind_ms ts_bind_ms;

/* Events for the embedder; all optional. */
typedef struct ts_bind_ms_events {
  void *ctx;
  /* A packet needs relay region `region` and there is no connection: dial it and ts_bind_ms_derp_attach. */
  void (*derp_want)(void *ctx, uint32_t region);
  /* A relay connection logged in (connected 1) or ended (0, err: why; 0 clean). */
  void (*derp_state)(void *ctx, uint32_t region, int connected, int err);
  /* A STUN answer to ts_bind_ms_stun_probe: our address as the server saw it, and the round trip. */
  void (*stun)(void *ctx, uint32_t region, uint64_t rtt_ns, const ts_addr *mapped);
  /* A peer's path changed: a trusted direct address (family != 0), or none, and then relay `region` (0: no
   * relay known either). */
  void (*path)(void *ctx, const uint8_t node_key[32], const ts_addr *direct, uint32_t region,
               const ts_addr *peer_relay, uint32_t vni); /* peer_relay family != 0: through that relay endpoint */
  /* A TSMP pong from a peer (the 8 bytes our ping carried): answers ts_link_wg_tsmp_ping. */
  void (*tsmp_pong)(void *ctx, const uint8_t node_key[32], const uint8_t data[8]);
  /* A disco pong to ts_bind_ms_disco_ping: on a direct address (family != 0) or through relay `region`. */
  void (*disco_pong)(void *ctx, const uint8_t node_key[32], const ts_addr *direct, uint32_t region, uint64_t latency_ns,
                     uint32_t tag);
} ts_bind_ms_events;

/* Takes over udp (closed with it from then on). node_priv: for the DERP login; node_pub: sent in disco
 * pings. NULL with *err on failure (a bad disco key, no memory); udp is left as it was then. */
ts_bind_ms *ts_bind_ms_new(ts_engine *e, ts_bind_udp *udp, const uint8_t node_priv[32], const uint8_t node_pub[32],
                           const uint8_t disco_priv[32], const ts_bind_ms_events *ev, int *err);
ts_bind *ts_bind_ms_bind(ts_bind_ms *m);

/* Relay connections other than home's close after this long without a packet (0: 60 s, the default). */
void ts_bind_ms_derp_idle(ts_bind_ms *m, uint64_t idle_ms);
/* DERP only (the only-tcp-443 node attribute; Tailscale's TS_DEBUG_ALWAYS_USE_DERP): no disco or WireGuard is
 * sent over UDP and disco received over UDP is ignored, so everything is relayed. STUN probes still go out. */
void ts_bind_ms_derp_only(ts_bind_ms *m, int on);
/* Adds or updates the magicsock side of WireGuard peer p (whose user pointer it takes): disco key (NULL:
 * none), home region (0: unknown), UDP endpoints. 0 or a negative code. */
int ts_bind_ms_peer_set(ts_bind_ms *m, ts_wg_peer *p, const uint8_t node_key[32], const uint8_t *disco_key,
                        uint32_t home, const ts_addr *eps, size_t n);
/* Our endpoints (sent to peers in CallMeMaybe) and home region. */
int ts_bind_ms_set_self(ts_bind_ms *m, const ts_addr *eps, size_t n, uint32_t home);
/* A relay connection for region over a socketpair whose other end goes to JavaScript (*js_fd), or over the
 * stream transport if stream is set (bind/derp_conn.h); replaces an existing one. */
int ts_bind_ms_derp_attach(ts_bind_ms *m, uint32_t region, const char *host, const uint8_t *server_key,
                           const ts_derp_stream *stream, int *js_fd);
/* The live relay connection whose stream id is id, or NULL. */
ts_derp_conn *ts_bind_ms_derp_stream(ts_bind_ms *m, uint64_t id);
/* Sends a STUN binding request to dst from the socket; the answer comes as events.stun. */
int ts_bind_ms_stun_probe(ts_bind_ms *m, uint32_t region, const ts_addr *dst);
/* A disco ping on demand to the peer with node_key (every candidate address and its relay); pongs come as
 * events.disco_pong with tag. UV_EHOSTUNREACH: no such peer, or no path to ping. */
int ts_bind_ms_disco_ping(ts_bind_ms *m, const uint8_t node_key[32], uint32_t tag);
ts_ms *ts_bind_ms_state(ts_bind_ms *m);
/* A node key renewal: disco pings carry node_pub from now on, and every relay connection, logged in with the
 * old key, is closed (events.derp_state reports it) so that the next one logs in with node_priv: JavaScript
 * redials home at once, other regions when a packet needs them. Packets waiting for a relay stay. */
void ts_bind_ms_set_node_key(ts_bind_ms *m, const uint8_t node_priv[32], const uint8_t node_pub[32]);
/* A decrypted packet from WireGuard peer `peer`: if it is TSMP (IP protocol 99), magicsock takes it
 * (ts_ms_tsmp_input: a disco key advertisement updates the peer's disco key; everything else is counted and
 * dropped) and 1 is returned, so it never reaches the TCP/IP stack. 0: not TSMP. For a ping, the pong to send
 * back to the peer through WireGuard is written to reply (cap bytes, TS_TSMP_MAX_REPLY suffice) and its
 * length to *reply_len (0: nothing to send). */
int ts_bind_ms_tsmp_input(ts_bind_ms *m, ts_wg_peer *peer, const uint8_t *pkt, size_t len, uint64_t now,
                          uint8_t *reply, size_t cap, size_t *reply_len);
void ts_bind_ms_foreach_region(ts_bind_ms *m, void (*fn)(void *ctx, uint32_t region, int connected,
                                                         const ts_derp_conn_stats *st),
                               void *ctx);

#endif
