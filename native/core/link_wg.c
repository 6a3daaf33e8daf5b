#include "link_wg.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "link_wg_internal.h"
#include "mem/pages.h"

#define SCRATCH (TS_WG_MAX_PACKET + 64)


uint64_t ts_link_wg_wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ts_link_wg_endpoint(ts_wg_endpoint *ep, const ts_addr *a) {
  memset(ep, 0, sizeof *ep);
  ep->data[0] = a->family;
  memcpy(ep->data + 1, a->ip, 16);
  ep->data[17] = (uint8_t)(a->port >> 8);
  ep->data[18] = (uint8_t)a->port;
  memcpy(ep->data + 19, &a->scope_id, 4);
  ep->len = 23;
  ep->host_len = 17;
}

int ts_link_wg_udp_addr(ts_addr *a, const ts_wg_endpoint *ep) {
  if (ep->len != 23) return -1;
  uint32_t scope;
  memcpy(&scope, ep->data + 19, 4);
  ts_addr_set(a, ep->data[0], ep->data + 1, (uint16_t)(ep->data[17] << 8 | ep->data[18]));
  a->scope_id = scope;
  return a->family ? 0 : -1;
}

/* ---- output ---- */
static void update_poll(ts_link_wg *l);
static void on_timer(uv_timer_t *t);
static void on_flush(ts_engine_deferred *d);

static void schedule(ts_link_wg *l) {
  uint64_t next = ts_wg_next_deadline(l->wg);
  if (next == UINT64_MAX) {
    if (l->deadline != UINT64_MAX) uv_timer_stop(&l->timer);
    l->deadline = UINT64_MAX;
    return;
  }
  if (next == l->deadline && uv_is_active((uv_handle_t *)&l->timer)) return;
  l->deadline = next;
  uint64_t now = ts_engine_now_ns();
  uint64_t ms = next > now ? (next - now + 999999) / 1000000 : 0;
  uv_timer_start(&l->timer, on_timer, ms, 0);
}

void ts_link_wg_want_flush(ts_link_wg *l) {
  ts_engine_defer(l->engine, &l->flush);
}
#define want_flush ts_link_wg_want_flush

void ts_link_wg_queue_datagram(ts_link_wg *l, const ts_addr *dst, const uint8_t *buf, size_t len) {
  uint8_t *slot = ts_udp_tx_reserve(&l->tx, dst, len);
  if (!slot) { /* batch full: send what is queued and retry once */
    ts_udp_tx_flush(&l->udp, &l->tx);
    slot = ts_udp_tx_reserve(&l->tx, dst, len);
    if (!slot) return; /* counted by the batch as an overflow */
  }
  memcpy(slot, buf, len);
  want_flush(l);
}

/* Sends to a WireGuard endpoint: a UDP address, or (Tailscale mode) a relay path. No endpoint yet: the
 * peer has to reach us first. */
static void send_ep(ts_link_wg *l, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  ts_addr dst;
  uint32_t region;
  const uint8_t *key;
  if (!ep) return;
  if (ts_link_wg_udp_addr(&dst, ep) == 0) ts_link_wg_queue_datagram(l, &dst, buf, len);
  else if (l->ms && ts_link_ms_derp_decode(ep, &region, &key) == 0) ts_link_ms_send_derp(l, region, key, buf, len);
}

/* Sends a message the WireGuard core made for peer: on magicsock's paths in Tailscale mode, else to the
 * given endpoint. Returns 0 when there was nowhere to send it. */
static int emit(ts_link_wg *l, ts_wg_peer *peer, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  if (l->ms && peer && ts_wg_peer_user(peer)) {
    int k = ts_link_ms_emit(l, peer, buf, len);
    if (k > 0) return k;
    /* No proven path and no relay known yet: answer where the peer's last authenticated message came from
     * (WireGuard's roaming endpoint; Tailscale's "lazy endpoint"), so a handshake response is not lost. */
  }
  if (!ep || ep->len == 0) return 0;
  send_ep(l, ep, buf, len);
  return 1;
}

static void stash_init(ts_link_wg *l, ts_wg_peer *peer, const uint8_t *buf) {
  for (size_t i = 0; i < l->ninits; i++) {
    if (l->inits[i].peer == peer) {
      memcpy(l->inits[i].msg, buf, 148);
      return;
    }
  }
  struct pending_init *n = realloc(l->inits, (l->ninits + 1) * sizeof *n);
  if (!n) return;
  l->inits = n;
  l->inits[l->ninits].peer = peer;
  memcpy(l->inits[l->ninits].msg, buf, 148);
  l->ninits++;
}

/* send: emit the stashed initiation if there is a path now (else it stays stashed); !send: forget it. */
static void unstash_init(ts_link_wg *l, ts_wg_peer *peer, const ts_wg_endpoint *ep, int send) {
  for (size_t i = 0; i < l->ninits; i++) {
    if (l->inits[i].peer != peer) continue;
    uint8_t msg[148];
    memcpy(msg, l->inits[i].msg, 148);
    ts_wipe(l->inits[i].msg, 148);
    l->inits[i] = l->inits[--l->ninits];
    if (send && !emit(l, peer, ep, msg, 148)) stash_init(l, peer, msg);
    ts_wipe(msg, sizeof msg);
    return;
  }
}

static void side_push(ts_link_wg *l, ts_wg_peer *peer, const ts_wg_endpoint *ep, const uint8_t *buf,
                      size_t len) {
  if (l->nside == l->capside) {
    size_t cap = l->capside ? l->capside * 2 : 16;
    struct side *n = realloc(l->side, cap * sizeof *n);
    if (!n) return; /* lost like a dropped UDP datagram; TCP retransmits */
    l->side = n;
    l->capside = cap;
  }
  uint8_t *copy = malloc(len);
  if (!copy) return;
  memcpy(copy, buf, len);
  l->side[l->nside++] = (struct side){.peer = peer, .ep = *ep, .len = len, .data = copy};
}

static void wg_sink(void *ctx, ts_wg_peer *peer, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  ts_link_wg *l = ctx;
  static const ts_wg_endpoint none;
  if (l->inplace) {
    side_push(l, peer, ep ? ep : &none, buf, len);
    return;
  }
  if (!emit(l, peer, ep, buf, len) && peer && len == 148 && buf[0] == 1) stash_init(l, peer, buf);
}

void ts_link_wg_unstash(ts_link_wg *l, ts_wg_peer *peer) { unstash_init(l, peer, NULL, 1); }

/* Every stashed initiation that has a path now goes; the others stay. */
void ts_link_wg_unstash_all(ts_link_wg *l) {
  size_t n = l->ninits;
  struct pending_init *copy = n ? malloc(n * sizeof *copy) : NULL;
  if (!copy) return;
  memcpy(copy, l->inits, n * sizeof *copy);
  l->ninits = 0;
  for (size_t i = 0; i < n; i++)
    if (!emit(l, copy[i].peer, NULL, copy[i].msg, 148)) stash_init(l, copy[i].peer, copy[i].msg);
  ts_wipe(copy, n * sizeof *copy);
  free(copy);
}

void ts_link_wg_send_ep(ts_link_wg *l, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  if (l->inplace) side_push(l, NULL, ep, buf, len);
  else send_ep(l, ep, buf, len);
}

/* Side entries in order; the list may grow while it drains (routing can start discovery). */
static void drain_side(ts_link_wg *l) {
  for (size_t i = 0; i < l->nside; i++) {
    struct side e = l->side[i];
    if (!emit(l, e.peer, &e.ep, e.data, e.len) && e.peer && e.len == 148 && e.data[0] == 1)
      stash_init(l, e.peer, e.data);
    free(e.data);
  }
  l->nside = 0;
}

/* A packet from lwIP is copied once, into its slot of the UDP batch, and encrypted there in place. The
 * destination is known only after WireGuard routed it, so the slot's address is set afterwards. */
static void netif_out(void *ctx, struct pbuf *p) {
  ts_link_wg *l = ctx;
  if (l->closing) return;
  size_t len = p->tot_len;
  size_t need = ts_wg_data_len(l->wg, len);
  static const ts_addr placeholder = {.family = TS_ADDR_V4};
  uint8_t *slot = ts_udp_tx_reserve(&l->tx, &placeholder, need);
  if (!slot) {
    ts_udp_tx_flush(&l->udp, &l->tx);
    slot = ts_udp_tx_reserve(&l->tx, &placeholder, need);
  }
  ts_wg_tx res;
  uint64_t now = ts_engine_now_ns();
  if (!slot) { /* the batch is full even after a flush (socket buffer full): the scratch path */
    pbuf_copy_partial(p, l->plain, (u16_t)len, 0);
    if (l->filter) ts_filter_note_out(l->filter, l->plain, len, now);
    if (ts_wg_send(l->wg, now, ts_link_wg_wall_ns(), l->plain, len, l->sealed, SCRATCH, &res) == TS_WG_TX_READY)
      emit(l, res.peer, res.endpoint, l->sealed, res.len);
    schedule(l);
    if (l->ms) ts_link_ms_schedule(l);
    return;
  }
  pbuf_copy_partial(p, slot + 16, (u16_t)len, 0);
  if (l->filter) ts_filter_note_out(l->filter, slot + 16, len, now); /* replies to our flows may come back */
  l->inplace = 1;
  ts_wg_tx_kind kind = ts_wg_send(l->wg, now, ts_link_wg_wall_ns(), slot + 16, len, slot, need, &res);
  /* Where it goes: magicsock's paths in Tailscale mode (routing may send disco pings, which wait in the side
   * list while the slot is open), else the peer's WireGuard endpoint. */
  ts_addr dst;
  const ts_addr *udp = NULL;
  uint32_t relay = 0;
  ts_ms_peer *mp = kind == TS_WG_TX_READY && l->ms && res.peer ? ts_wg_peer_user(res.peer) : NULL;
  ts_ms_path paths[2];
  if (mp) {
    int k = ts_ms_route(l->ms, mp, now, paths);
    for (int i = 0; i < k; i++) {
      if (paths[i].kind == TS_MS_PATH_UDP) udp = &paths[i].addr;
      else if (paths[i].kind == TS_MS_PATH_DERP) relay = paths[i].region;
    }
    const uint8_t *key;
    if (k == 0 && res.endpoint && ts_link_wg_udp_addr(&dst, res.endpoint) == 0) udp = &dst; /* as in emit() */
    else if (k == 0 && res.endpoint) ts_link_ms_derp_decode(res.endpoint, &relay, &key);
  } else if (kind == TS_WG_TX_READY && res.endpoint && ts_link_wg_udp_addr(&dst, res.endpoint) == 0) {
    udp = &dst;
  }
  l->inplace = 0;
  int ready = udp || relay;
  if (l->nside) { /* rare: queued packets were released or disco sent; they go first, then this one */
    if (ready) memcpy(l->sealed, slot, res.len);
    ts_udp_tx_cancel(&l->tx);
    drain_side(l);
    if (relay) ts_link_ms_send_derp(l, relay, ts_ms_peer_node_key(mp), l->sealed, res.len);
    if (udp) ts_link_wg_queue_datagram(l, udp, l->sealed, res.len);
  } else if (ready) {
    if (relay) ts_link_ms_send_derp(l, relay, ts_ms_peer_node_key(mp), slot, res.len);
    if (udp) {
      ts_udp_tx_set_dst(&l->tx, udp);
      ts_udp_tx_trim(&l->tx, res.len);
      want_flush(l);
    } else {
      ts_udp_tx_cancel(&l->tx);
    }
  } else {
    ts_udp_tx_cancel(&l->tx);
  }
  schedule(l);
  if (l->ms) ts_link_ms_schedule(l);
}

static void on_flush(ts_engine_deferred *d) {
  ts_link_wg *l = (ts_link_wg *)((char *)d - offsetof(ts_link_wg, flush));
  if (l->rx_flush) { /* relayed packets came in this turn (see on_readable) */
    l->rx_flush = 0;
    ts_tcp_input_done(l->tcp);
  }
  int r = ts_udp_tx_flush(&l->udp, &l->tx);
  (void)r; /* -EAGAIN leaves the rest queued: POLLOUT resumes it; hard errors are counted by the batch */
  update_poll(l);
  schedule(l);
}

/* ---- input ---- */
static void on_readable(ts_link_wg *l) {
  uint64_t now = ts_engine_now_ns(), wall = ts_link_wg_wall_ns();
  for (int round = 0; round < 16; round++) { /* bounded, so one busy socket cannot starve the loop */
    int n = ts_udp_recv_batch(&l->udp, &l->rx);
    if (n <= 0) break;
    ts_udp_dgram d;
    while (ts_udp_rx_next(&l->rx, &d)) {
      if (l->ms && ts_link_ms_udp_input(l, now, &d)) continue; /* STUN or disco */
      ts_wg_endpoint src;
      ts_link_wg_endpoint(&src, d.from);
      ts_ms_path path = {.kind = TS_MS_PATH_UDP, .addr = *d.from};
      ts_link_wg_input(l, now, wall, d.data, d.len, &src, &path);
    }
    if (l->rx.nmsgs < l->rx.slots) break; /* a short batch emptied the socket: spare the EAGAIN call */
  }
  ts_tcp_input_done(l->tcp);
  if (ts_udp_tx_pending(&l->tx)) want_flush(l);
  schedule(l);
  if (l->ms) ts_link_ms_schedule(l);
}

void ts_link_wg_input(ts_link_wg *l, uint64_t now, uint64_t wall, uint8_t *buf, size_t len,
                      const ts_wg_endpoint *src, const ts_ms_path *path) {
  ts_wg_rx out;
  ts_wg_rx_kind kind = ts_wg_receive(l->wg, now, wall, buf, len, src, &out);
  if (kind == TS_WG_RX_DROP) return;
  if (l->ms && out.peer) { /* crypto routing: this path now leads to the peer (for disco's bookkeeping) */
    ts_ms_peer *mp = ts_wg_peer_user(out.peer);
    if (mp) ts_ms_note_wg_rx(l->ms, mp, path, now);
  }
  if (kind != TS_WG_RX_DATA) return;
  if (l->filter && !ts_filter_accepted(ts_filter_check_in(l->filter, out.data, out.len, now))) return;
  ts_netif_input(l->netif, out.data, out.len);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  ts_link_wg *l = h->data;
  if (status < 0) events = UV_READABLE;
  if (events & UV_WRITABLE) {
    ts_udp_tx_flush(&l->udp, &l->tx);
    update_poll(l);
  }
  if (events & UV_READABLE) on_readable(l);
}

static void update_poll(ts_link_wg *l) {
  if (l->closing) return;
  int want = UV_READABLE | (ts_udp_tx_pending(&l->tx) ? UV_WRITABLE : 0);
  if (want != l->poll_events) {
    l->poll_events = want;
    uv_poll_start(l->poll, want, on_poll);
  }
}

static void on_timer(uv_timer_t *t) {
  ts_link_wg *l = t->data;
  l->deadline = UINT64_MAX;
  ts_wg_timers(l->wg, ts_engine_now_ns(), ts_link_wg_wall_ns());
  schedule(l);
}

/* ---- lifetime ---- */
ts_link_wg *ts_link_wg_new(ts_engine *e, ts_netif *netif, ts_tcp_host *tcp, const uint8_t priv[32],
                           const char *bind_addr, uint16_t port, int *err) {
  ts_link_wg *l = calloc(1, sizeof *l);
  if (!l) {
    *err = UV_ENOMEM;
    return NULL;
  }
  l->engine = e;
  l->netif = netif;
  l->tcp = tcp;
  l->deadline = UINT64_MAX;
  memcpy(l->priv, priv, 32);
  l->plain = ts_pages_alloc(SCRATCH);
  l->sealed = ts_pages_alloc(SCRATCH);
  ts_wg_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.mtu = netif->nif.mtu;
  cfg.sink.ctx = l;
  cfg.sink.send = wg_sink;
  l->wg = l->plain && l->sealed ? ts_wg_device_new(priv, &cfg) : NULL;
  int r = l->wg ? ts_udp_open(&l->udp, bind_addr, port, NULL) : -ENOMEM;
  if (r == 0) r = ts_udp_rxbatch_init(&l->rx, 0, 0);
  if (r == 0) r = ts_udp_txbatch_init(&l->tx, 0, 0);
  /* A poll handle per socket: ts_link_wg_rebind replaces both. */
  if (r == 0 && !(l->poll = calloc(1, sizeof *l->poll))) r = UV_ENOMEM;
  if (r != 0) {
    *err = r;
    if (l->wg) ts_wg_device_free(l->wg);
    ts_udp_close(&l->udp);
    ts_udp_rxbatch_free(&l->rx);
    ts_udp_txbatch_free(&l->tx);
    ts_pages_free(l->plain, SCRATCH);
    ts_pages_free(l->sealed, SCRATCH);
    ts_wipe(l->priv, 32);
    free(l);
    return NULL;
  }
  uv_loop_t *loop = ts_engine_loop(e);
  uv_poll_init(loop, l->poll, l->udp.fd);
  l->poll->data = l;
  l->flush.fn = on_flush;
  uv_timer_init(loop, &l->timer);
  l->timer.data = l;
  netif->output = netif_out;
  netif->ctx = l;
  update_poll(l);
  *err = 0;
  return l;
}

static void closed(uv_handle_t *h) {
  ts_link_wg *l = h->data;
  if (h == (uv_handle_t *)l->poll) {
    free(l->poll);
    l->poll = NULL;
  }
  if (--l->closing > 0) return;
  ts_udp_rxbatch_free(&l->rx);
  ts_udp_txbatch_free(&l->tx);
  ts_pages_free(l->plain, SCRATCH);
  ts_pages_free(l->sealed, SCRATCH);
  free(l->keys);
  free(l->inits);
  for (size_t i = 0; i < l->nside; i++) free(l->side[i].data);
  free(l->side);
  ts_wipe(l->priv, 32);
  free(l);
}

void ts_link_wg_free(ts_link_wg *l) {
  /* Best effort: whatever is queued goes out now. */
  ts_udp_tx_flush(&l->udp, &l->tx);
  int ms = l->ms != NULL;
  ts_link_ms_free(l); /* relays, magicsock; its timer closes with the others */
  ts_wg_device_free(l->wg);
  l->wg = NULL;
  if (l->filter) ts_filter_free(l->filter);
  l->filter = NULL;
  l->netif->output = ts_netif_discard;
  ts_udp_close(&l->udp);
  ts_engine_defer_cancel(l->engine, &l->flush);
  l->closing = 2 + 2 * ms;
  if (ms) {
    uv_close((uv_handle_t *)&l->ms_timer, closed);
    uv_close((uv_handle_t *)&l->idle_timer, closed);
  }
  uv_close((uv_handle_t *)l->poll, closed);
  uv_close((uv_handle_t *)&l->timer, closed);
}

uint16_t ts_link_wg_port(const ts_link_wg *l) { return l->udp.local.port; }

static void free_handle(uv_handle_t *h) { free(h); }

int ts_link_wg_rebind(ts_link_wg *l, const char *bind_addr, uint16_t port) {
  ts_udp fresh;
  int r = ts_udp_open(&fresh, bind_addr, port, NULL);
  if (r != 0) return r;
  uv_poll_t *np = calloc(1, sizeof *np);
  if (!np) {
    ts_udp_close(&fresh);
    return UV_ENOMEM;
  }
  ts_udp_tx_flush(&l->udp, &l->tx); /* what was queued leaves from the old port; the rest is the new one's */
  uv_poll_stop(l->poll);
  uv_close((uv_handle_t *)l->poll, free_handle);
  ts_udp_close(&l->udp);
  l->udp = fresh;
  l->poll = np;
  uv_poll_init(ts_engine_loop(l->engine), l->poll, l->udp.fd);
  l->poll->data = l;
  l->poll_events = 0;
  update_poll(l);
  return 0;
}
ts_wg_device *ts_link_wg_device(ts_link_wg *l) { return l->wg; }

int ts_link_wg_peer_set(ts_link_wg *l, const uint8_t pub[32], const uint8_t *psk, const ts_addr *endpoint,
                        uint16_t keepalive_s) {
  ts_wg_endpoint ep;
  if (endpoint) ts_link_wg_endpoint(&ep, endpoint);
  ts_wg_peer *p = ts_wg_peer_find(l->wg, pub);
  if (!p) {
    if (l->nkeys == l->capkeys) {
      size_t cap = l->capkeys ? l->capkeys * 2 : 8;
      uint8_t(*k)[32] = realloc(l->keys, cap * 32);
      if (!k) return UV_ENOMEM;
      l->keys = k;
      l->capkeys = cap;
    }
    ts_wg_peer_config cfg = {.psk = psk, .persistent_keepalive_s = 0, .endpoint = endpoint ? &ep : NULL};
    p = ts_wg_peer_add(l->wg, pub, &cfg);
    if (!p) return UV_EINVAL;
    memcpy(l->keys[l->nkeys++], pub, 32);
  } else {
    ts_wg_peer_set_psk(p, psk);
    if (endpoint) {
      ts_wg_peer_set_endpoint(p, &ep);
      unstash_init(l, p, &ep, 1);
    }
  }
  ts_wg_peer_set_persistent_keepalive(p, ts_engine_now_ns(), keepalive_s);
  schedule(l);
  return 0;
}

int ts_link_wg_peer_allow(ts_link_wg *l, const uint8_t pub[32], int family, const uint8_t *addr, unsigned cidr) {
  ts_wg_peer *p = ts_wg_peer_find(l->wg, pub);
  if (!p) return UV_ENOENT;
  return ts_wg_peer_allow(l->wg, p, family, addr, cidr) == 0 ? 0 : UV_EINVAL;
}

int ts_link_wg_peer_set_allowed(ts_link_wg *l, const uint8_t pub[32], const ts_link_prefix *list, size_t n) {
  ts_wg_peer *p = ts_wg_peer_find(l->wg, pub);
  if (!p) return UV_ENOENT;
  ts_wg_peer_clear_allowed(l->wg, p);
  for (size_t i = 0; i < n; i++)
    if (ts_wg_peer_allow(l->wg, p, list[i].family, list[i].addr, list[i].cidr) != 0) return UV_EINVAL;
  return 0;
}

int ts_link_wg_peer_remove(ts_link_wg *l, const uint8_t pub[32]) {
  ts_wg_peer *p = ts_wg_peer_find(l->wg, pub);
  if (!p) return UV_ENOENT;
  unstash_init(l, p, NULL, 0);
  if (l->ms && ts_wg_peer_user(p)) ts_ms_peer_remove(l->ms, ts_wg_peer_user(p));
  ts_wg_peer_remove(l->wg, p);
  for (size_t i = 0; i < l->nkeys; i++) {
    if (memcmp(l->keys[i], pub, 32) == 0) {
      memmove(l->keys[i], l->keys[i + 1], (l->nkeys - i - 1) * 32);
      l->nkeys--;
      break;
    }
  }
  schedule(l);
  return 0;
}

int ts_link_wg_filter_set(ts_link_wg *l, const ts_filter_rule *rules, size_t n, const ts_filter_prefix *local,
                          size_t nlocal) {
  if (!l->filter) {
    ts_filter_config cfg;
    memset(&cfg, 0, sizeof cfg);
    ts_random(cfg.hash_key, sizeof cfg.hash_key);
    l->filter = ts_filter_new(&cfg);
    if (!l->filter) return UV_ENOMEM;
  }
  if (ts_filter_set_rules(l->filter, rules, n) != 0) return UV_EINVAL;
  if (ts_filter_set_local(l->filter, local, nlocal) != 0) return UV_EINVAL;
  return 0;
}

void ts_link_wg_filter_counters(const ts_link_wg *l, uint64_t out[TS_FILTER_REASON_COUNT]) {
  if (l->filter) ts_filter_counters(l->filter, out);
  else memset(out, 0, sizeof(uint64_t) * TS_FILTER_REASON_COUNT);
}

void ts_link_wg_foreach_peer(ts_link_wg *l, void (*fn)(void *ctx, const uint8_t pub[32], const ts_wg_peer_stats *st),
                             void *ctx) {
  uint64_t now = ts_engine_now_ns();
  for (size_t i = 0; i < l->nkeys; i++) {
    ts_wg_peer *p = ts_wg_peer_find(l->wg, l->keys[i]);
    if (!p) continue;
    ts_wg_peer_stats st;
    ts_wg_peer_stats_get(p, now, &st);
    fn(ctx, l->keys[i], &st);
  }
}

int ts_link_wg_routes(const ts_link_wg *l, int family, const uint8_t *addr) {
  return ts_wg_route(l->wg, family, addr) != NULL;
}
