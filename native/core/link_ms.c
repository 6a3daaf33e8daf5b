/* Tailscale mode of the WireGuard link: magicsock chooses each peer's path (direct UDP proven by disco, else
 * a DERP relay), relay connections come from JavaScript as socketpairs (link_derp.c), and the UDP socket
 * also carries disco and STUN (protocols.md §4.1 demultiplexing). Engine thread only. */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "disco/disco.h"
#include "disco/stun.h"
#include "link_wg_internal.h"

#define WANT_INTERVAL (1000 * 1000000ULL) /* ask JavaScript for a relay at most once a second per region */
#define STUN_TIMEOUT (5 * 1000000000ULL)
/* Relays other than home are dialed on demand and closed after this long without a packet (Tailscale's
 * magicsock does the same after 60 s). */
#define DERP_IDLE_DEFAULT (60 * 1000000000ULL)
#define IDLE_CHECK_MS 5000

void ts_link_ms_derp_endpoint(ts_wg_endpoint *ep, uint32_t region, const uint8_t key[32]) {
  memset(ep, 0, sizeof *ep);
  ep->data[0] = 'D';
  ep->data[1] = (uint8_t)(region >> 24);
  ep->data[2] = (uint8_t)(region >> 16);
  ep->data[3] = (uint8_t)(region >> 8);
  ep->data[4] = (uint8_t)region;
  memcpy(ep->data + 5, key, 32);
  ep->len = 37;
  ep->host_len = 37;
}

int ts_link_ms_derp_decode(const ts_wg_endpoint *ep, uint32_t *region, const uint8_t **key) {
  if (ep->len != 37 || ep->data[0] != 'D') return -1;
  *region = (uint32_t)ep->data[1] << 24 | (uint32_t)ep->data[2] << 16 | (uint32_t)ep->data[3] << 8 | ep->data[4];
  *key = ep->data + 5;
  return 0;
}

static ts_link_region *region_find(ts_link_wg *l, uint32_t id) {
  for (size_t i = 0; i < l->nregions; i++)
    if (l->regions[i].id == id) return &l->regions[i];
  return NULL;
}

static ts_link_region *region_get(ts_link_wg *l, uint32_t id) {
  ts_link_region *r = region_find(l, id);
  if (r) return r;
  ts_link_region *n = realloc(l->regions, (l->nregions + 1) * sizeof *n);
  if (!n) return NULL;
  /* Connections keep a pointer to the link, not to the region: growing the array is safe. */
  l->regions = n;
  r = &l->regions[l->nregions++];
  memset(r, 0, sizeof *r);
  r->id = id;
  return r;
}

static void pending_clear(ts_link_region *r) {
  for (size_t i = 0; i < r->npending; i++) free(r->pending[i].data);
  r->npending = 0;
}

void ts_link_ms_send_derp(ts_link_wg *l, uint32_t region, const uint8_t key[32], const uint8_t *buf, size_t len) {
  ts_link_region *r = region_get(l, region);
  if (!r) return;
  r->last_active = ts_engine_now_ns();
  if (r->conn && ts_link_derp_connected(r->conn)) {
    ts_link_derp_send(r->conn, key, buf, len);
    return;
  }
  /* Not connected yet: keep the last few packets (handshakes, the first segments) and ask for the relay. */
  if (r->npending == sizeof r->pending / sizeof r->pending[0]) {
    free(r->pending[0].data);
    memmove(r->pending, r->pending + 1, (r->npending - 1) * sizeof r->pending[0]);
    r->npending--;
  }
  uint8_t *copy = malloc(len);
  if (copy) {
    memcpy(copy, buf, len);
    memcpy(r->pending[r->npending].key, key, 32);
    r->pending[r->npending].len = len;
    r->pending[r->npending].data = copy;
    r->npending++;
  }
  uint64_t now = ts_engine_now_ns();
  if (!r->conn && (r->last_want == 0 || now - r->last_want >= WANT_INTERVAL)) {
    r->last_want = now;
    if (l->ev.derp_want) l->ev.derp_want(l->ev.ctx, region);
  }
}

int ts_link_ms_emit(ts_link_wg *l, ts_wg_peer *peer, const uint8_t *buf, size_t len) {
  ts_ms_peer *mp = ts_wg_peer_user(peer);
  ts_ms_path paths[2];
  int k = ts_ms_route(l->ms, mp, ts_engine_now_ns(), paths);
  for (int i = 0; i < k; i++) {
    if (paths[i].kind == TS_MS_PATH_UDP) ts_link_wg_queue_datagram(l, &paths[i].addr, buf, len);
    else if (paths[i].kind == TS_MS_PATH_DERP) ts_link_ms_send_derp(l, paths[i].region, ts_ms_peer_node_key(mp), buf, len);
  }
  return k;
}

/* magicsock's disco packets. */
static void ms_send(void *ctx, const ts_ms_path *path, const uint8_t node_key[32], const uint8_t *pkt, size_t len) {
  ts_link_wg *l = ctx;
  ts_wg_endpoint ep;
  if (path->kind == TS_MS_PATH_UDP) ts_link_wg_endpoint(&ep, &path->addr);
  else if (path->kind == TS_MS_PATH_DERP) ts_link_ms_derp_endpoint(&ep, path->region, node_key);
  else return;
  ts_link_wg_send_ep(l, &ep, pkt, len);
}

/* A peer's path changed (a pong proved a direct address): a handshake initiation that found no path may go
 * now. Not from inside magicsock (no re-entry): flagged here, done by ts_link_ms_after_input. */
static void ms_on_path(void *ctx, ts_ms_peer *p) {
  (void)p;
  ts_link_wg *l = ctx;
  l->paths_changed = 1;
}

void ts_link_ms_after_input(ts_link_wg *l) {
  if (!l->paths_changed) return;
  l->paths_changed = 0;
  ts_link_wg_unstash_all(l);
}

/* ---- relays ---- */
static ts_link_region *region_of(ts_link_wg *l, ts_link_derp *c) {
  for (size_t i = 0; i < l->nregions; i++)
    if (l->regions[i].conn == c) return &l->regions[i];
  return NULL;
}

static void derp_packet(void *ctx, ts_link_derp *c, const uint8_t src[32], uint8_t *pkt, size_t len) {
  ts_link_wg *l = ctx;
  uint64_t now = ts_engine_now_ns();
  ts_ms_path path = {.kind = TS_MS_PATH_DERP, .region = ts_link_derp_region(c)};
  ts_link_region *r = region_of(l, c);
  if (r) r->last_active = now;
  if (ts_disco_is_disco(pkt, len)) {
    ts_ms_disco_input(l->ms, now, pkt, len, &path, src);
    ts_link_ms_after_input(l);
  } else {
    ts_wg_endpoint ep;
    ts_link_ms_derp_endpoint(&ep, path.region, src);
    ts_link_wg_input(l, now, ts_link_wg_wall_ns(), pkt, len, &ep, &path);
    l->rx_flush = 1;
  }
  ts_link_wg_want_flush(l);
  ts_link_ms_schedule(l);
}

static void derp_connected(void *ctx, ts_link_derp *c) {
  ts_link_wg *l = ctx;
  ts_link_region *r = region_of(l, c);
  if (!r) return;
  ts_link_derp_note_preferred(c, r->id == l->home);
  for (size_t i = 0; i < r->npending; i++) {
    ts_link_derp_send(c, r->pending[i].key, r->pending[i].data, r->pending[i].len);
    free(r->pending[i].data);
  }
  r->npending = 0;
  if (l->ev.derp_state) l->ev.derp_state(l->ev.ctx, r->id, 1, 0);
}

static void derp_closed(void *ctx, ts_link_derp *c, int err) {
  ts_link_wg *l = ctx;
  ts_link_region *r = region_of(l, c);
  if (!r) return;
  r->conn = NULL;
  r->last_want = 0;
  ts_link_derp_free(c); /* deferred: the handles close on a later loop turn */
  if (l->ev.derp_state) l->ev.derp_state(l->ev.ctx, r->id, 0, err);
}

static void on_idle_check(uv_timer_t *t) {
  ts_link_wg *l = t->data;
  uint64_t now = ts_engine_now_ns();
  for (size_t i = 0; i < l->nregions; i++) {
    ts_link_region *r = &l->regions[i];
    if (!r->conn || r->id == l->home || now - r->last_active < l->derp_idle_ns) continue;
    ts_link_derp_free(r->conn); /* JavaScript sees its end close and does not redial a region that is not home */
    r->conn = NULL;
    pending_clear(r);
    if (l->ev.derp_state) l->ev.derp_state(l->ev.ctx, r->id, 0, 0);
  }
}

void ts_link_wg_ms_derp_idle(ts_link_wg *l, uint64_t idle_ms) {
  l->derp_idle_ns = idle_ms ? idle_ms * 1000000ULL : DERP_IDLE_DEFAULT;
  if (!l->ms) return;
  uint64_t check = idle_ms && idle_ms / 4 < IDLE_CHECK_MS ? (idle_ms / 4 ? idle_ms / 4 : 1) : IDLE_CHECK_MS;
  uv_timer_start(&l->idle_timer, on_idle_check, check, check);
}

int ts_link_wg_derp_attach(ts_link_wg *l, uint32_t region, const char *host, const uint8_t *server_key,
                           int *js_fd) {
  if (!l->ms) return UV_EINVAL;
  ts_link_region *r = region_get(l, region);
  if (!r) return UV_ENOMEM;
  if (r->conn) {
    ts_link_derp_free(r->conn);
    r->conn = NULL;
  }
  ts_link_derp_cb cb = {.ctx = l, .packet = derp_packet, .connected = derp_connected, .closed = derp_closed};
  int err = 0;
  r->last_active = ts_engine_now_ns();
  r->conn = ts_link_derp_new(l->engine, region, l->priv, host, server_key, &cb, js_fd, &err);
  return r->conn ? 0 : err;
}

/* ---- STUN and disco on the UDP socket ---- */
int ts_link_wg_stun_probe(ts_link_wg *l, uint32_t region, const ts_addr *dst) {
  if (!l->ms) return UV_EINVAL;
  struct stun_probe *p = &l->stun[l->stun_next++ % (sizeof l->stun / sizeof l->stun[0])];
  ts_random(p->txid, sizeof p->txid);
  p->region = region;
  p->sent = ts_engine_now_ns();
  uint8_t req[TS_STUN_REQUEST_LEN];
  ts_stun_request(req, p->txid);
  ts_link_wg_queue_datagram(l, dst, req, sizeof req);
  return 0;
}

static void stun_input(ts_link_wg *l, uint64_t now, const ts_udp_dgram *d) {
  uint8_t txid[12];
  ts_addr mapped;
  if (ts_stun_parse_response(d->data, d->len, txid, &mapped) != 0) {
    l->stun_stray++;
    return;
  }
  for (size_t i = 0; i < sizeof l->stun / sizeof l->stun[0]; i++) {
    struct stun_probe *p = &l->stun[i];
    if (p->sent == 0 || !ts_ct_equal(p->txid, txid, sizeof txid)) continue;
    uint64_t rtt = now - p->sent;
    uint32_t region = p->region;
    p->sent = 0; /* one answer per request */
    if (rtt < STUN_TIMEOUT && l->ev.stun) l->ev.stun(l->ev.ctx, region, rtt, &mapped);
    return;
  }
  l->stun_stray++; /* not ours, or a duplicate */
}

int ts_link_ms_udp_input(ts_link_wg *l, uint64_t now, const ts_udp_dgram *d) {
  if (ts_stun_is_binding_response(d->data, d->len)) {
    stun_input(l, now, d);
    return 1;
  }
  if (ts_disco_is_disco(d->data, d->len)) {
    if (l->derp_only) return 1;
    ts_ms_path path = {.kind = TS_MS_PATH_UDP, .addr = *d->from};
    ts_ms_disco_input(l->ms, now, d->data, d->len, &path, NULL);
    ts_link_ms_after_input(l);
    return 1;
  }
  return 0;
}

/* ---- timers ---- */
static void on_ms_timer(uv_timer_t *t) {
  ts_link_wg *l = t->data;
  l->ms_armed = UINT64_MAX;
  if (!l->ms) return;
  ts_ms_timers(l->ms, ts_engine_now_ns());
  ts_link_ms_schedule(l);
}

void ts_link_ms_schedule(ts_link_wg *l) {
  if (!l->ms) return;
  uint64_t next = ts_ms_next_deadline(l->ms);
  if (next == UINT64_MAX || (l->ms_armed != UINT64_MAX && next >= l->ms_armed)) return;
  uint64_t now = ts_engine_now_ns();
  l->ms_armed = next;
  uv_timer_start(&l->ms_timer, on_ms_timer, next > now ? (next - now + 999999) / 1000000 : 0, 0);
}

/* ---- set-up ---- */
int ts_link_wg_magicsock(ts_link_wg *l, const uint8_t disco_priv[32], const ts_link_wg_events *ev) {
  if (l->ms) return UV_EALREADY;
  ts_ms_config cfg;
  memset(&cfg, 0, sizeof cfg);
  memcpy(cfg.disco_private, disco_priv, 32);
  ts_wg_device_public_key(l->wg, cfg.node_public);
  cfg.send = ms_send;
  cfg.on_path = ms_on_path;
  cfg.ctx = l;
  l->ms = ts_ms_new(&cfg);
  ts_wipe(cfg.disco_private, sizeof cfg.disco_private);
  if (!l->ms) return UV_EINVAL;
  if (ev) l->ev = *ev;
  l->ms_armed = UINT64_MAX;
  uv_timer_init(ts_engine_loop(l->engine), &l->ms_timer);
  l->ms_timer.data = l;
  uv_timer_init(ts_engine_loop(l->engine), &l->idle_timer);
  l->idle_timer.data = l;
  ts_link_wg_ms_derp_idle(l, 0);
  return 0;
}

int ts_link_wg_ms_peer_set(ts_link_wg *l, const uint8_t node_key[32], const uint8_t *disco_key, uint32_t home,
                           const ts_addr *eps, size_t n) {
  if (!l->ms) return UV_EINVAL;
  ts_wg_peer *p = ts_wg_peer_find(l->wg, node_key);
  if (!p) {
    int r = ts_link_wg_peer_set(l, node_key, NULL, NULL, 0);
    if (r != 0) return r;
    p = ts_wg_peer_find(l->wg, node_key);
    if (!p) return UV_EINVAL;
  }
  ts_ms_peer *mp = ts_ms_peer_set(l->ms, node_key, disco_key, home, eps, n, ts_engine_now_ns());
  if (!mp) return UV_ENOMEM;
  ts_ms_peer_set_user(mp, p);
  ts_wg_peer_set_user(p, mp);
  ts_link_wg_unstash(l, p);
  ts_link_ms_schedule(l);
  return 0;
}

int ts_link_wg_ms_set_self(ts_link_wg *l, const ts_addr *eps, size_t n, uint32_t home) {
  if (!l->ms) return UV_EINVAL;
  ts_ms_set_endpoints(l->ms, eps, n);
  ts_ms_set_home_region(l->ms, home);
  if (home != l->home) {
    l->home = home;
    for (size_t i = 0; i < l->nregions; i++)
      if (l->regions[i].conn && ts_link_derp_connected(l->regions[i].conn))
        ts_link_derp_note_preferred(l->regions[i].conn, l->regions[i].id == home);
  }
  return 0;
}

ts_ms *ts_link_wg_ms(ts_link_wg *l) { return l->ms; }

void ts_link_wg_ms_derp_only(ts_link_wg *l, int on) { l->derp_only = on != 0; }

void ts_link_wg_foreach_region(ts_link_wg *l, void (*fn)(void *ctx, uint32_t region, int connected,
                                                         const ts_link_derp_stats *st),
                               void *ctx) {
  for (size_t i = 0; i < l->nregions; i++) {
    ts_link_derp_stats st;
    memset(&st, 0, sizeof st);
    if (l->regions[i].conn) ts_link_derp_stats_get(l->regions[i].conn, &st);
    fn(ctx, l->regions[i].id, l->regions[i].conn && ts_link_derp_connected(l->regions[i].conn), &st);
  }
}

void ts_link_ms_free(ts_link_wg *l) {
  for (size_t i = 0; i < l->nregions; i++) {
    ts_link_derp_free(l->regions[i].conn);
    pending_clear(&l->regions[i]);
  }
  free(l->regions);
  l->regions = NULL;
  l->nregions = 0;
  if (l->ms) {
    uv_timer_stop(&l->ms_timer);
    uv_timer_stop(&l->idle_timer);
    ts_ms_free(l->ms);
    l->ms = NULL;
  }
}
