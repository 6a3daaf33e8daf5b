/* The WireGuard link's state, shared by link_wg.c (UDP and the WireGuard core) and link_ms.c (Tailscale
 * mode: magicsock path choice, DERP relays, STUN). Engine thread only. */
#ifndef TS_LINK_WG_INTERNAL_H
#define TS_LINK_WG_INTERNAL_H

#include "link_derp.h"
#include "link_wg.h"
#include "magicsock/magicsock.h"

/* A relay region: its connection (NULL while JavaScript dials it) and packets waiting for it. */
typedef struct ts_link_region {
  uint32_t id;
  ts_link_derp *conn;
  uint64_t last_want; /* when JavaScript was last asked to connect (rate limit) */
  uint64_t last_active; /* last packet sent or received through it */
  struct ts_link_pending {
    uint8_t key[32];
    size_t len;
    uint8_t *data;
  } pending[16];
  size_t npending;
} ts_link_region;

struct ts_link_wg {
  ts_engine *engine;
  ts_netif *netif;
  ts_tcp_host *tcp;
  ts_wg_device *wg;
  uint8_t priv[32];    /* node private key: the DERP login needs it */
  ts_udp udp;
  ts_udp_rxbatch rx;
  ts_udp_txbatch tx;
  uv_poll_t *poll;
  int poll_events;
  ts_engine_deferred flush; /* queued while datagrams wait for the end of the loop turn */
  uv_timer_t timer;    /* the WireGuard core's next deadline */
  uint64_t deadline;
  int closing;         /* handles still closing (the link frees itself when the last one is closed) */
  uint8_t *plain;      /* a packet out of lwIP, contiguous */
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
  /* While a packet is encrypted in place in the UDP batch, datagrams sent meanwhile (packets that waited for
   * a session, disco pings) must go before it: they wait here. peer non-NULL: route by peer. */
  int inplace;
  struct side {
    ts_wg_peer *peer;
    ts_wg_endpoint ep;
    size_t len;
    uint8_t *data;
  } *side;
  size_t nside, capside;
  /* Tailscale mode (ts_link_wg_magicsock); all NULL/0 in plain WireGuard mode. */
  ts_ms *ms;
  ts_link_wg_events ev;
  uv_timer_t ms_timer;
  uint64_t ms_armed;
  uv_timer_t idle_timer; /* closes relay connections other than home's when idle */
  uint64_t derp_idle_ns;
  ts_link_region *regions;
  size_t nregions;
  uint32_t home;
  int paths_changed;   /* magicsock reported a new path: retry stashed initiations */
  int derp_only;       /* debug: disco over UDP is ignored, so no direct path is ever proven */
  int rx_flush;        /* relayed packets arrived: flush lwIP's delayed ACKs before blocking */
  struct stun_probe {
    uint8_t txid[12];
    uint32_t region;
    uint64_t sent;
  } stun[32];
  size_t stun_next;
  uint64_t stun_stray;
};

/* link_wg.c */
void ts_link_wg_queue_datagram(ts_link_wg *l, const ts_addr *dst, const uint8_t *buf, size_t len);
/* A received WireGuard message from src (a UDP address or a relay path) into the WireGuard core, the filter
 * and the stack. buf is decrypted in place. */
void ts_link_wg_input(ts_link_wg *l, uint64_t now, uint64_t wall, uint8_t *buf, size_t len,
                      const ts_wg_endpoint *src, const ts_ms_path *path);
void ts_link_wg_want_flush(ts_link_wg *l);
/* Sends to an endpoint (UDP address or relay path); while a packet is being sealed in place, after it. */
void ts_link_wg_send_ep(ts_link_wg *l, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len);
/* Sends a handshake initiation that waited for a path, if any. */
void ts_link_wg_unstash(ts_link_wg *l, ts_wg_peer *peer);
void ts_link_wg_unstash_all(ts_link_wg *l);
uint64_t ts_link_wg_wall_ns(void);

/* link_ms.c */
/* Sends buf to peer (a WireGuard peer that has a magicsock peer) on the paths magicsock chooses. Returns
 * how many paths it went to (0: none known). */
int ts_link_ms_emit(ts_link_wg *l, ts_wg_peer *peer, const uint8_t *buf, size_t len);
/* Sends on one relay path (the endpoint of a DERP source: region and node key). */
void ts_link_ms_send_derp(ts_link_wg *l, uint32_t region, const uint8_t key[32], const uint8_t *buf, size_t len);
/* STUN and disco datagrams on the UDP socket: 1 if consumed. */
int ts_link_ms_udp_input(ts_link_wg *l, uint64_t now, const ts_udp_dgram *d);
void ts_link_ms_schedule(ts_link_wg *l);
/* After magicsock handled input: follow-up work it asked for (stashed initiations). */
void ts_link_ms_after_input(ts_link_wg *l);
void ts_link_ms_free(ts_link_wg *l);
/* The relay-path endpoint for WireGuard: "D" region key (so the handshake rate limit counts per source). */
void ts_link_ms_derp_endpoint(ts_wg_endpoint *ep, uint32_t region, const uint8_t key[32]);
int ts_link_ms_derp_decode(const ts_wg_endpoint *ep, uint32_t *region, const uint8_t **key);

#endif
