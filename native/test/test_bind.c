/* The plain-UDP bind (bind/bind_udp.c) over loopback, driven by an inline engine: sending to endpoints,
 * batches delivered upward with their source, messages sent during an in-place reservation leaving before
 * it, the upper bind's hook, and rebinding; and the magicsock bind taking TSMP from the link and a new node key. */
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bind/bind_ms.h"
#include "bind/bind_udp.h"
#include "crypto/crypto.h"
#include "disco/tsmp.h"
#include "engine/engine.h"
#include "wg/wg.h"
#include "test.h"

#define MAXGOT 16

typedef struct {
  int n, done;
  char got[MAXGOT][32];
  ts_addr from[MAXGOT];
  int hooked;
} sink;

static void up_recv(void *ctx, ts_bind_msg *msgs, size_t n, uint64_t now) {
  sink *s = ctx;
  (void)now;
  for (size_t i = 0; i < n && s->n < MAXGOT; i++) {
    size_t len = msgs[i].len < 31 ? msgs[i].len : 31;
    memcpy(s->got[s->n], msgs[i].data, len);
    s->got[s->n][len] = 0;
    if (ts_bind_addr_of(&s->from[s->n], &msgs[i].src) != 0) memset(&s->from[s->n], 0, sizeof(ts_addr));
    s->n++;
  }
}

static void up_done(void *ctx) { ((sink *)ctx)->done++; }

/* Consumes datagrams that start with 'X' (as the magicsock bind takes STUN and disco). */
static int hook(void *ctx, uint64_t now, const ts_udp_dgram *d, ts_bind_msg *up) {
  (void)now;
  (void)up;
  if (d->len == 0 || d->data[0] != 'X') return 0;
  ((sink *)ctx)->hooked++;
  return 1;
}

/* Runs the engine until s has want messages (fails after 5 s without them). */
static int wait_for(ts_engine *e, sink *s, int want) {
  uint64_t end = ts_engine_now_ns() + 5000000000ULL;
  while (s->n < want && ts_engine_now_ns() < end) {
    int t = ts_engine_run_inline(e);
    struct pollfd p = {.fd = ts_engine_backend_fd(e), .events = POLLIN};
    poll(&p, 1, t < 0 || t > 100 ? 100 : t);
  }
  ts_engine_run_inline(e);
  return s->n == want;
}

typedef struct {
  ts_engine *e;
  sink sa, sb;
  ts_bind_udp *a, *b;
  ts_bind *ba, *bb;
  ts_wg_endpoint to_b;
} world;

static void world_new(world *w) {
  memset(w, 0, sizeof *w);
  w->e = ts_engine_new(NULL);
  ts_engine_start_inline(w->e);
  ts_bind_up ua = {.ctx = &w->sa, .recv = up_recv, .recv_done = up_done};
  ts_bind_up ub = {.ctx = &w->sb, .recv = up_recv, .recv_done = up_done};
  int err = -1;
  w->a = ts_bind_udp_new(w->e, "127.0.0.1", 0, &ua, &err);
  CHECK_EQ_INT(err, 0);
  w->b = ts_bind_udp_new(w->e, "127.0.0.1", 0, &ub, &err);
  CHECK_EQ_INT(err, 0);
  w->ba = ts_bind_udp_bind(w->a);
  w->bb = ts_bind_udp_bind(w->b);
  ts_addr addr;
  ts_addr_parse(&addr, "127.0.0.1", w->bb->ops->port(w->bb));
  ts_bind_endpoint_of(&w->to_b, &addr);
}

static void world_free(world *w) {
  w->ba->ops->close(w->ba);
  w->bb->ops->close(w->bb);
  ts_engine_free(w->e); /* runs the loop until the binds' handles are closed and freed */
}

static void send_str(ts_bind *b, const ts_wg_endpoint *ep, const char *s, int want) {
  CHECK_EQ_INT(b->ops->send(b, NULL, ep, (const uint8_t *)s, strlen(s)), want);
}

static void test_send_and_receive(void) {
  world w;
  world_new(&w);
  uint16_t pa = w.ba->ops->port(w.ba);
  CHECK(pa != 0);
  send_str(w.ba, NULL, "nowhere", 0); /* no endpoint: nowhere to send */
  send_str(w.ba, &w.to_b, "one", 1);
  send_str(w.ba, &w.to_b, "two", 1);
  CHECK(wait_for(w.e, &w.sb, 2));
  CHECK(strcmp(w.sb.got[0], "one") == 0);
  CHECK(strcmp(w.sb.got[1], "two") == 0);
  CHECK_EQ_INT(w.sb.from[0].family, TS_ADDR_V4);
  CHECK_EQ_INT(w.sb.from[0].port, pa);
  CHECK(w.sb.done >= 1);
  world_free(&w);
}

/* A packet sealed in place leaves after what was sent while its slot was open; a cancelled slot sends
 * nothing but lets those through. */
static void test_reservation_order(void) {
  world w;
  world_new(&w);
  uint8_t *slot = w.ba->ops->reserve(w.ba, 16);
  CHECK(slot != NULL);
  if (slot) memcpy(slot, "main-and-padding", 16);
  send_str(w.ba, &w.to_b, "side", 1);
  CHECK_EQ_INT(w.ba->ops->commit(w.ba, NULL, &w.to_b, 4), 1); /* trimmed to "main" */
  slot = w.ba->ops->reserve(w.ba, 8);
  CHECK(slot != NULL);
  if (slot) memcpy(slot, "dropped!", 8);
  send_str(w.ba, &w.to_b, "after", 1);
  w.ba->ops->cancel(w.ba);
  slot = w.ba->ops->reserve(w.ba, 4);
  if (slot) memcpy(slot, "last", 4);
  CHECK_EQ_INT(w.ba->ops->commit(w.ba, NULL, NULL, 4), 0); /* no endpoint: dropped */
  send_str(w.ba, &w.to_b, "end", 1);
  CHECK(wait_for(w.e, &w.sb, 4));
  CHECK(strcmp(w.sb.got[0], "side") == 0);
  CHECK(strcmp(w.sb.got[1], "main") == 0);
  CHECK(strcmp(w.sb.got[2], "after") == 0);
  CHECK(strcmp(w.sb.got[3], "end") == 0);
  world_free(&w);
}

static void test_hook_consumes(void) {
  world w;
  world_new(&w);
  ts_bind_udp_set_hook(w.b, hook, &w.sb);
  send_str(w.ba, &w.to_b, "Xdisco", 1);
  send_str(w.ba, &w.to_b, "wireguard", 1);
  CHECK(wait_for(w.e, &w.sb, 1));
  CHECK_EQ_INT(w.sb.hooked, 1);
  CHECK(strcmp(w.sb.got[0], "wireguard") == 0);
  world_free(&w);
}

static void test_rebind(void) {
  world w;
  world_new(&w);
  uint16_t before = w.ba->ops->port(w.ba);
  CHECK_EQ_INT(w.ba->ops->rebind(w.ba, "127.0.0.1", 0), 0);
  uint16_t after = w.ba->ops->port(w.ba);
  CHECK(after != 0 && after != before);
  CHECK(w.ba->ops->rebind(w.ba, "not-an-address", 0) < 0); /* the socket stays */
  CHECK_EQ_INT(w.ba->ops->port(w.ba), after);
  send_str(w.ba, &w.to_b, "moved", 1);
  CHECK(wait_for(w.e, &w.sb, 1));
  CHECK_EQ_INT(w.sb.from[0].port, after);
  /* and the new socket receives */
  ts_addr addr;
  ts_addr_parse(&addr, "127.0.0.1", after);
  ts_wg_endpoint to_a;
  ts_bind_endpoint_of(&to_a, &addr);
  send_str(w.bb, &to_a, "back", 1);
  CHECK(wait_for(w.e, &w.sa, 1));
  CHECK(strcmp(w.sa.got[0], "back") == 0);
  world_free(&w);
}

static void test_endpoint_codec(void) {
  ts_addr a, b;
  ts_wg_endpoint ep;
  ts_addr_parse(&a, "fe80::1", 51820);
  a.scope_id = 3;
  ts_bind_endpoint_of(&ep, &a);
  CHECK_EQ_INT(ep.host_len, 17); /* the rate limit counts per host: IP before port */
  CHECK_EQ_INT(ts_bind_addr_of(&b, &ep), 0);
  CHECK(ts_addr_equal(&a, &b));
  ep.len = 37; /* a relay path's length */
  CHECK(ts_bind_addr_of(&b, &ep) < 0);
}

/* The magicsock bind takes TSMP from the link (docs/protocol/magicsock.md §5): a disco key advertisement from a
 * WireGuard peer reaches that peer's magicsock state; other IP packets are not its business. */
static void no_sink(void *ctx, ts_wg_peer *peer, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  (void)ctx, (void)peer, (void)ep, (void)buf, (void)len;
}

static void test_ms_tsmp(void) {
  ts_engine *e = ts_engine_new(NULL);
  ts_engine_start_inline(e);
  sink s;
  memset(&s, 0, sizeof s);
  ts_bind_up up = {.ctx = &s, .recv = up_recv, .recv_done = up_done};
  int err = -1;
  ts_bind_udp *udp = ts_bind_udp_new(e, "127.0.0.1", 0, &up, &err);
  CHECK_EQ_INT(err, 0);
  uint8_t priv[32], pub[32], disco_priv[32], peer_priv[32], peer_pub[32], d1_priv[32], d1[32], d2_priv[32], d2[32];
  memset(priv, 0x11, 32);
  memset(disco_priv, 0x12, 32);
  memset(peer_priv, 0x21, 32);
  memset(d1_priv, 0x22, 32);
  memset(d2_priv, 0x23, 32);
  ts_x25519_public(pub, priv);
  ts_x25519_public(peer_pub, peer_priv);
  ts_x25519_public(d1, d1_priv);
  ts_x25519_public(d2, d2_priv);
  ts_bind_ms_events ev = {0};
  ts_bind_ms *m = ts_bind_ms_new(e, udp, priv, pub, disco_priv, &ev, &err);
  CHECK(m != NULL);
  ts_wg_config cfg = {.sink = {.send = no_sink}};
  ts_wg_device *wg = ts_wg_device_new(priv, &cfg);
  ts_wg_peer *p = ts_wg_peer_add(wg, peer_pub, NULL);
  CHECK(p != NULL);
  CHECK_EQ_INT(ts_bind_ms_peer_set(m, p, peer_pub, d1, 1, NULL, 0), 0);

  ts_addr src, dst;
  ts_addr_parse(&src, "100.64.0.2", 0);
  ts_addr_parse(&dst, "100.64.0.1", 0);
  uint8_t pkt[128];
  long n = ts_tsmp_disco_advert_encode(pkt, sizeof pkt, &src, &dst, d2);
  CHECK(n > 0);
  uint64_t now = ts_engine_now_ns();
  uint8_t reply[TS_TSMP_MAX_REPLY];
  size_t rlen = 99;
  CHECK_EQ_INT(ts_bind_ms_tsmp_input(m, p, pkt, (size_t)n, now, reply, sizeof reply, &rlen), 1);
  CHECK_EQ_INT(rlen, 0); /* nothing to answer */
  CHECK_EQ_INT(ts_bind_ms_tsmp_input(m, p, pkt, (size_t)n, now, reply, sizeof reply, &rlen), 1);
  /* no peer: taken and counted bad */
  CHECK_EQ_INT(ts_bind_ms_tsmp_input(m, NULL, pkt, (size_t)n, now, reply, sizeof reply, &rlen), 1);
  /* A ping is answered with a pong back to its source, echoing its data. */
  uint8_t ping[64];
  size_t pn = ts_hex(ping, sizeof ping, "4500001d000000004063b1fb 64400002 64400001 70 0102030405060708");
  CHECK_EQ_INT(ts_bind_ms_tsmp_input(m, p, ping, pn, now, reply, sizeof reply, &rlen), 1);
  CHECK_EQ_INT(rlen, 31);
  CHECK_EQ_INT(reply[20], 'o');
  CHECK_MEM(reply + 12, ping + 16, 4);
  CHECK_MEM(reply + 16, ping + 12, 4);
  CHECK_MEM(reply + 21, ping + 21, 8);
  CHECK_EQ_INT(ts_bind_ms_tsmp_input(m, NULL, ping, pn, now, reply, sizeof reply, &rlen), 1);
  CHECK_EQ_INT(rlen, 0); /* no peer to answer */
  pkt[9] = 17;           /* UDP: not TSMP, left to the stack */
  CHECK_EQ_INT(ts_bind_ms_tsmp_input(m, p, pkt, (size_t)n, now, reply, sizeof reply, &rlen), 0);
  ts_ms_counters c;
  ts_ms_counters_get(ts_bind_ms_state(m), &c);
  CHECK_EQ_INT(c.tsmp_disco_applied, 1);
  CHECK_EQ_INT(c.tsmp_disco_unchanged, 1);
  CHECK_EQ_INT(c.tsmp_ping, 2);
  CHECK_EQ_INT(c.tsmp_bad, 1);

  ts_bind *b = ts_bind_ms_bind(m);
  b->ops->peer_removed(b, p);
  ts_wg_device_free(wg);
  b->ops->close(b);
  ts_engine_free(e);
}

/* A node key renewal (ts_bind_ms_set_node_key): the relay connection that logged in with the old key is closed
 * (JavaScript's end reads EOF, derp_state reports it), the next one logs in with the new key (its ClientInfo,
 * sent at once under fast start, names the new public key), and magicsock knows the new key as ours. */
typedef struct {
  int down, up;
  uint32_t region;
} derp_events;

static void on_derp_state(void *ctx, uint32_t region, int connected, int err) {
  derp_events *d = ctx;
  (void)err;
  d->region = region;
  if (connected) d->up++;
  else d->down++;
}

/* Reads JavaScript's end of a relay connection (driving the engine) until it holds key (1), reaches EOF (0), or
 * 5 s pass (-1). */
static int read_js_end(ts_engine *e, int fd, const uint8_t key[32]) {
  uint8_t buf[4096];
  size_t n = 0;
  uint64_t end = ts_engine_now_ns() + 5000000000ULL;
  while (ts_engine_now_ns() < end) {
    ts_engine_run_inline(e);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 20) <= 0) continue;
    ssize_t r = recv(fd, buf + n, sizeof buf - n, 0);
    if (r == 0) return 0;
    if (r < 0) continue;
    n += (size_t)r;
    for (size_t i = 0; key && i + 32 <= n; i++)
      if (memcmp(buf + i, key, 32) == 0) return 1;
    if (n == sizeof buf) return -1;
  }
  return -1;
}

static void test_ms_node_key(void) {
  ts_engine *e = ts_engine_new(NULL);
  ts_engine_start_inline(e);
  sink s;
  memset(&s, 0, sizeof s);
  ts_bind_up up = {.ctx = &s, .recv = up_recv, .recv_done = up_done};
  int err = -1;
  ts_bind_udp *udp = ts_bind_udp_new(e, "127.0.0.1", 0, &up, &err);
  CHECK_EQ_INT(err, 0);
  uint8_t priv[32], pub[32], priv2[32], pub2[32], disco_priv[32], server_priv[32], server_pub[32], peer_pub[32];
  memset(priv, 0x31, 32);
  memset(priv2, 0x32, 32);
  memset(disco_priv, 0x33, 32);
  memset(server_priv, 0x34, 32);
  ts_x25519_public(pub, priv);
  ts_x25519_public(pub2, priv2);
  ts_x25519_public(server_pub, server_priv);
  derp_events de = {0};
  ts_bind_ms_events ev = {.ctx = &de, .derp_state = on_derp_state};
  ts_bind_ms *m = ts_bind_ms_new(e, udp, priv, pub, disco_priv, &ev, &err);
  CHECK(m != NULL);
  int fd = -1;
  CHECK_EQ_INT(ts_bind_ms_derp_attach(m, 900, "relay.test", server_pub, NULL, &fd), 0);
  CHECK_EQ_INT(read_js_end(e, fd, pub), 1); /* ClientInfo with the old key */

  ts_bind_ms_set_node_key(m, priv2, pub2);
  CHECK_EQ_INT(de.down, 1);
  CHECK_EQ_INT(de.region, 900);
  CHECK_EQ_INT(read_js_end(e, fd, NULL), 0); /* EOF: JavaScript tears its side down and redials */
  close(fd);
  CHECK_EQ_INT(ts_bind_ms_derp_attach(m, 900, "relay.test", server_pub, NULL, &fd), 0);
  CHECK_EQ_INT(read_js_end(e, fd, pub2), 1); /* the new login names the new key */
  close(fd);

  /* magicsock's own key is the new one: it refuses it as a peer, the old one is just another key now. */
  ts_wg_config cfg = {.sink = {.send = no_sink}};
  ts_wg_device *wg = ts_wg_device_new(priv2, &cfg);
  memset(peer_pub, 0, 32);
  ts_x25519_public(peer_pub, priv);
  ts_wg_peer *p = ts_wg_peer_add(wg, peer_pub, NULL);
  CHECK(p != NULL);
  CHECK_EQ_INT(ts_bind_ms_peer_set(m, p, pub2, NULL, 900, NULL, 0), UV_ENOMEM);
  CHECK_EQ_INT(ts_bind_ms_peer_set(m, p, pub, NULL, 900, NULL, 0), 0);

  ts_bind *b = ts_bind_ms_bind(m);
  b->ops->peer_removed(b, p);
  ts_wg_device_free(wg);
  b->ops->close(b);
  ts_engine_free(e);
}

int main(void) {
  RUN(test_endpoint_codec);
  RUN(test_send_and_receive);
  RUN(test_reservation_order);
  RUN(test_hook_consumes);
  RUN(test_rebind);
  if (ts_crypto_init() != 0) return 1;
  RUN(test_ms_tsmp);
  RUN(test_ms_node_key);
  TEST_MAIN_END();
}
