#include "link_wg.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "disco/tsmp.h"
#include "link_wg_internal.h"
#include "mem/pages.h"

#define SCRATCH (TS_WG_MAX_PACKET + 64)


static uint64_t wall_ns(void) { return ts_engine_wall_ns(); } /* held per batch (ts_engine_clock_hold) */

void ts_link_wg_endpoint(ts_wg_endpoint *ep, const ts_addr *a) { ts_bind_endpoint_of(ep, a); }
int ts_link_wg_udp_addr(ts_addr *a, const ts_wg_endpoint *ep) { return ts_bind_addr_of(a, ep); }

static void on_timer(uv_timer_t *t);

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

/* ---- output ---- */
/* A message the WireGuard core made for peer goes to the bind. Returns 0 when there was nowhere to send it. */
static int emit(ts_link_wg *l, ts_wg_peer *peer, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  return l->bind->ops->send(l->bind, peer, ep, buf, len);
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

static void wg_sink(void *ctx, ts_wg_peer *peer, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  ts_link_wg *l = ctx;
  if (!emit(l, peer, ep, buf, len) && peer && len == 148 && buf[0] == 1) stash_init(l, peer, buf);
}

void ts_link_wg_unstash(ts_link_wg *l, ts_wg_peer *peer) { unstash_init(l, peer, NULL, 1); }

/* Every stashed initiation that has a path now goes; the others stay. */
static void unstash_all(ts_link_wg *l) {
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

/* A packet from lwIP is copied once, into the bind's next datagram, and encrypted there in place. Where it
 * goes is known only after WireGuard routed it: the bind learns it at commit. */
static void netif_out(void *ctx, struct pbuf *p) {
  ts_link_wg *l = ctx;
  if (l->closing) return;
  size_t len = p->tot_len;
  size_t need = ts_wg_data_len(l->wg, len);
  ts_bind *b = l->bind;
  uint8_t *slot = b->ops->reserve(b, need);
  ts_wg_tx res;
  uint64_t now = ts_engine_now_ns();
  if (!slot) { /* no room even after a flush (socket buffer full): the scratch path */
    pbuf_copy_partial(p, l->plain, (u16_t)len, 0);
    if (l->filter) ts_filter_note_out(l->filter, l->plain, len, now);
    if (ts_wg_send(l->wg, now, wall_ns(), l->plain, len, l->sealed, SCRATCH, &res) == TS_WG_TX_READY)
      emit(l, res.peer, res.endpoint, l->sealed, res.len);
    schedule(l);
    return;
  }
  pbuf_copy_partial(p, slot + 16, (u16_t)len, 0);
  if (l->filter) ts_filter_note_out(l->filter, slot + 16, len, now); /* replies to our flows may come back */
  /* Messages WireGuard sends meanwhile (packets that waited for a session) go to the bind, which sends them
   * before this one. */
  if (ts_wg_send(l->wg, now, wall_ns(), slot + 16, len, slot, need, &res) == TS_WG_TX_READY)
    b->ops->commit(b, res.peer, res.endpoint, res.len);
  else
    b->ops->cancel(b);
  schedule(l);
}

/* ---- input (from the bind) ---- */
/* An IP packet of ours (a TSMP pong) to the peer a message came from, encrypted in the scratch buffer. */
static void send_to_peer(ts_link_wg *l, ts_wg_peer *peer, const uint8_t *pkt, size_t len, uint64_t now) {
  ts_wg_tx res;
  if (ts_wg_peer_send(l->wg, peer, now, wall_ns(), pkt, len, l->sealed, SCRATCH, &res) == TS_WG_TX_READY)
    emit(l, res.peer, res.endpoint, l->sealed, res.len);
}

static void link_recv(void *ctx, ts_bind_msg *msgs, size_t n, uint64_t now) {
  ts_link_wg *l = ctx;
  uint64_t wall = wall_ns();
  ts_bind *b = l->bind;
  for (size_t i = 0; i < n; i++) {
    ts_wg_rx out;
    ts_wg_rx_kind kind = ts_wg_receive(l->wg, now, wall, msgs[i].data, msgs[i].len, &msgs[i].src, &out);
    if (kind == TS_WG_RX_DROP) continue;
    /* crypto routing: a bind that chooses paths learns that the source leads to the peer */
    if (out.peer && b->ops->authenticated) b->ops->authenticated(b, out.peer, &msgs[i].src, now);
    if (kind != TS_WG_RX_DATA) continue;
    if (l->filter && !ts_filter_accepted(ts_filter_check_in(l->filter, out.data, out.len, now))) continue;
    /* TSMP (disco key advertisements, pings) is for magicsock, not the stack (docs/protocol/magicsock.md §5) */
    if (l->ms) {
      uint8_t reply[TS_TSMP_MAX_REPLY];
      size_t rlen = 0;
      if (ts_bind_ms_tsmp_input(l->ms, out.peer, out.data, out.len, now, reply, sizeof reply, &rlen)) {
        if (rlen) send_to_peer(l, out.peer, reply, rlen, now);
        continue;
      }
    }
    l->tcp->rx_relayed = msgs[i].relayed; /* stack/tcp_relayed.h */
    ts_netif_input(l->netif, out.data, out.len);
    l->tcp->rx_relayed = 0;
  }
}

static void link_recv_done(void *ctx) {
  ts_link_wg *l = ctx;
  ts_tcp_input_done(l->tcp);
  schedule(l);
}

static void link_paths(void *ctx) { unstash_all(ctx); }

static void link_unreachable(void *ctx, const uint8_t peer_key[32], uint64_t now) {
  ts_link_wg *l = ctx;
  ts_wg_peer *p = ts_wg_peer_find(l->wg, peer_key);
  if (!p) return;
  ts_wg_peer_unreachable(p, now);
  schedule(l);
}

static void on_timer(uv_timer_t *t) {
  ts_link_wg *l = t->data;
  l->deadline = UINT64_MAX;
  ts_wg_timers(l->wg, ts_engine_now_ns(), wall_ns());
  schedule(l);
}

/* ---- lifetime ---- */
/* A completed handshake goes to the embedder as an event (logs, the 'handshake' event). */
static void wg_handshake(void *ctx, ts_wg_peer *peer) {
  ts_link_wg *l = ctx;
  ts_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = TS_EV_HANDSHAKE;
  ev.device = l->tcp->device_id;
  ev.fd = -1;
  ts_ev_handshake h;
  memcpy(h.public_key, ts_wg_peer_public_key(peer), 32);
  ts_event_put(&ev, &h);
  ts_evq_push(l->tcp->evq, &ev);
}

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
  cfg.on_handshake = wg_handshake;
  cfg.on_handshake_ctx = l;
  l->wg = l->plain && l->sealed ? ts_wg_device_new(priv, &cfg) : NULL;
  ts_bind_up up = {.ctx = l, .recv = link_recv, .recv_done = link_recv_done, .paths = link_paths,
                   .unreachable = link_unreachable};
  int r = -ENOMEM;
  if (l->wg) l->udp = ts_bind_udp_new(e, bind_addr, port, &up, &r);
  if (!l->udp) {
    *err = r;
    if (l->wg) ts_wg_device_free(l->wg);
    ts_pages_free(l->plain, SCRATCH);
    ts_pages_free(l->sealed, SCRATCH);
    ts_wipe(l->priv, 32);
    free(l);
    return NULL;
  }
  l->bind = ts_bind_udp_bind(l->udp);
  uv_timer_init(ts_engine_loop(e), &l->timer);
  l->timer.data = l;
  netif->output = netif_out;
  netif->ctx = l;
  *err = 0;
  return l;
}

static void closed(uv_handle_t *h) {
  ts_link_wg *l = h->data;
  if (--l->closing > 0) return;
  ts_pages_free(l->plain, SCRATCH);
  ts_pages_free(l->sealed, SCRATCH);
  free(l->keys);
  for (size_t i = 0; i < l->ninits; i++) ts_wipe(l->inits[i].msg, 148);
  free(l->inits);
  ts_wipe(l->priv, 32);
  free(l);
}

void ts_link_wg_free(ts_link_wg *l) {
  l->bind->ops->close(l->bind); /* sends what is queued, then closes the socket and relays */
  l->bind = NULL;
  l->udp = NULL;
  l->ms = NULL;
  ts_wg_device_free(l->wg);
  l->wg = NULL;
  if (l->filter) ts_filter_free(l->filter);
  l->filter = NULL;
  l->netif->output = ts_netif_discard;
  l->closing = 1;
  uv_close((uv_handle_t *)&l->timer, closed);
}

uint16_t ts_link_wg_port(const ts_link_wg *l) { return l->bind->ops->port(l->bind); }

int ts_link_wg_rebind(ts_link_wg *l, const char *bind_addr, uint16_t port) {
  return l->bind->ops->rebind(l->bind, bind_addr, port);
}

ts_wg_device *ts_link_wg_device(ts_link_wg *l) { return l->wg; }

void ts_link_wg_set_udp_offload(ts_link_wg *l, int gso, int gro, int equal_tail_guard) {
  ts_bind_udp_set_offload(l->udp, gso, gro, equal_tail_guard);
}

void ts_link_wg_udp_offload(const ts_link_wg *l, ts_bind_udp_offload_info *out) { ts_bind_udp_offload(l->udp, out); }

int ts_link_wg_set_private_key(ts_link_wg *l, const uint8_t priv[32]) {
  uint8_t before[32], after[32];
  ts_wg_device_public_key(l->wg, before);
  int r = ts_wg_device_set_private_key(l->wg, priv);
  if (r == -2) return UV_EEXIST;
  if (r != 0) return UV_EINVAL;
  ts_wg_device_public_key(l->wg, after);
  if (memcmp(before, after, 32) == 0) return 0; /* unchanged: relays and sessions stay */
  memcpy(l->priv, priv, 32);
  for (size_t i = 0; i < l->ninits; i++) ts_wipe(l->inits[i].msg, 148);
  l->ninits = 0;
  if (l->ms) ts_bind_ms_set_node_key(l->ms, priv, after);
  schedule(l); /* peers with queued packets handshake at once */
  return 0;
}

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
  if (l->bind->ops->peer_removed) l->bind->ops->peer_removed(l->bind, p);
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

/* Sends the n-byte inner packet in l->plain through the tunnel. Without a session it waits in the peer's queue
 * while a handshake starts, as any packet would. */
static void send_inner(ts_link_wg *l, long n) {
  ts_wg_tx res;
  if (ts_wg_send(l->wg, ts_engine_now_ns(), wall_ns(), l->plain, (size_t)n, l->sealed, SCRATCH, &res) == TS_WG_TX_READY)
    emit(l, res.peer, res.endpoint, l->sealed, res.len);
}

int ts_link_wg_tsmp_ping(ts_link_wg *l, const ts_addr *src, const ts_addr *dst, const uint8_t data[8]) {
  if (l->closing) return UV_EINVAL;
  if (!ts_wg_route(l->wg, dst->family, dst->ip)) return UV_EHOSTUNREACH;
  long n = ts_tsmp_ping_encode(l->plain, SCRATCH, src, dst, data);
  if (n < 0) return UV_EINVAL;
  send_inner(l, n);
  /* As Tailscale's client does with every TSMP ping, our disco key follows it (docs/protocol/capver.md, 144): a
   * peer that lost track of it (it restarted, control is slow) can reach us by disco again. */
  ts_ms *ms = ts_link_wg_ms(l);
  if (ms) {
    uint8_t disco[TS_TSMP_KEY_LEN];
    ts_ms_disco_public(ms, disco);
    n = ts_tsmp_disco_advert_encode(l->plain, SCRATCH, src, dst, disco);
    if (n > 0) send_inner(l, n);
  }
  schedule(l);
  return 0;
}

int ts_link_wg_routes(const ts_link_wg *l, int family, const uint8_t *addr) {
  return ts_wg_route(l->wg, family, addr) != NULL;
}
