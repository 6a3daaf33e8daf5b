#include "device.h"

#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "link_wg.h"
#include "stack/udp_bridge.h"

#define MEMQ_CAP 4096

typedef struct pkt {
  uint16_t len;
  uint8_t data[1280];
} pkt;

struct ts_device {
  ts_engine *engine;
  ts_evq *evq;
  uint32_t id;
  uint64_t next_id;
  ts_netif netif;
  ts_tcp_host tcp;
  /* memory link */
  ts_device *peer;
  pkt *memq;
  size_t memq_head, memq_count;
  uv_idle_t deliver;
  uint64_t memq_dropped;
  ts_link_wg *wg;
  ts_udpb *udps; /* open UDP sockets */
  uint64_t capture_id; /* ts_device_set_capture's id, 0: none */
};

/* Whether dialing dst can work: with WireGuard, some peer must route it (else EHOSTUNREACH at once). */
static int route_ok(void *ctx, const ts_addr *dst) {
  ts_device *d = ctx;
  return !d->wg || ts_link_wg_routes(d->wg, dst->family, dst->ip) || ts_netif_has_addr(&d->netif, dst->family, dst->ip);
}

static void deliver_memory(uv_idle_t *h) {
  ts_device *d = h->data; /* packets queued for d */
  size_t n = d->memq_count;
  for (size_t i = 0; i < n; i++) {
    pkt *p = &d->memq[(d->memq_head + i) % MEMQ_CAP];
    ts_netif_input(&d->netif, p->data, p->len);
  }
  d->memq_head = (d->memq_head + n) % MEMQ_CAP;
  d->memq_count -= n;
  ts_tcp_input_done(&d->tcp);
  if (!d->memq_count) uv_idle_stop(&d->deliver);
}

static void queue_memory(ts_device *to, struct pbuf *p);

static void send_memory(void *ctx, struct pbuf *p) {
  ts_device *d = ctx;
  queue_memory(d->peer, p);
}

/* A packet to our own address (a node dialing itself) comes back in through the same queue. */
static void send_self(void *ctx, struct pbuf *p) {
  ts_device *d = ctx;
  if (!d->memq) d->memq = malloc(MEMQ_CAP * sizeof(pkt));
  if (d->memq) queue_memory(d, p);
}

static void queue_memory(ts_device *to, struct pbuf *p) {
  if (!to || p->tot_len > sizeof(((pkt *)0)->data)) return;
  if (to->memq_count == MEMQ_CAP) {
    to->memq_dropped++;
    return;
  }
  pkt *slot = &to->memq[(to->memq_head + to->memq_count) % MEMQ_CAP];
  slot->len = p->tot_len;
  pbuf_copy_partial(p, slot->data, p->tot_len, 0);
  if (to->memq_count++ == 0) uv_idle_start(&to->deliver, deliver_memory);
}

ts_device *ts_device_new(ts_engine *e, ts_evq *evq, uint32_t id) {
  ts_device *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->engine = e;
  d->evq = evq;
  d->id = id;
  d->next_id = 1;
  if (ts_netif_init(&d->netif, ts_netif_discard, d) != 0) {
    free(d);
    return NULL;
  }
  d->tcp.engine = e;
  d->tcp.evq = evq;
  d->tcp.netif = &d->netif;
  d->tcp.device_id = id;
  d->tcp.next_id = &d->next_id;
  d->tcp.route_ok = route_ok;
  d->tcp.route_ctx = d;
  d->netif.loop = send_self;
  d->netif.loop_ctx = d;
  uv_idle_init(ts_engine_loop(e), &d->deliver);
  d->deliver.data = d;
  return d;
}

static void free_cb(uv_handle_t *h) {
  ts_device *d = h->data;
  free(d->memq);
  free(d);
}

void ts_device_free(ts_device *d) {
  if (d->peer) {
    d->peer->peer = NULL;
    d->peer->netif.output = ts_netif_discard;
  }
  ts_tcp_host_close(&d->tcp);
  while (d->udps) {
    ts_udpb *u = d->udps;
    d->udps = *ts_udpb_next(u);
    ts_udpb_close(u);
  }
  if (d->wg) ts_link_wg_free(d->wg);
  d->wg = NULL;
  ts_netif_deinit(&d->netif);
  uv_idle_stop(&d->deliver);
  uv_close((uv_handle_t *)&d->deliver, free_cb);
}

int ts_device_add_addr(ts_device *d, int family, const uint8_t *addr) {
  return ts_netif_add_addr(&d->netif, family, addr);
}

ts_tcp_host *ts_device_tcp(ts_device *d) { return &d->tcp; }
ts_netif *ts_device_netif(ts_device *d) { return &d->netif; }
uint32_t ts_device_id(const ts_device *d) { return d->id; }

static void capture_tap(void *ctx, int inbound, struct pbuf *p, const uint8_t *bytes, size_t len) {
  ts_device *d = ctx;
  ts_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = TS_EV_CAPTURE;
  ev.device = d->id;
  ev.id = d->capture_id;
  ev.fd = -1;
  ev.ptr = malloc(len ? len : 1);
  if (!ev.ptr) return;
  ev.ptr_len = len;
  if (p) pbuf_copy_partial(p, ev.ptr, (u16_t)len, 0);
  else memcpy(ev.ptr, bytes, len);
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  ts_ev_capture c = {.sec = tv.tv_sec, .usec = tv.tv_usec, .inbound = (uint8_t)inbound};
  ts_event_put(&ev, &c);
  ts_evq_push(d->evq, &ev);
}

void ts_device_set_capture(ts_device *d, uint64_t id) {
  d->capture_id = id;
  d->netif.tap = id ? capture_tap : NULL;
  d->netif.tap_ctx = d;
}

int ts_device_link_memory(ts_device *a, ts_device *b) {
  if (!a->memq) a->memq = malloc(MEMQ_CAP * sizeof(pkt));
  if (!b->memq) b->memq = malloc(MEMQ_CAP * sizeof(pkt));
  if (!a->memq || !b->memq) return -1;
  a->peer = b;
  b->peer = a;
  a->netif.output = send_memory;
  b->netif.output = send_memory;
  return 0;
}

int ts_device_wg_start(ts_device *d, const uint8_t priv[32], const char *bind_addr, uint16_t port) {
  if (d->wg || d->peer) return UV_EALREADY;
  int err = 0;
  d->wg = ts_link_wg_new(d->engine, &d->netif, &d->tcp, priv, bind_addr, port, &err);
  return d->wg ? 0 : err;
}

ts_link_wg *ts_device_wg(ts_device *d) { return d->wg; }

static void push(ts_device *d, uint32_t type, uint64_t id, int status, ts_event *ev) {
  ev->type = type;
  ev->device = d->id;
  ev->id = id;
  ev->status = status;
  ev->fd = -1;
  ts_evq_push(d->evq, ev);
}

static void ev_derp_want(void *ctx, uint32_t region) {
  ts_event ev;
  memset(&ev, 0, sizeof ev);
  push(ctx, TS_EV_DERP_WANT, region, 0, &ev);
}

static void ev_derp_state(void *ctx, uint32_t region, int connected, int err) {
  ts_event ev;
  memset(&ev, 0, sizeof ev);
  ts_ev_derp_state st = {.connected = connected ? 1 : 0};
  ts_event_put(&ev, &st);
  push(ctx, TS_EV_DERP_STATE, region, err < 0 && err > -4096 ? err : err < 0 ? UV_EPROTO : 0, &ev);
}

static void ev_stun(void *ctx, uint32_t region, uint64_t rtt_ns, const ts_addr *mapped) {
  ts_event ev;
  memset(&ev, 0, sizeof ev);
  ts_ev_stun st;
  memset(&st, 0, sizeof st);
  st.mapped = *mapped;
  st.rtt_ns = rtt_ns;
  ts_event_put(&ev, &st);
  push(ctx, TS_EV_STUN, region, 0, &ev);
}

static void ev_path(void *ctx, const uint8_t node_key[32], const ts_addr *direct, uint32_t region,
                    const ts_addr *peer_relay, uint32_t vni) {
  ts_event ev;
  memset(&ev, 0, sizeof ev);
  ts_ev_path p;
  memset(&p, 0, sizeof p);
  memcpy(p.node_key, node_key, 32);
  p.direct = *direct;
  p.region = region;
  uint64_t via = 0;
  if (peer_relay->family) p.direct = *peer_relay, via = 1ULL << 32 | vni;
  ts_event_put(&ev, &p);
  push(ctx, TS_EV_PATH, via, 0, &ev);
}

static void ev_tsmp_pong(void *ctx, const uint8_t node_key[32], const uint8_t data[8]) {
  ts_event ev;
  memset(&ev, 0, sizeof ev);
  ts_ev_tsmp_pong p;
  memcpy(p.public_key, node_key, 32);
  memcpy(p.data, data, 8);
  ts_event_put(&ev, &p);
  push(ctx, TS_EV_TSMP_PONG, 0, 0, &ev);
}

static void ev_disco_pong(void *ctx, const uint8_t node_key[32], const ts_addr *direct, uint32_t region, uint64_t latency_ns,
                          uint32_t tag) {
  ts_event ev;
  memset(&ev, 0, sizeof ev);
  ts_ev_disco_pong p;
  memset(&p, 0, sizeof p);
  memcpy(p.node_key, node_key, 32);
  p.direct = *direct;
  p.region = region;
  p.latency_us = latency_ns / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(latency_ns / 1000);
  ts_event_put(&ev, &p);
  push(ctx, TS_EV_DISCO_PONG, tag, 0, &ev);
}

int ts_device_magicsock(ts_device *d, const uint8_t disco_priv[32]) {
  if (!d->wg) return UV_EINVAL;
  ts_bind_ms_events ev = {.ctx = d, .derp_want = ev_derp_want, .derp_state = ev_derp_state, .stun = ev_stun, .path = ev_path,
                            .tsmp_pong = ev_tsmp_pong, .disco_pong = ev_disco_pong};
  return ts_link_wg_magicsock(d->wg, disco_priv, &ev);
}

int ts_device_udp_open(ts_device *d, uint64_t id, int family, uint16_t port, uint16_t *bound) {
  int err = 0;
  ts_udpb *u = ts_udpb_open(d->evq, &d->netif, d->id, id, family, port, &err);
  if (!u) return err;
  *ts_udpb_next(u) = d->udps;
  d->udps = u;
  *bound = ts_udpb_port(u);
  return 0;
}

static ts_udpb **find_udp(ts_device *d, uint64_t id) {
  for (ts_udpb **pp = &d->udps; *pp; pp = ts_udpb_next(*pp))
    if (ts_udpb_id(*pp) == id) return pp;
  return NULL;
}

int ts_device_udp_send(ts_device *d, uint64_t id, const ts_addr *dst, const uint8_t *data, size_t len) {
  ts_udpb **pp = find_udp(d, id);
  if (!pp) return UV_EBADF;
  if (!route_ok(d, dst)) return UV_EHOSTUNREACH; /* a peer's address, or our own (looped back) */
  return ts_udpb_send(*pp, dst, data, len);
}

void ts_device_udp_close(ts_device *d, uint64_t id) {
  ts_udpb **pp = find_udp(d, id);
  if (!pp) return;
  ts_udpb *u = *pp;
  *pp = *ts_udpb_next(u);
  ts_udpb_close(u);
}
