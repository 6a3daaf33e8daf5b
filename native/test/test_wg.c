/* WireGuard device tests: two or more in-process devices over a hand-driven fake network. */
#include "test.h"
#include "test_wg_net.h"
#include "wg/wg_msg.h"

static const uint8_t IP_A[4] = {10, 0, 0, 1}, IP_B[4] = {10, 0, 0, 2}, IP_C[4] = {10, 0, 0, 3};

typedef struct {
  node a, b;
  ts_wg_peer *pa; /* A's peer object for B */
  ts_wg_peer *pb; /* B's peer object for A */
} pair;

static void pair_init_cfg(pair *p, ts_wg_config *ca, ts_wg_config *cb) {
  node_init_cfg(&p->a, 1, ca);
  node_init_cfg(&p->b, 2, cb);
  ts_wg_peer_config pc = {0};
  pc.endpoint = &p->b.ep;
  p->pa = ts_wg_peer_add(p->a.dev, p->b.pub, &pc);
  pc.endpoint = &p->a.ep;
  p->pb = ts_wg_peer_add(p->b.dev, p->a.pub, &pc);
  ts_wg_peer_allow(p->a.dev, p->pa, 4, IP_B, 32);
  ts_wg_peer_allow(p->b.dev, p->pb, 4, IP_A, 32);
}

static void pair_init(pair *p) {
  ts_wg_config ca, cb;
  memset(&ca, 0, sizeof ca);
  memset(&cb, 0, sizeof cb);
  pair_init_cfg(p, &ca, &cb);
}

static void pair_free(pair *p) {
  node_free(&p->a);
  node_free(&p->b);
}

/* A sends one packet to B; returns the tx kind. Encrypted output goes to A's outbox. */
static ts_wg_tx_kind send_ab(pair *p, uint64_t now, size_t len, uint8_t fill) {
  uint8_t pkt[1500], out[1600];
  ip4(pkt, len, IP_A, IP_B, fill);
  ts_wg_tx tx;
  ts_wg_send(p->a.dev, now, WALL0 + now, pkt, len, out, sizeof out, &tx);
  if (tx.kind == TS_WG_TX_READY) sink_send(&p->a, tx.peer, tx.endpoint, out, tx.len);
  return tx.kind;
}

static ts_wg_tx_kind send_ba(pair *p, uint64_t now, size_t len, uint8_t fill) {
  uint8_t pkt[1500], out[1600];
  ip4(pkt, len, IP_B, IP_A, fill);
  ts_wg_tx tx;
  ts_wg_send(p->b.dev, now, WALL0 + now, pkt, len, out, sizeof out, &tx);
  if (tx.kind == TS_WG_TX_READY) sink_send(&p->b, tx.peer, tx.endpoint, out, tx.len);
  return tx.kind;
}

/* Full handshake at `now` started by A sending a packet; leaves both outboxes empty. */
static void establish(pair *p, uint64_t now) {
  send_ab(p, now, 60, 0x11);
  pump(&p->a, &p->b, now);
}

static void test_handshake_and_data(void) {
  pair p;
  pair_init(&p);
  /* Session slots come with the first session: a peer that never handshakes keeps none. */
  CHECK(!ts_wg_test_has_keypair_slots(p.pa) && !ts_wg_test_has_keypair_slots(p.pb));
  CHECK_EQ_INT(send_ab(&p, 0, 100, 0xAA), TS_WG_TX_QUEUED);
  CHECK(!ts_wg_test_has_keypair_slots(p.pa));
  CHECK_EQ_INT(p.a.n_out, 1);
  CHECK_EQ_INT(p.a.out[0].len, 148);
  CHECK_EQ_INT(p.a.out[0].data[0], 1);
  CHECK(p.a.out[0].peer == p.pa);

  deliver_stats s = deliver(&p.a, &p.b, 1 * MS);
  CHECK_EQ_INT(s.handshake, 1);
  CHECK(s.last.peer == p.pb);
  CHECK_EQ_INT(p.b.n_out, 1);
  CHECK_EQ_INT(p.b.out[0].len, 92);
  CHECK_EQ_INT(ts_wg_test_sessions(p.pb), 4); /* responder: "next" only, unconfirmed */
  CHECK(ts_wg_test_has_keypair_slots(p.pb));

  s = deliver(&p.b, &p.a, 2 * MS);
  CHECK_EQ_INT(s.handshake, 1);
  CHECK_EQ_INT(ts_wg_test_sessions(p.pa), 2);
  /* The queued packet goes out at once. */
  CHECK_EQ_INT(p.a.n_out, 1);
  CHECK_EQ_INT(p.a.out[0].data[0], 4);
  CHECK_EQ_INT(p.a.out[0].len, 32 + 112);

  s = deliver(&p.a, &p.b, 3 * MS);
  CHECK_EQ_INT(s.data, 1);
  CHECK_EQ_INT(s.last_len, 100);
  uint8_t expect[100];
  ip4(expect, 100, IP_A, IP_B, 0xAA);
  CHECK_MEM(s.last_data, expect, 100);
  CHECK_EQ_INT(ts_wg_test_sessions(p.pb), 2); /* confirmed */

  /* And back. */
  CHECK_EQ_INT(send_ba(&p, 4 * MS, 1400, 0xBB), TS_WG_TX_READY);
  s = deliver(&p.b, &p.a, 5 * MS);
  CHECK_EQ_INT(s.data, 1);
  CHECK_EQ_INT(s.last_len, 1400);
  CHECK(s.last.peer == p.pa);

  ts_wg_peer_stats st;
  ts_wg_peer_stats_get(p.pa, 5 * MS, &st);
  CHECK_EQ_INT(st.last_handshake_wall, WALL0 + 2 * MS);
  CHECK_EQ_INT(st.tx_bytes, 148 + 144);
  CHECK_EQ_INT(st.rx_bytes, 92 + 32 + 1408);
  CHECK(st.has_session);
  CHECK_EQ_INT(st.endpoint.len, 6);
  CHECK_MEM(st.endpoint.data, p.b.ep.data, 6);
  ts_wg_peer_stats_get(p.pb, 5 * MS, &st);
  CHECK_EQ_INT(st.last_handshake_wall, WALL0 + 3 * MS); /* responder: at confirmation */
  CHECK_EQ_INT(total_drops(p.a.dev) + total_drops(p.b.dev), 0);
  pair_free(&p);
}

static void test_ipv6_and_padding(void) {
  pair p;
  pair_init(&p);
  uint8_t a6[16] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, [15] = 1}, b6[16] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, [15] = 2};
  ts_wg_peer_allow(p.a.dev, p.pa, 6, b6, 128);
  ts_wg_peer_allow(p.b.dev, p.pb, 6, a6, 128);
  establish(&p, 0);
  uint8_t pkt[200], out[300];
  for (size_t len = 40; len < 80; len++) {
    ip6(pkt, len, a6, b6, (uint8_t)len);
    ts_wg_tx tx;
    CHECK_EQ_INT(ts_wg_send(p.a.dev, SEC, WALL0, pkt, len, out, sizeof out, &tx), TS_WG_TX_READY);
    CHECK_EQ_INT(tx.len, 32 + ((len + 15) / 16) * 16);
    CHECK_EQ_INT(tx.len, ts_wg_data_len(p.a.dev, len));
    ts_wg_rx rx;
    CHECK_EQ_INT(ts_wg_receive(p.b.dev, SEC, WALL0, out, tx.len, &p.a.ep, &rx), TS_WG_RX_DATA);
    CHECK_EQ_INT(rx.len, len);
    CHECK(rx.len == len && memcmp(rx.data, pkt, len) == 0);
  }
  /* In place: the packet already sits at out + 16. */
  ip6(out + 16, 120, a6, b6, 7);
  memcpy(pkt, out + 16, 120);
  ts_wg_tx tx;
  CHECK_EQ_INT(ts_wg_send(p.a.dev, SEC, WALL0, out + 16, 120, out, sizeof out, &tx), TS_WG_TX_READY);
  ts_wg_rx rx;
  CHECK_EQ_INT(ts_wg_receive(p.b.dev, SEC, WALL0, out, tx.len, &p.a.ep, &rx), TS_WG_RX_DATA);
  CHECK(rx.len == 120 && memcmp(rx.data, pkt, 120) == 0);
  /* Output buffer too small. */
  CHECK_EQ_INT(ts_wg_send(p.a.dev, SEC, WALL0, pkt, 120, out, 120 + 31, &tx), TS_WG_TX_DROP);
  CHECK_EQ_INT(tx.drop, TS_WG_DROP_TOO_BIG);
  pair_free(&p);
}

static void test_mtu_padding(void) {
  pair p;
  ts_wg_config ca, cb;
  memset(&ca, 0, sizeof ca);
  memset(&cb, 0, sizeof cb);
  ca.mtu = 1420;
  pair_init_cfg(&p, &ca, &cb);
  CHECK_EQ_INT(ts_wg_data_len(p.a.dev, 1419), 32 + 1420); /* not padded past the MTU */
  CHECK_EQ_INT(ts_wg_data_len(p.a.dev, 1410), 32 + 1420);
  CHECK_EQ_INT(ts_wg_data_len(p.a.dev, 1409), 32 + 1420);
  CHECK_EQ_INT(ts_wg_data_len(p.a.dev, 1400), 32 + 1408);
  CHECK_EQ_INT(ts_wg_data_len(p.a.dev, 0), 32);
  establish(&p, 0);
  CHECK_EQ_INT(send_ab(&p, SEC, 1419, 3), TS_WG_TX_READY);
  deliver_stats s = deliver(&p.a, &p.b, SEC);
  CHECK_EQ_INT(s.data, 1);
  CHECK_EQ_INT(s.last_len, 1419);
  pair_free(&p);
}

static void test_key_confirmation(void) {
  pair p;
  pair_init(&p);
  send_ab(&p, 0, 60, 1);
  deliver(&p.a, &p.b, 0); /* initiation -> B */
  /* B has only an unconfirmed "next" session: it must not send on it. */
  CHECK_EQ_INT(send_ba(&p, 1 * MS, 80, 2), TS_WG_TX_QUEUED);
  ts_wg_peer_stats st;
  ts_wg_peer_stats_get(p.pb, 1 * MS, &st);
  CHECK_EQ_INT(st.queued, 1);
  CHECK(!st.has_session);
  /* Nothing B sent is a data message, and B does not start its own handshake (it just answered one). */
  CHECK_EQ_INT(count_type(&p.b, 4), 0);
  CHECK_EQ_INT(count_type(&p.b, 1), 0);
  net_pkt resp = outbox_take(&p.b, 0);
  CHECK_EQ_INT(resp.len, 92);
  CHECK_EQ_INT(p.b.n_out, 0);
  ts_wg_rx rx;
  CHECK_EQ_INT(ts_wg_receive(p.a.dev, 2 * MS, WALL0, resp.data, resp.len, &p.b.ep, &rx), TS_WG_RX_HANDSHAKE);
  free(resp.data);
  /* A's queued packet confirms the session; B then flushes its queue on it. */
  deliver_stats s = deliver(&p.a, &p.b, 3 * MS);
  CHECK_EQ_INT(s.data, 1);
  CHECK_EQ_INT(ts_wg_test_sessions(p.pb), 2);
  CHECK_EQ_INT(count_type(&p.b, 4), 1);
  s = deliver(&p.b, &p.a, 4 * MS);
  CHECK_EQ_INT(s.data, 1);
  CHECK_EQ_INT(s.last_len, 80);
  pair_free(&p);
}

static void test_keepalive_confirms(void) {
  pair p;
  pair_init(&p);
  /* A handshake started by a timer-less path: A initiates with nothing queued (persistent keepalive). */
  ts_wg_peer_set_persistent_keepalive(p.pa, 0, 25);
  CHECK_EQ_INT(ts_wg_next_deadline(p.a.dev), 1); /* due at once */
  ts_wg_timers(p.a.dev, 1, WALL0);
  CHECK_EQ_INT(count_type(&p.a, 1), 1);
  deliver(&p.a, &p.b, 0);
  deliver_stats s = deliver(&p.b, &p.a, 0);
  CHECK_EQ_INT(s.handshake, 1);
  /* The queued keepalive goes out and confirms. */
  CHECK_EQ_INT(p.a.n_out, 1);
  CHECK_EQ_INT(p.a.out[0].len, 32);
  s = deliver(&p.a, &p.b, 0);
  CHECK_EQ_INT(s.keepalive, 1);
  CHECK_EQ_INT(ts_wg_test_sessions(p.pb), 2);
  pair_free(&p);
}

static void test_rekey_after_time(void) {
  pair p;
  pair_init(&p);
  establish(&p, 0);
  /* Before REKEY_AFTER_TIME: no new handshake. */
  CHECK_EQ_INT(send_ab(&p, 119 * SEC, 60, 1), TS_WG_TX_READY);
  CHECK_EQ_INT(count_type(&p.a, 1), 0);
  pump(&p.a, &p.b, 119 * SEC);
  /* The responder does not rekey on time. */
  CHECK_EQ_INT(send_ba(&p, 121 * SEC, 60, 1), TS_WG_TX_READY);
  CHECK_EQ_INT(count_type(&p.b, 1), 0);
  pump(&p.a, &p.b, 121 * SEC);
  outbox_clear(&p.a);
  /* The initiator does, on its next send. */
  CHECK_EQ_INT(send_ab(&p, 122 * SEC, 60, 2), TS_WG_TX_READY);
  CHECK_EQ_INT(count_type(&p.a, 1), 1);
  pump(&p.a, &p.b, 122 * SEC);
  CHECK_EQ_INT(ts_wg_test_sessions(p.pa), 3); /* previous + current */
  /* The old session still decrypts (previous) while B has not confirmed yet, and the new one works. */
  CHECK_EQ_INT(send_ab(&p, 123 * SEC, 60, 3), TS_WG_TX_READY);
  deliver_stats s = deliver(&p.a, &p.b, 123 * SEC);
  CHECK_EQ_INT(s.data, 1);
  CHECK_EQ_INT(ts_wg_test_sessions(p.pb), 3);
  CHECK_EQ_INT(send_ba(&p, 124 * SEC, 60, 4), TS_WG_TX_READY);
  s = deliver(&p.b, &p.a, 124 * SEC);
  CHECK_EQ_INT(s.data, 1);
  pair_free(&p);
}

static void test_rekey_after_messages(void) {
  pair p;
  pair_init(&p);
  establish(&p, 0);
  /* Message-count rekey applies to both sides; B (responder) here, once REKEY_TIMEOUT has passed since its
   * response (which counts as a handshake sent). */
  CHECK_EQ_INT(ts_wg_test_set_send_counter(p.pb, TS_WG_REKEY_AFTER_MESSAGES - 1), 0);
  CHECK_EQ_INT(send_ba(&p, 6 * SEC, 60, 1), TS_WG_TX_READY);
  CHECK_EQ_INT(count_type(&p.b, 1), 0);
  CHECK_EQ_INT(send_ba(&p, 6 * SEC, 60, 1), TS_WG_TX_READY);
  CHECK_EQ_INT(count_type(&p.b, 1), 1); /* sent 2^60 + 1 messages: above the limit */
  deliver_stats s = deliver(&p.b, &p.a, 6 * SEC);
  CHECK_EQ_INT(s.data, 2);
  CHECK_EQ_INT(s.handshake, 1);
  pair_free(&p);
}

static void test_reject_after_messages(void) {
  pair p;
  pair_init(&p);
  establish(&p, 0);
  CHECK_EQ_INT(ts_wg_test_set_send_counter(p.pa, TS_WG_REJECT_AFTER_MESSAGES - 1), 0);
  CHECK_EQ_INT(send_ab(&p, SEC, 60, 1), TS_WG_TX_READY); /* the last usable counter */
  deliver_stats s = deliver(&p.a, &p.b, SEC);
  CHECK_EQ_INT(s.data, 1);
  CHECK_EQ_INT(send_ab(&p, 2 * SEC, 60, 2), TS_WG_TX_QUEUED); /* exhausted: wait for a new session */
  /* No initiation yet: the last one was less than REKEY_TIMEOUT ago (at 0). The next packet after that
   * starts one, and both waiting packets follow the new session. */
  CHECK_EQ_INT(p.a.n_out, 0);
  CHECK_EQ_INT(send_ab(&p, 6 * SEC, 60, 3), TS_WG_TX_QUEUED);
  CHECK_EQ_INT(count_type(&p.a, 1), 1);
  deliver(&p.a, &p.b, 6 * SEC);
  deliver(&p.b, &p.a, 6 * SEC);
  s = deliver(&p.a, &p.b, 6 * SEC);
  CHECK_EQ_INT(s.data, 2);
  ts_wg_peer_stats st;
  ts_wg_peer_stats_get(p.pa, 7 * SEC, &st);
  CHECK(st.has_session);
  CHECK_EQ_INT(st.queued, 0);
  /* A packet whose counter is at the limit is rejected before decryption. */
  send_ab(&p, 8 * SEC, 60, 3);
  CHECK_EQ_INT(p.a.n_out, 1);
  ts_wg_put_le64(p.a.out[0].data + 8, TS_WG_REJECT_AFTER_MESSAGES);
  s = deliver(&p.a, &p.b, 8 * SEC);
  CHECK_EQ_INT(s.last.drop, TS_WG_DROP_REPLAY);
  pair_free(&p);
}

static void test_replay(void) {
  pair p;
  pair_init(&p);
  establish(&p, 0);
  /* Exact duplicate. */
  send_ab(&p, SEC, 60, 1);
  net_pkt d = outbox_take(&p.a, 0);
  uint8_t copy[256];
  memcpy(copy, d.data, d.len);
  ts_wg_rx rx;
  CHECK_EQ_INT(ts_wg_receive(p.b.dev, SEC, WALL0, d.data, d.len, &p.a.ep, &rx), TS_WG_RX_DATA);
  CHECK_EQ_INT(ts_wg_receive(p.b.dev, SEC, WALL0, copy, d.len, &p.a.ep, &rx), TS_WG_RX_DROP);
  CHECK_EQ_INT(rx.drop, TS_WG_DROP_REPLAY);
  CHECK_EQ_INT(ts_wg_drops(p.b.dev, TS_WG_DROP_REPLAY), 1);
  free(d.data);

  /* Reordered within the window: 100 packets delivered newest first are all accepted. */
  for (int i = 0; i < 100; i++) send_ab(&p, SEC, 60, (uint8_t)i);
  int ok = 0;
  for (int i = 99; i >= 0; i--) {
    ts_wg_receive(p.b.dev, SEC, WALL0, p.a.out[i].data, p.a.out[i].len, &p.a.ep, &rx);
    ok += rx.kind == TS_WG_RX_DATA;
  }
  CHECK_EQ_INT(ok, 100);
  outbox_clear(&p.a);

  /* Too old: a packet more than the window behind the newest is dropped; 2048 behind is fine. */
  send_ab(&p, SEC, 60, 1);
  net_pkt old = outbox_take(&p.a, 0);
  send_ab(&p, SEC, 60, 1);
  net_pkt old2 = outbox_take(&p.a, 0);
  for (int i = 0; i < 2048; i++) {
    send_ab(&p, SEC, 60, 1);
    if (i == 2046) {
      net_pkt n = outbox_take(&p.a, p.a.n_out - 1);
      CHECK_EQ_INT(ts_wg_receive(p.b.dev, SEC, WALL0, n.data, n.len, &p.a.ep, &rx), TS_WG_RX_DATA);
      free(n.data);
    }
    if (p.a.n_out > 400) outbox_clear(&p.a);
  }
  outbox_clear(&p.a);
  /* old2 is 2048 counters behind the newest accepted: inside the window. */
  CHECK_EQ_INT(ts_wg_receive(p.b.dev, SEC, WALL0, old2.data, old2.len, &p.a.ep, &rx), TS_WG_RX_DATA);
  for (int i = 0; i < 5000; i++) {
    send_ab(&p, SEC, 60, 1);
    if (p.a.n_out > 400) outbox_clear(&p.a);
  }
  net_pkt n = outbox_take(&p.a, p.a.n_out - 1);
  CHECK_EQ_INT(ts_wg_receive(p.b.dev, SEC, WALL0, n.data, n.len, &p.a.ep, &rx), TS_WG_RX_DATA);
  CHECK_EQ_INT(ts_wg_receive(p.b.dev, SEC, WALL0, old.data, old.len, &p.a.ep, &rx), TS_WG_RX_DROP);
  CHECK_EQ_INT(rx.drop, TS_WG_DROP_REPLAY);
  free(n.data);
  free(old.data);
  free(old2.data);
  pair_free(&p);
}

static void test_cookie_under_load(void) {
  pair p;
  pair_init(&p);
  ts_wg_device_force_under_load(p.b.dev, 1);
  CHECK(ts_wg_device_under_load(p.b.dev, 0));
  send_ab(&p, 0, 60, 1);
  deliver_stats s = deliver(&p.a, &p.b, 0);
  CHECK_EQ_INT(s.drop, 1);
  CHECK_EQ_INT(s.last.drop, TS_WG_DROP_COOKIE_SENT);
  CHECK_EQ_INT(p.b.n_out, 1);
  CHECK_EQ_INT(p.b.out[0].len, 64);
  CHECK_EQ_INT(p.b.out[0].data[0], 3);
  CHECK(p.b.out[0].peer == NULL);
  CHECK_MEM(p.b.out[0].ep.data, p.a.ep.data, 6); /* to the source of the initiation */
  net_pkt cookie = p.b.out[0];
  uint8_t cookie_copy[64];
  memcpy(cookie_copy, cookie.data, 64);
  s = deliver(&p.b, &p.a, 1 * MS);
  CHECK_EQ_INT(s.cookie, 1);
  /* The same reply again is not accepted (one per message sent). */
  ts_wg_rx rx;
  CHECK_EQ_INT(ts_wg_receive(p.a.dev, 2 * MS, WALL0, cookie_copy, 64, &p.b.ep, &rx), TS_WG_RX_DROP);
  CHECK_EQ_INT(rx.drop, TS_WG_DROP_COOKIE_INVALID);
  /* The retransmission after REKEY_TIMEOUT carries mac2 and is accepted under load. */
  uint64_t t = ts_wg_next_deadline(p.a.dev);
  CHECK(t >= 5 * SEC && t < 5 * SEC + 334 * MS);
  ts_wg_timers(p.a.dev, t, WALL0 + t);
  CHECK_EQ_INT(count_type(&p.a, 1), 1);
  s = deliver(&p.a, &p.b, t);
  CHECK_EQ_INT(s.handshake, 1);
  /* B's response has no cookie from A, but A is not under load. */
  s = deliver(&p.b, &p.a, t);
  CHECK_EQ_INT(s.handshake, 1);
  s = deliver(&p.a, &p.b, t);
  CHECK_EQ_INT(s.data, 1);
  pair_free(&p);
}

static void test_under_load_threshold(void) {
  pair p;
  ts_wg_config ca, cb;
  memset(&ca, 0, sizeof ca);
  memset(&cb, 0, sizeof cb);
  cb.under_load_threshold = 3;
  pair_init_cfg(&p, &ca, &cb);
  /* Capture one initiation and replay copies: the first three count as normal load. */
  send_ab(&p, 0, 60, 1);
  net_pkt init = outbox_take(&p.a, 0);
  ts_wg_rx rx;
  uint8_t buf[148];
  int cookies = 0;
  for (int i = 0; i < 5; i++) {
    memcpy(buf, init.data, 148);
    ts_wg_receive(p.b.dev, (uint64_t)i * MS, WALL0, buf, 148, &p.a.ep, &rx);
    if (rx.drop == TS_WG_DROP_COOKIE_SENT) cookies++;
  }
  CHECK_EQ_INT(cookies, 2);
  CHECK(ts_wg_device_under_load(p.b.dev, 10 * MS));
  CHECK(ts_wg_device_under_load(p.b.dev, 4 * MS + 999 * MS));
  CHECK(!ts_wg_device_under_load(p.b.dev, 4 * MS + 1001 * MS));
  free(init.data);
  pair_free(&p);
}

static void test_rate_limit_under_load(void) {
  pair p;
  pair_init(&p);
  ts_wg_device_force_under_load(p.b.dev, 1);
  send_ab(&p, 0, 60, 1);
  deliver(&p.a, &p.b, 0);
  deliver(&p.b, &p.a, 0); /* cookie */
  ts_wg_timers(p.a.dev, 6 * SEC, WALL0 + 6 * SEC);
  net_pkt init = outbox_take(&p.a, 0);
  CHECK_EQ_INT(init.len, 148);
  /* Valid mac2: the same source may send a burst of 5, then 20 per second. */
  int limited = 0;
  uint8_t buf[148];
  ts_wg_rx rx;
  for (int i = 0; i < 10; i++) {
    memcpy(buf, init.data, 148);
    ts_wg_receive(p.b.dev, 6 * SEC, WALL0, buf, 148, &p.a.ep, &rx);
    limited += rx.drop == TS_WG_DROP_RATE_LIMITED;
  }
  CHECK_EQ_INT(limited, 5);
  /* 50 ms later one more token. */
  memcpy(buf, init.data, 148);
  ts_wg_receive(p.b.dev, 6 * SEC + 50 * MS, WALL0, buf, 148, &p.a.ep, &rx);
  CHECK(rx.drop != TS_WG_DROP_RATE_LIMITED);
  memcpy(buf, init.data, 148);
  ts_wg_receive(p.b.dev, 6 * SEC + 50 * MS, WALL0, buf, 148, &p.a.ep, &rx);
  CHECK_EQ_INT(rx.drop, TS_WG_DROP_RATE_LIMITED);
  free(init.data);
  pair_free(&p);
}

static void test_timestamp_replay_and_flood(void) {
  pair p;
  pair_init(&p);
  send_ab(&p, 0, 60, 1);
  net_pkt init = outbox_take(&p.a, 0);
  uint8_t copy[148];
  memcpy(copy, init.data, 148);
  ts_wg_rx rx;
  CHECK_EQ_INT(ts_wg_receive(p.b.dev, 0, WALL0, init.data, 148, &p.a.ep, &rx), TS_WG_RX_HANDSHAKE);
  outbox_clear(&p.b);
  /* A replay of the same initiation a second later: the timestamp is not newer. */
  CHECK_EQ_INT(ts_wg_receive(p.b.dev, SEC, WALL0, copy, 148, &p.a.ep, &rx), TS_WG_RX_DROP);
  CHECK_EQ_INT(rx.drop, TS_WG_DROP_TIMESTAMP_REPLAY);
  CHECK_EQ_INT(p.b.n_out, 0);
  free(init.data);

  /* A second device with A's key makes fresh initiations (newer timestamps) to test the flood limit. */
  ts_wg_config c2;
  memset(&c2, 0, sizeof c2);
  node a2;
  node_init_cfg(&a2, 1, &c2);
  ts_wg_peer *p2 = ts_wg_peer_add(a2.dev, p.b.pub, NULL);
  ts_wg_peer_allow(a2.dev, p2, 4, IP_B, 32);
  uint8_t pkt[60], out[128];
  ip4(pkt, 60, IP_A, IP_B, 0);
  ts_wg_tx tx;
  ts_wg_send(a2.dev, 0, WALL0 + 2 * SEC, pkt, 60, out, sizeof out, &tx);
  CHECK_EQ_INT(a2.n_out, 1);
  CHECK_EQ_INT(ts_wg_receive(p.b.dev, 2 * SEC, WALL0, a2.out[0].data, 148, &a2.ep, &rx), TS_WG_RX_HANDSHAKE);
  outbox_clear(&a2);
  ts_wg_timers(a2.dev, 6 * SEC, WALL0 + 3 * SEC); /* retransmission with a newer timestamp */
  CHECK_EQ_INT(a2.n_out, 1);
  memcpy(copy, a2.out[0].data, 148);
  CHECK_EQ_INT(ts_wg_receive(p.b.dev, 2 * SEC + 10 * MS, WALL0, a2.out[0].data, 148, &a2.ep, &rx), TS_WG_RX_DROP);
  CHECK_EQ_INT(rx.drop, TS_WG_DROP_INITIATION_FLOOD);
  CHECK_EQ_INT(ts_wg_receive(p.b.dev, 2 * SEC + 30 * MS, WALL0, copy, 148, &a2.ep, &rx), TS_WG_RX_HANDSHAKE);
  node_free(&a2);
  pair_free(&p);
}

static void test_session_expiry_and_zeroing(void) {
  pair p;
  pair_init(&p);
  establish(&p, 0);
  /* A packet from a session older than REJECT_AFTER_TIME is refused. */
  CHECK_EQ_INT(send_ba(&p, 179 * SEC, 60, 1), TS_WG_TX_READY);
  deliver_stats s = deliver(&p.b, &p.a, 180 * SEC);
  CHECK_EQ_INT(s.drop, 1);
  CHECK_EQ_INT(s.last.drop, TS_WG_DROP_KEYPAIR_EXPIRED);
  outbox_clear(&p.a);
  /* Nor can either side send on it. */
  CHECK_EQ_INT(send_ba(&p, 180 * SEC, 60, 1), TS_WG_TX_QUEUED);
  ts_wg_peer_stats st;
  ts_wg_peer_stats_get(p.pa, 180 * SEC, &st);
  CHECK(!st.has_session);
  CHECK(!ts_wg_test_keys_zeroed(p.pa));
  /* Silence until 3 x REJECT_AFTER_TIME after the session was derived: all key material goes. Let A
   * give up handshaking first (B's initiations are dropped on the floor). */
  for (uint64_t t = 180 * SEC; t <= 541 * SEC; t += 100 * MS) {
    ts_wg_timers(p.a.dev, t, WALL0 + t);
    outbox_clear(&p.a);
  }
  CHECK(ts_wg_test_keys_zeroed(p.pa));
  /* B keeps handshaking for its queued packet and gives up after REKEY_ATTEMPT_TIME; its keys are zeroed
   * 3 x REJECT_AFTER_TIME after the last session. */
  for (uint64_t t = 180 * SEC; t <= 541 * SEC; t += 100 * MS) {
    ts_wg_timers(p.b.dev, t, WALL0 + t);
    outbox_clear(&p.b);
  }
  CHECK(ts_wg_test_keys_zeroed(p.pb));
  CHECK_EQ_INT(ts_wg_drops(p.b.dev, TS_WG_DROP_QUEUE_FLUSHED), 1);
  pair_free(&p);
}

static void test_passive_keepalive(void) {
  pair p;
  pair_init(&p);
  establish(&p, 0);
  /* B received data at 0 (the queued packet) and sends nothing: a keepalive after KEEPALIVE_TIMEOUT. */
  ts_wg_timers(p.b.dev, 9 * SEC, WALL0);
  CHECK_EQ_INT(p.b.n_out, 0);
  CHECK_EQ_INT(ts_wg_next_deadline(p.b.dev), 10 * SEC);
  send_ab(&p, SEC, 60, 1);
  deliver(&p.a, &p.b, SEC); /* more data while the keepalive is pending: another one will follow */
  ts_wg_timers(p.b.dev, 10 * SEC, WALL0);
  CHECK_EQ_INT(p.b.n_out, 1);
  CHECK_EQ_INT(p.b.out[0].len, 32);
  deliver_stats s = deliver(&p.b, &p.a, 10 * SEC);
  CHECK_EQ_INT(s.keepalive, 1);
  CHECK_EQ_INT(ts_wg_next_deadline(p.b.dev), 20 * SEC);
  ts_wg_timers(p.b.dev, 20 * SEC, WALL0);
  CHECK_EQ_INT(p.b.n_out, 1);
  deliver(&p.b, &p.a, 20 * SEC);
  ts_wg_timers(p.b.dev, 35 * SEC, WALL0);
  CHECK_EQ_INT(p.b.n_out, 0);
  /* A keepalive does not itself call for one back. */
  ts_wg_timers(p.a.dev, 30 * SEC, WALL0);
  CHECK_EQ_INT(count_type(&p.a, 4), 0);
  outbox_clear(&p.a);
  /* If B answers with data in time, no keepalive. */
  send_ab(&p, 40 * SEC, 60, 1);
  deliver(&p.a, &p.b, 40 * SEC);
  send_ba(&p, 45 * SEC, 60, 1);
  outbox_clear(&p.b);
  ts_wg_timers(p.b.dev, 51 * SEC, WALL0);
  CHECK_EQ_INT(p.b.n_out, 0);
  pair_free(&p);
}

static void test_persistent_keepalive(void) {
  pair p;
  pair_init(&p);
  /* Turning it on sends a keepalive at once; here it also starts the handshake. */
  ts_wg_peer_set_persistent_keepalive(p.pa, SEC, 25);
  ts_wg_timers(p.a.dev, SEC, WALL0 + SEC);
  CHECK_EQ_INT(count_type(&p.a, 1), 1);
  pump(&p.a, &p.b, SEC); /* initiation, response, then the queued keepalive */
  CHECK_EQ_INT(ts_wg_test_sessions(p.pb), 2);
  /* The deadline may be reported early (a cancelled retransmission) but never late. */
  CHECK(ts_wg_next_deadline(p.a.dev) <= 26 * SEC);
  CHECK_EQ_INT(ts_wg_timers(p.a.dev, 7 * SEC, WALL0), 26 * SEC);
  int sent = 0;
  for (uint64_t t = 2 * SEC; t <= 101 * SEC; t += SEC) {
    ts_wg_timers(p.a.dev, t, WALL0 + t);
    ts_wg_timers(p.b.dev, t, WALL0 + t);
    for (int i = 0; i < p.a.n_out; i++) sent += p.a.out[i].len == 32;
    CHECK_EQ_INT(p.b.n_out, 0); /* keepalives do not call for answers */
    pump(&p.a, &p.b, t);
  }
  CHECK_EQ_INT(sent, 4); /* 26, 51, 76, 101 */
  /* Traffic postpones it. */
  send_ab(&p, 110 * SEC, 60, 1);
  outbox_clear(&p.a);
  ts_wg_timers(p.a.dev, 134 * SEC, WALL0);
  CHECK_EQ_INT(count_type(&p.a, 4), 0);
  ts_wg_timers(p.a.dev, 135 * SEC, WALL0);
  CHECK(count_type(&p.a, 4) + count_type(&p.a, 1) >= 1);
  outbox_clear(&p.a);
  /* Off. */
  ts_wg_peer_set_persistent_keepalive(p.pa, 140 * SEC, 0);
  ts_wg_timers(p.a.dev, 175 * SEC, WALL0);
  CHECK_EQ_INT(count_type(&p.a, 4), 0);
  pair_free(&p);
}

static void test_retransmit_and_give_up(void) {
  pair p;
  pair_init(&p);
  send_ab(&p, 0, 60, 1);
  CHECK_EQ_INT(count_type(&p.a, 1), 1);
  outbox_clear(&p.a);
  uint64_t now = 0, last = 0;
  int inits = 1, distinct_gaps = 0;
  uint64_t prev_gap = 0;
  for (int i = 0; i < 40; i++) {
    uint64_t t = ts_wg_next_deadline(p.a.dev);
    if (t == UINT64_MAX || t > 400 * SEC) break;
    now = t;
    ts_wg_timers(p.a.dev, now, WALL0 + now);
    int n = count_type(&p.a, 1);
    if (n) {
      uint64_t gap = now - last;
      CHECK(gap >= 5 * SEC && gap < 5 * SEC + 334 * MS);
      if (gap != prev_gap) distinct_gaps++;
      prev_gap = gap;
      last = now;
      inits += n;
    }
    outbox_clear(&p.a);
    if (ts_wg_drops(p.a.dev, TS_WG_DROP_QUEUE_FLUSHED)) break;
  }
  /* First attempt plus retries until the attempt count passes REKEY_ATTEMPT_TIME / REKEY_TIMEOUT. */
  CHECK_EQ_INT(inits, 1 + TS_WG_MAX_TIMER_HANDSHAKES + 1);
  CHECK(distinct_gaps > 5); /* jittered */
  CHECK(last > 90 * SEC && last < 100 * SEC + 20 * 334 * MS);
  CHECK_EQ_INT(ts_wg_drops(p.a.dev, TS_WG_DROP_QUEUE_FLUSHED), 1);
  ts_wg_peer_stats st;
  ts_wg_peer_stats_get(p.pa, now, &st);
  CHECK_EQ_INT(st.queued, 0);
  /* Given up: no more initiations until something new is sent. */
  ts_wg_timers(p.a.dev, now + 60 * SEC, WALL0);
  CHECK_EQ_INT(count_type(&p.a, 1), 0);
  CHECK_EQ_INT(send_ab(&p, now + 61 * SEC, 60, 1), TS_WG_TX_QUEUED);
  CHECK_EQ_INT(count_type(&p.a, 1), 1);
  pair_free(&p);
}

/* A relay reports the peer absent (ts_wg_peer_unreachable): the lost initiation is sent again after 250 ms,
 * then 500 ms, 1 s, 2 s, 4 s after each further report, instead of REKEY_TIMEOUT; one early retry per report,
 * none without an initiation waiting, none spent from REKEY_ATTEMPT_TIME's budget; the retry completes. */
static void test_unreachable_retries_sooner(void) {
  pair p;
  pair_init(&p);
  ts_wg_peer_unreachable(p.pa, 0); /* nothing sent yet: nothing to retry */
  CHECK_EQ_INT(ts_wg_next_deadline(p.a.dev), UINT64_MAX);
  send_ab(&p, 0, 60, 1);
  CHECK_EQ_INT(count_type(&p.a, 1), 1);
  outbox_clear(&p.a); /* lost at the relay */
  uint64_t sent = 0;
  static const uint64_t waits[] = {250 * MS, 500 * MS, 1000 * MS, 2000 * MS, 4000 * MS};
  for (int i = 0; i < 5; i++) {
    ts_wg_peer_unreachable(p.pa, sent + MS);
    ts_wg_peer_unreachable(p.pa, sent + 2 * MS); /* a second report for the same initiation changes nothing */
    CHECK_EQ_INT(ts_wg_next_deadline(p.a.dev), sent + waits[i]);
    ts_wg_timers(p.a.dev, sent + waits[i] - 1, WALL0 + sent + waits[i] - 1);
    CHECK_EQ_INT(count_type(&p.a, 1), 0);
    ts_wg_timers(p.a.dev, sent + waits[i], WALL0 + sent + waits[i]);
    CHECK_EQ_INT(count_type(&p.a, 1), 1);
    outbox_clear(&p.a);
    sent += waits[i];
  }
  CHECK_EQ_INT(ts_wg_test_handshake_attempts(p.pa), 0);
  /* After 4 s the backoff reaches REKEY_TIMEOUT: the timer's own retransmission is as soon. */
  ts_wg_peer_unreachable(p.pa, sent + MS);
  CHECK(ts_wg_next_deadline(p.a.dev) >= sent + TS_WG_REKEY_TIMEOUT);
  /* The peer is there now: the next initiation completes, and the backoff starts again from 250 ms. */
  uint64_t t = ts_wg_next_deadline(p.a.dev);
  ts_wg_timers(p.a.dev, t, WALL0 + t);
  CHECK_EQ_INT(count_type(&p.a, 1), 1);
  pump(&p.a, &p.b, t + MS);
  CHECK_EQ_INT(ts_wg_test_sessions(p.pa), 2);
  ts_wg_peer_unreachable(p.pa, t + 2 * MS); /* no initiation waiting */
  CHECK(ts_wg_next_deadline(p.a.dev) > t + TS_WG_REKEY_TIMEOUT);
  CHECK_EQ_INT(total_drops(p.a.dev) + total_drops(p.b.dev), 0);
  pair_free(&p);
}

/* Initiations that cross where the lower key's was lost on the way (a relay the peer was not connected to
 * yet): the lower key drops the higher's (it expects its own to be answered) and sends its own again after
 * TS_WG_CROSSING_RETRY, not REKEY_TIMEOUT; and once a relay has reported its own lost, it answers the
 * higher's instead. */
static void test_crossing_after_loss(void) {
  for (int known_lost = 0; known_lost <= 1; known_lost++) {
    pair p;
    pair_init(&p);
    int a_low = memcmp(p.a.pub, p.b.pub, 32) < 0;
    node *lo = a_low ? &p.a : &p.b, *hi = a_low ? &p.b : &p.a;
    ts_wg_peer *lo_peer = a_low ? p.pa : p.pb; /* the lower side's peer object for the higher */
    if (a_low) send_ab(&p, 0, 60, 1);
    else send_ba(&p, 0, 60, 1);
    CHECK_EQ_INT(count_type(lo, 1), 1);
    outbox_clear(lo); /* the lower key's initiation is lost */
    if (known_lost) ts_wg_peer_unreachable(lo_peer, MS);
    if (a_low) send_ba(&p, 10 * MS, 60, 2);
    else send_ab(&p, 10 * MS, 60, 2);
    CHECK_EQ_INT(count_type(hi, 1), 1);
    deliver_stats s = deliver(hi, lo, 20 * MS);
    if (known_lost) {
      /* Answered: the response completes the higher side's handshake. */
      CHECK_EQ_INT(s.handshake, 1);
      CHECK_EQ_INT(count_type(lo, 2), 1);
      pump(lo, hi, 30 * MS);
    } else {
      CHECK_EQ_INT(s.drop, 1);
      CHECK_EQ_INT(ts_wg_drops(lo->dev, TS_WG_DROP_HANDSHAKE_STATE), 1);
      CHECK_EQ_INT(ts_wg_next_deadline(lo->dev), 20 * MS + TS_WG_CROSSING_RETRY);
      uint64_t t = 20 * MS + TS_WG_CROSSING_RETRY;
      ts_wg_timers(lo->dev, t, WALL0 + t);
      CHECK_EQ_INT(count_type(lo, 1), 1); /* ours again, well before REKEY_TIMEOUT */
      pump(lo, hi, t + MS);
    }
    CHECK(ts_wg_test_sessions(p.pa) & 2 || ts_wg_test_sessions(p.pa) & 4);
    CHECK(ts_wg_test_sessions(p.pb) & 2 || ts_wg_test_sessions(p.pb) & 4);
    /* Both queued packets went through on the new session. */
    ts_wg_peer_stats st;
    ts_wg_peer_stats_get(p.pa, 2 * SEC, &st);
    CHECK_EQ_INT(st.queued, 0);
    ts_wg_peer_stats_get(p.pb, 2 * SEC, &st);
    CHECK_EQ_INT(st.queued, 0);
    pair_free(&p);
  }
}

static void test_new_handshake_when_unanswered(void) {
  pair p;
  pair_init(&p);
  establish(&p, 0);
  send_ba(&p, SEC, 60, 1); /* B answers the first packet: A's "unanswered" timer stops */
  deliver(&p.b, &p.a, SEC);
  /* A sends data at 10 s, B never answers (its packets are lost). */
  send_ab(&p, 10 * SEC, 60, 1);
  deliver(&p.a, &p.b, 10 * SEC);
  outbox_clear(&p.b);
  ts_wg_timers(p.a.dev, 24 * SEC + 999 * MS, WALL0);
  CHECK_EQ_INT(count_type(&p.a, 1), 0);
  ts_wg_timers(p.a.dev, 25 * SEC + 334 * MS, WALL0);
  CHECK_EQ_INT(count_type(&p.a, 1), 1);
  outbox_clear(&p.a);
  /* Anything authenticated from B in time cancels it. */
  pair q;
  pair_init(&q);
  establish(&q, 0);
  send_ab(&q, 10 * SEC, 60, 1);
  deliver(&q.a, &q.b, 10 * SEC);
  ts_wg_timers(q.b.dev, 20 * SEC, WALL0); /* B's passive keepalive */
  deliver(&q.b, &q.a, 20 * SEC);
  ts_wg_timers(q.a.dev, 30 * SEC, WALL0);
  CHECK_EQ_INT(count_type(&q.a, 1), 0);
  pair_free(&q);
  pair_free(&p);
}

static void test_last_minute_rekey_on_receive(void) {
  pair p;
  pair_init(&p);
  establish(&p, 0);
  /* B sends at 164 s: A, the initiator, does not rekey yet. */
  send_ba(&p, 164 * SEC, 60, 1);
  deliver(&p.b, &p.a, 164 * SEC);
  CHECK_EQ_INT(count_type(&p.a, 1), 0);
  /* Past REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT = 165 s: one initiation. */
  send_ba(&p, 166 * SEC, 60, 1);
  deliver(&p.b, &p.a, 166 * SEC);
  CHECK_EQ_INT(count_type(&p.a, 1), 1);
  outbox_clear(&p.a);
  send_ba(&p, 172 * SEC, 60, 1);
  deliver(&p.b, &p.a, 172 * SEC);
  CHECK_EQ_INT(count_type(&p.a, 1), 0); /* only once */
  pair_free(&p);
}

static void test_roaming(void) {
  pair p;
  pair_init(&p);
  establish(&p, 0);
  ts_wg_peer_stats st;
  /* A moves to a new address: B follows once an authenticated packet arrives from there. */
  p.a.ep = mk_ep(77, 1234);
  send_ab(&p, SEC, 60, 1);
  deliver(&p.a, &p.b, SEC);
  ts_wg_peer_stats_get(p.pb, SEC, &st);
  CHECK_EQ_INT(st.endpoint.data[3], 77);
  send_ba(&p, SEC, 60, 1);
  CHECK_EQ_INT(p.b.out[0].ep.data[3], 77);
  outbox_clear(&p.b);
  /* A forged packet from elsewhere does not move it. */
  send_ab(&p, SEC, 60, 1);
  p.a.out[0].data[20] ^= 1;
  p.a.ep = mk_ep(66, 1);
  deliver_stats s = deliver(&p.a, &p.b, SEC);
  CHECK_EQ_INT(s.drop, 1);
  ts_wg_peer_stats_get(p.pb, SEC, &st);
  CHECK_EQ_INT(st.endpoint.data[3], 77);
  /* Nor does a replayed packet. */
  p.a.ep = mk_ep(77, 1234);
  send_ab(&p, SEC, 60, 1);
  uint8_t copy[128];
  memcpy(copy, p.a.out[0].data, p.a.out[0].len);
  size_t len = p.a.out[0].len;
  deliver(&p.a, &p.b, SEC);
  ts_wg_endpoint evil = mk_ep(55, 5);
  ts_wg_rx rx;
  CHECK_EQ_INT(ts_wg_receive(p.b.dev, SEC, WALL0, copy, len, &evil, &rx), TS_WG_RX_DROP);
  ts_wg_peer_stats_get(p.pb, SEC, &st);
  CHECK_EQ_INT(st.endpoint.data[3], 77);
  /* A handshake from a new address moves it too. */
  ts_wg_endpoint ep3 = mk_ep(33, 3);
  ts_wg_peer_set_endpoint(p.pa, &ep3); /* A's idea of B's address is irrelevant here */
  p.a.ep = mk_ep(88, 8);
  ts_wg_timers(p.a.dev, 200 * SEC, WALL0 + 200 * SEC);
  send_ab(&p, 200 * SEC, 60, 1);
  CHECK(count_type(&p.a, 1) == 1);
  CHECK_EQ_INT(p.a.out[0].ep.data[3], 33);
  deliver(&p.a, &p.b, 200 * SEC);
  ts_wg_peer_stats_get(p.pb, 200 * SEC, &st);
  CHECK_EQ_INT(st.endpoint.data[3], 88);
  pair_free(&p);
}

static void test_presession_queue(void) {
  pair p;
  pair_init(&p);
  for (int i = 0; i < 130; i++) CHECK_EQ_INT(send_ab(&p, 0, 60, (uint8_t)i), TS_WG_TX_QUEUED);
  CHECK_EQ_INT(count_type(&p.a, 1), 1); /* one initiation, not 130 */
  CHECK_EQ_INT(ts_wg_drops(p.a.dev, TS_WG_DROP_QUEUE_FULL), 2);
  ts_wg_peer_stats st;
  ts_wg_peer_stats_get(p.pa, 0, &st);
  CHECK_EQ_INT(st.queued, 128);
  deliver(&p.a, &p.b, MS);
  deliver(&p.b, &p.a, MS);
  CHECK_EQ_INT(count_type(&p.a, 4), 128);
  /* In order, oldest two gone. */
  CHECK_EQ_INT(p.a.out[0].len, 32 + 64);
  ts_wg_rx rx;
  int in_order = 1;
  for (int i = 0; i < 128; i++) {
    ts_wg_receive(p.b.dev, MS, WALL0, p.a.out[i].data, p.a.out[i].len, &p.a.ep, &rx);
    if (rx.kind != TS_WG_RX_DATA || rx.data[30] != (uint8_t)(i + 2)) in_order = 0;
  }
  CHECK(in_order);
  outbox_clear(&p.a);
  /* Packets sent after the session exists while some still wait go after them. */
  pair_free(&p);
}

static void test_source_check_and_routing(void) {
  pair p;
  pair_init(&p);
  establish(&p, 0);
  /* A sends a packet whose inner source B does not allow for A. */
  uint8_t pkt[60], out[128];
  const uint8_t spoof[4] = {10, 0, 0, 9};
  ip4(pkt, 60, spoof, IP_B, 0);
  ts_wg_tx tx;
  CHECK_EQ_INT(ts_wg_send(p.a.dev, SEC, WALL0, pkt, 60, out, sizeof out, &tx), TS_WG_TX_READY);
  ts_wg_rx rx;
  CHECK_EQ_INT(ts_wg_receive(p.b.dev, SEC, WALL0, out, tx.len, &p.a.ep, &rx), TS_WG_RX_DROP);
  CHECK_EQ_INT(rx.drop, TS_WG_DROP_SOURCE_NOT_ALLOWED);
  CHECK_EQ_INT(ts_wg_drops(p.b.dev, TS_WG_DROP_SOURCE_NOT_ALLOWED), 1);
  /* No route. */
  const uint8_t nowhere[4] = {10, 9, 9, 9};
  ip4(pkt, 60, IP_A, nowhere, 0);
  CHECK_EQ_INT(ts_wg_send(p.a.dev, SEC, WALL0, pkt, 60, out, sizeof out, &tx), TS_WG_TX_DROP);
  CHECK_EQ_INT(tx.drop, TS_WG_DROP_NO_ROUTE);
  /* Not IP. */
  pkt[0] = 0x20;
  CHECK_EQ_INT(ts_wg_send(p.a.dev, SEC, WALL0, pkt, 60, out, sizeof out, &tx), TS_WG_TX_DROP);
  CHECK_EQ_INT(tx.drop, TS_WG_DROP_BAD_INNER);
  /* Inner length field claiming more than was sent. */
  ip4(pkt, 60, IP_A, IP_B, 0);
  pkt[3] = 200;
  CHECK_EQ_INT(ts_wg_peer_send(p.a.dev, p.pa, SEC, WALL0, pkt, 60, out, sizeof out, &tx), TS_WG_TX_READY);
  CHECK_EQ_INT(ts_wg_receive(p.b.dev, SEC, WALL0, out, tx.len, &p.a.ep, &rx), TS_WG_RX_DROP);
  CHECK_EQ_INT(rx.drop, TS_WG_DROP_BAD_INNER);
  pair_free(&p);
}

/* A node key renewal: A takes a new static key at run time (ts_wg_device_set_private_key). Sessions and
 * handshakes made with the old key are gone; a handshake addressed to the old key is refused; B, once told
 * the new key, handshakes and data flows both ways; peers, AllowedIPs and the queued packet survive. */
static void test_set_private_key(void) {
  pair p;
  pair_init(&p);
  node c; /* a third node that only ever knows A's old key */
  node_init(&c, 3);
  ts_wg_peer *pc = ts_wg_peer_add(c.dev, p.a.pub, &(ts_wg_peer_config){.endpoint = &p.a.ep});
  ts_wg_peer_allow(c.dev, pc, 4, IP_A, 32);
  ts_wg_peer *pac = ts_wg_peer_add(p.a.dev, c.pub, &(ts_wg_peer_config){.endpoint = &c.ep});
  ts_wg_peer_allow(p.a.dev, pac, 4, IP_C, 32);
  establish(&p, 0);
  CHECK_EQ_INT(ts_wg_test_sessions(p.pa), 2);

  /* Bad arguments, the same key (nothing dropped), a peer's key. */
  CHECK_EQ_INT(ts_wg_device_set_private_key(NULL, p.a.priv), -1);
  CHECK_EQ_INT(ts_wg_device_set_private_key(p.a.dev, NULL), -1);
  CHECK_EQ_INT(ts_wg_device_set_private_key(p.a.dev, p.a.priv), 0);
  CHECK_EQ_INT(ts_wg_test_sessions(p.pa), 2);
  CHECK_EQ_INT(ts_wg_device_set_private_key(p.a.dev, p.b.priv), -2);
  CHECK_EQ_INT(ts_wg_test_sessions(p.pa), 2);

  /* B sends on the session it has; it is in flight when A renews its key. */
  CHECK_EQ_INT(send_ba(&p, 10 * MS, 100, 0x01), TS_WG_TX_READY);
  uint8_t old_pub[32], priv2[32], pub2[32];
  memcpy(old_pub, p.a.pub, 32);
  for (int i = 0; i < 32; i++) priv2[i] = (uint8_t)(0xA0 + i);
  ts_x25519_clamp(priv2);
  ts_x25519_public(pub2, priv2);
  CHECK_EQ_INT(ts_wg_device_set_private_key(p.a.dev, priv2), 0);
  uint8_t now_pub[32];
  ts_wg_device_public_key(p.a.dev, now_pub);
  CHECK_MEM(now_pub, pub2, 32);
  CHECK(ts_wg_test_keys_zeroed(p.pa));
  CHECK_EQ_INT(ts_wg_peer_count(p.a.dev), 2);
  CHECK(ts_wg_route(p.a.dev, 4, IP_B) == p.pa);
  CHECK(ts_wg_next_deadline(p.a.dev) <= 1 * MS); /* B was active: a handshake with the new key is due */

  /* The old session's data: its index is gone. */
  uint64_t unknown = ts_wg_drops(p.a.dev, TS_WG_DROP_UNKNOWN_INDEX);
  deliver_stats s = deliver(&p.b, &p.a, 11 * MS);
  CHECK_EQ_INT(s.drop, 1);
  CHECK_EQ_INT(ts_wg_drops(p.a.dev, TS_WG_DROP_UNKNOWN_INDEX), unknown + 1);

  /* A handshake made with the old key (C still has it) fails mac1 at A. */
  uint8_t pkt[100], out[200];
  ip4(pkt, 60, IP_C, IP_A, 0x02);
  ts_wg_tx tx;
  CHECK_EQ_INT(ts_wg_send(c.dev, 12 * MS, WALL0 + 12 * MS, pkt, 60, out, sizeof out, &tx), TS_WG_TX_QUEUED);
  uint64_t mac1 = ts_wg_drops(p.a.dev, TS_WG_DROP_MAC1);
  s = deliver(&c, &p.a, 12 * MS);
  CHECK_EQ_INT(s.drop, 1);
  CHECK_EQ_INT(ts_wg_drops(p.a.dev, TS_WG_DROP_MAC1), mac1 + 1);
  CHECK_EQ_INT(p.a.n_out, 0);

  /* A sends to B: queued, and its initiation (new key) is refused by B, which knows only the old key. */
  CHECK_EQ_INT(send_ab(&p, 20 * MS, 200, 0x03), TS_WG_TX_QUEUED);
  CHECK_EQ_INT(p.a.n_out, 1);
  s = deliver(&p.a, &p.b, 20 * MS);
  CHECK_EQ_INT(s.drop, 1);
  CHECK_EQ_INT(s.last.drop, TS_WG_DROP_UNKNOWN_PEER);

  /* B learns the new key (a netmap would say so): the retransmitted initiation now completes, the packet
   * that waited arrives, and B answers. */
  ts_wg_peer_remove(p.b.dev, p.pb);
  p.pb = ts_wg_peer_add(p.b.dev, pub2, &(ts_wg_peer_config){.endpoint = &p.a.ep});
  ts_wg_peer_allow(p.b.dev, p.pb, 4, IP_A, 32);
  uint64_t t = 20 * MS + TS_WG_REKEY_TIMEOUT + TS_WG_REKEY_TIMEOUT_JITTER;
  ts_wg_timers(p.a.dev, t, WALL0 + t);
  CHECK_EQ_INT(p.a.n_out, 1);
  s = deliver(&p.a, &p.b, t);
  CHECK_EQ_INT(s.handshake, 1);
  s = deliver(&p.b, &p.a, t);
  CHECK_EQ_INT(s.handshake, 1);
  s = deliver(&p.a, &p.b, t);
  CHECK_EQ_INT(s.data, 1);
  CHECK_EQ_INT(s.last_len, 200);
  CHECK(s.last.peer == p.pb);
  CHECK_EQ_INT(send_ba(&p, t + MS, 300, 0x04), TS_WG_TX_READY);
  s = deliver(&p.b, &p.a, t + MS);
  CHECK_EQ_INT(s.data, 1);
  CHECK_EQ_INT(s.last_len, 300);
  CHECK(s.last.peer == p.pa);
  node_free(&c);
  pair_free(&p);
}

/* After a key change with packets waiting (or a session), the handshake starts at the next timer call, not at
 * the next send; an idle peer gets none. */
static void test_set_private_key_queued(void) {
  pair p;
  pair_init(&p);
  CHECK_EQ_INT(send_ab(&p, 0, 100, 0x05), TS_WG_TX_QUEUED);
  outbox_clear(&p.a); /* that initiation (old key) is lost */
  uint8_t priv2[32];
  for (int i = 0; i < 32; i++) priv2[i] = (uint8_t)(0x50 + i);
  CHECK_EQ_INT(ts_wg_device_set_private_key(p.a.dev, priv2), 0);
  CHECK(ts_wg_next_deadline(p.a.dev) <= 1 * MS);
  ts_wg_timers(p.a.dev, 1 * MS, WALL0 + 1 * MS);
  CHECK_EQ_INT(p.a.n_out, 1);
  CHECK_EQ_INT(p.a.out[0].data[0], 1);
  CHECK_EQ_INT(p.a.out[0].len, 148);
  pair_free(&p);

  pair_init(&p); /* idle: no session, nothing queued */
  CHECK_EQ_INT(ts_wg_device_set_private_key(p.a.dev, priv2), 0);
  ts_wg_timers(p.a.dev, 1 * MS, WALL0 + 1 * MS);
  CHECK_EQ_INT(p.a.n_out, 0);
  pair_free(&p);
}

static void test_three_peers_and_removal(void) {
  node a, b, c;
  node_init(&a, 1);
  node_init(&b, 2);
  node_init(&c, 3);
  ts_wg_peer *ab = ts_wg_peer_add(a.dev, b.pub, NULL), *ac = ts_wg_peer_add(a.dev, c.pub, NULL);
  ts_wg_peer *ba = ts_wg_peer_add(b.dev, a.pub, NULL), *ca = ts_wg_peer_add(c.dev, a.pub, NULL);
  CHECK(ab && ac && ba && ca && ab != ac);
  CHECK(ts_wg_peer_add(a.dev, b.pub, NULL) == ab); /* idempotent */
  CHECK(ts_wg_peer_add(a.dev, a.pub, NULL) == NULL); /* not ourselves */
  CHECK_EQ_INT(ts_wg_peer_count(a.dev), 2);
  const uint8_t net[4] = {10, 0, 0, 0};
  ts_wg_peer_allow(a.dev, ab, 4, net, 24); /* B is the gateway for 10.0.0.0/24 ... */
  ts_wg_peer_allow(a.dev, ac, 4, IP_C, 32); /* ... except C itself */
  ts_wg_peer_allow(b.dev, ba, 4, IP_A, 32);
  ts_wg_peer_allow(c.dev, ca, 4, IP_A, 32);
  CHECK(ts_wg_route(a.dev, 4, IP_B) == ab);
  CHECK(ts_wg_route(a.dev, 4, IP_C) == ac);
  uint8_t pkt[60], out[128];
  ts_wg_tx tx;
  ip4(pkt, 60, IP_A, IP_C, 1);
  CHECK_EQ_INT(ts_wg_send(a.dev, 0, WALL0, pkt, 60, out, sizeof out, &tx), TS_WG_TX_QUEUED);
  CHECK(tx.peer == ac);
  deliver(&a, &c, 0);
  deliver(&c, &a, 0);
  deliver_stats s = deliver(&a, &c, 0);
  CHECK_EQ_INT(s.data, 1);
  ip4(pkt, 60, IP_A, IP_B, 1);
  ts_wg_send(a.dev, 0, WALL0, pkt, 60, out, sizeof out, &tx);
  deliver(&a, &b, 0);
  deliver(&b, &a, 0);
  s = deliver(&a, &b, 0);
  CHECK_EQ_INT(s.data, 1);
  /* Move C's address to B. */
  CHECK_EQ_INT(ts_wg_peer_allow(a.dev, ab, 4, IP_C, 32), 0);
  CHECK(ts_wg_route(a.dev, 4, IP_C) == ab);
  CHECK_EQ_INT(ts_wg_peer_disallow(a.dev, ac, 4, IP_C, 32), 0); /* C no longer holds it */
  /* Remove C: its routes and session vanish; its packets are unknown. */
  ts_wg_peer_allow(a.dev, ac, 4, (const uint8_t[4]){10, 1, 0, 0}, 16);
  ip4(pkt, 60, IP_C, IP_A, 1);
  ts_wg_send(c.dev, SEC, WALL0, pkt, 60, out, sizeof out, &tx);
  CHECK_EQ_INT(tx.kind, TS_WG_TX_READY);
  ts_wg_peer_remove(a.dev, ac);
  CHECK_EQ_INT(ts_wg_peer_count(a.dev), 1);
  CHECK(ts_wg_peer_find(a.dev, c.pub) == NULL);
  CHECK(ts_wg_peer_find(a.dev, b.pub) == ab);
  CHECK(ts_wg_route(a.dev, 4, (const uint8_t[4]){10, 1, 2, 3}) == NULL);
  ts_wg_rx rx;
  CHECK_EQ_INT(ts_wg_receive(a.dev, SEC, WALL0, out, tx.len, &c.ep, &rx), TS_WG_RX_DROP);
  CHECK_EQ_INT(rx.drop, TS_WG_DROP_UNKNOWN_INDEX);
  /* C's next initiation is from an unknown peer. */
  ts_wg_timers(c.dev, 200 * SEC, WALL0 + 200 * SEC);
  ip4(pkt, 60, IP_C, IP_A, 1);
  ts_wg_send(c.dev, 200 * SEC, WALL0 + 200 * SEC, pkt, 60, out, sizeof out, &tx);
  s = deliver(&c, &a, 200 * SEC);
  CHECK_EQ_INT(s.last.drop, TS_WG_DROP_UNKNOWN_PEER);
  /* Re-adding C works from scratch. */
  ac = ts_wg_peer_add(a.dev, c.pub, NULL);
  ts_wg_peer_allow(a.dev, ac, 4, IP_C, 32);
  ts_wg_timers(c.dev, 206 * SEC, WALL0 + 206 * SEC);
  s = deliver(&c, &a, 206 * SEC);
  CHECK_EQ_INT(s.handshake, 1);
  deliver(&a, &c, 206 * SEC);
  s = deliver(&c, &a, 206 * SEC);
  CHECK_EQ_INT(s.data, 1);
  node_free(&a);
  node_free(&b);
  node_free(&c);
}

static void test_psk(void) {
  uint8_t psk[32];
  memset(psk, 0x5A, 32);
  pair p;
  pair_init(&p);
  ts_wg_peer_set_psk(p.pa, psk);
  /* Mismatched PSK: the response does not authenticate at A. */
  send_ab(&p, 0, 60, 1);
  deliver(&p.a, &p.b, 0);
  deliver_stats s = deliver(&p.b, &p.a, 0);
  CHECK_EQ_INT(s.drop, 1);
  CHECK_EQ_INT(s.last.drop, TS_WG_DROP_HANDSHAKE_DECRYPT);
  ts_wg_peer_set_psk(p.pb, psk);
  ts_wg_timers(p.a.dev, 6 * SEC, WALL0 + 6 * SEC);
  pump(&p.a, &p.b, 6 * SEC);
  ts_wg_peer_stats st;
  ts_wg_peer_stats_get(p.pa, 6 * SEC, &st);
  CHECK(st.has_session);
  ts_wg_peer_stats_get(p.pb, 6 * SEC, &st);
  CHECK(st.has_session);
  pair_free(&p);
}

static void test_simultaneous_initiation(void) {
  pair p;
  pair_init(&p);
  send_ab(&p, 0, 60, 1);
  send_ba(&p, 0, 60, 2);
  /* Both initiations cross. The side with the lower public key drops the other's and keeps its own, which
   * the other answers: one handshake completes at once, and both queued packets are delivered without
   * waiting for a retransmission (REKEY_TIMEOUT). Before, both answered and both sessions failed. */
  int data_at_a = 0, data_at_b = 0;
  for (int i = 0; i < 16 && (p.a.n_out || p.b.n_out); i++) {
    data_at_b += deliver(&p.a, &p.b, MS).data;
    data_at_a += deliver(&p.b, &p.a, MS).data;
  }
  CHECK_EQ_INT(data_at_a, 1);
  CHECK_EQ_INT(data_at_b, 1);
  CHECK_EQ_INT(send_ab(&p, 2 * MS, 60, 5), TS_WG_TX_READY);
  CHECK_EQ_INT(send_ba(&p, 2 * MS, 60, 6), TS_WG_TX_READY);
  pump(&p.a, &p.b, 2 * MS);
  for (int i = 0; i < 20; i++) {
    uint64_t ta = ts_wg_next_deadline(p.a.dev), tb = ts_wg_next_deadline(p.b.dev);
    uint64_t t = ta < tb ? ta : tb;
    if (t > 39 * SEC) break;
    ts_wg_timers(p.a.dev, t, WALL0 + t);
    ts_wg_timers(p.b.dev, t, WALL0 + t);
    pump(&p.a, &p.b, t);
  }
  CHECK_EQ_INT(send_ab(&p, 40 * SEC, 60, 3), TS_WG_TX_READY);
  CHECK_EQ_INT(send_ba(&p, 40 * SEC, 60, 4), TS_WG_TX_READY);
  deliver_stats s = deliver(&p.a, &p.b, 40 * SEC);
  CHECK_EQ_INT(s.data, 1);
  s = deliver(&p.b, &p.a, 40 * SEC);
  CHECK_EQ_INT(s.data, 1);
  pair_free(&p);
}

static void test_long_run(void) {
  /* Ten minutes of protocol time with traffic both ways every 100 ms and timers run: sessions keep
   * rotating and nothing is dropped. */
  pair p;
  pair_init(&p);
  uint64_t data = 0;
  for (uint64_t t = 0; t < 600 * SEC; t += 100 * MS) {
    send_ab(&p, t, 100, 1);
    if (t >= 3 * SEC) send_ba(&p, t + 50 * MS, 100, 2); /* not both first: see test_simultaneous_initiation */
    ts_wg_timers(p.a.dev, t, WALL0 + t);
    ts_wg_timers(p.b.dev, t, WALL0 + t);
    for (int i = 0; i < 8 && (p.a.n_out || p.b.n_out); i++) {
      data += (uint64_t)deliver(&p.a, &p.b, t + 60 * MS).data;
      data += (uint64_t)deliver(&p.b, &p.a, t + 60 * MS).data;
    }
  }
  CHECK(data >= 6000 + 5970 - 4);
  CHECK_EQ_INT(total_drops(p.a.dev), 0);
  CHECK_EQ_INT(total_drops(p.b.dev), 0);
  for (int i = 1; i < TS_WG_DROP_COUNT; i++)
    if (ts_wg_drops(p.a.dev, (ts_wg_drop)i) || ts_wg_drops(p.b.dev, (ts_wg_drop)i))
      fprintf(stderr, "    %s: %llu %llu\n", ts_wg_drop_name((ts_wg_drop)i),
              (unsigned long long)ts_wg_drops(p.a.dev, (ts_wg_drop)i), (unsigned long long)ts_wg_drops(p.b.dev, (ts_wg_drop)i));
  pair_free(&p);
}


/* A lossy, duplicating, reordering network for twenty minutes of protocol time, both sides sending: no
 * state gets stuck. Afterwards, on a clean network, traffic flows both ways again within a few rekey
 * timeouts. */
static void chaos_deliver(node *from, node *to, uint64_t now, test_rng *r, net_pkt *held, int *nheld) {
  int n = from->n_out;
  for (int i = 0; i < n; i++) {
    net_pkt pk = from->out[i];
    uint8_t x;
    rng_fill(r, &x, 1);
    if (x < 70) { /* ~27% lost */
      free(pk.data);
      continue;
    }
    if (x > 235 && *nheld < 64) { /* held back: delivered later, out of order */
      held[(*nheld)++] = pk;
      continue;
    }
    ts_wg_rx rx;
    if (x > 220) { /* duplicated */
      uint8_t *dup = malloc(pk.len);
      memcpy(dup, pk.data, pk.len);
      ts_wg_receive(to->dev, now, WALL0 + now, dup, pk.len, &from->ep, &rx);
      free(dup);
    }
    ts_wg_receive(to->dev, now, WALL0 + now, pk.data, pk.len, &from->ep, &rx);
    free(pk.data);
  }
  from->n_out = 0;
  if (*nheld && (now / MS) % 7 == 0) {
    for (int i = *nheld - 1; i >= 0; i--) {
      ts_wg_rx rx;
      ts_wg_receive(to->dev, now, WALL0 + now, held[i].data, held[i].len, &from->ep, &rx);
      free(held[i].data);
    }
    *nheld = 0;
  }
}

static void test_chaos_then_recovery(void) {
  pair p;
  pair_init(&p);
  test_rng r = {2024};
  net_pkt held_ab[64], held_ba[64];
  int nab = 0, nba = 0;
  uint64_t t = 0;
  while (t < 1200 * SEC) {
    uint32_t x;
    rng_fill(&r, &x, sizeof x);
    t += (x % 2000) * MS + 1; /* 0-2 s steps */
    if (x & 1) send_ab(&p, t, 80, 1);
    if (x & 2) send_ba(&p, t, 80, 2);
    ts_wg_timers(p.a.dev, t, WALL0 + t);
    ts_wg_timers(p.b.dev, t, WALL0 + t);
    chaos_deliver(&p.a, &p.b, t, &r, held_ab, &nab);
    chaos_deliver(&p.b, &p.a, t, &r, held_ba, &nba);
  }
  for (int i = 0; i < nab; i++) free(held_ab[i].data);
  for (int i = 0; i < nba; i++) free(held_ba[i].data);
  /* Clean network from here: within 20 s both directions deliver data. */
  int ab = 0, ba = 0;
  for (uint64_t end = t + 20 * SEC; t < end; t += 100 * MS) {
    send_ab(&p, t, 80, 1);
    send_ba(&p, t + 10 * MS, 80, 2);
    ts_wg_timers(p.a.dev, t, WALL0 + t);
    ts_wg_timers(p.b.dev, t, WALL0 + t);
    for (int i = 0; i < 8 && (p.a.n_out || p.b.n_out); i++) {
      ab += deliver(&p.a, &p.b, t + 20 * MS).data;
      ba += deliver(&p.b, &p.a, t + 20 * MS).data;
    }
  }
  CHECK(ab > 100);
  CHECK(ba > 100);
  pair_free(&p);
}

/* Peers configured on demand: B knows A's key only in a side table and adds the peer when A's initiation
 * arrives. */
typedef struct {
  uint8_t known[32];
  int calls;
} lookup_ctx;

static ts_wg_peer *lookup_peer(void *ctx, ts_wg_device *dev, const uint8_t pub[32]) {
  lookup_ctx *c = ctx;
  c->calls++;
  if (memcmp(pub, c->known, 32) != 0) return NULL;
  ts_wg_peer *p = ts_wg_peer_add(dev, pub, NULL);
  if (p) ts_wg_peer_allow(dev, p, 4, IP_A, 32);
  return p;
}

static void test_peer_lookup_hook(void) {
  node a, b;
  lookup_ctx lc;
  memset(&lc, 0, sizeof lc);
  ts_wg_config ca, cb;
  memset(&ca, 0, sizeof ca);
  memset(&cb, 0, sizeof cb);
  cb.peer_lookup = lookup_peer;
  cb.peer_lookup_ctx = &lc;
  node_init_cfg(&a, 1, &ca);
  node_init_cfg(&b, 2, &cb);
  ts_wg_peer *pa = ts_wg_peer_add(a.dev, b.pub, NULL);
  ts_wg_peer_allow(a.dev, pa, 4, IP_B, 32);
  uint8_t pkt[60], out[128];
  ip4(pkt, 60, IP_A, IP_B, 9);
  ts_wg_tx tx;
  /* Not in the table: dropped as unknown. */
  ts_wg_send(a.dev, 0, WALL0, pkt, 60, out, sizeof out, &tx);
  deliver_stats s = deliver(&a, &b, 0);
  CHECK_EQ_INT(s.last.drop, TS_WG_DROP_UNKNOWN_PEER);
  CHECK_EQ_INT(lc.calls, 1);
  CHECK_EQ_INT(ts_wg_peer_count(b.dev), 0);
  /* In the table: added on the spot, and the handshake completes. */
  memcpy(lc.known, a.pub, 32);
  ts_wg_timers(a.dev, 6 * SEC, WALL0 + 6 * SEC);
  s = deliver(&a, &b, 6 * SEC);
  CHECK_EQ_INT(s.handshake, 1);
  CHECK_EQ_INT(ts_wg_peer_count(b.dev), 1);
  deliver(&b, &a, 6 * SEC);
  s = deliver(&a, &b, 6 * SEC);
  CHECK_EQ_INT(s.data, 1);
  CHECK_EQ_INT(lc.calls, 2);
  node_free(&a);
  node_free(&b);
}

int main(void) {
  if (ts_crypto_init()) return 1;
  RUN(test_handshake_and_data);
  RUN(test_ipv6_and_padding);
  RUN(test_mtu_padding);
  RUN(test_key_confirmation);
  RUN(test_keepalive_confirms);
  RUN(test_rekey_after_time);
  RUN(test_rekey_after_messages);
  RUN(test_reject_after_messages);
  RUN(test_replay);
  RUN(test_cookie_under_load);
  RUN(test_under_load_threshold);
  RUN(test_rate_limit_under_load);
  RUN(test_timestamp_replay_and_flood);
  RUN(test_session_expiry_and_zeroing);
  RUN(test_passive_keepalive);
  RUN(test_persistent_keepalive);
  RUN(test_retransmit_and_give_up);
  RUN(test_unreachable_retries_sooner);
  RUN(test_crossing_after_loss);
  RUN(test_new_handshake_when_unanswered);
  RUN(test_last_minute_rekey_on_receive);
  RUN(test_roaming);
  RUN(test_presession_queue);
  RUN(test_source_check_and_routing);
  RUN(test_three_peers_and_removal);
  RUN(test_set_private_key);
  RUN(test_set_private_key_queued);
  RUN(test_psk);
  RUN(test_simultaneous_initiation);
  RUN(test_peer_lookup_hook);
  RUN(test_long_run);
  RUN(test_chaos_then_recovery);
  TEST_MAIN_END();
}
