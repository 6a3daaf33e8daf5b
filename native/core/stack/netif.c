#include "stack/netif.h"

#include <stdlib.h>
#include <string.h>

#include "lwip/ip.h"
#include "lwip/ip4_addr.h"
#include "lwip/ip6_addr.h"
#include "lwip_hooks.h"

/* lwIP routes by destination, which picks the wrong device when several share a prefix (every node of a
 * tailnet is in fd7a:115c:a1e0::/48) or when a reply has no pcb (a RST to a closed port, an ICMP echo
 * reply): those go out through whichever netif matched first. Pcbs are bound to their netif, so only such
 * pcb-less replies are affected; they are sent by the netif that owns their source address, preferring the
 * one the triggering packet came in on (two devices of different tailnets may share an address). */
static ts_netif *owner(struct netif *nif, struct pbuf *p) {
  uint8_t hdr[40];
  int fam;
  const uint8_t *src;
  if (pbuf_copy_partial(p, hdr, 40, 0) < 20) return (ts_netif *)nif;
  fam = hdr[0] >> 4;
  if (fam == 4) src = hdr + 12;
  else if (fam == 6 && p->tot_len >= 40) src = hdr + 8;
  else return (ts_netif *)nif;
  if (ts_netif_has_addr((ts_netif *)nif, fam, src)) return (ts_netif *)nif;
  struct netif *in = ip_current_input_netif();
  if (in && in->output == nif->output && ts_netif_has_addr((ts_netif *)in, fam, src)) return (ts_netif *)in;
  struct netif *it;
  NETIF_FOREACH(it) {
    if (it->output == nif->output && ts_netif_has_addr((ts_netif *)it, fam, src)) return (ts_netif *)it;
  }
  return (ts_netif *)nif;
}

static err_t out4(struct netif *nif, struct pbuf *p, const ip4_addr_t *dst) {
  ts_netif *n = owner(nif, p);
  n->tx_packets++;
  if (n->tap) n->tap(n->tap_ctx, 0, p, NULL, p->tot_len);
  if (n->loop && dst && ts_netif_has_addr(n, 4, (const uint8_t *)&dst->addr)) n->loop(n->loop_ctx, p);
  else n->output(n->ctx, p);
  return ERR_OK;
}

static err_t out6(struct netif *nif, struct pbuf *p, const ip6_addr_t *dst) {
  ts_netif *n = owner(nif, p);
  n->tx_packets++;
  if (n->tap) n->tap(n->tap_ctx, 0, p, NULL, p->tot_len);
  if (n->loop && dst && ts_netif_has_addr(n, 6, (const uint8_t *)dst->addr)) n->loop(n->loop_ctx, p);
  else n->output(n->ctx, p);
  return ERR_OK;
}

static err_t nif_init(struct netif *nif) {
  nif->mtu = 1280;
  nif->mtu6 = 1280;
  nif->output = out4;
  nif->output_ip6 = out6;
  nif->flags = NETIF_FLAG_UP | NETIF_FLAG_LINK_UP;
  nif->name[0] = 't';
  nif->name[1] = 's';
  return ERR_OK;
}

void ts_netif_discard(void *ctx, struct pbuf *p) {
  (void)ctx;
  (void)p;
}

int ts_netif_init(ts_netif *n, ts_netif_output_fn output, void *ctx) {
  memset(n, 0, sizeof *n);
  n->output = output;
  n->ctx = ctx;
  if (!netif_add(&n->nif, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4, NULL, nif_init, ip_input)) return -1;
  netif_set_up(&n->nif);
  netif_set_link_up(&n->nif);
  return 0;
}

void ts_netif_deinit(ts_netif *n) {
  /* netif_remove tells every pcb holding one of the removed addresses that it changed, whatever netif the pcb
   * belongs to: TCP connections are aborted and UDP sockets re-addressed. Devices may share addresses (two
   * tailnets, WireGuard networks that overlap), so closing one would reset the others' connections. This
   * device's own pcbs are closed before (ts_device_free), so its addresses are cleared without that notice. */
  ip_addr_set_zero_ip4(&n->nif.ip_addr);
#if LWIP_IPV6
  for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++) n->nif.ip6_addr_state[i] = IP6_ADDR_INVALID;
#endif
  netif_remove(&n->nif);
  free(n->foreign);
  n->foreign = NULL;
  n->nforeign = 0;
}

int ts_netif_add_addr(ts_netif *n, int family, const uint8_t *addr) {
  if (family == 4) {
    /* lwIP holds one IPv4 address per netif; a device has at most one (Tailscale assigns one). */
    ip4_addr_t a, mask;
    memcpy(&a.addr, addr, 4);
    IP4_ADDR(&mask, 255, 255, 255, 255);
    netif_set_addr(&n->nif, &a, &mask, IP4_ADDR_ANY4);
    return 0;
  }
  if (family == 6) {
    ip6_addr_t a;
    memcpy(a.addr, addr, 16);
    ip6_addr_clear_zone(&a);
    s8_t idx = -1;
    if (netif_add_ip6_address(&n->nif, &a, &idx) != ERR_OK) return -1;
    netif_ip6_addr_set_state(&n->nif, idx, IP6_ADDR_PREFERRED);
    return 0;
  }
  return -1;
}

int ts_netif_has_addr(const ts_netif *n, int family, const uint8_t *addr) {
  if (family == 4) {
    const ip4_addr_t *mine = netif_ip4_addr(&n->nif);
    return !ip4_addr_isany(mine) && memcmp(&mine->addr, addr, 4) == 0;
  }
  for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++) {
    if (!ip6_addr_isvalid(netif_ip6_addr_state(&n->nif, i))) continue;
    if (memcmp(netif_ip6_addr(&n->nif, i)->addr, addr, 16) == 0) return 1;
  }
  return 0;
}

int ts_netif_can_reach(const ts_netif *n, int family) {
  if (family == 4) return !ip4_addr_isany(netif_ip4_addr(&n->nif));
  for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++)
    if (ip6_addr_isvalid(netif_ip6_addr_state(&n->nif, i))) return 1;
  return 0;
}

int ts_netif_set_foreign(ts_netif *n, const ts_netif_prefix *p, size_t count) {
  ts_netif_prefix *list = NULL;
  if (count) {
    list = calloc(count, sizeof *list);
    if (!list) return -1;
  }
  for (size_t i = 0; i < count; i++) {
    size_t alen = p[i].family == 4 ? 4 : p[i].family == 6 ? 16 : 0;
    if (!alen || p[i].bits > alen * 8) {
      free(list);
      return -1;
    }
    list[i] = p[i];
    /* host bits cleared once here, so matching compares whole bytes and one masked byte */
    for (size_t b = 0; b < 16; b++) {
      size_t keep = p[i].bits > b * 8 ? p[i].bits - b * 8 : 0;
      if (b >= alen || keep == 0) list[i].addr[b] = 0;
      else if (keep < 8) list[i].addr[b] &= (uint8_t)(0xFF << (8 - keep));
    }
  }
  free(n->foreign);
  n->foreign = list;
  n->nforeign = count;
  return 0;
}

static int prefix_has(const ts_netif_prefix *p, int family, const uint8_t *addr) {
  if (p->family != family) return 0;
  size_t whole = p->bits / 8, rest = p->bits % 8;
  if (memcmp(p->addr, addr, whole) != 0) return 0;
  return rest == 0 || (addr[whole] & (uint8_t)(0xFF << (8 - rest))) == p->addr[whole];
}

int ts_netif_is_foreign(const ts_netif *n, int family, const uint8_t *addr) {
  if (ts_netif_has_addr(n, family, addr)) return 0;
  for (size_t i = 0; i < n->nforeign; i++)
    if (prefix_has(&n->foreign[i], family, addr)) return 1;
  return 0;
}

/* Ours: one of the netif's addresses, or a foreign destination it serves: TCP while a catch-all listener
 * takes it, and ICMP; never UDP (no UDP socket of the device's own addresses may receive it). */
static int accepts(const ts_netif *n, int family, const uint8_t *addr, uint8_t proto) {
  if (ts_netif_has_addr(n, family, addr)) return 1;
  if (proto == 17 || (proto == 6 && !n->catch_pcb)) return 0;
  return ts_netif_is_foreign(n, family, addr);
}

/* Every netif of the process is a ts_netif (no loopif: lwipopts.h), recognised by its output function. */
static ts_netif *as_ts(struct netif *nif) { return nif && nif->output == out4 ? (ts_netif *)nif : NULL; }

int ts_lwip_accept_foreign(struct netif *inp, int family, const void *dst) {
  ts_netif *n = as_ts(inp);
  return n && ts_netif_is_foreign(n, family, dst);
}

struct tcp_pcb_listen *ts_lwip_tcp_catch(struct netif *inp, const ip_addr_t *dst) {
  ts_netif *n = as_ts(inp);
  if (!n || !n->nforeign) return NULL;
  int fam = IP_IS_V6(dst) ? 6 : 4;
  const uint8_t *a = fam == 6 ? (const uint8_t *)ip_2_ip6(dst)->addr : (const uint8_t *)&ip_2_ip4(dst)->addr;
  return ts_netif_is_foreign(n, fam, a) ? n->catch_pcb : NULL;
}

struct tcp_pcb_listen *ts_lwip_tcp_unmatched(struct netif *inp) {
  ts_netif *n = as_ts(inp);
  return n && n->catch_unmatched ? n->catch_pcb : NULL;
}

int ts_netif_input(ts_netif *n, const uint8_t *pkt, size_t len) {
  if (len < 20 || len > 0xFFFF) goto not_ours;
  if (n->tap) n->tap(n->tap_ctx, 1, NULL, pkt, len);
  int v = pkt[0] >> 4;
  if (v == 4) {
    if (!accepts(n, 4, pkt + 16, pkt[9])) goto not_ours;
  } else if (v == 6) {
    if (len < 40 || !accepts(n, 6, pkt + 24, pkt[6])) goto not_ours;
  } else {
    goto not_ours;
  }
  struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
  if (!p) {
    n->rx_dropped_nomem++;
    return -1;
  }
  pbuf_take(p, pkt, (u16_t)len);
  n->rx_packets++;
  if (n->nif.input(p, &n->nif) != ERR_OK) pbuf_free(p);
  return 0;
not_ours:
  n->rx_dropped_not_ours++;
  return -1;
}

void ts_addr_from_lwip(ts_addr *out, const ip_addr_t *a, uint16_t port) {
  memset(out, 0, sizeof *out);
  out->port = port;
  if (IP_IS_V6(a)) {
    out->family = 6;
    memcpy(out->ip, ip_2_ip6(a)->addr, 16);
  } else {
    out->family = 4;
    memcpy(out->ip, &ip_2_ip4(a)->addr, 4);
  }
}

int ts_addr_to_lwip(ip_addr_t *out, const ts_addr *a) {
  if (a->family == 4) {
    ip_addr_t v = IPADDR4_INIT(0);
    memcpy(&ip_2_ip4(&v)->addr, a->ip, 4);
    *out = v;
    return 0;
  }
  if (a->family == 6) {
    ip_addr_t v = IPADDR6_INIT(0, 0, 0, 0);
    memcpy(ip_2_ip6(&v)->addr, a->ip, 16);
    ip6_addr_clear_zone(ip_2_ip6(&v));
    *out = v;
    return 0;
  }
  return -1;
}
