/* Peer-relay disco messages, Geneve and the client bind handshake (docs/protocol/peer-relay.md). The vectors
 * are the bytes Tailscale v1.102.5's own encoder (disco.*.AppendMarshal, packet.GeneveHeader.Encode, NaCl
 * box) produced for the fields named beside them; keys A and B are test_disco.c's. */
#include "crypto/crypto.h"
#include "disco/disco.h"
#include "disco/disco_relay.h"
#include "disco/stun.h"
#include "magicsock/relay_bind.h"
#include "test.h"

static const char *A_PRIV = "482364f29d6e781ba6eb99fd5737131829217bc4cea099d61b9f21a932283853";
static const char *A_PUB = "cd9cbf2f1c9dc0f15428162aa7faf069c06bcc5ab6429cfe83a74b8071068c04";
static const char *B_PRIV = "b841364000068958727ddebf00f00e3b8129b5ebd9932c8ba351b18c0c6d654c";
static const char *B_PUB = "a9b2abbf71a95f0e8f06a8c6f50b160c911711b2e077768a7fea575dda28742b";

/* VNI 0xabcdef, generation 0x01020304, remote key B; challenge a0..bf (zero in Bind). */
static const char *BIND =
    "040000abcdef01020304a9b2abbf71a95f0e8f06a8c6f50b160c911711b2e077768a7fea575dda28742b"
    "0000000000000000000000000000000000000000000000000000000000000000";
static const char *CHALLENGE =
    "050000abcdef01020304a9b2abbf71a95f0e8f06a8c6f50b160c911711b2e077768a7fea575dda28742b"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
static const char *ANSWER =
    "060000abcdef01020304a9b2abbf71a95f0e8f06a8c6f50b160c911711b2e077768a7fea575dda28742b"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
/* Endpoint: server B, clients A and B, Lamport 0x1122334455667788, VNI 0x123456, bind 5 s, steady 5 min,
 * 192.0.2.7:41641 and [2001:db8::7]:7777. */
static const char *CMMV =
    "0700a9b2abbf71a95f0e8f06a8c6f50b160c911711b2e077768a7fea575dda28742bcd9cbf2f1c9dc0f15428162aa7faf069c06b"
    "cc5ab6429cfe83a74b8071068c04a9b2abbf71a95f0e8f06a8c6f50b160c911711b2e077768a7fea575dda28742b11223344556677"
    "8800123456000000012a05f20000000045d964b80000000000000000000000ffffc0000207a2a920010db800000000000000000000"
    "00071e61";
static const char *ALLOCREQ =
    "0800cd9cbf2f1c9dc0f15428162aa7faf069c06bcc5ab6429cfe83a74b8071068c04a9b2abbf71a95f0e8f06a8c6f50b160c911711"
    "b2e077768a7fea575dda28742bdeadbeef";
static const char *ALLOCRESP =
    "0900deadbeefa9b2abbf71a95f0e8f06a8c6f50b160c911711b2e077768a7fea575dda28742bcd9cbf2f1c9dc0f15428162aa7faf0"
    "69c06bcc5ab6429cfe83a74b8071068c04a9b2abbf71a95f0e8f06a8c6f50b160c911711b2e077768a7fea575dda28742b11223344"
    "5566778800123456000000012a05f20000000045d964b80000000000000000000000ffffc0000207a2a920010db800000000000000"
    "00000000071e61";
static const char *GENEVE_CTRL_DISCO = "00807a11abcdef00"; /* control, disco, VNI 0xabcdef */
static const char *GENEVE_WG = "00007a1212345600";         /* WireGuard, VNI 0x123456 */
/* Geneve control || disco from A to server B sealing BIND, nonce 01..18. */
static const char *BIND_PKT =
    "00807a11abcdef005453f09f92accd9cbf2f1c9dc0f15428162aa7faf069c06bcc5ab6429cfe83a74b8071068c04010203040506"
    "0708090a0b0c0d0e0f101112131415161718ca566ee59dfd52b8cedc09a96775d94e7e79551ba955a822f761cfbced729cb543f4"
    "3577b990d60e7640622790332eaa05575c0151480e1e261616466e5984715021e174391bb5845a1ce28f0fd08277d1becaa4b0b2d7"
    "0e48b3";

typedef struct {
  uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32];
} keys;
static void load_keys(keys *k) {
  ts_hex(k->a_priv, 32, A_PRIV), ts_hex(k->a_pub, 32, A_PUB);
  ts_hex(k->b_priv, 32, B_PRIV), ts_hex(k->b_pub, 32, B_PUB);
}

/* Decodes the vector, re-encodes it to the same bytes. */
static void roundtrip(const char *hex, ts_disco_relay_msg *m) {
  uint8_t want[512], out[512];
  size_t n = ts_hex(want, sizeof want, hex);
  CHECK(ts_disco_relay_is_relay_type(want, n));
  CHECK_EQ_INT(ts_disco_relay_decode(m, want, n), 0);
  CHECK_EQ_INT(ts_disco_relay_encode(out, sizeof out, m), (long)n);
  CHECK_MEM(out, want, n);
  /* one byte short of room */
  CHECK_EQ_INT(ts_disco_relay_encode(out, n - 1, m), TS_DISCO_E_BUFFER);
}

static void test_vector_bind_messages(void) {
  keys k;
  load_keys(&k);
  ts_disco_relay_msg m;
  const char *vec[3] = {BIND, CHALLENGE, ANSWER};
  for (int i = 0; i < 3; i++) {
    roundtrip(vec[i], &m);
    CHECK_EQ_INT(m.type, 4 + i);
    CHECK_EQ_INT(m.vni, 0xabcdef);
    CHECK_EQ_INT(m.generation, 0x01020304);
    CHECK_MEM(m.remote_key, k.b_pub, 32);
    CHECK_EQ_INT(m.challenge[0], i == 0 ? 0 : 0xa0);
    CHECK_EQ_INT(m.challenge[31], i == 0 ? 0 : 0xbf);
  }
  /* Bind ignores its version and trailing bytes; a challenge in a Bind is padding, sent as zeros */
  uint8_t buf[128], out[128];
  size_t n = ts_hex(buf, sizeof buf, CHALLENGE);
  buf[0] = 4, buf[1] = 9, buf[n] = 0x55;
  CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, n + 1), 0);
  CHECK_EQ_INT(m.version, 9);
  m.version = 0;
  CHECK_EQ_INT(ts_disco_relay_encode(out, sizeof out, &m), 74);
  ts_hex(buf, sizeof buf, BIND);
  CHECK_MEM(out, buf, 74);
}

static void check_ep(const ts_disco_relay_ep *ep, const keys *k) {
  CHECK_MEM(ep->server_disco, k->b_pub, 32);
  CHECK_MEM(ep->client_disco[0], k->a_pub, 32);
  CHECK_MEM(ep->client_disco[1], k->b_pub, 32);
  CHECK(ep->lamport_id == 0x1122334455667788ULL);
  CHECK_EQ_INT(ep->vni, 0x123456);
  CHECK(ep->bind_lifetime_ns == 5000000000ULL);
  CHECK(ep->steady_lifetime_ns == 300000000000ULL);
  CHECK_EQ_INT(ep->n_addrs, 2);
  ts_addr v4, v6;
  ts_addr_parse(&v4, "192.0.2.7", 41641);
  ts_addr_parse(&v6, "2001:db8::7", 7777);
  CHECK(ts_addr_equal(&ep->addrs[0], &v4));
  CHECK(ts_addr_equal(&ep->addrs[1], &v6));
}

static void test_vector_endpoint_messages(void) {
  keys k;
  load_keys(&k);
  ts_disco_relay_msg m;
  roundtrip(CMMV, &m);
  CHECK_EQ_INT(m.type, TS_DISCO_CALL_ME_MAYBE_VIA);
  check_ep(&m.ep, &k);
  roundtrip(ALLOCRESP, &m);
  CHECK_EQ_INT(m.type, TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE);
  CHECK(m.generation == 0xdeadbeefu);
  check_ep(&m.ep, &k);
  roundtrip(ALLOCREQ, &m);
  CHECK_EQ_INT(m.type, TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST);
  CHECK(m.generation == 0xdeadbeefu);
  CHECK_MEM(m.client_disco[0], k.a_pub, 32);
  CHECK_MEM(m.client_disco[1], k.b_pub, 32);
}

static void test_decode_errors(void) {
  uint8_t buf[1024] = {0};
  ts_disco_relay_msg m;
  CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, 0), TS_DISCO_E_SHORT);
  CHECK_EQ_INT(ts_disco_relay_decode(&m, (const uint8_t *)"\x04", 1), TS_DISCO_E_SHORT);
  /* every type one byte short of its minimum */
  size_t n = ts_hex(buf, sizeof buf, BIND);
  CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, n - 1), TS_DISCO_E_SHORT);
  n = ts_hex(buf, sizeof buf, ALLOCREQ);
  CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, n - 1), TS_DISCO_E_SHORT);
  CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, n + 0), 0);
  /* an endpoint needs a whole, non-zero number of addresses */
  n = ts_hex(buf, sizeof buf, CMMV);
  CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, n - 1), TS_DISCO_E_SHORT);
  CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, n - 18), 0);
  CHECK_EQ_INT(m.ep.n_addrs, 1);
  CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, n - 36), TS_DISCO_E_SHORT);
  CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, 2 + 3), TS_DISCO_E_SHORT);
  n = ts_hex(buf, sizeof buf, ALLOCRESP);
  CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, 5), TS_DISCO_E_SHORT);
  CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, n - 36), TS_DISCO_E_SHORT);
  /* more addresses than are stored: counted */
  n = ts_hex(buf, sizeof buf, CMMV);
  for (int i = 0; i < 20; i++) memcpy(buf + n + (size_t)i * 18, buf + n - 18, 18);
  CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, n + 20 * 18), 0);
  CHECK_EQ_INT(m.ep.n_addrs, 22);
  CHECK_EQ_INT(m.ep.addrs[TS_DISCO_RELAY_MAX_ADDRS - 1].port, 7777);
  /* 7, 8, 9 with version 1: ignored */
  const char *vv[3] = {CMMV, ALLOCREQ, ALLOCRESP};
  for (int i = 0; i < 3; i++) {
    n = ts_hex(buf, sizeof buf, vv[i]);
    buf[1] = 1;
    CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, n), TS_DISCO_E_VERSION);
  }
  /* not a relay type */
  buf[0] = 1;
  CHECK(!ts_disco_relay_is_relay_type(buf, 2));
  CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, 2), TS_DISCO_E_UNKNOWN_TYPE);
  buf[0] = 10;
  CHECK(!ts_disco_relay_is_relay_type(buf, 2));
  CHECK_EQ_INT(ts_disco_relay_decode(&m, buf, 2), TS_DISCO_E_UNKNOWN_TYPE);
  /* the older decoder still calls these unknown, so magicsock ignores them */
  ts_disco_msg dm;
  n = ts_hex(buf, sizeof buf, CMMV);
  CHECK_EQ_INT(ts_disco_decode(&dm, buf, n), TS_DISCO_E_UNKNOWN_TYPE);
}

static void test_encode_errors(void) {
  uint8_t out[1024];
  ts_disco_relay_msg m;
  memset(&m, 0, sizeof m);
  m.type = TS_DISCO_CALL_ME_MAYBE_VIA;
  CHECK_EQ_INT(ts_disco_relay_encode(out, sizeof out, &m), TS_DISCO_E_ARG); /* no address */
  m.ep.n_addrs = 1;
  CHECK_EQ_INT(ts_disco_relay_encode(out, sizeof out, &m), TS_DISCO_E_ARG); /* address without family */
  ts_addr_parse(&m.ep.addrs[0], "127.0.0.1", 1);
  CHECK_EQ_INT(ts_disco_relay_encode(out, sizeof out, &m), 2 + 124 + 18);
  m.ep.n_addrs = TS_DISCO_RELAY_MAX_ADDRS + 1;
  CHECK_EQ_INT(ts_disco_relay_encode(out, sizeof out, &m), TS_DISCO_E_ARG);
  m.ep.n_addrs = 1;
  m.ep.vni = 0x1000000;
  CHECK_EQ_INT(ts_disco_relay_encode(out, sizeof out, &m), TS_DISCO_E_ARG);
  m.type = TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE;
  CHECK_EQ_INT(ts_disco_relay_encode(out, sizeof out, &m), TS_DISCO_E_ARG);
  m.type = TS_DISCO_BIND_UDP_RELAY_ENDPOINT;
  m.vni = 0x1000000;
  CHECK_EQ_INT(ts_disco_relay_encode(out, sizeof out, &m), TS_DISCO_E_ARG);
  m.type = TS_DISCO_PING;
  CHECK_EQ_INT(ts_disco_relay_encode(out, sizeof out, &m), TS_DISCO_E_UNKNOWN_TYPE);
}

static void test_vector_geneve(void) {
  uint8_t want[8], out[8];
  ts_geneve h = {.control = 1, .protocol = TS_GENEVE_PROTO_DISCO, .vni = 0xabcdef}, d;
  ts_hex(want, 8, GENEVE_CTRL_DISCO);
  CHECK_EQ_INT(ts_geneve_encode(out, &h), 0);
  CHECK_MEM(out, want, 8);
  CHECK_EQ_INT(ts_geneve_decode(&d, want, 8), 0);
  CHECK(d.control == 1 && d.protocol == TS_GENEVE_PROTO_DISCO && d.vni == 0xabcdef && d.version == 0);
  h = (ts_geneve){.protocol = TS_GENEVE_PROTO_WIREGUARD, .vni = 0x123456};
  ts_hex(want, 8, GENEVE_WG);
  CHECK_EQ_INT(ts_geneve_encode(out, &h), 0);
  CHECK_MEM(out, want, 8);
  CHECK_EQ_INT(ts_geneve_decode(&d, want, 8), 0);
  CHECK(d.control == 0 && d.protocol == TS_GENEVE_PROTO_WIREGUARD && d.vni == 0x123456);
  CHECK_EQ_INT(ts_geneve_decode(&d, want, 7), TS_DISCO_E_SHORT);
  h.vni = 0x1000000;
  CHECK_EQ_INT(ts_geneve_encode(out, &h), TS_DISCO_E_ARG);
  h.vni = 1, h.version = 4;
  CHECK_EQ_INT(ts_geneve_encode(out, &h), TS_DISCO_E_ARG);
}

static void test_classify(void) {
  uint8_t pkt[256];
  int g = -1;
  size_t n = ts_hex(pkt, sizeof pkt, BIND_PKT);
  CHECK_EQ_INT(ts_udp_classify(pkt, n, &g), TS_UDP_DISCO);
  CHECK_EQ_INT(g, 1);
  /* the same disco packet without Geneve */
  CHECK_EQ_INT(ts_udp_classify(pkt + 8, n - 8, &g), TS_UDP_DISCO);
  CHECK_EQ_INT(g, 0);
  /* Geneve says disco but no disco follows: WireGuard garbage, not Geneve */
  uint8_t bad[64] = {0x00, 0x00, 0x7a, 0x11, 1, 2, 3, 0};
  CHECK_EQ_INT(ts_udp_classify(bad, sizeof bad, &g), TS_UDP_WIREGUARD);
  CHECK_EQ_INT(g, 0);
  /* Geneve WireGuard */
  uint8_t wg[40] = {0x00, 0x00, 0x7a, 0x12, 1, 2, 3, 0, 4, 0, 0, 0};
  CHECK_EQ_INT(ts_udp_classify(wg, sizeof wg, &g), TS_UDP_WIREGUARD);
  CHECK_EQ_INT(g, 1);
  /* a reserved bit set: not Geneve; plain WireGuard */
  wg[7] = 1;
  CHECK_EQ_INT(ts_udp_classify(wg, sizeof wg, &g), TS_UDP_WIREGUARD);
  CHECK_EQ_INT(g, 0);
  /* plain WireGuard transport data */
  uint8_t plain[32] = {4, 0, 0, 0};
  CHECK_EQ_INT(ts_udp_classify(plain, sizeof plain, &g), TS_UDP_WIREGUARD);
  CHECK_EQ_INT(g, 0);
  /* STUN binding request */
  uint8_t txid[12] = {1}, stun[TS_STUN_REQUEST_LEN];
  ts_stun_request(stun, txid);
  CHECK_EQ_INT(ts_udp_classify(stun, sizeof stun, &g), TS_UDP_STUN);
  CHECK_EQ_INT(g, 0);
  /* short input */
  CHECK_EQ_INT(ts_udp_classify(pkt, 3, &g), TS_UDP_WIREGUARD);
}

static void ep_ab(ts_disco_relay_ep *ep, const keys *k, uint32_t vni) {
  memset(ep, 0, sizeof *ep);
  memcpy(ep->server_disco, k->b_pub, 32);
  memcpy(ep->client_disco[0], k->a_pub, 32);
  memcpy(ep->client_disco[1], k->b_pub, 32);
  ep->vni = vni;
  ep->n_addrs = 1;
  ts_addr_parse(&ep->addrs[0], "127.0.0.1", 7);
}

static void test_vector_bind_packet(void) {
  keys k;
  load_keys(&k);
  ts_disco_relay_ep ep;
  ep_ab(&ep, &k, 0xabcdef);
  ts_relay_bind b;
  CHECK_EQ_INT(ts_relay_bind_init(&b, &ep, k.a_priv, k.a_pub, 0x01020304), 0);
  CHECK_MEM(b.remote, k.b_pub, 32);
  uint8_t nonce[24], want[256], out[256];
  for (int i = 0; i < 24; i++) nonce[i] = (uint8_t)(i + 1);
  size_t n = ts_hex(want, sizeof want, BIND_PKT);
  CHECK_EQ_INT(ts_relay_bind_request(&b, out, sizeof out, nonce), (long)n);
  CHECK_EQ_INT(n, TS_RELAY_BIND_PKT_LEN);
  CHECK_MEM(out, want, n);
  CHECK_EQ_INT(b.state, TS_RELAY_BIND_SENT);
  CHECK_EQ_INT(ts_relay_bind_request(&b, out, n - 1, nonce), TS_DISCO_E_BUFFER);
  ts_relay_bind_wipe(&b);
}

/* The relay server's side, played by key B: opens a handshake datagram from A. */
static int server_open(const keys *k, const uint8_t *pkt, size_t len, ts_disco_relay_msg *m) {
  uint8_t shared[32], clear[128];
  ts_geneve h;
  if (ts_geneve_decode(&h, pkt, len) != 0 || !h.control || h.protocol != TS_GENEVE_PROTO_DISCO) return -1;
  if (ts_disco_shared_key(shared, k->a_pub, k->b_priv) != 0) return -1;
  long n = ts_disco_open(clear, sizeof clear, pkt + 8, len - 8, shared);
  if (n < 0) return -1;
  return ts_disco_relay_decode(m, clear, (size_t)n);
}
/* The server's Challenge to A, with optional changes. */
static size_t server_challenge(const keys *k, uint8_t *out, uint32_t geneve_vni, uint32_t vni, uint32_t gen,
                               int control, const uint8_t *sender_pub, const uint8_t *sender_priv) {
  uint8_t shared[32], clear[128];
  ts_geneve h = {.control = (uint8_t)control, .protocol = TS_GENEVE_PROTO_DISCO, .vni = geneve_vni};
  ts_geneve_encode(out, &h);
  ts_disco_relay_msg m;
  memset(&m, 0, sizeof m);
  m.type = TS_DISCO_BIND_UDP_RELAY_ENDPOINT_CHALLENGE;
  m.vni = vni, m.generation = gen;
  memcpy(m.remote_key, k->b_pub, 32);
  for (int i = 0; i < 32; i++) m.challenge[i] = (uint8_t)(0x40 + i);
  long cn = ts_disco_relay_encode(clear, sizeof clear, &m);
  ts_disco_shared_key(shared, k->a_pub, sender_priv);
  long n = ts_disco_seal(out + 8, 248, sender_pub, shared, NULL, clear, (size_t)cn);
  return (size_t)n + 8;
}

static void test_handshake(void) {
  keys k;
  load_keys(&k);
  ts_disco_relay_ep ep;
  ep_ab(&ep, &k, 77);
  ts_relay_bind b;
  uint8_t pkt[256], out[256];
  CHECK_EQ_INT(ts_relay_bind_init(&b, &ep, k.a_priv, k.a_pub, 9), 0);
  /* a challenge before any Bind */
  size_t cn = server_challenge(&k, pkt, 77, 77, 9, 1, k.b_pub, k.b_priv);
  CHECK_EQ_INT(ts_relay_bind_input(&b, pkt, cn, out, sizeof out, NULL), TS_RELAY_E_UNEXPECTED);
  long n = ts_relay_bind_request(&b, out, sizeof out, NULL);
  CHECK(n > 0);
  ts_disco_relay_msg m;
  CHECK_EQ_INT(server_open(&k, out, (size_t)n, &m), 0);
  CHECK_EQ_INT(m.type, TS_DISCO_BIND_UDP_RELAY_ENDPOINT);
  CHECK_EQ_INT(m.vni, 77);
  CHECK_EQ_INT(m.generation, 9);
  CHECK_MEM(m.remote_key, k.b_pub, 32);
  /* challenges that are not for this handshake */
  cn = server_challenge(&k, pkt, 78, 77, 9, 1, k.b_pub, k.b_priv); /* Geneve VNI */
  CHECK_EQ_INT(ts_relay_bind_input(&b, pkt, cn, out, sizeof out, NULL), TS_RELAY_E_NOT_OURS);
  cn = server_challenge(&k, pkt, 77, 77, 9, 0, k.b_pub, k.b_priv); /* no control bit */
  CHECK_EQ_INT(ts_relay_bind_input(&b, pkt, cn, out, sizeof out, NULL), TS_RELAY_E_NOT_OURS);
  cn = server_challenge(&k, pkt, 77, 77, 9, 1, k.a_pub, k.a_priv); /* not from the server's key */
  CHECK_EQ_INT(ts_relay_bind_input(&b, pkt, cn, out, sizeof out, NULL), TS_RELAY_E_NOT_OURS);
  cn = server_challenge(&k, pkt, 77, 76, 9, 1, k.b_pub, k.b_priv); /* sealed VNI differs */
  CHECK_EQ_INT(ts_relay_bind_input(&b, pkt, cn, out, sizeof out, NULL), TS_RELAY_E_UNEXPECTED);
  cn = server_challenge(&k, pkt, 77, 77, 8, 1, k.b_pub, k.b_priv); /* generation */
  CHECK_EQ_INT(ts_relay_bind_input(&b, pkt, cn, out, sizeof out, NULL), TS_RELAY_E_UNEXPECTED);
  cn = server_challenge(&k, pkt, 77, 77, 9, 1, k.b_pub, k.b_priv);
  pkt[cn - 1] ^= 1; /* tampered */
  CHECK_EQ_INT(ts_relay_bind_input(&b, pkt, cn, out, sizeof out, NULL), TS_DISCO_E_DECRYPT);
  CHECK_EQ_INT(ts_relay_bind_input(&b, pkt, 20, out, sizeof out, NULL), TS_RELAY_E_NOT_OURS);
  CHECK_EQ_INT(b.state, TS_RELAY_BIND_SENT);
  /* the real one: answered with the challenge echoed */
  pkt[cn - 1] ^= 1;
  n = ts_relay_bind_input(&b, pkt, cn, out, sizeof out, NULL);
  CHECK_EQ_INT(n, TS_RELAY_BIND_PKT_LEN);
  CHECK_EQ_INT(b.state, TS_RELAY_BIND_ANSWERED);
  CHECK_EQ_INT(server_open(&k, out, (size_t)n, &m), 0);
  CHECK_EQ_INT(m.type, TS_DISCO_BIND_UDP_RELAY_ENDPOINT_ANSWER);
  CHECK_EQ_INT(m.generation, 9);
  CHECK_EQ_INT(m.challenge[0], 0x40);
  CHECK_EQ_INT(m.challenge[31], 0x5f);
  /* a repeated challenge (after a retransmitted Bind) is answered again */
  CHECK_EQ_INT(ts_relay_bind_input(&b, pkt, cn, out, sizeof out, NULL), TS_RELAY_BIND_PKT_LEN);
  CHECK_EQ_INT(b.challenges, 2);
  /* data framing */
  uint8_t wg[4] = {4, 0, 0, 0};
  CHECK_EQ_INT(ts_relay_encap(out, sizeof out, 77, TS_GENEVE_PROTO_WIREGUARD, wg, 4), 12);
  int g;
  CHECK_EQ_INT(ts_udp_classify(out, 12, &g), TS_UDP_WIREGUARD);
  CHECK_EQ_INT(g, 1);
  CHECK_EQ_INT(ts_relay_encap(out, 11, 77, TS_GENEVE_PROTO_WIREGUARD, wg, 4), TS_DISCO_E_BUFFER);
  CHECK_EQ_INT(ts_relay_encap(out, sizeof out, 0x1000000, TS_GENEVE_PROTO_WIREGUARD, wg, 4), TS_DISCO_E_ARG);
  ts_relay_bind_wipe(&b);
}

static void test_init_errors(void) {
  keys k;
  load_keys(&k);
  ts_disco_relay_ep ep;
  ep_ab(&ep, &k, 1);
  ts_relay_bind b;
  uint8_t other[32];
  memset(other, 0x77, 32);
  CHECK_EQ_INT(ts_relay_bind_init(&b, &ep, k.a_priv, other, 1), TS_DISCO_E_ARG); /* not a client */
  CHECK_EQ_INT(ts_relay_bind_init(&b, &ep, k.a_priv, k.a_pub, 0), TS_DISCO_E_ARG); /* generation 0 */
  memcpy(ep.client_disco[1], k.a_pub, 32);
  CHECK_EQ_INT(ts_relay_bind_init(&b, &ep, k.a_priv, k.a_pub, 1), TS_DISCO_E_ARG); /* both clients us */
  ep_ab(&ep, &k, 0x1000000);
  CHECK_EQ_INT(ts_relay_bind_init(&b, &ep, k.a_priv, k.a_pub, 1), TS_DISCO_E_ARG);
  ep_ab(&ep, &k, 1);
  memset(ep.server_disco, 0, 32); /* low-order server key */
  CHECK_EQ_INT(ts_relay_bind_init(&b, &ep, k.a_priv, k.a_pub, 1), TS_DISCO_E_KEY);
  /* B is client 1: its remote is A */
  ep_ab(&ep, &k, 1);
  CHECK_EQ_INT(ts_relay_bind_init(&b, &ep, k.b_priv, k.b_pub, 1), 0);
  CHECK_MEM(b.remote, k.a_pub, 32);
}

int main(void) {
  if (ts_crypto_init() != 0) return 1;
  RUN(test_vector_bind_messages);
  RUN(test_vector_endpoint_messages);
  RUN(test_decode_errors);
  RUN(test_encode_errors);
  RUN(test_vector_geneve);
  RUN(test_classify);
  RUN(test_vector_bind_packet);
  RUN(test_handshake);
  RUN(test_init_errors);
  TEST_MAIN_END();
}
