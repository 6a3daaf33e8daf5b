/* The WireGuard link's state, shared by link_wg.c (the data path and plain WireGuard) and link_ms.c (the
 * Tailscale-mode entry points, which hand their work to the magicsock bind). Engine thread only. */
#ifndef TS_LINK_WG_INTERNAL_H
#define TS_LINK_WG_INTERNAL_H

#include "bind/bind_ms.h"
#include "link_wg.h"

struct ts_link_wg {
  ts_engine *engine;
  ts_netif *netif;
  ts_tcp_host *tcp;
  ts_wg_device *wg;
  /* Where WireGuard's messages go (docs/architecture.md, "The link: netif, wg, bind"): the plain-UDP bind,
   * or in Tailscale mode the magicsock bind on top of it. The data path uses only `bind`; `ms` is kept for
   * the Tailscale-mode calls of link_ms.c. */
  ts_bind *bind;
  ts_bind_udp *udp;
  ts_bind_ms *ms;
  uint8_t priv[32];    /* node private key: the magicsock bind's DERP login needs it */
  uv_timer_t timer;    /* the WireGuard core's next deadline */
  uint64_t deadline;
  int closing;         /* the link frees itself when its timer is closed */
  uint8_t *plain;      /* a packet out of lwIP, contiguous (when the bind has no room to seal in place) */
  uint8_t *sealed;     /* its WireGuard message */
  uint8_t (*keys)[32]; /* peers' public keys, for listing */
  size_t nkeys, capkeys;
  /* Handshake initiations for peers with no path yet: sent the moment one is set, instead of at the next
   * retransmission (REKEY_TIMEOUT, 5 s later). Tailscale learns endpoints from control shortly after a peer
   * appears, so the first dial usually races the endpoint. */
  struct pending_init {
    ts_wg_peer *peer;
    uint8_t msg[148];
  } *inits;
  size_t ninits;
  ts_filter *filter; /* NULL: no ACLs (plain WireGuard) */
};

/* link_wg.c */
/* Sends a handshake initiation that waited for a path, if any. */
void ts_link_wg_unstash(ts_link_wg *l, ts_wg_peer *peer);

#endif
