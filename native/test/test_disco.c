/* Disco and STUN tests: Tailscale's own sealed Ping/Pong/CallMeMaybe (test/fixtures/devnet-derp/vectors.json, copied
 * here) opened, decoded, re-encoded and re-sealed with the same nonce to identical bytes; the UDP demux
 * tests; STUN request bytes checked against an independent computation (Python zlib), the RFC 5769 sample
 * responses, and request/response round trips. */
#include "crypto/crypto.h"
#include "disco/disco.h"
#include "disco/stun.h"
#include "disco/tsmp.h"
#include "test.h"

static const char *A_PRIV = "482364f29d6e781ba6eb99fd5737131829217bc4cea099d61b9f21a932283853";
static const char *A_PUB = "cd9cbf2f1c9dc0f15428162aa7faf069c06bcc5ab6429cfe83a74b8071068c04";
static const char *B_PRIV = "b841364000068958727ddebf00f00e3b8129b5ebd9932c8ba351b18c0c6d654c";
static const char *B_PUB = "a9b2abbf71a95f0e8f06a8c6f50b160c911711b2e077768a7fea575dda28742b";
static const char *PING_NODE_KEY = "7bb45121acbcc13d1736ec28b0806bda4c76b5276db3ef68a61e3b0908902b6f";

static const char *PING_CLEAR =
    "01000102030405060708090a0b0c7bb45121acbcc13d1736ec28b0806bda4c76b5276db3ef68a61e3b0908902b6f";
static const char *PING_PKT =
    "5453f09f92accd9cbf2f1c9dc0f15428162aa7faf069c06bcc5ab6429cfe83a74b8071068c04dd4025d3f44066d654a29ec5e9df572d"
    "f860e617ee172e6a548978a6d1e3c27838a6a72f845faa21bd778f34477cf976ac11322b388141a6a071860b2c56ec2ade0dfb70519a"
    "4472d325c8e0f9ea68278c0b2dd84270";
static const char *PONG_CLEAR = "02000102030405060708090a0b0c00000000000000000000ffffc0000207a2a9";
static const char *PONG_PKT =
    "5453f09f92aca9b2abbf71a95f0e8f06a8c6f50b160c911711b2e077768a7fea575dda28742beee49209b983d0087bc70f7c7c1b7746"
    "d75677c6d0ae03fed32d74362cbf2c5d28986258b38f52afc3375d43d789e85790339b659beba2430222d16d1d1c7579a8edd11d1bd5"
    "2847";
static const char *CMM_CLEAR = "030000000000000000000000ffffc0000207a2a920010db8000000000000000000000007a2a9";
static const char *CMM_PKT =
    "5453f09f92accd9cbf2f1c9dc0f15428162aa7faf069c06bcc5ab6429cfe83a74b8071068c048cf1242e3349a8f8afb57651f14ecfa6"
    "ece7792d29ac5e5b8a6a7d3c50090009b3f1b4de72cf1a7f361f8085ae4b55d960d16056475ec6bfac40c6fe374556e79dbe42351639"
    "aeb9060f8c59858f";

static void key(uint8_t k[32], const char *hex) { ts_hex(k, 32, hex); }

typedef struct {
  uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32];
  uint8_t shared_ab[32], shared_ba[32];
} keys;

static void load_keys(keys *k) {
  key(k->a_priv, A_PRIV), key(k->a_pub, A_PUB), key(k->b_priv, B_PRIV), key(k->b_pub, B_PUB);
  CHECK_EQ_INT(ts_disco_shared_key(k->shared_ab, k->b_pub, k->a_priv), 0);
  CHECK_EQ_INT(ts_disco_shared_key(k->shared_ba, k->a_pub, k->b_priv), 0);
}

/* Opens pkt_hex with `shared`, checks sender and cleartext, decodes, re-encodes the decoded message and
 * re-seals it with the packet's nonce: the bytes must be identical. */
static void vector_roundtrip(const char *pkt_hex, const char *clear_hex, const uint8_t sender[32],
                             const uint8_t shared[32], ts_disco_msg *m) {
  uint8_t pkt[256], want[256], clear[256], enc[256], resealed[256];
  size_t n = ts_hex(pkt, sizeof pkt, pkt_hex);
  size_t cn = ts_hex(want, sizeof want, clear_hex);
  CHECK(ts_disco_is_disco(pkt, n));
  CHECK_MEM(ts_disco_sender(pkt), sender, 32);
  long l = ts_disco_open(clear, sizeof clear, pkt, n, shared);
  CHECK_EQ_INT(l, (long)cn);
  CHECK_MEM(clear, want, cn);
  CHECK_EQ_INT(ts_disco_decode(m, clear, cn), 0);
  long e = ts_disco_encode(enc, sizeof enc, m);
  CHECK_EQ_INT(e, (long)cn);
  CHECK_MEM(enc, want, cn);
  const uint8_t *nonce = pkt + TS_DISCO_HDR_LEN;
  long s = ts_disco_seal(resealed, sizeof resealed, sender, shared, nonce, clear, cn);
  CHECK_EQ_INT(s, (long)n);
  CHECK_MEM(resealed, pkt, n);
  memset(resealed, 0, sizeof resealed);
  s = ts_disco_seal_msg(resealed, sizeof resealed, sender, shared, nonce, m);
  CHECK_EQ_INT(s, (long)n);
  CHECK_MEM(resealed, pkt, n);
}

static void test_vector_keys(void) {
  keys k;
  load_keys(&k);
  uint8_t pub[32];
  ts_x25519_public(pub, k.a_priv);
  CHECK_MEM(pub, k.a_pub, 32);
  ts_x25519_public(pub, k.b_priv);
  CHECK_MEM(pub, k.b_pub, 32);
  CHECK_MEM(k.shared_ab, k.shared_ba, 32); /* both sides derive the same box key */
}

static void test_vector_ping(void) {
  keys k;
  load_keys(&k);
  ts_disco_msg m;
  vector_roundtrip(PING_PKT, PING_CLEAR, k.a_pub, k.shared_ba, &m);
  CHECK_EQ_INT(m.type, TS_DISCO_PING);
  CHECK_EQ_INT(m.version, 0);
  for (int i = 0; i < 12; i++) CHECK_EQ_INT(m.tx_id[i], i + 1);
  uint8_t nk[32];
  key(nk, PING_NODE_KEY);
  CHECK(m.has_node_key);
  CHECK_MEM(m.node_key, nk, 32);
  CHECK_EQ_INT(m.padding, 0);
  /* the sender's side opens it too (symmetric key) */
  uint8_t pkt[256], clear[256];
  size_t n = ts_hex(pkt, sizeof pkt, PING_PKT);
  CHECK_EQ_INT(ts_disco_open(clear, sizeof clear, pkt, n, k.shared_ab), (long)(n - TS_DISCO_OVERHEAD));
}

static void test_vector_pong(void) {
  keys k;
  load_keys(&k);
  ts_disco_msg m;
  vector_roundtrip(PONG_PKT, PONG_CLEAR, k.b_pub, k.shared_ab, &m);
  CHECK_EQ_INT(m.type, TS_DISCO_PONG);
  for (int i = 0; i < 12; i++) CHECK_EQ_INT(m.tx_id[i], i + 1);
  char s[64];
  ts_addr_format(&m.src, s, sizeof s);
  CHECK(strcmp(s, "192.0.2.7:41641") == 0);
  CHECK_EQ_INT(m.src.family, TS_ADDR_V4);
}

static void test_vector_call_me_maybe(void) {
  keys k;
  load_keys(&k);
  ts_disco_msg m;
  vector_roundtrip(CMM_PKT, CMM_CLEAR, k.a_pub, k.shared_ba, &m);
  CHECK_EQ_INT(m.type, TS_DISCO_CALL_ME_MAYBE);
  CHECK_EQ_INT(m.n_endpoints, 2);
  char s[64];
  ts_addr_format(&m.endpoints[0], s, sizeof s);
  CHECK(strcmp(s, "192.0.2.7:41641") == 0);
  ts_addr_format(&m.endpoints[1], s, sizeof s);
  CHECK(strcmp(s, "[2001:db8::7]:41641") == 0);
  /* built from parsed addresses: same cleartext */
  ts_disco_msg b;
  memset(&b, 0, sizeof b);
  b.type = TS_DISCO_CALL_ME_MAYBE;
  b.n_endpoints = 2;
  CHECK_EQ_INT(ts_addr_parse(&b.endpoints[0], "192.0.2.7", 41641), 0);
  CHECK_EQ_INT(ts_addr_parse(&b.endpoints[1], "2001:db8::7", 41641), 0);
  uint8_t want[64], enc[64];
  size_t n = ts_hex(want, sizeof want, CMM_CLEAR);
  CHECK_EQ_INT(ts_disco_encode(enc, sizeof enc, &b), (long)n);
  CHECK_MEM(enc, want, n);
}

static void test_open_rejects(void) {
  keys k;
  load_keys(&k);
  uint8_t pkt[256], clear[256];
  size_t n = ts_hex(pkt, sizeof pkt, PING_PKT);
  /* every single-bit flip after the header makes it fail to open */
  int fails = 0;
  for (size_t i = TS_DISCO_HDR_LEN; i < n; i++) {
    pkt[i] ^= 0x10;
    if (ts_disco_open(clear, sizeof clear, pkt, n, k.shared_ba) != TS_DISCO_E_DECRYPT) fails++;
    pkt[i] ^= 0x10;
  }
  CHECK_EQ_INT(fails, 0);
  /* wrong key, truncated, too short, bad magic, small buffer */
  uint8_t other[32];
  memset(other, 7, 32);
  CHECK_EQ_INT(ts_disco_open(clear, sizeof clear, pkt, n, other), TS_DISCO_E_DECRYPT);
  CHECK_EQ_INT(ts_disco_open(clear, sizeof clear, pkt, n - 1, k.shared_ba), TS_DISCO_E_DECRYPT);
  CHECK_EQ_INT(ts_disco_open(clear, sizeof clear, pkt, 70, k.shared_ba), TS_DISCO_E_DECRYPT);
  CHECK_EQ_INT(ts_disco_open(clear, sizeof clear, pkt, 61, k.shared_ba), TS_DISCO_E_NOT_DISCO);
  CHECK_EQ_INT(ts_disco_open(clear, 10, pkt, n, k.shared_ba), TS_DISCO_E_BUFFER);
  pkt[0] ^= 1;
  CHECK_EQ_INT(ts_disco_open(clear, sizeof clear, pkt, n, k.shared_ba), TS_DISCO_E_NOT_DISCO);
}

static void test_is_disco(void) {
  uint8_t pkt[256];
  size_t n = ts_hex(pkt, sizeof pkt, PONG_PKT);
  CHECK(ts_disco_is_disco(pkt, n));
  CHECK(ts_disco_is_disco(pkt, TS_DISCO_MIN_LEN));
  CHECK(!ts_disco_is_disco(pkt, TS_DISCO_MIN_LEN - 1));
  CHECK(!ts_disco_is_disco(NULL, 0));
  uint8_t wg[148] = {1, 0, 0, 0};
  CHECK(!ts_disco_is_disco(wg, sizeof wg));
  uint8_t stun[TS_STUN_REQUEST_LEN], tx[12] = {0};
  ts_stun_request(stun, tx);
  CHECK(!ts_disco_is_disco(stun, sizeof stun));
  CHECK(ts_stun_is_stun(stun, sizeof stun));
  CHECK(!ts_stun_is_stun(pkt, n));
  CHECK(!ts_stun_is_stun(wg, sizeof wg));
}

static void test_decode_edges(void) {
  ts_disco_msg m;
  uint8_t c[64];
  memset(c, 0, sizeof c);
  CHECK_EQ_INT(ts_disco_decode(&m, c, 0), TS_DISCO_E_SHORT);
  CHECK_EQ_INT(ts_disco_decode(&m, c, 1), TS_DISCO_E_SHORT);
  c[0] = TS_DISCO_PING;
  CHECK_EQ_INT(ts_disco_decode(&m, c, 2 + 11), TS_DISCO_E_SHORT);
  CHECK_EQ_INT(ts_disco_decode(&m, c, 2 + 12), 0); /* an old ping without the node key */
  CHECK(!m.has_node_key);
  CHECK_EQ_INT(ts_disco_decode(&m, c, 2 + 43), 0);
  CHECK(!m.has_node_key);
  CHECK_EQ_INT(ts_disco_decode(&m, c, 2 + 44 + 10), 0);
  CHECK(m.has_node_key);
  CHECK_EQ_INT(m.padding, 10);
  c[0] = TS_DISCO_PONG;
  CHECK_EQ_INT(ts_disco_decode(&m, c, 2 + 29), TS_DISCO_E_SHORT);
  CHECK_EQ_INT(ts_disco_decode(&m, c, 2 + 30 + 5), 0); /* trailing bytes ignored */
  CHECK_EQ_INT(m.src.family, TS_ADDR_V6);               /* :: */
  c[0] = TS_DISCO_CALL_ME_MAYBE;
  CHECK_EQ_INT(ts_disco_decode(&m, c, 2), 0);
  CHECK_EQ_INT(m.n_endpoints, 0);
  CHECK_EQ_INT(ts_disco_decode(&m, c, 2 + 18), 0);
  CHECK_EQ_INT(m.n_endpoints, 1);
  CHECK_EQ_INT(ts_disco_decode(&m, c, 2 + 18 + 17), 0); /* not whole endpoints: none, as Tailscale */
  CHECK_EQ_INT(m.n_endpoints, 0);
  c[1] = 1; /* version 1: none */
  CHECK_EQ_INT(ts_disco_decode(&m, c, 2 + 18), 0);
  CHECK_EQ_INT(m.n_endpoints, 0);
  c[1] = 0;
  c[0] = 0x04;
  CHECK_EQ_INT(ts_disco_decode(&m, c, 40), TS_DISCO_E_UNKNOWN_TYPE);
  c[0] = 0x00;
  CHECK_EQ_INT(ts_disco_decode(&m, c, 40), TS_DISCO_E_UNKNOWN_TYPE);
  /* many endpoints: counted, first TS_DISCO_MAX_ENDPOINTS kept */
  static uint8_t big[2 + 100 * 18];
  memset(big, 0, sizeof big);
  big[0] = TS_DISCO_CALL_ME_MAYBE;
  for (int i = 0; i < 100; i++) big[2 + i * 18 + 17] = (uint8_t)i;
  CHECK_EQ_INT(ts_disco_decode(&m, big, sizeof big), 0);
  CHECK_EQ_INT(m.n_endpoints, 100);
  CHECK_EQ_INT(m.endpoints[TS_DISCO_MAX_ENDPOINTS - 1].port, TS_DISCO_MAX_ENDPOINTS - 1);
}

static void test_encode_and_seal(void) {
  keys k;
  load_keys(&k);
  /* a padded ping (MTU probe) round-trips through seal/open with a random nonce */
  ts_disco_msg m;
  memset(&m, 0, sizeof m);
  m.type = TS_DISCO_PING;
  ts_random(m.tx_id, 12);
  m.has_node_key = 1;
  memset(m.node_key, 0x5a, 32);
  m.padding = 1000;
  static uint8_t pkt[2000], clear[2000];
  long n = ts_disco_seal_msg(pkt, sizeof pkt, k.a_pub, k.shared_ab, NULL, &m);
  CHECK_EQ_INT(n, 2 + 12 + 32 + 1000 + TS_DISCO_OVERHEAD);
  CHECK_EQ_INT(ts_disco_seal_msg(pkt, (size_t)n - 1, k.a_pub, k.shared_ab, NULL, &m), TS_DISCO_E_BUFFER);
  n = ts_disco_seal_msg(pkt, sizeof pkt, k.a_pub, k.shared_ab, NULL, &m);
  long c = ts_disco_open(clear, sizeof clear, pkt, (size_t)n, k.shared_ba);
  CHECK_EQ_INT(c, 2 + 12 + 32 + 1000);
  ts_disco_msg d;
  CHECK_EQ_INT(ts_disco_decode(&d, clear, (size_t)c), 0);
  CHECK_MEM(d.tx_id, m.tx_id, 12);
  CHECK_EQ_INT(d.padding, 1000);
  /* two seals use different nonces */
  static uint8_t pkt2[2000];
  ts_disco_seal_msg(pkt2, sizeof pkt2, k.a_pub, k.shared_ab, NULL, &m);
  CHECK(memcmp(pkt + TS_DISCO_HDR_LEN, pkt2 + TS_DISCO_HDR_LEN, 24) != 0);
  /* a pong with an IPv6 source */
  memset(&m, 0, sizeof m);
  m.type = TS_DISCO_PONG;
  CHECK_EQ_INT(ts_disco_encoded_len(&m), TS_DISCO_E_ARG); /* no address */
  CHECK_EQ_INT(ts_addr_parse(&m.src, "2001:db8::1", 443), 0);
  uint8_t enc[64];
  CHECK_EQ_INT(ts_disco_encode(enc, sizeof enc, &m), 32);
  CHECK_EQ_INT(ts_disco_decode(&d, enc, 32), 0);
  CHECK(ts_addr_equal(&d.src, &m.src));
  CHECK_EQ_INT(ts_disco_encode(enc, 31, &m), TS_DISCO_E_BUFFER);
  m.type = 9;
  CHECK_EQ_INT(ts_disco_encode(enc, sizeof enc, &m), TS_DISCO_E_UNKNOWN_TYPE);
  memset(&m, 0, sizeof m);
  m.type = TS_DISCO_CALL_ME_MAYBE;
  m.n_endpoints = TS_DISCO_MAX_ENDPOINTS + 1;
  CHECK_EQ_INT(ts_disco_encoded_len(&m), TS_DISCO_E_ARG);
  /* a low-order public key gives no shared key */
  uint8_t zero[32] = {0}, sh[32];
  CHECK_EQ_INT(ts_disco_shared_key(sh, zero, k.a_priv), TS_DISCO_E_KEY);
}

/* ---------------------------------------------------------------- STUN */

static void test_stun_request(void) {
  uint8_t tx[12], req[TS_STUN_REQUEST_LEN], want[TS_STUN_REQUEST_LEN];
  for (int i = 0; i < 12; i++) tx[i] = (uint8_t)(i + 1);
  ts_stun_request(req, tx);
  /* computed independently (Python struct + zlib.crc32 over the bytes before the FINGERPRINT attribute,
   * as RFC 5389 §15.5 and Tailscale's net/stun do) */
  ts_hex(want, sizeof want, "000100142112a4420102030405060708090a0b0c802200087461696c6e6f646580280004b32c370f");
  CHECK_MEM(req, want, sizeof want);
  uint8_t got[12];
  CHECK_EQ_INT(ts_stun_parse_request(req, sizeof req, got), 0);
  CHECK_MEM(got, tx, 12);
  CHECK(!ts_stun_is_binding_response(req, sizeof req));
  req[39] ^= 1;
  CHECK_EQ_INT(ts_stun_parse_request(req, sizeof req, got), TS_STUN_E_FINGERPRINT);
  CHECK_EQ_INT(ts_stun_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
}

static void test_stun_rfc5769(void) {
  /* RFC 5769 §2.2 and §2.3: sample responses (IPv4 192.0.2.1:32853 and IPv6
   * [2001:db8:1234:5678:11:2233:4455:6677]:32853) with SOFTWARE, MESSAGE-INTEGRITY and FINGERPRINT. */
  uint8_t v4[80], v6[92], tx[12];
  ts_hex(v4, sizeof v4,
         "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000080001a147e112a643"
         "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96");
  ts_hex(v6, sizeof v6,
         "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000140002a1470113a9fa"
         "a5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c");
  ts_addr a;
  char s[64];
  CHECK(ts_stun_is_binding_response(v4, sizeof v4));
  CHECK_EQ_INT(ts_stun_parse_response(v4, sizeof v4, tx, &a), 0);
  CHECK_MEM(tx, v4 + 8, 12);
  ts_addr_format(&a, s, sizeof s);
  CHECK(strcmp(s, "192.0.2.1:32853") == 0);
  CHECK_EQ_INT(ts_stun_parse_response(v6, sizeof v6, tx, &a), 0);
  ts_addr_format(&a, s, sizeof s);
  CHECK(strcmp(s, "[2001:db8:1234:5678:11:2233:4455:6677]:32853") == 0);
  /* a flipped bit anywhere before the fingerprint is caught by it; cut or lengthened messages refused */
  int fails = 0;
  for (size_t i = 20; i < sizeof v4 - 8; i++) {
    v4[i] ^= 4;
    if (ts_stun_parse_response(v4, sizeof v4, tx, &a) >= 0) fails++;
    v4[i] ^= 4;
  }
  CHECK_EQ_INT(fails, 0);
  CHECK(ts_stun_parse_response(v4, sizeof v4 - 1, tx, &a) < 0);
  CHECK(ts_stun_parse_response(v4, 20, tx, &a) < 0);
  CHECK(ts_stun_parse_response(v4, 19, tx, &a) == TS_STUN_E_NOT_STUN);
  v4[3] = 0x3d; /* length not a multiple of 4 */
  CHECK_EQ_INT(ts_stun_parse_response(v4, sizeof v4, tx, &a), TS_STUN_E_MALFORMED);
}

static void test_stun_response_roundtrip(void) {
  uint8_t tx[12], buf[64], got[12];
  ts_random(tx, sizeof tx);
  const char *addrs[] = {"203.0.113.9", "2001:db8::42"};
  const uint16_t ports[] = {41641, 3478};
  for (int i = 0; i < 2; i++) {
    for (int fp = 0; fp < 2; fp++) {
      ts_addr in, out;
      CHECK_EQ_INT(ts_addr_parse(&in, addrs[i], ports[i]), 0);
      long n = ts_stun_response(buf, sizeof buf, tx, &in, fp);
      CHECK_EQ_INT(n, (i ? 44 : 32) + (fp ? 8 : 0));
      CHECK(ts_stun_is_stun(buf, (size_t)n) && ts_stun_is_binding_response(buf, (size_t)n));
      CHECK_EQ_INT(ts_stun_parse_response(buf, (size_t)n, got, &out), 0);
      CHECK_MEM(got, tx, 12);
      CHECK(ts_addr_equal(&in, &out));
    }
  }
  /* plain MAPPED-ADDRESS from an old server */
  uint8_t plain[32];
  ts_hex(plain, sizeof plain, "0101000c2112a442000102030405060708090a0b000100080001c3500a000001");
  ts_addr a;
  char s[64];
  CHECK_EQ_INT(ts_stun_parse_response(plain, sizeof plain, got, &a), 0);
  ts_addr_format(&a, s, sizeof s);
  CHECK(strcmp(s, "10.0.0.1:50000") == 0);
  /* no address at all */
  uint8_t none[20];
  memcpy(none, plain, 20);
  none[3] = 0;
  CHECK_EQ_INT(ts_stun_parse_response(none, sizeof none, got, &a), TS_STUN_E_NO_ADDRESS);
  /* a request is not a response */
  uint8_t req[TS_STUN_REQUEST_LEN];
  ts_stun_request(req, tx);
  CHECK_EQ_INT(ts_stun_parse_response(req, sizeof req, got, &a), TS_STUN_E_NOT_STUN);
  ts_addr in;
  ts_addr_parse(&in, "2001:db8::42", 1);
  CHECK_EQ_INT(ts_stun_response(buf, 40, tx, &in, 1), TS_STUN_E_BUFFER);
}

/* ---- TSMP (docs/protocol/magicsock.md §5) ---- */

/* The disco key advertisement as the wire has it: 1.2.3.4 -> 4.3.2.1 and 2001:db8::1 -> 2001:db8::2, key 32 x 'a'.
 * IPv4: 45 00 0035 0000 0000 40 63 <checksum 705d>; IPv6: 60000000 0021 63 40. */
static const char *TSMP_V4 = "45000035000000004063705d 01020304 04030201 61"
                             "6161616161616161616161616161616161616161616161616161616161616161";
static const char *TSMP_V6 = "6000000000216340 20010db8000000000000000000000001 20010db8000000000000000000000002 61"
                             "6161616161616161616161616161616161616161616161616161616161616161";

static void test_tsmp_advert_encode(void) {
  uint8_t key[32], want[128], got[128];
  memset(key, 'a', 32);
  ts_addr s4, d4, s6, d6;
  ts_addr_parse(&s4, "1.2.3.4", 0);
  ts_addr_parse(&d4, "4.3.2.1", 0);
  ts_addr_parse(&s6, "2001:db8::1", 0);
  ts_addr_parse(&d6, "2001:db8::2", 0);
  size_t n = ts_hex(want, sizeof want, TSMP_V4);
  CHECK_EQ_INT(n, 53);
  CHECK_EQ_INT(ts_tsmp_disco_advert_encode(got, sizeof got, &s4, &d4, key), 53);
  CHECK_MEM(got, want, 53);
  n = ts_hex(want, sizeof want, TSMP_V6);
  CHECK_EQ_INT(n, 73);
  CHECK_EQ_INT(ts_tsmp_disco_advert_encode(got, sizeof got, &s6, &d6, key), 73);
  CHECK_MEM(got, want, 73);
  CHECK_EQ_INT(ts_tsmp_disco_advert_encode(got, 72, &s6, &d6, key), -1); /* too small */
  CHECK_EQ_INT(ts_tsmp_disco_advert_encode(got, sizeof got, &s4, &d6, key), -1); /* mixed families */
}

static void test_tsmp_advert_parse(void) {
  uint8_t pkt[128], key[32];
  memset(key, 'a', 32);
  ts_tsmp_msg m;
  size_t n = ts_hex(pkt, sizeof pkt, TSMP_V4);
  CHECK(ts_tsmp_is(pkt, n));
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_DISCO_ADVERT);
  CHECK_EQ_INT(m.type, 'a');
  CHECK_MEM(m.disco_key, key, 32);
  ts_addr a;
  ts_addr_parse(&a, "1.2.3.4", 0);
  CHECK(ts_addr_equal(&m.src, &a));
  ts_addr_parse(&a, "4.3.2.1", 0);
  CHECK(ts_addr_equal(&m.dst, &a));
  /* Bytes after the IPv4 total length (link padding) are not the message's. */
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n + 10), TS_TSMP_DISCO_ADVERT);
  n = ts_hex(pkt, sizeof pkt, TSMP_V6);
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_DISCO_ADVERT);
  CHECK_MEM(m.disco_key, key, 32);
  ts_addr_parse(&a, "2001:db8::2", 0);
  CHECK(ts_addr_equal(&m.dst, &a));
}

static void test_tsmp_malformed(void) {
  uint8_t pkt[128];
  ts_tsmp_msg m;
  size_t n = ts_hex(pkt, sizeof pkt, TSMP_V4);
  /* Every truncation is malformed or not TSMP at all, never an advertisement. */
  for (size_t k = 0; k < n; k++) {
    ts_tsmp_kind r = ts_tsmp_parse(&m, pkt, k);
    CHECK(r == TS_TSMP_NOT || r == TS_TSMP_MALFORMED);
    CHECK(ts_ct_is_zero(&m, sizeof m));
  }
  /* An advertisement whose IP length cuts the key short. */
  pkt[3] = 0x34;
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_MALFORMED);
  /* Total length beyond the packet, or shorter than the header. */
  pkt[3] = 0x36;
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_MALFORMED);
  pkt[3] = 0x10;
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_MALFORMED);
  pkt[3] = 0x35;
  /* A fragment (MF set), and a bad header length. */
  pkt[6] = 0x20;
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_MALFORMED);
  pkt[6] = 0;
  pkt[0] = 0x44;
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_MALFORMED);
  pkt[0] = 0x45;
  /* An empty TSMP payload. */
  pkt[3] = 20;
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_MALFORMED);
  pkt[3] = 0x35;
  /* IPv6 with a payload length past the end. */
  n = ts_hex(pkt, sizeof pkt, TSMP_V6);
  pkt[5] = 0x22;
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_MALFORMED);
  pkt[5] = 0x20; /* the key cut short */
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_MALFORMED);
  /* Other protocols, other IP versions. */
  pkt[5] = 0x21;
  pkt[6] = 17;
  CHECK(!ts_tsmp_is(pkt, n));
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_NOT);
  pkt[6] = 99;
  pkt[0] = 0x50;
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_NOT);
  CHECK_EQ_INT(ts_tsmp_parse(&m, NULL, 0), TS_TSMP_NOT);
}

static void test_tsmp_other_types(void) {
  uint8_t pkt[128];
  ts_tsmp_msg m;
  size_t n = ts_hex(pkt, sizeof pkt, TSMP_V4);
  const uint8_t types[] = {'!', 'z'};
  for (size_t i = 0; i < sizeof types; i++) {
    pkt[20] = types[i];
    CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_OTHER);
    CHECK_EQ_INT(m.type, types[i]);
  }
  CHECK_EQ_INT(ts_tsmp_pong_encode(pkt, sizeof pkt, &m, 0), -1); /* no ping to answer */
  pkt[20] = 'o'; /* a pong: its first 8 bytes are the data it echoes */
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_PONG);
  CHECK_MEM(m.ping_data, pkt + 21, 8);
}

/* A TSMP ping 100.64.0.2 -> 100.64.0.1 with data 01..08, and the pong we answer it with. */
static const char *TSMP_PING = "4500001d000000004063b1fb 64400002 64400001 70 0102030405060708";
static const char *TSMP_PONG = "4500001f000000004063b1f9 64400001 64400002 6f 0102030405060708 0000";

static void test_tsmp_ping_pong(void) {
  uint8_t pkt[128], want[128], got[128];
  ts_tsmp_msg m;
  size_t n = ts_hex(pkt, sizeof pkt, TSMP_PING);
  CHECK_EQ_INT(n, 29);
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_PING);
  const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK_MEM(m.ping_data, data, 8);
  size_t w = ts_hex(want, sizeof want, TSMP_PONG);
  CHECK_EQ_INT(ts_tsmp_pong_encode(got, sizeof got, &m, 0), (long)w);
  CHECK_MEM(got, want, w);
  CHECK_EQ_INT(ts_tsmp_pong_encode(got, w - 1, &m, 0), -1);
  /* Our own ping is the same bytes as the one above (ts_link_wg_tsmp_ping sends it). */
  ts_addr src, dst;
  memset(&src, 0, sizeof src);
  memset(&dst, 0, sizeof dst);
  src.family = dst.family = TS_ADDR_V4;
  memcpy(src.ip, (const uint8_t[]){100, 64, 0, 2}, 4);
  memcpy(dst.ip, (const uint8_t[]){100, 64, 0, 1}, 4);
  CHECK_EQ_INT(ts_tsmp_ping_encode(got, sizeof got, &src, &dst, data), (long)n);
  CHECK_MEM(got, pkt, n);
  CHECK_EQ_INT(ts_tsmp_ping_encode(got, n - 1, &src, &dst, data), -1);
  /* Our pong parses as a pong, with a PeerAPI port when there is one. */
  CHECK_EQ_INT(ts_tsmp_pong_encode(got, sizeof got, &m, 0x1234), (long)w);
  ts_tsmp_msg p;
  CHECK_EQ_INT(ts_tsmp_parse(&p, got, w), TS_TSMP_PONG);
  CHECK_EQ_INT(p.type, 'o');
  CHECK_MEM(p.ping_data, data, 8);
  CHECK_EQ_INT(got[w - 2], 0x12);
  CHECK_EQ_INT(got[w - 1], 0x34);
  /* IPv6: the addresses swap too. */
  n = ts_hex(pkt, sizeof pkt, TSMP_V6);
  pkt[5] = 9;
  pkt[40] = 'p';
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, 40 + 9), TS_TSMP_PING);
  CHECK_EQ_INT(ts_tsmp_pong_encode(got, sizeof got, &m, 0), 40 + 11);
  CHECK_EQ_INT(got[5], 11);
  CHECK_MEM(got + 8, pkt + 24, 16);
  CHECK_MEM(got + 24, pkt + 8, 16);
  /* A ping cut short is malformed. */
  n = ts_hex(pkt, sizeof pkt, TSMP_PING);
  pkt[3] = 28;
  CHECK_EQ_INT(ts_tsmp_parse(&m, pkt, n), TS_TSMP_MALFORMED);
}

int main(void) {
  if (ts_crypto_init() != 0) return 1;
  RUN(test_vector_keys);
  RUN(test_tsmp_advert_encode);
  RUN(test_tsmp_advert_parse);
  RUN(test_tsmp_malformed);
  RUN(test_tsmp_other_types);
  RUN(test_tsmp_ping_pong);
  RUN(test_vector_ping);
  RUN(test_vector_pong);
  RUN(test_vector_call_me_maybe);
  RUN(test_open_rejects);
  RUN(test_is_disco);
  RUN(test_decode_edges);
  RUN(test_encode_and_seal);
  RUN(test_stun_request);
  RUN(test_stun_rfc5769);
  RUN(test_stun_response_roundtrip);
  TEST_MAIN_END();
}
