/* Handshake floods (docs/architecture.md, "Handshake floods"): under load an initiation without a valid mac2
 * costs a MAC check and a cookie reply, never a Noise computation (DH); with a valid mac2 it is processed
 * subject to the per-source rate limit; a real peer completes its handshake through the cookie round trip
 * while the flood goes on. */
#include "test.h"
#include "test_wg_net.h"
#include "wg/wg_cookie.h"
#include "wg/wg_msg.h"

static const uint8_t IP_A[4] = {10, 0, 0, 1}, IP_B[4] = {10, 0, 0, 2};

/* An attacker who knows only B's public key: random initiations with a valid mac1 (and mac2 when its
 * generator holds a cookie for the address it sends from). */
typedef struct {
  ts_wg_cookie_gen gen;
  test_rng rng;
  ts_wg_endpoint ep;
} flooder;

static void flooder_init(flooder *f, const uint8_t target_pub[32], uint8_t host, uint16_t port) {
  ts_wg_cookie_gen_init(&f->gen, target_pub);
  f->rng.state = 0xC0FFEEULL + host * 7919ULL + port;
  f->ep = mk_ep(host, port);
}

static void flood_msg(flooder *f, uint64_t now, uint8_t buf[TS_WG_INITIATION_LEN]) {
  rng_fill(&f->rng, buf, TS_WG_INITIATION_LEN);
  buf[0] = 1, buf[1] = buf[2] = buf[3] = 0;
  ts_wg_cookie_add_macs(&f->gen, now, buf, TS_WG_INITIATION_MAC1_OFF);
}

/* Sends n flood initiations to dev at `now`; returns how many were answered with a cookie reply, checking
 * that each reply goes back to the flooder's address and that nothing else is sent. */
static int flood(node *to, flooder *f, uint64_t now, int n) {
  int cookies = 0;
  for (int i = 0; i < n; i++) {
    uint8_t buf[TS_WG_INITIATION_LEN];
    flood_msg(f, now, buf);
    ts_wg_rx rx;
    int before = to->n_out;
    ts_wg_receive(to->dev, now, WALL0 + now, buf, sizeof buf, &f->ep, &rx);
    if (rx.kind == TS_WG_RX_DROP && rx.drop == TS_WG_DROP_COOKIE_SENT) {
      cookies++;
      const net_pkt *r = &to->out[to->n_out - 1];
      CHECK(to->n_out == before + 1 && r->len == TS_WG_COOKIE_LEN && r->data[0] == 3 &&
            !memcmp(r->ep.data, f->ep.data, 6));
    } else {
      CHECK_EQ_INT(to->n_out, before); /* nothing else goes out */
    }
    if (to->n_out > OUTBOX / 2) outbox_clear(to);
  }
  return cookies;
}

static ts_wg_load_stats load(node *n, uint64_t now) {
  ts_wg_load_stats st;
  ts_wg_device_load_stats(n->dev, now, &st);
  return st;
}

/* A flood of valid-mac1 initiations puts the device under load after `threshold` messages; from then on
 * none costs a DH. Each source endpoint (IP and port) gets cookie replies at 20/s after a burst of 5; beyond
 * that a flood datagram costs the mac1 check only. */
static void test_flood_costs_no_dh(void) {
  node b;
  node_init(&b, 2);
  flooder f;
  flooder_init(&f, b.pub, 66, 4000);
  CHECK(!load(&b, 0).under_load);
  int cookies = flood(&b, &f, 0, 2000);
  ts_wg_load_stats st = load(&b, 0);
  CHECK(st.under_load);
  CHECK_EQ_INT(st.handshakes_computed, 128); /* the default threshold: normal load until then */
  CHECK_EQ_INT(ts_wg_drops(b.dev, TS_WG_DROP_HANDSHAKE_DECRYPT), 128);
  CHECK_EQ_INT(cookies, 5);
  CHECK_EQ_INT(st.cookie_replies, 5);
  CHECK_EQ_INT(st.cookies_withheld, 2000 - 128 - 5);
  /* A flood that keeps coming keeps the device under load, window after window, with no further DH; its
   * endpoint gets one cookie reply per 50 ms. */
  for (uint64_t t = 100 * MS; t < 5 * SEC; t += 100 * MS) CHECK_EQ_INT(flood(&b, &f, t, 200), 2);
  st = load(&b, 5 * SEC);
  CHECK_EQ_INT(st.handshakes_computed, 128);
  CHECK_EQ_INT(st.cookie_replies + st.cookies_withheld, 2000 - 128 + 49 * 200);
  /* Spoofed sources, each its own endpoint: each gets its reply (to whoever owns that address), no DH. */
  int spoofed = 0;
  for (int host = 1; host <= 100; host++)
    for (uint16_t port = 1; port <= 10; port++) {
      f.ep = mk_ep((uint8_t)host, port);
      spoofed += flood(&b, &f, 5 * SEC, 1);
    }
  CHECK_EQ_INT(spoofed, 1000);
  CHECK_EQ_INT(load(&b, 5 * SEC).handshakes_computed, 128);
  /* Once it stops, the hold-down ends a second after the last busy window. */
  CHECK(load(&b, 5 * SEC + 500 * MS).under_load);
  CHECK(!load(&b, 6 * SEC + 1).under_load);
  node_free(&b);
}

/* Under load: a valid mac2 (the flooder answers its cookie replies) gets processed, at most a burst of 5 and
 * then 20/s per source IP; another IP has its own budget. */
static void test_mac2_processed_and_rate_limited(void) {
  node b;
  node_init(&b, 2);
  ts_wg_device_force_under_load(b.dev, 1);
  flooder x, y;
  flooder_init(&x, b.pub, 66, 4000);
  flooder_init(&y, b.pub, 67, 4000);
  /* Each gets a cookie for its address by sending once without. */
  flooder *fs[2] = {&x, &y};
  for (int i = 0; i < 2; i++) {
    uint8_t buf[TS_WG_INITIATION_LEN];
    flood_msg(fs[i], 0, buf);
    ts_wg_rx rx;
    CHECK_EQ_INT(ts_wg_receive(b.dev, 0, WALL0, buf, sizeof buf, &fs[i]->ep, &rx), TS_WG_RX_DROP);
    CHECK_EQ_INT(rx.drop, TS_WG_DROP_COOKIE_SENT);
    CHECK_EQ_INT(b.n_out, 1);
    ts_wg_msg_cookie m;
    ts_wg_msg_cookie_parse(&m, b.out[0].data);
    CHECK(ts_wg_cookie_consume_reply(&fs[i]->gen, 0, &m));
    outbox_clear(&b);
  }
  CHECK_EQ_INT(load(&b, 0).handshakes_computed, 0);
  /* 100 from X with mac2 at one instant: 5 reach the Noise computation (and fail: random bodies). */
  CHECK_EQ_INT(flood(&b, &x, 10 * MS, 100), 0);
  ts_wg_load_stats st = load(&b, 10 * MS);
  CHECK_EQ_INT(st.handshakes_computed, 5);
  CHECK_EQ_INT(st.rate_limited, 95);
  /* Y, another IP, is not held back by X's flood. */
  CHECK_EQ_INT(flood(&b, &y, 10 * MS, 3), 0);
  CHECK_EQ_INT(load(&b, 10 * MS).handshakes_computed, 8);
  /* X from another port of the same IP: mac2 is bound to the port (a new cookie needed) ... */
  flooder x2 = x;
  x2.ep = mk_ep(66, 4001);
  CHECK_EQ_INT(flood(&b, &x2, 10 * MS, 1), 1);
  /* ... and X's rate: one more message per 50 ms. */
  CHECK_EQ_INT(flood(&b, &x, 60 * MS, 3), 0);
  st = load(&b, 60 * MS);
  CHECK_EQ_INT(st.handshakes_computed, 9);
  CHECK_EQ_INT(st.rate_limited, 97);
  /* A wrong nonzero mac2 is no better than none: a cookie reply. */
  uint8_t buf[TS_WG_INITIATION_LEN];
  flood_msg(&x, 60 * MS, buf);
  buf[TS_WG_INITIATION_MAC1_OFF + 16] ^= 1;
  ts_wg_rx rx;
  ts_wg_receive(b.dev, 60 * MS, WALL0, buf, sizeof buf, &x.ep, &rx);
  CHECK_EQ_INT(rx.drop, TS_WG_DROP_COOKIE_SENT);
  node_free(&b);
}

/* Two nodes that know each other: each has the other's endpoint and address. */
static void peers(node *a, node *b) {
  node_init(a, 1);
  node_init(b, 2);
  ts_wg_peer_config pc = {0};
  pc.endpoint = &b->ep;
  ts_wg_peer_allow(a->dev, ts_wg_peer_add(a->dev, b->pub, &pc), 4, IP_B, 32);
  pc.endpoint = &a->ep;
  ts_wg_peer_allow(b->dev, ts_wg_peer_add(b->dev, a->pub, &pc), 4, IP_A, 32);
}

/* A real peer A, from its own address, completes a handshake with B while a flood keeps B under load: its
 * first initiation gets a cookie reply, and its retransmission after REKEY_TIMEOUT carries mac2. */
static void test_real_peer_under_flood(void) {
  node a, b;
  peers(&a, &b);
  flooder f;
  flooder_init(&f, b.pub, 66, 4000);
  flood(&b, &f, 0, 500);
  CHECK(load(&b, 0).under_load);
  CHECK(load(&b, 0).cookies_withheld > 0); /* the flooder's endpoint is over its reply budget, A's is not */
  uint64_t computed = load(&b, 0).handshakes_computed;
  outbox_clear(&b);

  uint8_t pkt[100], out[200];
  ip4(pkt, sizeof pkt, IP_A, IP_B, 0x5A);
  ts_wg_tx tx;
  CHECK_EQ_INT(ts_wg_send(a.dev, 1 * MS, WALL0 + 1 * MS, pkt, sizeof pkt, out, sizeof out, &tx), TS_WG_TX_QUEUED);
  deliver_stats s = deliver(&a, &b, 1 * MS);
  CHECK_EQ_INT(s.last.drop, TS_WG_DROP_COOKIE_SENT);
  CHECK_EQ_INT(load(&b, 1 * MS).handshakes_computed, computed); /* no DH for it either */
  s = deliver(&b, &a, 2 * MS);
  CHECK_EQ_INT(s.cookie, 1);
  /* The flood goes on, 100 every 100 ms, until A retries. */
  uint64_t retry = ts_wg_next_deadline(a.dev);
  CHECK(retry >= 5 * SEC && retry < 6 * SEC);
  for (uint64_t t = 100 * MS; t < retry; t += 100 * MS) flood(&b, &f, t, 100);
  CHECK(load(&b, retry).under_load);
  outbox_clear(&b);
  ts_wg_timers(a.dev, retry, WALL0 + retry);
  CHECK_EQ_INT(a.n_out, 1);
  s = deliver(&a, &b, retry);
  CHECK_EQ_INT(s.handshake, 1);
  CHECK_EQ_INT(load(&b, retry).handshakes_computed, computed + 1);
  CHECK_EQ_INT(b.n_out, 1);
  flood(&b, &f, retry, 50); /* more flood before A gets the response */
  net_pkt resp = outbox_take(&b, 0);
  CHECK_EQ_INT(resp.len, TS_WG_RESPONSE_LEN);
  ts_wg_rx rx;
  CHECK_EQ_INT(ts_wg_receive(a.dev, retry, WALL0 + retry, resp.data, resp.len, &b.ep, &rx), TS_WG_RX_HANDSHAKE);
  free(resp.data);
  outbox_clear(&b);
  /* The packet that waited goes out and B gets it. */
  s = deliver(&a, &b, retry + MS);
  CHECK_EQ_INT(s.data, 1);
  CHECK_EQ_INT(s.last_len, sizeof pkt);
  node_free(&a);
  node_free(&b);
}

/* The flooded node is the initiator (a rekey while under load): the response it gets carries no mac2, so it
 * answers with a cookie reply, which the responder accepts for its response; the retry completes. */
static void test_flooded_node_initiates(void) {
  node a, b;
  peers(&a, &b);
  flooder f;
  flooder_init(&f, b.pub, 66, 4000);
  flood(&b, &f, 0, 300);
  outbox_clear(&b);
  uint8_t pkt[80], out[200];
  ip4(pkt, sizeof pkt, IP_B, IP_A, 0x3C);
  ts_wg_tx tx;
  CHECK_EQ_INT(ts_wg_send(b.dev, 1 * MS, WALL0 + 1 * MS, pkt, sizeof pkt, out, sizeof out, &tx), TS_WG_TX_QUEUED);
  deliver_stats s = deliver(&b, &a, 1 * MS); /* A is not under load: it responds */
  CHECK_EQ_INT(s.handshake, 1);
  s = deliver(&a, &b, 2 * MS);
  CHECK_EQ_INT(s.last.drop, TS_WG_DROP_COOKIE_SENT);
  s = deliver(&b, &a, 3 * MS);
  CHECK_EQ_INT(s.cookie, 1);
  uint64_t retry = ts_wg_next_deadline(b.dev);
  CHECK(retry >= 5 * SEC && retry < 6 * SEC);
  for (uint64_t t = 100 * MS; t < retry; t += 100 * MS) flood(&b, &f, t, 100);
  outbox_clear(&b);
  CHECK(load(&b, retry).under_load);
  ts_wg_timers(b.dev, retry, WALL0 + retry);
  s = deliver(&b, &a, retry);
  CHECK_EQ_INT(s.handshake, 1);
  s = deliver(&a, &b, retry); /* the response now carries mac2 */
  CHECK_EQ_INT(s.handshake, 1);
  s = deliver(&b, &a, retry); /* and the packet that waited */
  CHECK_EQ_INT(s.data, 1);
  node_free(&a);
  node_free(&b);
}

/* The checker's shortcuts change nothing on the wire: mac1 from the resumed state equals the plain MAC for
 * both message types, reply nonces never repeat, and a rotated secret invalidates the cached cookie. */
static void test_checker_shortcuts(void) {
  uint8_t pub[32];
  memset(pub, 0x42, 32);
  ts_wg_cookie_checker c;
  ts_wg_cookie_checker_init(&c, pub);
  ts_wg_cookie_gen g;
  ts_wg_cookie_gen_init(&g, pub);
  test_rng r = {12345};
  uint8_t init[TS_WG_INITIATION_LEN], resp[TS_WG_RESPONSE_LEN];
  rng_fill(&r, init, sizeof init);
  rng_fill(&r, resp, sizeof resp);
  init[0] = 1, resp[0] = 2;
  ts_wg_cookie_add_macs(&g, 0, init, TS_WG_INITIATION_MAC1_OFF);
  CHECK(ts_wg_cookie_check_mac1(&c, init, TS_WG_INITIATION_MAC1_OFF));
  ts_wg_cookie_add_macs(&g, 0, resp, TS_WG_RESPONSE_MAC1_OFF);
  CHECK(ts_wg_cookie_check_mac1(&c, resp, TS_WG_RESPONSE_MAC1_OFF));
  resp[5] ^= 1;
  CHECK(!ts_wg_cookie_check_mac1(&c, resp, TS_WG_RESPONSE_MAC1_OFF));
  resp[5] ^= 1;
  /* A response's mac1 does not pass as an initiation's: the type byte is covered. */
  uint8_t swapped[TS_WG_RESPONSE_LEN];
  memcpy(swapped, resp, sizeof resp);
  swapped[0] = 1;
  CHECK(!ts_wg_cookie_check_mac1(&c, swapped, TS_WG_RESPONSE_MAC1_OFF));

  const uint8_t src1[6] = {192, 168, 0, 66, 0x0f, 0xa0}, src2[6] = {192, 168, 0, 67, 0x0f, 0xa0};
  uint8_t r1[TS_WG_COOKIE_LEN], r2[TS_WG_COOKIE_LEN];
  ts_wg_cookie_make_reply(&c, 0, init, TS_WG_INITIATION_MAC1_OFF, 7, src1, 6, rng_fill, &r, r1);
  ts_wg_cookie_make_reply(&c, 0, init, TS_WG_INITIATION_MAC1_OFF, 7, src1, 6, rng_fill, &r, r2);
  CHECK(memcmp(r1 + 8, r2 + 8, 24) != 0); /* nonces differ */
  ts_wg_msg_cookie m;
  ts_wg_msg_cookie_parse(&m, r2);
  ts_wg_cookie_add_macs(&g, 0, init, TS_WG_INITIATION_MAC1_OFF); /* the reply opens for this mac1 only */
  CHECK(ts_wg_cookie_consume_reply(&g, 0, &m));
  /* mac2 with the cookie for src1 passes from src1 only (src2 first, to exercise the cache). */
  ts_wg_cookie_add_macs(&g, 0, init, TS_WG_INITIATION_MAC1_OFF);
  CHECK(!ts_wg_cookie_check_mac2(&c, 0, init, TS_WG_INITIATION_MAC1_OFF, src2, 6));
  CHECK(ts_wg_cookie_check_mac2(&c, 0, init, TS_WG_INITIATION_MAC1_OFF, src1, 6));
  CHECK(ts_wg_cookie_check_mac2(&c, 1 * SEC, init, TS_WG_INITIATION_MAC1_OFF, src1, 6));
  /* After the secret rotates (a reply made after 120 s), the old cookie no longer passes. */
  uint64_t later = TS_WG_COOKIE_REFRESH_NS + SEC;
  CHECK(!ts_wg_cookie_check_mac2(&c, later, init, TS_WG_INITIATION_MAC1_OFF, src1, 6));
  ts_wg_cookie_make_reply(&c, later, init, TS_WG_INITIATION_MAC1_OFF, 7, src2, 6, rng_fill, &r, r1);
  CHECK(!ts_wg_cookie_check_mac2(&c, later, init, TS_WG_INITIATION_MAC1_OFF, src1, 6));
  ts_wipe(&c, sizeof c);
}

int main(void) {
  if (ts_crypto_init()) return 1;
  RUN(test_flood_costs_no_dh);
  RUN(test_mac2_processed_and_rate_limited);
  RUN(test_real_peer_under_flood);
  RUN(test_flooded_node_initiates);
  RUN(test_checker_shortcuts);
  TEST_MAIN_END();
}
