/* A device's TCP/IP interface: one lwIP netif (MTU 1280, no link layer) whose packets go to and come from
 * the device's tunnel (WireGuard) instead of hardware. Engine thread only. */
#ifndef TS_NETIF_H
#define TS_NETIF_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "net/addr.h"


typedef struct ts_netif ts_netif;
/* Called for every IP packet the stack emits; the pbuf is only valid during the call. */
typedef void (*ts_netif_output_fn)(void *ctx, struct pbuf *p);
/* Sees every IP packet in (bytes, p NULL) and out (p, bytes NULL) when set (a packet capture); NULL costs
 * nothing. Called on the engine thread; neither is valid after the call. */
typedef void (*ts_netif_tap_fn)(void *ctx, int inbound, struct pbuf *p, const uint8_t *bytes, size_t len);

/* A destination prefix the device serves without owning it (docs/services.md, "Foreign destinations"). */
typedef struct ts_netif_prefix {
  uint8_t family, bits;
  uint8_t addr[16];
} ts_netif_prefix;

struct tcp_pcb_listen;

struct ts_netif {
  struct netif nif;
  ts_netif_output_fn output;
  void *ctx;
  /* Packets to one of our own addresses (a node dialing itself), when set: the owner queues them back into
   * ts_netif_input later (never from inside output, which lwIP may call mid-tcp_output). */
  ts_netif_output_fn loop;
  void *loop_ctx;
  ts_netif_tap_fn tap;
  void *tap_ctx;
  uint64_t rx_packets, tx_packets, rx_dropped_not_ours, rx_dropped_nomem;
  /* Foreign destinations: service VIPs and advertised routes (patches/0020); TCP to them goes to catch. */
  ts_netif_prefix *foreign;
  size_t nforeign;
  struct tcp_pcb_listen *catch_pcb;
  /* Also give catch_pcb the SYNs to own addresses that no listener takes (Go's fallback TCP handler). */
  int catch_unmatched;
};

/* An output function that drops everything (a device with no link). */
void ts_netif_discard(void *ctx, struct pbuf *p);

/* Adds and brings up the netif. 0 or -1. */
int ts_netif_init(ts_netif *n, ts_netif_output_fn output, void *ctx);
void ts_netif_deinit(ts_netif *n);
/* Adds an address (4: 4-byte, 6: 16-byte). IPv4 uses a /32 host route; IPv6 a /128. 0 or -1. */
int ts_netif_add_addr(ts_netif *n, int family, const uint8_t *addr);
/* 1 if addr is one of this netif's addresses. */
int ts_netif_has_addr(const ts_netif *n, int family, const uint8_t *addr);
/* 1 if the netif has an address of this family (4 or 6) to send from. */
int ts_netif_can_reach(const ts_netif *n, int family);
/* Replaces the foreign destinations (copied; n 0 clears). Own addresses stay own whatever the list holds.
 * 0 or -1 (out of memory, or a bad family or prefix length; the old list is kept). */
int ts_netif_set_foreign(ts_netif *n, const ts_netif_prefix *p, size_t count);
/* 1 if addr is a foreign destination of this netif (and not one of its own addresses). */
int ts_netif_is_foreign(const ts_netif *n, int family, const uint8_t *addr);
/* Feeds one IP packet from the tunnel into the stack (copied). Packets not addressed to this netif are
 * dropped and counted, so one device can never receive another device's traffic. 0 or -1 (dropped). */
int ts_netif_input(ts_netif *n, const uint8_t *pkt, size_t len);

/* Conversions between lwIP addresses and ts_addr. */
void ts_addr_from_lwip(ts_addr *out, const ip_addr_t *a, uint16_t port);
int ts_addr_to_lwip(ip_addr_t *out, const ts_addr *a);

#endif
