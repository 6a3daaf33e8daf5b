#include "stack/udp_bridge.h"

#include <stdlib.h>
#include <string.h>

#include "lwip/udp.h"

struct ts_udpb {
  ts_evq *q;
  uint32_t device;
  uint64_t id;
  struct udp_pcb *pcb;
  ts_udpb *next;
  uint64_t rx_dropped;
};

static void on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port) {
  (void)pcb;
  ts_udpb *u = arg;
  ts_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = TS_EV_UDP_MESSAGE;
  ev.device = u->device;
  ev.id = u->id;
  ev.fd = -1;
  ev.ptr_len = p->tot_len;
  ev.ptr = malloc(p->tot_len ? p->tot_len : 1);
  if (!ev.ptr) {
    u->rx_dropped++;
    pbuf_free(p);
    return;
  }
  pbuf_copy_partial(p, ev.ptr, p->tot_len, 0);
  pbuf_free(p);
  ts_ev_message m;
  memset(&m, 0, sizeof m);
  ts_addr_from_lwip(&m.from, addr, port);
  ts_event_put(&ev, &m);
  ts_evq_push(u->q, &ev);
}

ts_udpb *ts_udpb_open(ts_evq *q, ts_netif *n, uint32_t device, uint64_t id, int family, uint16_t port, int *err) {
  u8_t type = family == 4 ? IPADDR_TYPE_V4 : family == 6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_ANY;
  struct udp_pcb *pcb = udp_new_ip_type(type);
  ts_udpb *u = calloc(1, sizeof *u);
  if (!pcb || !u) {
    if (pcb) udp_remove(pcb);
    free(u);
    *err = UV_ENOMEM;
    return NULL;
  }
  udp_bind_netif(pcb, &n->nif);
  const ip_addr_t *any = family == 4 ? IP4_ADDR_ANY : family == 6 ? IP6_ADDR_ANY : IP_ANY_TYPE;
  if (udp_bind(pcb, any, port) != ERR_OK) {
    udp_remove(pcb);
    free(u);
    *err = UV_EADDRINUSE;
    return NULL;
  }
  u->q = q;
  u->device = device;
  u->id = id;
  u->pcb = pcb;
  udp_recv(pcb, on_recv, u);
  *err = 0;
  return u;
}

uint16_t ts_udpb_port(const ts_udpb *u) { return u->pcb->local_port; }
uint64_t ts_udpb_id(const ts_udpb *u) { return u->id; }
ts_udpb **ts_udpb_next(ts_udpb *u) { return &u->next; }

int ts_udpb_send(ts_udpb *u, const ts_addr *dst, const uint8_t *data, size_t len) {
  if (len > 65535 - 8 - 40) return UV_EMSGSIZE;
  ip_addr_t a;
  if (ts_addr_to_lwip(&a, dst) != 0) return UV_EINVAL;
  struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
  if (!p) return UV_ENOBUFS;
  pbuf_take(p, data, (u16_t)len);
  err_t e = udp_sendto(u->pcb, p, &a, dst->port);
  pbuf_free(p);
  return e == ERR_OK ? 0 : e == ERR_RTE ? UV_EHOSTUNREACH : e == ERR_MEM ? UV_ENOBUFS : UV_EINVAL;
}

void ts_udpb_close(ts_udpb *u) {
  udp_remove(u->pcb);
  free(u);
}
