#include "bind/bind_udp.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define RX_MSGS 64 /* messages per upward batch */

struct ts_bind_udp {
  ts_bind base;
  ts_engine *engine;
  ts_bind_up up;
  ts_bind_udp_hook hook; /* the magicsock bind's: STUN and disco */
  void *hook_ctx;
  ts_udp udp;
  ts_udp_rxbatch rx;
  ts_udp_txbatch tx;
  uv_poll_t *poll;
  int poll_events;
  ts_engine_deferred flush; /* queued while datagrams wait for the end of the loop turn */
  int closed;
  uint64_t sentinels; /* GSO equal-tail sentinels received and dropped (ts_udp_is_gso_sentinel) */
  uint8_t no_gso, no_gro, equal_tail_guard; /* control's switches, kept across rebinds */
  int rx_later; /* messages came up outside a socket read: recv_done at the flush */
  /* While a reservation is open (a packet encrypted in place in the batch), datagrams queued meanwhile
   * wait here and go before it. */
  uint8_t *slot;
  struct side {
    ts_addr dst;
    size_t len;
    uint8_t *data;
  } *side;
  size_t nside, capside;
};

void ts_bind_endpoint_of(ts_wg_endpoint *ep, const ts_addr *a) {
  memset(ep, 0, sizeof *ep);
  ep->data[0] = a->family;
  memcpy(ep->data + 1, a->ip, 16);
  ep->data[17] = (uint8_t)(a->port >> 8);
  ep->data[18] = (uint8_t)a->port;
  memcpy(ep->data + 19, &a->scope_id, 4);
  ep->len = 23;
  ep->host_len = 17;
}

int ts_bind_addr_of(ts_addr *a, const ts_wg_endpoint *ep) {
  if (ep->len != 23) return -1;
  uint32_t scope;
  memcpy(&scope, ep->data + 19, 4);
  ts_addr_set(a, ep->data[0], ep->data + 1, (uint16_t)(ep->data[17] << 8 | ep->data[18]));
  a->scope_id = scope;
  return a->family ? 0 : -1;
}

static void update_poll(ts_bind_udp *u);

static void want_flush(ts_bind_udp *u) { ts_engine_defer(u->engine, &u->flush); }

static void enqueue(ts_bind_udp *u, const ts_addr *dst, const uint8_t *buf, size_t len) {
  uint8_t *slot = ts_udp_tx_reserve(&u->tx, dst, len);
  if (!slot) { /* batch full: send what is queued and retry once */
    ts_udp_tx_flush(&u->udp, &u->tx);
    slot = ts_udp_tx_reserve(&u->tx, dst, len);
    if (!slot) return; /* counted by the batch as an overflow */
  }
  memcpy(slot, buf, len);
  want_flush(u);
}

static void side_push(ts_bind_udp *u, const ts_addr *dst, const uint8_t *buf, size_t len) {
  if (u->nside == u->capside) {
    size_t cap = u->capside ? u->capside * 2 : 16;
    struct side *n = realloc(u->side, cap * sizeof *n);
    if (!n) return; /* lost like a dropped UDP datagram; TCP retransmits */
    u->side = n;
    u->capside = cap;
  }
  uint8_t *copy = malloc(len);
  if (!copy) return;
  memcpy(copy, buf, len);
  u->side[u->nside++] = (struct side){.dst = *dst, .len = len, .data = copy};
}

void ts_bind_udp_queue(ts_bind_udp *u, const ts_addr *dst, const uint8_t *buf, size_t len) {
  if (u->slot) side_push(u, dst, buf, len);
  else enqueue(u, dst, buf, len);
}

void ts_bind_udp_finish(ts_bind_udp *u, const ts_addr *dst, size_t len) {
  uint8_t *slot = u->slot;
  u->slot = NULL;
  if (!slot) return;
  if (u->nside) { /* rare: datagrams queued meanwhile go first, then this one */
    if (dst) side_push(u, dst, slot, len);
    ts_udp_tx_cancel(&u->tx);
    for (size_t i = 0; i < u->nside; i++) {
      enqueue(u, &u->side[i].dst, u->side[i].data, u->side[i].len);
      free(u->side[i].data);
    }
    u->nside = 0;
  } else if (dst) {
    ts_udp_tx_set_dst(&u->tx, dst);
    ts_udp_tx_trim(&u->tx, len);
    want_flush(u);
  } else {
    ts_udp_tx_cancel(&u->tx);
  }
}

void ts_bind_udp_note_rx(ts_bind_udp *u) {
  u->rx_later = 1;
  want_flush(u);
}

const ts_bind_up *ts_bind_udp_up(const ts_bind_udp *u) { return &u->up; }

void ts_bind_udp_set_offload(ts_bind_udp *u, int gso, int gro, int equal_tail_guard) {
  u->no_gso = !gso;
  u->no_gro = !gro;
  u->equal_tail_guard = equal_tail_guard != 0;
  ts_udp_set_offload(&u->udp, gso, gro, equal_tail_guard);
}

void ts_bind_udp_offload(const ts_bind_udp *u, ts_bind_udp_offload_info *out) {
  memset(out, 0, sizeof *out);
  out->gso = u->udp.gso;
  out->gro = u->udp.gro;
  out->equal_tail_guard = u->udp.equal_tail_guard;
  out->tx_gso_sends = u->udp.stats.tx_gso_sends;
  out->tx_gso_sentinels = u->udp.stats.tx_gso_sentinels;
  out->rx_gro_bufs = u->udp.stats.rx_gro_bufs;
  out->rx_sentinels = u->sentinels;
}

void ts_bind_udp_set_hook(ts_bind_udp *u, ts_bind_udp_hook hook, void *ctx) {
  u->hook = hook;
  u->hook_ctx = ctx;
}

/* ---- the ts_bind operations ---- */
static ts_bind_udp *of(ts_bind *b) { return (ts_bind_udp *)b; }

static int udp_send(ts_bind *b, ts_wg_peer *peer, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  (void)peer;
  if (!ep || ep->len == 0) return 0; /* no endpoint yet: the peer has to reach us first */
  ts_addr dst;
  if (ts_bind_addr_of(&dst, ep) == 0) ts_bind_udp_queue(of(b), &dst, buf, len);
  return 1;
}

static uint8_t *udp_reserve(ts_bind *b, size_t len) {
  ts_bind_udp *u = of(b);
  /* The destination is set at commit: WireGuard routes the packet only while sealing it. */
  static const ts_addr placeholder = {.family = TS_ADDR_V4};
  uint8_t *slot = ts_udp_tx_reserve(&u->tx, &placeholder, len);
  if (!slot) {
    ts_udp_tx_flush(&u->udp, &u->tx);
    slot = ts_udp_tx_reserve(&u->tx, &placeholder, len);
  }
  u->slot = slot;
  return slot;
}

static int udp_commit(ts_bind *b, ts_wg_peer *peer, const ts_wg_endpoint *ep, size_t len) {
  (void)peer;
  ts_addr dst;
  int ok = ep && ts_bind_addr_of(&dst, ep) == 0;
  ts_bind_udp_finish(of(b), ok ? &dst : NULL, len);
  return ok;
}

static void udp_cancel(ts_bind *b) { ts_bind_udp_finish(of(b), NULL, 0); }

static void on_flush(ts_engine_deferred *d) {
  ts_bind_udp *u = (ts_bind_udp *)((char *)d - offsetof(ts_bind_udp, flush));
  if (u->rx_later) { /* relayed messages came up this turn: their ACKs go out in this flush */
    u->rx_later = 0;
    if (u->up.recv_done) u->up.recv_done(u->up.ctx);
  }
  int r = ts_udp_tx_flush(&u->udp, &u->tx);
  (void)r; /* -EAGAIN leaves the rest queued: POLLOUT resumes it; hard errors are counted by the batch */
  update_poll(u);
}

static void on_readable(ts_bind_udp *u) {
  uint64_t now = ts_engine_now_ns();
  ts_bind_msg msgs[RX_MSGS]; /* on the stack: a device's idle memory stays small */
  for (int round = 0; round < 16; round++) { /* bounded, so one busy socket cannot starve the loop */
    int n = ts_udp_recv_batch(&u->udp, &u->rx);
    if (n <= 0) break;
    /* One clock reading for the round's packets (RACK and TCP timestamps in lwIP, WireGuard's timers). */
    ts_engine_clock_hold();
    ts_udp_dgram d;
    size_t k = 0;
    while (ts_udp_rx_next(&u->rx, &d)) {
      /* A peer under control's never-gso-equal-tail ends GSO batches with this byte: not a message at all. */
      if (ts_udp_is_gso_sentinel(d.data, d.len)) {
        u->sentinels++;
        continue;
      }
      ts_bind_msg *m = &msgs[k];
      m->data = d.data;
      m->len = d.len;
      m->relayed = 0;
      ts_bind_endpoint_of(&m->src, d.from);
      if (u->hook && u->hook(u->hook_ctx, now, &d, m)) continue; /* STUN or disco */
      k++;
      if (k == RX_MSGS) {
        u->up.recv(u->up.ctx, msgs, k, now);
        k = 0;
      }
    }
    if (k) u->up.recv(u->up.ctx, msgs, k, now);
    ts_engine_clock_release();
    if (u->closed) return;
    if (u->rx.nmsgs < u->rx.slots) break; /* a short batch emptied the socket: spare the EAGAIN call */
  }
  ts_engine_clock_hold();
  if (u->up.recv_done) u->up.recv_done(u->up.ctx);
  ts_engine_clock_release();
  if (ts_udp_tx_pending(&u->tx)) want_flush(u);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  ts_bind_udp *u = h->data;
  if (status < 0) events = UV_READABLE;
  if (events & UV_WRITABLE) {
    ts_udp_tx_flush(&u->udp, &u->tx);
    update_poll(u);
  }
  if (events & UV_READABLE) on_readable(u);
}

static void update_poll(ts_bind_udp *u) {
  if (u->closed) return;
  int want = UV_READABLE | (ts_udp_tx_pending(&u->tx) ? UV_WRITABLE : 0);
  if (want != u->poll_events) {
    u->poll_events = want;
    uv_poll_start(u->poll, want, on_poll);
  }
}

static void free_handle(uv_handle_t *h) { free(h); }

static int udp_rebind(ts_bind *b, const char *bind_addr, uint16_t port) {
  ts_bind_udp *u = of(b);
  ts_udp fresh;
  int r = ts_udp_open(&fresh, bind_addr, port, NULL);
  if (r != 0) return r;
  uv_poll_t *np = calloc(1, sizeof *np);
  if (!np) {
    ts_udp_close(&fresh);
    return UV_ENOMEM;
  }
  ts_udp_tx_flush(&u->udp, &u->tx); /* what was queued leaves from the old port; the rest is the new one's */
  uv_poll_stop(u->poll);
  uv_close((uv_handle_t *)u->poll, free_handle);
  ts_udp_close(&u->udp);
  u->udp = fresh;
  ts_udp_set_offload(&u->udp, !u->no_gso, !u->no_gro, u->equal_tail_guard);
  u->poll = np;
  uv_poll_init_socket(ts_engine_loop(u->engine), u->poll, (uv_os_sock_t)u->udp.fd);
  u->poll->data = u;
  u->poll_events = 0;
  update_poll(u);
  return 0;
}

static uint16_t udp_port(const ts_bind *b) { return ((const ts_bind_udp *)b)->udp.local.port; }

static void closed_poll(uv_handle_t *h) {
  ts_bind_udp *u = h->data;
  free(h);
  ts_udp_rxbatch_free(&u->rx);
  ts_udp_txbatch_free(&u->tx);
  for (size_t i = 0; i < u->nside; i++) free(u->side[i].data);
  free(u->side);
  free(u);
}

static void udp_close(ts_bind *b) {
  ts_bind_udp *u = of(b);
  ts_udp_tx_flush(&u->udp, &u->tx); /* best effort: whatever is queued goes out now */
  u->closed = 1;
  ts_udp_close(&u->udp);
  ts_engine_defer_cancel(u->engine, &u->flush);
  uv_close((uv_handle_t *)u->poll, closed_poll);
}

static const ts_bind_ops udp_ops = {
    .send = udp_send,
    .reserve = udp_reserve,
    .commit = udp_commit,
    .cancel = udp_cancel,
    .rebind = udp_rebind,
    .port = udp_port,
    .close = udp_close,
};

ts_bind_udp *ts_bind_udp_new(ts_engine *e, const char *bind_addr, uint16_t port, const ts_bind_up *up, int *err) {
  ts_bind_udp *u = calloc(1, sizeof *u);
  if (!u) {
    *err = UV_ENOMEM;
    return NULL;
  }
  u->base.ops = &udp_ops;
  u->engine = e;
  u->up = *up;
  int r = ts_udp_open(&u->udp, bind_addr, port, NULL);
  if (r == 0) r = ts_udp_rxbatch_init(&u->rx, 0, 0);
  if (r == 0) r = ts_udp_txbatch_init(&u->tx, 0, 0);
  /* A poll handle per socket: rebind replaces both. */
  if (r == 0 && !(u->poll = calloc(1, sizeof *u->poll))) r = UV_ENOMEM;
  if (r != 0) {
    *err = r;
    ts_udp_close(&u->udp);
    ts_udp_rxbatch_free(&u->rx);
    ts_udp_txbatch_free(&u->tx);
    free(u);
    return NULL;
  }
  uv_poll_init_socket(ts_engine_loop(e), u->poll, (uv_os_sock_t)u->udp.fd);
  u->poll->data = u;
  u->flush.fn = on_flush;
  update_poll(u);
  *err = 0;
  return u;
}

ts_bind *ts_bind_udp_bind(ts_bind_udp *u) { return &u->base; }
