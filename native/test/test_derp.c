/* DERP client tests: every frame of Tailscale's own transcript (test/fixtures/devnet-derp/vectors.json, copied here)
 * parsed and re-encoded byte for byte, ClientInfo/ServerInfo opened with the vector keys, our client
 * reproducing client a's bytes exactly (same nonce), a full handshake against a small server written here,
 * chunking at every byte boundary, bounds and garbage, timeouts, the HTTP upgrade helper. */
#include <stdlib.h>

#include "crypto/crypto.h"
#include "derp/derp.h"
#include "test.h"

#define SEC 1000000000ULL

/* ---- vectors (derp-disco.json, Tailscale v1.72.1) ---- */
static const char *A_PRIV = "c02a202883da05f9fb3ded906b1bd86e33c6b5dc2a4b4beb37714ac3c3150573";
static const char *A_PUB = "7bb45121acbcc13d1736ec28b0806bda4c76b5276db3ef68a61e3b0908902b6f";
static const char *B_PRIV = "f0224fa67ce525208bd827eb46e709d0f559025ef322150553845b0fbdf44a44";
static const char *B_PUB = "d3ef1661345be10851ebf9c3c6ee2d3712c9d9cbe63d3b480d639be903518e1e";
static const char *S_PRIV = "10491a5945a0646c2342ba414a78fb1193962ae1a9c0a8a081579825d0ff4e5f";
static const char *S_PUB = "eb771496f1108813c90a67833700fe98144292e59e21090361cb32cdf78d7051";

static const char *A_SERVER_KEY =
    "010000002844455250f09f9491eb771496f1108813c90a67833700fe98144292e59e21090361cb32cdf78d7051";
static const char *A_CLIENT_INFO =
    "02000000687bb45121acbcc13d1736ec28b0806bda4c76b5276db3ef68a61e3b0908902b6fc8583cb026fdfc6576ccb4dd1fe7717c8c"
    "220a12fe4e27e5702aa68fd56228104be809873c15812f1a50a7d611c3b4de81904e12ab6e262c64ec5de4c02c1c4b4c1ada545e9ce8"
    "9a";
static const char *A_SERVER_INFO =
    "0300000035566796af9f1dfade94e93e9282105d9387b0109db293c998980b92c36afdef5a6052102fea3e2510bd2b51fc6bcc39da51"
    "5f9fa29e";
static const char *A_NOTE_PREFERRED = "070000000101";
static const char *A_SEND_PACKET =
    "0400000032d3ef1661345be10851ebf9c3c6ee2d3712c9d9cbe63d3b480d639be903518e1e7061636b65742066726f6d206120746f2062";
static const char *A_PING = "12000000080102030405060708";
static const char *A_PONG = "13000000080102030405060708";
static const char *B_CLIENT_INFO =
    "0200000068d3ef1661345be10851ebf9c3c6ee2d3712c9d9cbe63d3b480d639be903518e1e7e1ed8fecf3159a6c00bdd026b52e3d540"
    "91711ee45bf7e83807eca9f75ba3be7241d69a98d7a22443709b784cdf94e31704133b4aa1fd4e26daf08f6068ffb0048f3f74228fae"
    "f9";
static const char *B_SERVER_INFO =
    "0300000035d4edc864b98f29ce040eda9f7a9640b1461df7855b43a541835413f4a3330f779519b3dc67acf6bc4ad5801e0d955726a3"
    "8e9526c5";
static const char *B_RECV_PACKET =
    "05000000327bb45121acbcc13d1736ec28b0806bda4c76b5276db3ef68a61e3b0908902b6f7061636b65742066726f6d206120746f2062";
static const char *PAYLOAD = "packet from a to b";

static void key(uint8_t k[32], const char *hex) { ts_hex(k, 32, hex); }

/* ---- an event recorder ---- */
#define MAXEV 64
typedef struct {
  int n;
  ts_derp_event ev[MAXEV];
  uint8_t keys[MAXEV][32];
  uint8_t data[MAXEV][256];
  size_t len[MAXEV];
} rec;

static void on_event(void *ctx, const ts_derp_event *ev) {
  rec *r = ctx;
  if (r->n == MAXEV) return;
  r->ev[r->n] = *ev;
  if (ev->key) memcpy(r->keys[r->n], ev->key, 32);
  r->len[r->n] = ev->len;
  if (ev->data) memcpy(r->data[r->n], ev->data, ev->len < 256 ? ev->len : 256);
  r->ev[r->n].key = NULL, r->ev[r->n].data = NULL;
  r->n++;
}

/* A fixed "random" source: hands out the bytes in buf, then zeros. */
typedef struct {
  uint8_t buf[64];
  size_t len, off;
} fixed_rng;
static void rng_fixed(void *ctx, void *out, size_t len) {
  fixed_rng *f = ctx;
  uint8_t *o = out;
  for (size_t i = 0; i < len; i++) o[i] = f->off < f->len ? f->buf[f->off++] : 0;
}

static size_t take_output(ts_derp_client *c, uint8_t *buf, size_t cap) {
  size_t n;
  const uint8_t *p = ts_derp_client_output(c, &n);
  if (n > cap) n = cap;
  if (n) memcpy(buf, p, n);
  ts_derp_client_output_consumed(c, n);
  return n;
}

/* ---------------------------------------------------------------- codec */

static void roundtrip(const char *hex, uint8_t type, ts_derp_frame *out) {
  uint8_t buf[256], enc[256];
  size_t n = ts_hex(buf, sizeof buf, hex);
  uint8_t t;
  uint32_t len;
  CHECK_EQ_INT(ts_derp_get_header(buf, &t, &len), 0);
  CHECK_EQ_INT(t, type);
  CHECK_EQ_INT(len, n - 5);
  CHECK_EQ_INT(ts_derp_frame_decode(out, t, buf + 5, len), 0);
  long m = ts_derp_frame_encode(enc, sizeof enc, out);
  CHECK_EQ_INT(m, (long)n);
  CHECK_EQ_INT(ts_derp_frame_size(out), (long)n);
  CHECK_MEM(enc, buf, n);
  /* pointers in out refer to buf, which goes away: clear them */
  out->data = NULL;
}

static void test_vector_frames_roundtrip(void) {
  uint8_t a[32], b[32], s[32];
  key(a, A_PUB), key(b, B_PUB), key(s, S_PUB);
  ts_derp_frame f;
  roundtrip(A_SERVER_KEY, TS_DERP_FRAME_SERVER_KEY, &f);
  CHECK_MEM(f.key, s, 32);
  CHECK_EQ_INT(f.data_len, 0);
  roundtrip(A_CLIENT_INFO, TS_DERP_FRAME_CLIENT_INFO, &f);
  CHECK_MEM(f.key, a, 32);
  CHECK_EQ_INT(f.data_len, 24 + 16 + 32);
  roundtrip(B_CLIENT_INFO, TS_DERP_FRAME_CLIENT_INFO, &f);
  CHECK_MEM(f.key, b, 32);
  roundtrip(A_SERVER_INFO, TS_DERP_FRAME_SERVER_INFO, &f);
  CHECK_EQ_INT(f.data_len, 24 + 16 + 13);
  roundtrip(B_SERVER_INFO, TS_DERP_FRAME_SERVER_INFO, &f);
  roundtrip(A_NOTE_PREFERRED, TS_DERP_FRAME_NOTE_PREFERRED, &f);
  CHECK_EQ_INT(f.preferred, 1);
  roundtrip(A_SEND_PACKET, TS_DERP_FRAME_SEND_PACKET, &f);
  CHECK_MEM(f.key, b, 32);
  CHECK_EQ_INT(f.data_len, strlen(PAYLOAD));
  roundtrip(B_RECV_PACKET, TS_DERP_FRAME_RECV_PACKET, &f);
  CHECK_MEM(f.key, a, 32);
  CHECK_EQ_INT(f.data_len, strlen(PAYLOAD));
  roundtrip(A_PING, TS_DERP_FRAME_PING, &f);
  CHECK_MEM(f.ping, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
  roundtrip(A_PONG, TS_DERP_FRAME_PONG, &f);
  CHECK_MEM(f.ping, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);

  /* Payload contents of the packet frames */
  uint8_t buf[128];
  size_t n = ts_hex(buf, sizeof buf, A_SEND_PACKET);
  CHECK_EQ_INT(ts_derp_frame_decode(&f, buf[0], buf + 5, n - 5), 0);
  CHECK_MEM(f.data, PAYLOAD, strlen(PAYLOAD));
  n = ts_hex(buf, sizeof buf, B_RECV_PACKET);
  CHECK_EQ_INT(ts_derp_frame_decode(&f, buf[0], buf + 5, n - 5), 0);
  CHECK_MEM(f.data, PAYLOAD, strlen(PAYLOAD));
}

static void test_other_frames_roundtrip(void) {
  /* Frames the vectors do not contain: built, encoded, decoded, re-encoded. */
  uint8_t k[32], k2[32], pkt[100];
  for (int i = 0; i < 32; i++) k[i] = (uint8_t)i, k2[i] = (uint8_t)(0xa0 + i);
  for (int i = 0; i < 100; i++) pkt[i] = (uint8_t)(i * 7);
  ts_derp_frame in[12];
  memset(in, 0, sizeof in);
  int n = 0;
  in[n].type = TS_DERP_FRAME_KEEP_ALIVE, n++;
  in[n].type = TS_DERP_FRAME_PEER_GONE, memcpy(in[n].key, k, 32), n++;
  in[n].type = TS_DERP_FRAME_PEER_GONE, memcpy(in[n].key, k, 32), in[n].has_reason = 1, in[n].reason = 1, n++;
  in[n].type = TS_DERP_FRAME_PEER_PRESENT, memcpy(in[n].key, k, 32), n++;
  in[n].type = TS_DERP_FRAME_PEER_PRESENT, memcpy(in[n].key, k, 32), in[n].has_addr = 1, in[n].has_flags = 1;
  in[n].ip[10] = 0xff, in[n].ip[11] = 0xff, in[n].ip[12] = 192, in[n].ip[15] = 7, in[n].port = 41641;
  in[n].flags = TS_DERP_PEER_PRESENT_REGULAR | TS_DERP_PEER_PRESENT_NOT_IDEAL, n++;
  in[n].type = TS_DERP_FRAME_FORWARD_PACKET, memcpy(in[n].key, k, 32), memcpy(in[n].key2, k2, 32);
  in[n].data = pkt, in[n].data_len = sizeof pkt, n++;
  in[n].type = TS_DERP_FRAME_WATCH_CONNS, n++;
  in[n].type = TS_DERP_FRAME_CLOSE_PEER, memcpy(in[n].key, k2, 32), n++;
  in[n].type = TS_DERP_FRAME_HEALTH, in[n].data = (const uint8_t *)"duplicate key", in[n].data_len = 13, n++;
  in[n].type = TS_DERP_FRAME_HEALTH, n++;
  in[n].type = TS_DERP_FRAME_RESTARTING, in[n].reconnect_in_ms = 1500, in[n].try_for_ms = 0x01020304, n++;
  in[n].type = 0x7f, in[n].data = pkt, in[n].data_len = 9, n++; /* unknown type: opaque payload */
  for (int i = 0; i < n; i++) {
    uint8_t enc[256], enc2[256];
    long len = ts_derp_frame_encode(enc, sizeof enc, &in[i]);
    CHECK(len >= 5);
    ts_derp_frame out;
    CHECK_EQ_INT(ts_derp_frame_decode(&out, enc[0], enc + 5, (size_t)len - 5), 0);
    long len2 = ts_derp_frame_encode(enc2, sizeof enc2, &out);
    CHECK_EQ_INT(len2, len);
    CHECK_MEM(enc2, enc, (size_t)len);
    CHECK_MEM(out.key, in[i].key, 32);
    CHECK_EQ_INT(out.reason, in[i].reason);
    CHECK_EQ_INT(out.flags, in[i].flags);
    CHECK_EQ_INT(out.port, in[i].port);
    CHECK_EQ_INT(out.reconnect_in_ms, in[i].reconnect_in_ms);
    CHECK_EQ_INT(out.try_for_ms, in[i].try_for_ms);
  }
  /* Restarting on the wire: two u32 BE */
  uint8_t enc[32];
  CHECK_EQ_INT(ts_derp_frame_encode(enc, sizeof enc, &in[10]), 13);
  CHECK_MEM(enc, "\x15\x00\x00\x00\x08\x00\x00\x05\xdc\x01\x02\x03\x04", 13);
  /* PeerGone with reason: 33 bytes */
  CHECK_EQ_INT(ts_derp_frame_size(&in[2]), 5 + 33);
  CHECK_EQ_INT(ts_derp_frame_size(&in[4]), 5 + 32 + 16 + 2 + 1);
  /* buffer too small */
  CHECK_EQ_INT(ts_derp_frame_encode(enc, 10, &in[1]), TS_DERP_E_BUFFER);
}

static void test_codec_bounds(void) {
  static uint8_t big[32 + TS_DERP_MAX_PACKET + 1];
  uint8_t hdr[5];
  uint8_t t;
  uint32_t len;
  ts_derp_put_header(hdr, 5, TS_DERP_MAX_FRAME);
  CHECK_EQ_INT(ts_derp_get_header(hdr, &t, &len), 0);
  ts_derp_put_header(hdr, 5, TS_DERP_MAX_FRAME + 1);
  CHECK_EQ_INT(ts_derp_get_header(hdr, &t, &len), TS_DERP_E_FRAME_TOO_BIG);
  ts_derp_frame f;
  CHECK_EQ_INT(ts_derp_frame_decode(&f, TS_DERP_FRAME_RECV_PACKET, big, sizeof big), TS_DERP_E_PACKET_TOO_BIG);
  CHECK_EQ_INT(ts_derp_frame_decode(&f, TS_DERP_FRAME_RECV_PACKET, big, sizeof big - 1), 0);
  CHECK_EQ_INT(ts_derp_frame_decode(&f, TS_DERP_FRAME_RECV_PACKET, big, 31), TS_DERP_E_MALFORMED);
  CHECK_EQ_INT(ts_derp_frame_decode(&f, TS_DERP_FRAME_SERVER_KEY, big, 39), TS_DERP_E_MALFORMED);
  CHECK_EQ_INT(ts_derp_frame_decode(&f, TS_DERP_FRAME_SERVER_KEY, big, 40), TS_DERP_E_BAD_MAGIC);
  CHECK_EQ_INT(ts_derp_frame_decode(&f, TS_DERP_FRAME_PING, big, 7), TS_DERP_E_MALFORMED);
  CHECK_EQ_INT(ts_derp_frame_decode(&f, TS_DERP_FRAME_PONG, big, 7), TS_DERP_E_MALFORMED);
  CHECK_EQ_INT(ts_derp_frame_decode(&f, TS_DERP_FRAME_RESTARTING, big, 7), TS_DERP_E_MALFORMED);
  CHECK_EQ_INT(ts_derp_frame_decode(&f, TS_DERP_FRAME_PEER_GONE, big, 31), TS_DERP_E_MALFORMED);
  CHECK_EQ_INT(ts_derp_frame_decode(&f, TS_DERP_FRAME_SERVER_INFO, big, 39), TS_DERP_E_MALFORMED);
  CHECK_EQ_INT(ts_derp_frame_decode(&f, TS_DERP_FRAME_NOTE_PREFERRED, big, 0), TS_DERP_E_MALFORMED);
  f.type = TS_DERP_FRAME_SEND_PACKET;
  f.data = big, f.data_len = TS_DERP_MAX_PACKET + 1;
  CHECK_EQ_INT(ts_derp_frame_size(&f), TS_DERP_E_PACKET_TOO_BIG);
  f.data_len = TS_DERP_MAX_PACKET;
  CHECK_EQ_INT(ts_derp_frame_size(&f), 5 + 32 + TS_DERP_MAX_PACKET);
}

/* ---------------------------------------------------------------- boxes */

static void test_vector_info_boxes(void) {
  uint8_t a_priv[32], b_priv[32], s_priv[32], a_pub[32], b_pub[32], s_pub[32], pub[32];
  key(a_priv, A_PRIV), key(b_priv, B_PRIV), key(s_priv, S_PRIV);
  key(a_pub, A_PUB), key(b_pub, B_PUB), key(s_pub, S_PUB);
  ts_x25519_public(pub, a_priv);
  CHECK_MEM(pub, a_pub, 32);
  ts_x25519_public(pub, b_priv);
  CHECK_MEM(pub, b_pub, 32);
  ts_x25519_public(pub, s_priv);
  CHECK_MEM(pub, s_pub, 32);

  uint8_t frame[256], json[256];
  ts_derp_frame f;
  const char *cis[2] = {A_CLIENT_INFO, B_CLIENT_INFO};
  for (int i = 0; i < 2; i++) {
    size_t n = ts_hex(frame, sizeof frame, cis[i]);
    CHECK_EQ_INT(ts_derp_frame_decode(&f, frame[0], frame + 5, n - 5), 0);
    long m = ts_derp_open_info(json, sizeof json, f.data, f.data_len, f.key, s_priv);
    CHECK_EQ_INT(m, (long)strlen(TS_DERP_CLIENT_INFO_JSON));
    if (m > 0) CHECK_MEM(json, TS_DERP_CLIENT_INFO_JSON, (size_t)m);
    /* re-seal with the same nonce: same bytes */
    uint8_t sealed[256], priv[32];
    memcpy(priv, i == 0 ? a_priv : b_priv, 32);
    long s = ts_derp_seal_info(sealed, sizeof sealed, json, (size_t)m, f.data, s_pub, priv);
    CHECK_EQ_INT(s, (long)f.data_len);
    CHECK_MEM(sealed, f.data, f.data_len);
    /* the wrong key does not open it */
    CHECK_EQ_INT(ts_derp_open_info(json, sizeof json, f.data, f.data_len, f.key, a_priv), TS_DERP_E_DECRYPT);
  }
  const char *sis[2] = {A_SERVER_INFO, B_SERVER_INFO};
  for (int i = 0; i < 2; i++) {
    size_t n = ts_hex(frame, sizeof frame, sis[i]);
    CHECK_EQ_INT(ts_derp_frame_decode(&f, frame[0], frame + 5, n - 5), 0);
    long m = ts_derp_open_info(json, sizeof json, f.data, f.data_len, s_pub, i == 0 ? a_priv : b_priv);
    CHECK_EQ_INT(m, 13);
    if (m > 0) CHECK_MEM(json, "{\"version\":2}", 13);
    ts_derp_server_info si;
    CHECK_EQ_INT(ts_derp_parse_server_info(&si, json, (size_t)m), 0);
    CHECK_EQ_INT(si.version, 2);
    CHECK_EQ_INT(si.token_bucket_bytes_per_second, 0);
  }
}

static void test_server_info_json(void) {
  ts_derp_server_info si;
  const char *ok[] = {
      "{\"version\":2,\"TokenBucketBytesPerSecond\":1000,\"TokenBucketBytesBurst\":5000}",
      " { \"tokenbucketbytespersecond\" : 1000 , \"x\":[1,{\"y\":\"a\\\"}\"},null,true,false,-1.5e3],"
      "\"TokenBucketBytesBurst\":5000, \"version\": 2 } ",
  };
  for (size_t i = 0; i < 2; i++) {
    CHECK_EQ_INT(ts_derp_parse_server_info(&si, (const uint8_t *)ok[i], strlen(ok[i])), 0);
    CHECK_EQ_INT(si.version, 2);
    CHECK_EQ_INT(si.token_bucket_bytes_per_second, 1000);
    CHECK_EQ_INT(si.token_bucket_bytes_burst, 5000);
  }
  CHECK_EQ_INT(ts_derp_parse_server_info(&si, (const uint8_t *)"{}", 2), 0);
  CHECK_EQ_INT(ts_derp_parse_server_info(&si, (const uint8_t *)"{\"version\":null}", 16), 0);
  const char *bad[] = {"", "[]", "{", "{\"version\":2", "{\"version\":\"2\"}", "{\"version\":2.5}",
                       "{\"version\":99999999999999999999}", "{\"a\":}", "{\"a\":1,}", "{} x", "{\"a\":tru}",
                       "{\"a\":\"\x01\"}", "{\"a\" 1}", "{'a':1}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_EQ_INT(ts_derp_parse_server_info(&si, (const uint8_t *)bad[i], strlen(bad[i])), TS_DERP_E_BAD_INFO);
  /* deep nesting is refused, not recursed into without bound */
  char deep[200];
  memset(deep, '[', sizeof deep);
  memcpy(deep, "{\"a\":", 5);
  CHECK_EQ_INT(ts_derp_parse_server_info(&si, (const uint8_t *)deep, sizeof deep), TS_DERP_E_BAD_INFO);
}

/* ---------------------------------------------------------------- the client against the transcript */

static ts_derp_client *client_for(const char *priv_hex, rec *r, fixed_rng *rng, const char *ci_hex) {
  ts_derp_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  key(cfg.node_private, priv_hex);
  cfg.on_event = on_event, cfg.ctx = r;
  if (rng) {
    /* the nonce Tailscale's client used: bytes 5+32 .. 5+32+24 of its ClientInfo frame */
    uint8_t ci[256];
    ts_hex(ci, sizeof ci, ci_hex);
    memcpy(rng->buf, ci + 37, 24);
    rng->len = 24, rng->off = 0;
    cfg.rng = rng_fixed, cfg.rng_ctx = rng;
  }
  return ts_derp_client_new(&cfg, 0);
}

static void feed_hex(ts_derp_client *c, const char *hex, uint64_t now, int expect) {
  uint8_t buf[512];
  size_t n = ts_hex(buf, sizeof buf, hex);
  CHECK_EQ_INT(ts_derp_client_input(c, buf, n, now), expect);
}

static void expect_output(ts_derp_client *c, const char *hex) {
  uint8_t want[512], got[512];
  size_t n = ts_hex(want, sizeof want, hex);
  size_t m = take_output(c, got, sizeof got);
  CHECK_EQ_INT(m, n);
  CHECK_MEM(got, want, n);
}

static void test_vector_client_a(void) {
  rec r;
  memset(&r, 0, sizeof r);
  fixed_rng rng;
  ts_derp_client *c = client_for(A_PRIV, &r, &rng, A_CLIENT_INFO);
  CHECK(c != NULL);
  if (!c) return;
  CHECK_EQ_INT(ts_derp_client_state(c), TS_DERP_ST_SERVER_KEY);
  CHECK(ts_derp_client_server_key(c) == NULL);
  size_t n;
  CHECK(ts_derp_client_output(c, &n) == NULL && n == 0);
  feed_hex(c, A_SERVER_KEY, 1, 0);
  CHECK_EQ_INT(ts_derp_client_state(c), TS_DERP_ST_SERVER_INFO);
  expect_output(c, A_CLIENT_INFO); /* byte for byte what Tailscale's client wrote */
  uint8_t s_pub[32], b_pub[32], a_pub[32];
  key(s_pub, S_PUB), key(b_pub, B_PUB), key(a_pub, A_PUB);
  CHECK(ts_derp_client_server_key(c) && memcmp(ts_derp_client_server_key(c), s_pub, 32) == 0);
  /* sending before CONNECTED is refused; NotePreferred may go out already */
  CHECK_EQ_INT(ts_derp_client_send_packet(c, b_pub, (const uint8_t *)"x", 1), TS_DERP_E_STATE);
  feed_hex(c, A_SERVER_INFO, 2, 0);
  CHECK_EQ_INT(ts_derp_client_state(c), TS_DERP_ST_CONNECTED);
  CHECK_EQ_INT(r.n, 1);
  CHECK_EQ_INT(r.ev[0].type, TS_DERP_EV_CONNECTED);
  CHECK_MEM(r.keys[0], s_pub, 32);
  CHECK_EQ_INT(r.ev[0].info.version, 2);
  CHECK(ts_derp_client_server_info(c) != NULL);
  CHECK_EQ_INT(ts_derp_client_note_preferred(c, 1), 0);
  expect_output(c, A_NOTE_PREFERRED);
  CHECK_EQ_INT(ts_derp_client_send_packet(c, b_pub, (const uint8_t *)PAYLOAD, strlen(PAYLOAD)), 0);
  expect_output(c, A_SEND_PACKET);
  const uint8_t ping[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK_EQ_INT(ts_derp_client_send_ping(c, ping, 10 * SEC), 0);
  expect_output(c, A_PING);
  feed_hex(c, A_PONG, 10 * SEC + 5000000, 0);
  CHECK_EQ_INT(r.n, 2);
  CHECK_EQ_INT(r.ev[1].type, TS_DERP_EV_PONG);
  CHECK_MEM(r.ev[1].ping, ping, 8);
  CHECK_EQ_INT(r.ev[1].rtt_ns, 5000000);
  /* The server pings us: we answer with the same 8 bytes (the vector's Pong frame). */
  feed_hex(c, "12000000080102030405060708", 11 * SEC, 0);
  expect_output(c, A_PONG);
  CHECK_EQ_INT(r.ev[2].type, TS_DERP_EV_PING);
  CHECK_EQ_INT(ts_derp_client_error(c), 0);
  ts_derp_client_free(c);
}

static void test_vector_client_b(void) {
  rec r;
  memset(&r, 0, sizeof r);
  fixed_rng rng;
  ts_derp_client *c = client_for(B_PRIV, &r, &rng, B_CLIENT_INFO);
  if (!c) return;
  /* The whole server side in one chunk: ServerKey, ServerInfo, RecvPacket. */
  uint8_t all[512];
  size_t n = ts_hex(all, sizeof all, A_SERVER_KEY);
  n += ts_hex(all + n, sizeof all - n, B_SERVER_INFO);
  n += ts_hex(all + n, sizeof all - n, B_RECV_PACKET);
  CHECK_EQ_INT(ts_derp_client_input(c, all, n, 1), 0);
  expect_output(c, B_CLIENT_INFO);
  CHECK_EQ_INT(r.n, 2);
  CHECK_EQ_INT(r.ev[0].type, TS_DERP_EV_CONNECTED);
  CHECK_EQ_INT(r.ev[1].type, TS_DERP_EV_RECV_PACKET);
  uint8_t a_pub[32];
  key(a_pub, A_PUB);
  CHECK_MEM(r.keys[1], a_pub, 32);
  CHECK_EQ_INT(r.len[1], strlen(PAYLOAD));
  CHECK_MEM(r.data[1], PAYLOAD, strlen(PAYLOAD));
  ts_derp_client_free(c);
}

/* The server stream for client b plus every other server frame; fed in pieces cut at every boundary. */
static size_t b_stream(uint8_t *out, size_t cap) {
  uint8_t k[32];
  memset(k, 0x42, 32);
  size_t n = ts_hex(out, cap, A_SERVER_KEY);
  n += ts_hex(out + n, cap - n, B_SERVER_INFO);
  n += ts_hex(out + n, cap - n, B_RECV_PACKET);
  ts_derp_frame f[9];
  memset(f, 0, sizeof f);
  f[0].type = TS_DERP_FRAME_KEEP_ALIVE;
  f[1].type = TS_DERP_FRAME_PING, memcpy(f[1].ping, "pingpong", 8);
  f[2].type = TS_DERP_FRAME_PEER_GONE, memcpy(f[2].key, k, 32), f[2].has_reason = 1, f[2].reason = 1;
  f[3].type = TS_DERP_FRAME_HEALTH, f[3].data = (const uint8_t *)"bad", f[3].data_len = 3;
  f[4].type = 0x66, f[4].data = (const uint8_t *)"unknown frame type", f[4].data_len = 18;
  f[5].type = TS_DERP_FRAME_RESTARTING, f[5].reconnect_in_ms = 100, f[5].try_for_ms = 2000;
  f[6].type = TS_DERP_FRAME_PEER_PRESENT, memcpy(f[6].key, k, 32), f[6].has_addr = 1, f[6].port = 7;
  f[7].type = TS_DERP_FRAME_HEALTH; /* cleared */
  f[8].type = TS_DERP_FRAME_PEER_GONE, memcpy(f[8].key, k, 32); /* no reason byte */
  for (int i = 0; i < 9; i++) n += (size_t)ts_derp_frame_encode(out + n, cap - n, &f[i]);
  return n;
}

static const int B_EVENTS[] = {TS_DERP_EV_CONNECTED, TS_DERP_EV_RECV_PACKET, TS_DERP_EV_KEEP_ALIVE,
                               TS_DERP_EV_PING,      TS_DERP_EV_PEER_GONE,   TS_DERP_EV_HEALTH,
                               TS_DERP_EV_RESTARTING, TS_DERP_EV_PEER_PRESENT, TS_DERP_EV_HEALTH,
                               TS_DERP_EV_PEER_GONE};
#define N_B_EVENTS ((int)(sizeof B_EVENTS / sizeof B_EVENTS[0]))

static int check_b_events(const rec *r) {
  int ok = r->n == N_B_EVENTS;
  for (int i = 0; ok && i < N_B_EVENTS; i++) ok = (int)r->ev[i].type == B_EVENTS[i];
  if (!ok) return 0;
  ok = r->len[1] == strlen(PAYLOAD) && memcmp(r->data[1], PAYLOAD, r->len[1]) == 0;
  ok = ok && memcmp(r->ev[3].ping, "pingpong", 8) == 0;
  ok = ok && r->ev[4].reason == 1 && r->keys[4][0] == 0x42;
  ok = ok && r->len[5] == 3 && memcmp(r->data[5], "bad", 3) == 0;
  ok = ok && r->ev[6].reconnect_in_ms == 100 && r->ev[6].try_for_ms == 2000;
  ok = ok && r->ev[7].has_addr && r->ev[7].port == 7;
  ok = ok && r->len[8] == 0 && r->ev[9].reason == TS_DERP_PEER_GONE_DISCONNECTED;
  return ok;
}

static void test_chunking_every_boundary(void) {
  static uint8_t stream[1024];
  size_t n = b_stream(stream, sizeof stream);
  int fails = 0;
  /* two pieces, cut at every position */
  for (size_t cut = 0; cut <= n; cut++) {
    rec r;
    memset(&r, 0, sizeof r);
    ts_derp_client *c = client_for(B_PRIV, &r, NULL, NULL);
    if (!c) return;
    int e1 = ts_derp_client_input(c, stream, cut, 1);
    int e2 = ts_derp_client_input(c, stream + cut, n - cut, 2);
    if (e1 || e2 || !check_b_events(&r) || ts_derp_client_state(c) != TS_DERP_ST_CONNECTED) fails++;
    /* ClientInfo then the Pong */
    uint8_t out[512];
    size_t m = take_output(c, out, sizeof out);
    if (m != 109 + 13 || memcmp(out + 109, "\x13\x00\x00\x00\x08pingpong", 13) != 0) fails++;
    ts_derp_client_free(c);
  }
  CHECK_EQ_INT(fails, 0);
  /* one byte at a time, and three pieces */
  rec r;
  memset(&r, 0, sizeof r);
  ts_derp_client *c = client_for(B_PRIV, &r, NULL, NULL);
  if (!c) return;
  for (size_t i = 0; i < n; i++) CHECK_EQ_INT(ts_derp_client_input(c, stream + i, 1, 1), 0);
  CHECK(check_b_events(&r));
  ts_derp_client_free(c);
  fails = 0;
  for (size_t i = 0; i <= n; i += 3) {
    for (size_t j = i; j <= n; j += 7) {
      memset(&r, 0, sizeof r);
      c = client_for(B_PRIV, &r, NULL, NULL);
      if (!c) return;
      int e = ts_derp_client_input(c, stream, i, 1) | ts_derp_client_input(c, stream + i, j - i, 1) |
              ts_derp_client_input(c, stream + j, n - j, 1);
      if (e || !check_b_events(&r)) fails++;
      ts_derp_client_free(c);
    }
  }
  CHECK_EQ_INT(fails, 0);
}

/* ---------------------------------------------------------------- a tiny server */

typedef struct {
  uint8_t priv[32], pub[32];
  uint8_t client_pub[32];
  int got_client_info;
  uint8_t in[4096];
  size_t in_len;
  char json[256];
} tserver;

static size_t tserver_hello(tserver *s, uint8_t *out) {
  ts_derp_frame f;
  memset(&f, 0, sizeof f);
  f.type = TS_DERP_FRAME_SERVER_KEY;
  memcpy(f.key, s->pub, 32);
  f.data = (const uint8_t *)"future", f.data_len = 6; /* extra bytes a client must ignore */
  return (size_t)ts_derp_frame_encode(out, 128, &f);
}

/* Consumes client bytes; returns bytes to send back (ServerInfo after ClientInfo, RecvPacket echoes). */
static size_t tserver_input(tserver *s, const uint8_t *buf, size_t len, uint8_t *out, size_t cap,
                            const char *info_json) {
  memcpy(s->in + s->in_len, buf, len);
  s->in_len += len;
  size_t o = 0, off = 0;
  while (s->in_len - off >= 5) {
    uint8_t t;
    uint32_t flen;
    ts_derp_get_header(s->in + off, &t, &flen);
    if (s->in_len - off - 5 < flen) break;
    ts_derp_frame f;
    if (ts_derp_frame_decode(&f, t, s->in + off + 5, flen) == 0) {
      if (t == TS_DERP_FRAME_CLIENT_INFO) {
        memcpy(s->client_pub, f.key, 32);
        uint8_t json[256];
        long m = ts_derp_open_info(json, sizeof json - 1, f.data, f.data_len, f.key, s->priv);
        if (m >= 0) {
          memcpy(s->json, json, (size_t)m);
          s->json[m] = 0;
          s->got_client_info = 1;
        }
        uint8_t sealed[256];
        long sl = ts_derp_seal_info(sealed, sizeof sealed, (const uint8_t *)info_json, strlen(info_json), NULL,
                                    s->client_pub, s->priv);
        ts_derp_frame r;
        memset(&r, 0, sizeof r);
        r.type = TS_DERP_FRAME_SERVER_INFO;
        r.data = sealed, r.data_len = (size_t)sl;
        o += (size_t)ts_derp_frame_encode(out + o, cap - o, &r);
      } else if (t == TS_DERP_FRAME_SEND_PACKET) {
        /* loop the packet back as if the destination sent it to us */
        ts_derp_frame r = f;
        r.type = TS_DERP_FRAME_RECV_PACKET;
        o += (size_t)ts_derp_frame_encode(out + o, cap - o, &r);
      }
    }
    off += 5 + flen;
  }
  memmove(s->in, s->in + off, s->in_len - off);
  s->in_len -= off;
  return o;
}

static void tserver_init(tserver *s) {
  memset(s, 0, sizeof *s);
  ts_x25519_keypair(s->priv, s->pub);
}

static void test_handshake_with_server(void) {
  tserver s;
  tserver_init(&s);
  uint8_t cpriv[32], cpub[32];
  ts_x25519_keypair(cpriv, cpub);
  rec r;
  memset(&r, 0, sizeof r);
  ts_derp_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  memcpy(cfg.node_private, cpriv, 32);
  cfg.expect_http = 1;
  cfg.on_event = on_event, cfg.ctx = &r;
  ts_derp_client *c = ts_derp_client_new(&cfg, 0);
  if (!c) return;
  CHECK_EQ_INT(ts_derp_client_state(c), TS_DERP_ST_HTTP);
  /* HTTP response head and the ServerKey frame in one chunk */
  uint8_t buf[4096], out[4096];
  const char *head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
                     "Derp-Version: 2\r\nDerp-Public-Key: ";
  size_t n = strlen(head);
  memcpy(buf, head, n);
  for (int i = 0; i < 32; i++) n += (size_t)sprintf((char *)buf + n, "%02x", s.pub[i]);
  memcpy(buf + n, "\r\n\r\n", 4);
  n += 4;
  n += tserver_hello(&s, buf + n);
  CHECK_EQ_INT(ts_derp_client_input(c, buf, n, 1), 0);
  const ts_derp_http_response *hr = ts_derp_client_http_response(c);
  CHECK(hr && hr->status == 101 && hr->derp_version == 2 && hr->has_public_key);
  if (hr) CHECK_MEM(hr->public_key, s.pub, 32);
  size_t m = take_output(c, out, sizeof out);
  n = tserver_input(&s, out, m, buf, sizeof buf,
                    "{\"version\":2,\"TokenBucketBytesPerSecond\":12345,\"TokenBucketBytesBurst\":67890}");
  CHECK(s.got_client_info);
  CHECK(strcmp(s.json, "{\"version\":2,\"CanAckPings\":true}") == 0);
  CHECK_MEM(s.client_pub, cpub, 32);
  CHECK_EQ_INT(ts_derp_client_input(c, buf, n, 2), 0);
  CHECK_EQ_INT(ts_derp_client_state(c), TS_DERP_ST_CONNECTED);
  CHECK_EQ_INT(r.ev[0].type, TS_DERP_EV_CONNECTED);
  CHECK_EQ_INT(r.ev[0].info.token_bucket_bytes_per_second, 12345);
  CHECK_EQ_INT(r.ev[0].info.token_bucket_bytes_burst, 67890);
  /* a 64 KiB packet through the server and back, delivered in odd-sized chunks */
  static uint8_t pkt[TS_DERP_MAX_PACKET];
  for (size_t i = 0; i < sizeof pkt; i++) pkt[i] = (uint8_t)(i * 31 + 7);
  uint8_t dst[32];
  memset(dst, 9, 32);
  CHECK_EQ_INT(ts_derp_client_send_packet(c, dst, pkt, sizeof pkt), 0);
  CHECK_EQ_INT(ts_derp_client_send_packet(c, dst, pkt, sizeof pkt + 1), TS_DERP_E_PACKET_TOO_BIG);
  size_t pend;
  const uint8_t *p = ts_derp_client_output(c, &pend);
  CHECK_EQ_INT(pend, 5 + 32 + sizeof pkt);
  static uint8_t frame[5 + 32 + TS_DERP_MAX_PACKET];
  memcpy(frame, p, pend);
  ts_derp_client_output_consumed(c, pend);
  frame[0] = TS_DERP_FRAME_RECV_PACKET;
  size_t off = 0, step = 1;
  while (off < pend) {
    size_t k = step < pend - off ? step : pend - off;
    CHECK_EQ_INT(ts_derp_client_input(c, frame + off, k, 3), 0);
    off += k, step = step * 3 + 1;
  }
  CHECK_EQ_INT(r.n, 2);
  CHECK_EQ_INT(r.ev[1].type, TS_DERP_EV_RECV_PACKET);
  CHECK_EQ_INT(r.len[1], sizeof pkt);
  CHECK_MEM(r.keys[1], dst, 32);
  CHECK_MEM(r.data[1], pkt, 256);
  ts_derp_client_free(c);
}

static void test_fast_start(void) {
  tserver s;
  tserver_init(&s);
  rec r;
  memset(&r, 0, sizeof r);
  ts_derp_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  uint8_t cpub[32];
  ts_x25519_keypair(cfg.node_private, cpub);
  memcpy(cfg.server_key, s.pub, 32);
  cfg.has_server_key = 1, cfg.fast_start = 1, cfg.expect_http = 1; /* no HTTP response with fast start */
  cfg.on_event = on_event, cfg.ctx = &r;
  ts_derp_client *c = ts_derp_client_new(&cfg, 0);
  if (!c) return;
  CHECK_EQ_INT(ts_derp_client_state(c), TS_DERP_ST_SERVER_INFO);
  uint8_t out[1024], buf[1024];
  size_t m = take_output(c, out, sizeof out); /* ClientInfo right away */
  size_t n = tserver_hello(&s, buf);
  n += tserver_input(&s, out, m, buf + n, sizeof buf - n, "{\"version\":2}");
  CHECK(s.got_client_info);
  CHECK_EQ_INT(ts_derp_client_input(c, buf, n, 1), 0);
  CHECK_EQ_INT(ts_derp_client_state(c), TS_DERP_ST_CONNECTED);
  ts_derp_client_free(c);

  /* ServerKey with a different key than the certificate said: error */
  cfg.server_key[0] ^= 1;
  c = ts_derp_client_new(&cfg, 0);
  if (!c) return;
  n = tserver_hello(&s, buf);
  CHECK_EQ_INT(ts_derp_client_input(c, buf, n, 1), TS_DERP_E_BAD_KEY);
  ts_derp_client_free(c);
  /* fast start without a key is refused */
  cfg.has_server_key = 0;
  CHECK(ts_derp_client_new(&cfg, 0) == NULL);
}

/* ---------------------------------------------------------------- errors */

/* Feeds pre (may be NULL) then buf to a fresh client b; checks that an error is final. */
static int run_two(const uint8_t *pre, size_t pre_len, const uint8_t *buf, size_t n, int http) {
  ts_derp_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  key(cfg.node_private, B_PRIV);
  cfg.expect_http = (uint8_t)http;
  ts_derp_client *c = ts_derp_client_new(&cfg, 0);
  if (!c) return 99;
  int e = pre ? ts_derp_client_input(c, pre, pre_len, 1) : 0;
  if (e == 0) e = ts_derp_client_input(c, buf, n, 1);
  int st = ts_derp_client_state(c);
  if (e < 0) {
    /* final: more input gives the same error; sends are refused */
    if (ts_derp_client_input(c, (const uint8_t *)"x", 1, 2) != e) e = 98;
    if (ts_derp_client_send_packet(c, buf, buf, 1) != TS_DERP_E_STATE) e = 97;
    if (st != TS_DERP_ST_ERROR || ts_derp_client_error(c) != e) e = 96;
    if (ts_derp_client_next_deadline(c) != UINT64_MAX) e = 95;
  }
  ts_derp_client_free(c);
  return e;
}

static int run_bytes(const uint8_t *buf, size_t n, int http) { return run_two(NULL, 0, buf, n, http); }

static int run_after_hello(const uint8_t *frame, size_t n) {
  uint8_t hello[512];
  size_t m = ts_hex(hello, sizeof hello, A_SERVER_KEY);
  m += ts_hex(hello + m, sizeof hello - m, B_SERVER_INFO);
  return run_two(hello, m, frame, n, 0);
}

static void test_errors(void) {
  uint8_t buf[256];
  size_t n;
  /* frame length over 1 MiB, before and after the handshake */
  ts_derp_put_header(buf, TS_DERP_FRAME_SERVER_KEY, TS_DERP_MAX_FRAME + 1);
  CHECK_EQ_INT(run_bytes(buf, 5, 0), TS_DERP_E_FRAME_TOO_BIG);
  ts_derp_put_header(buf, 0x77, 0xffffffffu);
  CHECK_EQ_INT(run_after_hello(buf, 5), TS_DERP_E_FRAME_TOO_BIG);
  /* RecvPacket bigger than 64 KiB: refused at the header, nothing buffered */
  ts_derp_put_header(buf, TS_DERP_FRAME_RECV_PACKET, 32 + TS_DERP_MAX_PACKET + 1);
  CHECK_EQ_INT(run_after_hello(buf, 5), TS_DERP_E_PACKET_TOO_BIG);
  /* truncated payloads for their type */
  ts_derp_put_header(buf, TS_DERP_FRAME_RECV_PACKET, 31);
  CHECK_EQ_INT(run_after_hello(buf, 5 + 31), TS_DERP_E_MALFORMED);
  ts_derp_put_header(buf, TS_DERP_FRAME_PING, 7);
  CHECK_EQ_INT(run_after_hello(buf, 5 + 7), TS_DERP_E_MALFORMED);
  ts_derp_put_header(buf, TS_DERP_FRAME_PEER_GONE, 3);
  CHECK_EQ_INT(run_after_hello(buf, 5 + 3), TS_DERP_E_MALFORMED);
  ts_derp_put_header(buf, TS_DERP_FRAME_RESTARTING, 4);
  CHECK_EQ_INT(run_after_hello(buf, 5 + 4), TS_DERP_E_MALFORMED);
  n = ts_hex(buf, sizeof buf, A_SERVER_KEY);
  buf[4] = 39; /* ServerKey of 39 bytes */
  CHECK_EQ_INT(run_bytes(buf, n - 1, 0), TS_DERP_E_MALFORMED);
  /* bad magic */
  n = ts_hex(buf, sizeof buf, A_SERVER_KEY);
  buf[5] ^= 1;
  CHECK_EQ_INT(run_bytes(buf, n, 0), TS_DERP_E_BAD_MAGIC);
  /* garbage / a data frame before the handshake */
  CHECK_EQ_INT(run_bytes((const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, 0), TS_DERP_E_FRAME_TOO_BIG);
  n = ts_hex(buf, sizeof buf, B_RECV_PACKET);
  CHECK_EQ_INT(run_bytes(buf, n, 0), TS_DERP_E_UNEXPECTED);
  n = ts_hex(buf, sizeof buf, B_SERVER_INFO);
  CHECK_EQ_INT(run_bytes(buf, n, 0), TS_DERP_E_UNEXPECTED);
  /* ...but after ClientInfo, frames before ServerInfo are fine (Tailscale's client takes them too) */
  n = ts_hex(buf, sizeof buf, A_SERVER_KEY);
  n += ts_hex(buf + n, sizeof buf - n, B_RECV_PACKET);
  n += ts_hex(buf + n, sizeof buf - n, A_PING);
  CHECK_EQ_INT(run_bytes(buf, n, 0), 0);
  n = ts_hex(buf, sizeof buf, A_SERVER_KEY);
  n += ts_hex(buf + n, sizeof buf - n, A_SERVER_KEY);
  CHECK_EQ_INT(run_bytes(buf, n, 0), TS_DERP_E_UNEXPECTED);
  /* ServerInfo meant for a (sealed to a's key) does not open for b; tampered one neither */
  n = ts_hex(buf, sizeof buf, A_SERVER_KEY);
  n += ts_hex(buf + n, sizeof buf - n, A_SERVER_INFO);
  CHECK_EQ_INT(run_bytes(buf, n, 0), TS_DERP_E_DECRYPT);
  n = ts_hex(buf, sizeof buf, A_SERVER_KEY);
  n += ts_hex(buf + n, sizeof buf - n, B_SERVER_INFO);
  buf[n - 1] ^= 0x80;
  CHECK_EQ_INT(run_bytes(buf, n, 0), TS_DERP_E_DECRYPT);
  /* an oversized ServerInfo is refused at its header */
  n = ts_hex(buf, sizeof buf, A_SERVER_KEY);
  ts_derp_put_header(buf + n, TS_DERP_FRAME_SERVER_INFO, 24 + 16 + TS_DERP_MAX_INFO + 1);
  CHECK_EQ_INT(run_bytes(buf, n + 5, 0), TS_DERP_E_BAD_INFO);
  /* HTTP: not 101, not DERP, garbage, endless header */
  const char *h1 = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
  CHECK_EQ_INT(run_bytes((const uint8_t *)h1, strlen(h1), 1), TS_DERP_E_HTTP);
  const char *h2 = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
  CHECK_EQ_INT(run_bytes((const uint8_t *)h2, strlen(h2), 1), TS_DERP_E_HTTP);
  const char *h3 = "SSH-2.0-OpenSSH\r\n\r\n";
  CHECK_EQ_INT(run_bytes((const uint8_t *)h3, strlen(h3), 1), TS_DERP_E_HTTP);
  static uint8_t endless[TS_DERP_HTTP_MAX_HEADER + 10];
  memset(endless, 'a', sizeof endless);
  CHECK_EQ_INT(run_bytes(endless, sizeof endless, 1), TS_DERP_E_HTTP);
  /* unknown frame types are skipped, even big ones, before and after ServerInfo */
  static uint8_t big[5 + TS_DERP_MAX_FRAME];
  memset(big, 0xee, sizeof big);
  ts_derp_put_header(big, 0x7e, TS_DERP_MAX_FRAME);
  CHECK_EQ_INT(run_after_hello(big, sizeof big), 0);
  /* a Health text longer than kept is delivered truncated */
  static uint8_t health[5 + 10000];
  memset(health, 'h', sizeof health);
  ts_derp_put_header(health, TS_DERP_FRAME_HEALTH, 10000);
  CHECK_EQ_INT(run_after_hello(health, sizeof health), 0);
}

static void test_health_truncation_and_output_queue(void) {
  rec r;
  memset(&r, 0, sizeof r);
  ts_derp_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  key(cfg.node_private, B_PRIV);
  cfg.on_event = on_event, cfg.ctx = &r;
  ts_derp_client *c = ts_derp_client_new(&cfg, 0);
  if (!c) return;
  feed_hex(c, A_SERVER_KEY, 1, 0);
  feed_hex(c, B_SERVER_INFO, 1, 0);
  static uint8_t health[5 + 10000];
  memset(health, 'h', sizeof health);
  ts_derp_put_header(health, TS_DERP_FRAME_HEALTH, 10000);
  CHECK_EQ_INT(ts_derp_client_input(c, health, 3000, 2), 0);
  CHECK_EQ_INT(ts_derp_client_input(c, health + 3000, sizeof health - 3000, 2), 0);
  CHECK_EQ_INT(r.n, 2);
  CHECK_EQ_INT(r.ev[1].type, TS_DERP_EV_HEALTH);
  CHECK_EQ_INT(r.ev[1].len, TS_DERP_MAX_HEALTH);
  CHECK_EQ_INT(r.ev[1].health_truncated, 1);
  size_t hl;
  ts_derp_client_health(c, &hl);
  CHECK_EQ_INT(hl, TS_DERP_MAX_HEALTH);

  /* fill the queue with 64 KiB packets: the default 256 KiB queue takes 3 of them */
  take_output(c, health, sizeof health);
  static uint8_t pkt[TS_DERP_MAX_PACKET];
  uint8_t dst[32] = {1};
  int ok = 0, again = 0;
  for (int i = 0; i < 10; i++) {
    int e = ts_derp_client_send_packet(c, dst, pkt, sizeof pkt);
    if (e == 0) ok++;
    else if (e == TS_DERP_E_AGAIN) again++;
  }
  CHECK_EQ_INT(ok, 3);
  CHECK_EQ_INT(again, 7);
  /* control frames still fit in the reserve: the server's ping is answered */
  CHECK_EQ_INT(ts_derp_client_note_preferred(c, 0), 0);
  feed_hex(c, "1200000008aabbccddeeff0011", 3, 0);
  size_t pend = ts_derp_client_output_pending(c);
  CHECK_EQ_INT(pend, 3 * (5 + 32 + sizeof pkt) + 6 + 13);
  /* partial drains keep the byte order; after draining, sends work again */
  const uint8_t *p = ts_derp_client_output(c, &pend);
  CHECK(p[0] == TS_DERP_FRAME_SEND_PACKET);
  ts_derp_client_output_consumed(c, 5 + 32 + sizeof pkt - 1);
  p = ts_derp_client_output(c, &pend);
  CHECK(p[1] == TS_DERP_FRAME_SEND_PACKET);
  CHECK_EQ_INT(ts_derp_client_send_packet(c, dst, pkt, sizeof pkt), 0);
  ts_derp_client_output_consumed(c, 1 + 2 * (5 + 32 + sizeof pkt));
  p = ts_derp_client_output(c, &pend);
  CHECK_EQ_INT(pend, 6 + 13 + 5 + 32 + sizeof pkt);
  CHECK_MEM(p, "\x07\x00\x00\x00\x01\x00\x13\x00\x00\x00\x08\xaa\xbb\xcc\xdd\xee\xff\x00\x11", 19);
  CHECK_EQ_INT(p[19], TS_DERP_FRAME_SEND_PACKET);
  ts_derp_client_output_consumed(c, 1u << 30);
  CHECK_EQ_INT(ts_derp_client_output_pending(c), 0);
  /* watch/close peer frames */
  CHECK_EQ_INT(ts_derp_client_watch_conns(c), 0);
  CHECK_EQ_INT(ts_derp_client_close_peer(c, dst), 0);
  uint8_t out[64];
  CHECK_EQ_INT(take_output(c, out, sizeof out), 5 + 5 + 32);
  CHECK_MEM(out, "\x10\x00\x00\x00\x00\x11\x00\x00\x00\x20\x01", 11);
  ts_derp_client_free(c);
}

static void test_timeouts(void) {
  ts_derp_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  key(cfg.node_private, B_PRIV);
  uint64_t t0 = 1000 * SEC;
  /* handshake never completes */
  ts_derp_client *c = ts_derp_client_new(&cfg, t0);
  if (!c) return;
  CHECK_EQ_INT(ts_derp_client_next_deadline(c), t0 + TS_DERP_HANDSHAKE_TIMEOUT);
  CHECK_EQ_INT(ts_derp_client_tick(c, t0 + TS_DERP_HANDSHAKE_TIMEOUT - 1), 0);
  feed_hex(c, A_SERVER_KEY, t0 + 5 * SEC, 0); /* bytes do not extend the handshake deadline */
  CHECK_EQ_INT(ts_derp_client_tick(c, t0 + TS_DERP_HANDSHAKE_TIMEOUT), TS_DERP_E_TIMEOUT);
  CHECK_EQ_INT(ts_derp_client_error(c), TS_DERP_E_TIMEOUT);
  ts_derp_client_free(c);
  /* connected: read timeout, reset by any received bytes (KeepAlive) */
  c = ts_derp_client_new(&cfg, t0);
  if (!c) return;
  feed_hex(c, A_SERVER_KEY, t0 + 1 * SEC, 0);
  feed_hex(c, B_SERVER_INFO, t0 + 2 * SEC, 0);
  CHECK_EQ_INT(ts_derp_client_tick(c, t0 + 60 * SEC), 0);
  CHECK_EQ_INT(ts_derp_client_next_deadline(c), t0 + 2 * SEC + TS_DERP_READ_TIMEOUT);
  feed_hex(c, "0600000000", t0 + 62 * SEC, 0);
  CHECK_EQ_INT(ts_derp_client_next_deadline(c), t0 + 62 * SEC + TS_DERP_READ_TIMEOUT);
  CHECK_EQ_INT(ts_derp_client_tick(c, t0 + 62 * SEC + TS_DERP_READ_TIMEOUT - 1), 0);
  CHECK_EQ_INT(ts_derp_client_tick(c, t0 + 62 * SEC + TS_DERP_READ_TIMEOUT), TS_DERP_E_TIMEOUT);
  ts_derp_client_free(c);
  /* custom timeouts */
  cfg.read_timeout_ns = 5 * SEC, cfg.handshake_timeout_ns = 1 * SEC;
  c = ts_derp_client_new(&cfg, 0);
  if (!c) return;
  CHECK_EQ_INT(ts_derp_client_next_deadline(c), 1 * SEC);
  CHECK_EQ_INT(ts_derp_client_tick(c, 1 * SEC), TS_DERP_E_TIMEOUT);
  ts_derp_client_free(c);
}

static void test_http_helpers(void) {
  char req[512];
  long n = ts_derp_http_request(req, sizeof req, "derp1.example.com", NULL, NULL, 0);
  const char *want = "GET /derp HTTP/1.1\r\nHost: derp1.example.com\r\nConnection: Upgrade\r\nUpgrade: DERP\r\n\r\n";
  CHECK_EQ_INT(n, (long)strlen(want));
  CHECK(strcmp(req, want) == 0);
  n = ts_derp_http_request(req, sizeof req, "d:8443", "/derp", "1b", 1);
  CHECK(n > 0 && strstr(req, "Ideal-Node: 1b\r\n") && strstr(req, "Derp-Fast-Start: 1\r\n") &&
        strstr(req, "Host: d:8443\r\n"));
  CHECK_EQ_INT(ts_derp_http_request(req, 20, "derp1.example.com", NULL, NULL, 0), TS_DERP_E_BUFFER);
  CHECK_EQ_INT(ts_derp_http_request(req, sizeof req, "evil\r\nX: y", NULL, NULL, 0), TS_DERP_E_ARG);
  CHECK_EQ_INT(ts_derp_http_request(req, sizeof req, "h", NULL, "a\nb", 0), TS_DERP_E_ARG);

  ts_derp_http_response r;
  const char *resp = "HTTP/1.1 101 Switching Protocols\r\nupgrade:  derp \r\nDERP-VERSION: 2\r\n"
                     "Derp-Public-Key: EB771496f1108813c90a67833700fe98144292e59e21090361cb32cdf78d7051\r\n\r\nXYZ";
  size_t len = strlen(resp);
  CHECK_EQ_INT(ts_derp_http_parse_response(&r, (const uint8_t *)resp, len), (long)len - 3);
  CHECK_EQ_INT(r.status, 101);
  CHECK(r.upgrade_derp && r.derp_version == 2 && r.has_public_key);
  uint8_t s_pub[32];
  key(s_pub, S_PUB);
  CHECK_MEM(r.public_key, s_pub, 32);
  for (size_t i = 0; i < len - 3; i++)
    CHECK_EQ_INT(ts_derp_http_parse_response(&r, (const uint8_t *)resp, i), 0);
  const char *bad_key = "HTTP/1.1 101 OK\r\nDerp-Public-Key: zz\r\n\r\n";
  CHECK(ts_derp_http_parse_response(&r, (const uint8_t *)bad_key, strlen(bad_key)) > 0 && !r.has_public_key);
  const char *no_colon = "HTTP/1.1 101 OK\r\nbroken header\r\n\r\n";
  CHECK_EQ_INT(ts_derp_http_parse_response(&r, (const uint8_t *)no_colon, strlen(no_colon)), TS_DERP_E_HTTP);
  const char *bad_status = "HTTP/1.1 1x1 OK\r\n\r\n";
  CHECK_EQ_INT(ts_derp_http_parse_response(&r, (const uint8_t *)bad_status, strlen(bad_status)),
               TS_DERP_E_HTTP);
  /* head and frames split at every byte: the client finds the frame start right */
  uint8_t stream[512];
  const char *head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\n\r\n";
  size_t hn = strlen(head);
  memcpy(stream, head, hn);
  size_t n2 = hn + ts_hex(stream + hn, sizeof stream - hn, A_SERVER_KEY);
  n2 += ts_hex(stream + n2, sizeof stream - n2, B_SERVER_INFO);
  int fails = 0;
  for (size_t cut = 0; cut <= n2; cut++) {
    ts_derp_client_config cfg;
    memset(&cfg, 0, sizeof cfg);
    key(cfg.node_private, B_PRIV);
    cfg.expect_http = 1;
    ts_derp_client *c = ts_derp_client_new(&cfg, 0);
    if (!c) return;
    int e = ts_derp_client_input(c, stream, cut, 1) | ts_derp_client_input(c, stream + cut, n2 - cut, 1);
    if (e || ts_derp_client_state(c) != TS_DERP_ST_CONNECTED) fails++;
    ts_derp_client_free(c);
  }
  CHECK_EQ_INT(fails, 0);
}

static void test_pings_not_acked_when_disabled(void) {
  ts_derp_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  key(cfg.node_private, B_PRIV);
  cfg.can_ack_pings_off = 1;
  ts_derp_client *c = ts_derp_client_new(&cfg, 0);
  if (!c) return;
  feed_hex(c, A_SERVER_KEY, 1, 0);
  uint8_t out[256], json[64];
  size_t m = take_output(c, out, sizeof out);
  uint8_t s_priv[32];
  key(s_priv, S_PRIV);
  long jl = ts_derp_open_info(json, sizeof json, out + 37, m - 37, out + 5, s_priv);
  CHECK_EQ_INT(jl, 13);
  feed_hex(c, B_SERVER_INFO, 1, 0);
  feed_hex(c, A_PING, 1, 0);
  CHECK_EQ_INT(ts_derp_client_output_pending(c), 0);
  /* our own ping with random data, and an unmatched pong (rtt 0) */
  CHECK_EQ_INT(ts_derp_client_send_ping(c, NULL, 5), 0);
  CHECK_EQ_INT(ts_derp_client_output_pending(c), 13);
  ts_derp_client_free(c);
}

int main(void) {
  if (ts_crypto_init() != 0) return 1;
  RUN(test_vector_frames_roundtrip);
  RUN(test_other_frames_roundtrip);
  RUN(test_codec_bounds);
  RUN(test_vector_info_boxes);
  RUN(test_server_info_json);
  RUN(test_vector_client_a);
  RUN(test_vector_client_b);
  RUN(test_chunking_every_boundary);
  RUN(test_handshake_with_server);
  RUN(test_fast_start);
  RUN(test_errors);
  RUN(test_health_truncation_and_output_queue);
  RUN(test_timeouts);
  RUN(test_http_helpers);
  RUN(test_pings_not_acked_when_disabled);
  TEST_MAIN_END();
}
