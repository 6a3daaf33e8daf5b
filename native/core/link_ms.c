/* Tailscale mode of the WireGuard link: its entry points (declared in link_wg.h) hand the work to the
 * magicsock bind (bind/bind_ms.c), which takes over the link's UDP bind. The link's data path does not
 * change: it still only sends to and receives from a ts_bind (docs/architecture.md, "The link: netif, wg,
 * bind"). Engine thread only. */
#include <string.h>

#include "crypto/crypto.h"
#include "link_wg_internal.h"

int ts_link_wg_magicsock(ts_link_wg *l, const uint8_t disco_priv[32], const ts_bind_ms_events *ev) {
  if (l->ms) return UV_EALREADY;
  uint8_t pub[32];
  ts_wg_device_public_key(l->wg, pub);
  int err = 0;
  l->ms = ts_bind_ms_new(l->engine, l->udp, l->priv, pub, disco_priv, ev, &err);
  if (!l->ms) return err;
  l->bind = ts_bind_ms_bind(l->ms);
  return 0;
}

void ts_link_wg_ms_derp_idle(ts_link_wg *l, uint64_t idle_ms) {
  if (l->ms) ts_bind_ms_derp_idle(l->ms, idle_ms);
}

void ts_link_wg_ms_derp_only(ts_link_wg *l, int on) {
  if (l->ms) ts_bind_ms_derp_only(l->ms, on);
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
  int r = ts_bind_ms_peer_set(l->ms, p, node_key, disco_key, home, eps, n);
  if (r != 0) return r;
  ts_link_wg_unstash(l, p);
  return 0;
}

int ts_link_wg_ms_set_self(ts_link_wg *l, const ts_addr *eps, size_t n, uint32_t home) {
  return l->ms ? ts_bind_ms_set_self(l->ms, eps, n, home) : UV_EINVAL;
}

int ts_link_wg_derp_attach(ts_link_wg *l, uint32_t region, const char *host, const uint8_t *server_key,
                           const ts_derp_stream *stream, int *js_fd) {
  return l->ms ? ts_bind_ms_derp_attach(l->ms, region, host, server_key, stream, js_fd) : UV_EINVAL;
}

ts_derp_conn *ts_link_wg_derp_stream(ts_link_wg *l, uint64_t id) { return l->ms ? ts_bind_ms_derp_stream(l->ms, id) : NULL; }

int ts_link_wg_stun_probe(ts_link_wg *l, uint32_t region, const ts_addr *dst) {
  return l->ms ? ts_bind_ms_stun_probe(l->ms, region, dst) : UV_EINVAL;
}

int ts_link_wg_disco_ping(ts_link_wg *l, const uint8_t node_key[32], uint32_t tag) {
  return l->ms ? ts_bind_ms_disco_ping(l->ms, node_key, tag) : UV_EINVAL;
}

ts_ms *ts_link_wg_ms(ts_link_wg *l) { return l->ms ? ts_bind_ms_state(l->ms) : NULL; }

void ts_link_wg_foreach_region(ts_link_wg *l, void (*fn)(void *ctx, uint32_t region, int connected,
                                                         const ts_derp_conn_stats *st),
                               void *ctx) {
  if (l->ms) ts_bind_ms_foreach_region(l->ms, fn, ctx);
}
