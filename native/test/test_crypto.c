/* Known-answer tests for native/core/crypto. Every expected value below comes from a published document or
 * from an independent implementation, never from the code under test:
 *   - RFC 7748 (X25519) §5.2 and §6.1;
 *   - RFC 8439 (ChaCha20-Poly1305) §2.8.2 and Appendix A.5;
 *   - draft-irtf-cfrg-xchacha-03 Appendix A.3.1 (XChaCha20-Poly1305);
 *   - RFC 7693 (BLAKE2) Appendix B and Appendix E, and the BLAKE2 reference testvectors/blake2s-kat.txt;
 *   - NaCl's box test (tests/box.c, box2.c, box.out; Curve25519-XSalsa20-Poly1305), taken from the copies in
 *     libsodium's test/default/box.c, box2.c and box.exp;
 *   - HMAC-BLAKE2s and the Noise HKDF: Node.js crypto (OpenSSL), see hmac_blake2s_node;
 *   - Tailscale v1.72.1's own Go code: the ts2021 Noise IK handshake and DERP/disco NaCl boxes
 *     (test/fixtures/control/ts2021-handshake.json and test/fixtures/devnet-derp/vectors.json, here as hex). */
#include "crypto/crypto.h"
#include "test.h"

/* Decodes hex into out and checks that it filled exactly want bytes. */
#define HEXN(out, want, str) CHECK_EQ_INT(ts_hex((out), sizeof(out), (str)), (want))
#define HEX(out, str) HEXN(out, sizeof(out), str)

/* ---------------------------------------------------------------- X25519 (RFC 7748) */

/* RFC 7748 §5.2, first vector. */
static void x25519_rfc7748_5_2_vector1(void) {
  uint8_t k[32], u[32], want[32], out[32];
  HEX(k, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
  HEX(u, "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
  HEX(want, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
  CHECK_EQ_INT(ts_x25519(out, k, u), 0);
  CHECK_MEM(out, want, 32);
}

/* RFC 7748 §5.2, second vector. Its u-coordinate has the top bit set (…a493), which X25519 must ignore. */
static void x25519_rfc7748_5_2_vector2(void) {
  uint8_t k[32], u[32], want[32], out[32];
  HEX(k, "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d");
  HEX(u, "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493");
  HEX(want, "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
  CHECK_EQ_INT(ts_x25519(out, k, u), 0);
  CHECK_MEM(out, want, 32);
}

/* RFC 7748 §5.2 iterated test: k = u = 9; each round k' = X25519(k, u), u' = k. Checked after 1 and 1,000
 * rounds (the 1,000,000-round value would take too long for a unit test). */
static void x25519_rfc7748_5_2_iterated(void) {
  uint8_t k[32] = {9}, u[32] = {9}, r[32], want1[32], want1000[32];
  HEX(want1, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
  HEX(want1000, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
  for (int i = 1; i <= 1000; i++) {
    if (ts_x25519(r, k, u) != 0) {
      CHECK(!"ts_x25519 failed during iteration");
      return;
    }
    memcpy(u, k, 32);
    memcpy(k, r, 32);
    if (i == 1) CHECK_MEM(k, want1, 32);
  }
  CHECK_MEM(k, want1000, 32);
}

/* RFC 7748 §6.1 Diffie-Hellman: public keys from private keys, and the same shared secret both ways. */
static void x25519_rfc7748_6_1(void) {
  uint8_t a[32], apub[32], b[32], bpub[32], shared[32], pub[32], out[32];
  HEX(a, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  HEX(apub, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  HEX(b, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  HEX(bpub, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  HEX(shared, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  ts_x25519_public(pub, a);
  CHECK_MEM(pub, apub, 32);
  ts_x25519_public(pub, b);
  CHECK_MEM(pub, bpub, 32);
  CHECK_EQ_INT(ts_x25519(out, a, bpub), 0);
  CHECK_MEM(out, shared, 32);
  CHECK_EQ_INT(ts_x25519(out, b, apub), 0);
  CHECK_MEM(out, shared, 32);
}

/* Points of small order give an all-zero shared secret (RFC 7748 §6.1): ts_x25519 returns -1 and zeroes out. */
static void x25519_low_order_rejected(void) {
  uint8_t priv[32], zero[32] = {0}, one[32] = {1}, order8[32], out[32];
  /* A point of order 8, from libsodium's test/default/box.c (small_order_p). */
  HEX(order8, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
  HEX(priv, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  memset(out, 0xaa, sizeof out);
  CHECK_EQ_INT(ts_x25519(out, priv, zero), -1);
  CHECK(ts_ct_is_zero(out, 32));
  memset(out, 0xaa, sizeof out);
  CHECK_EQ_INT(ts_x25519(out, priv, one), -1);
  CHECK(ts_ct_is_zero(out, 32));
  memset(out, 0xaa, sizeof out);
  CHECK_EQ_INT(ts_x25519(out, priv, order8), -1);
  CHECK(ts_ct_is_zero(out, 32));
}

static void x25519_clamp_bits(void) {
  uint8_t k[32];
  memset(k, 0xff, sizeof k);
  ts_x25519_clamp(k);
  CHECK_EQ_INT(k[0], 0xf8);
  CHECK_EQ_INT(k[31], 0x7f);
  for (int i = 1; i < 31; i++) CHECK_EQ_INT(k[i], 0xff);
  memset(k, 0, sizeof k);
  ts_x25519_clamp(k);
  CHECK_EQ_INT(k[0], 0);
  CHECK_EQ_INT(k[31], 0x40);
}

/* ts_x25519_keypair gives a clamped private key whose public key is ts_x25519_public of it, and two calls give
 * different keys that agree on a shared secret. */
static void x25519_keypair_clamped(void) {
  uint8_t p1[32], q1[32], p2[32], q2[32], pub[32], s1[32], s2[32];
  ts_x25519_keypair(p1, q1);
  ts_x25519_keypair(p2, q2);
  CHECK_EQ_INT(p1[0] & 7, 0);
  CHECK_EQ_INT(p1[31] & 0x80, 0);
  CHECK_EQ_INT(p1[31] & 0x40, 0x40);
  ts_x25519_public(pub, p1);
  CHECK_MEM(pub, q1, 32);
  CHECK(!ts_ct_equal(p1, p2, 32));
  CHECK_EQ_INT(ts_x25519(s1, p1, q2), 0);
  CHECK_EQ_INT(ts_x25519(s2, p2, q1), 0);
  CHECK_MEM(s1, s2, 32);
}

/* ---------------------------------------------------------------- ChaCha20-Poly1305 (RFC 8439) */

static const char r8439_282_pt[] =
    "4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
    "73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
    "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
    "637265656e20776f756c642062652069742e";
static const char r8439_282_aad[] = "50515253c0c1c2c3c4c5c6c7";
static const char r8439_282_key[] =
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
/* Nonce = 32-bit fixed-common part (07 00 00 00) || IV (40 .. 47). */
static const char r8439_282_nonce[] = "07000000" "4041424344454647";
static const char r8439_282_ct[] =
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116";
static const char r8439_282_tag[] = "1ae10b594f09e26a7e902ecbd0600691";

/* RFC 8439 §2.8.2: sealing gives exactly the published ciphertext then tag. */
static void chacha_rfc8439_2_8_2_seal(void) {
  uint8_t pt[114], aad[12], key[32], nonce[12], want[114 + 16], out[114 + 16];
  HEX(pt, r8439_282_pt);
  HEX(aad, r8439_282_aad);
  HEX(key, r8439_282_key);
  HEX(nonce, r8439_282_nonce);
  HEXN(want, 114, r8439_282_ct);
  CHECK_EQ_INT(ts_hex(want + 114, 16, r8439_282_tag), 16);
  ts_chacha_seal(out, pt, sizeof pt, aad, sizeof aad, nonce, key);
  CHECK_MEM(out, want, sizeof want);
  /* In place (dst == src), as the header allows. */
  memcpy(out, pt, sizeof pt);
  ts_chacha_seal(out, out, sizeof pt, aad, sizeof aad, nonce, key);
  CHECK_MEM(out, want, sizeof want);
}

/* RFC 8439 §2.8.2 in reverse: open recovers the plaintext; one flipped bit in ciphertext, tag or AAD, a wrong
 * nonce, or a short input fails. */
static void chacha_rfc8439_2_8_2_open_and_tamper(void) {
  uint8_t pt[114], aad[12], key[32], nonce[12], box[114 + 16], out[114];
  HEX(pt, r8439_282_pt);
  HEX(aad, r8439_282_aad);
  HEX(key, r8439_282_key);
  HEX(nonce, r8439_282_nonce);
  HEXN(box, 114, r8439_282_ct);
  CHECK_EQ_INT(ts_hex(box + 114, 16, r8439_282_tag), 16);
  memset(out, 0, sizeof out);
  CHECK_EQ_INT(ts_chacha_open(out, box, sizeof box, aad, sizeof aad, nonce, key), 0);
  CHECK_MEM(out, pt, sizeof pt);

  box[0] ^= 1;
  CHECK_EQ_INT(ts_chacha_open(out, box, sizeof box, aad, sizeof aad, nonce, key), -1);
  box[0] ^= 1;
  box[113] ^= 0x80;
  CHECK_EQ_INT(ts_chacha_open(out, box, sizeof box, aad, sizeof aad, nonce, key), -1);
  box[113] ^= 0x80;
  box[114] ^= 1; /* first tag byte */
  CHECK_EQ_INT(ts_chacha_open(out, box, sizeof box, aad, sizeof aad, nonce, key), -1);
  box[114] ^= 1;
  box[129] ^= 0x40; /* last tag byte */
  CHECK_EQ_INT(ts_chacha_open(out, box, sizeof box, aad, sizeof aad, nonce, key), -1);
  box[129] ^= 0x40;
  aad[11] ^= 1;
  CHECK_EQ_INT(ts_chacha_open(out, box, sizeof box, aad, sizeof aad, nonce, key), -1);
  aad[11] ^= 1;
  CHECK_EQ_INT(ts_chacha_open(out, box, sizeof box, aad, sizeof aad - 1, nonce, key), -1);
  nonce[0] ^= 1;
  CHECK_EQ_INT(ts_chacha_open(out, box, sizeof box, aad, sizeof aad, nonce, key), -1);
  nonce[0] ^= 1;
  CHECK_EQ_INT(ts_chacha_open(out, box, 15, aad, sizeof aad, nonce, key), -1);
  /* Untouched again: still opens (in place). */
  CHECK_EQ_INT(ts_chacha_open(box, box, sizeof box, aad, sizeof aad, nonce, key), 0);
  CHECK_MEM(box, pt, sizeof pt);
}

/* RFC 8439 Appendix A.5: decryption of a 265-byte message. */
static void chacha_rfc8439_a5_decrypt(void) {
  uint8_t key[32], nonce[12], aad[12], box[265 + 16], want[265], out[265];
  HEX(key, "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
  HEX(nonce, "000000000102030405060708");
  HEX(aad, "f33388860000000000004e91");
  HEXN(box, 265,
       "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
       "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
       "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
       "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
       "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
       "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
       "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
       "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
       "a6ad5cb4022b02709b");
  CHECK_EQ_INT(ts_hex(box + 265, 16, "eead9d67890cbb22392336fea1851f38"), 16);
  HEX(want,
      "496e7465726e65742d4472616674732061726520647261667420646f63756d65"
      "6e74732076616c696420666f722061206d6178696d756d206f6620736978206d"
      "6f6e74687320616e64206d617920626520757064617465642c207265706c6163"
      "65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65"
      "6e747320617420616e792074696d652e20497420697320696e617070726f7072"
      "6961746520746f2075736520496e7465726e65742d4472616674732061732072"
      "65666572656e6365206d6174657269616c206f7220746f206369746520746865"
      "6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67"
      "726573732e2fe2809d");
  CHECK_EQ_INT(ts_chacha_open(out, box, sizeof box, aad, sizeof aad, nonce, key), 0);
  CHECK_MEM(out, want, sizeof want);
  box[200] ^= 4;
  CHECK_EQ_INT(ts_chacha_open(out, box, sizeof box, aad, sizeof aad, nonce, key), -1);
}

/* WireGuard's transport nonce: 4 zero bytes, then the 64-bit counter little-endian. */
static void chacha_ctr_nonce_layout(void) {
  static const uint64_t counters[] = {0, 1, 0x0102030405060708ull, UINT64_MAX - 1};
  uint8_t key[32], pt[37], nonce[12], a[37 + 16], b[37 + 16], back[37];
  const uint8_t ad[5] = {1, 2, 3, 4, 5};
  for (size_t i = 0; i < sizeof key; i++) key[i] = (uint8_t)(0xa0 + i);
  for (size_t i = 0; i < sizeof pt; i++) pt[i] = (uint8_t)(i * 7);
  for (size_t c = 0; c < sizeof counters / sizeof counters[0]; c++) {
    uint64_t ctr = counters[c];
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++) nonce[4 + i] = (uint8_t)(ctr >> (8 * i));
    ts_chacha_seal(a, pt, sizeof pt, ad, sizeof ad, nonce, key);
    ts_chacha_seal_ctr(b, pt, sizeof pt, ad, sizeof ad, ctr, key);
    CHECK_MEM(a, b, sizeof a);
    CHECK_EQ_INT(ts_chacha_open_ctr(back, b, sizeof b, ad, sizeof ad, ctr, key), 0);
    CHECK_MEM(back, pt, sizeof pt);
    CHECK_EQ_INT(ts_chacha_open_ctr(back, b, sizeof b, ad, sizeof ad, ctr + 1, key), -1);
  }
  /* The explicit bytes for one counter, so a byte-order mistake on both sides cannot cancel out. */
  HEX(nonce, "000000000807060504030201");
  ts_chacha_seal(a, pt, sizeof pt, ad, sizeof ad, nonce, key);
  ts_chacha_seal_ctr(b, pt, sizeof pt, ad, sizeof ad, 0x0102030405060708ull, key);
  CHECK_MEM(a, b, sizeof a);
}

/* ---------------------------------------------------------------- XChaCha20-Poly1305 */

/* draft-irtf-cfrg-xchacha-03 Appendix A.3.1. In the draft's source (xchacha.md) the IV hex dump shows byte 11
 * as "fb" while its ASCII column reads "@ABCDEFGHIJKLMNO" (byte 11 = 'K' = 4b). The published ciphertext and
 * tag come out only with 4b, which is also what other implementations' copies of this vector use. */
static void xchacha_draft03_a_3_1(void) {
  uint8_t pt[114], aad[12], key[32], nonce[24], want[114 + 16], out[114 + 16], back[114];
  HEX(pt, r8439_282_pt);   /* the same "Ladies and Gentlemen…" plaintext */
  HEX(aad, r8439_282_aad); /* 50 51 52 53 c0 .. c7 */
  HEX(key, r8439_282_key); /* 80 .. 9f */
  HEX(nonce, "404142434445464748494a4b4c4d4e4f5051525354555657");
  HEXN(want, 114,
       "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
       "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
       "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
       "21f9664c97637da9768812f615c68b13b52e");
  CHECK_EQ_INT(ts_hex(want + 114, 16, "c0875924c1c7987947deafd8780acf49"), 16);
  ts_xchacha_seal(out, pt, sizeof pt, aad, sizeof aad, nonce, key);
  CHECK_MEM(out, want, sizeof want);
  CHECK_EQ_INT(ts_xchacha_open(back, out, sizeof out, aad, sizeof aad, nonce, key), 0);
  CHECK_MEM(back, pt, sizeof pt);
  out[5] ^= 1;
  CHECK_EQ_INT(ts_xchacha_open(back, out, sizeof out, aad, sizeof aad, nonce, key), -1);
  out[5] ^= 1;
  out[sizeof out - 1] ^= 1;
  CHECK_EQ_INT(ts_xchacha_open(back, out, sizeof out, aad, sizeof aad, nonce, key), -1);
  out[sizeof out - 1] ^= 1;
  nonce[23] ^= 1; /* the nonce's last bytes go to ChaCha20, not HChaCha20 */
  CHECK_EQ_INT(ts_xchacha_open(back, out, sizeof out, aad, sizeof aad, nonce, key), -1);
  nonce[23] ^= 1;
  nonce[0] ^= 1; /* its first 16 go to HChaCha20 */
  CHECK_EQ_INT(ts_xchacha_open(back, out, sizeof out, aad, sizeof aad, nonce, key), -1);
  nonce[0] ^= 1;
  CHECK_EQ_INT(ts_xchacha_open(back, out, 15, aad, sizeof aad, nonce, key), -1);
}

/* ---------------------------------------------------------------- BLAKE2s (RFC 7693) */

/* RFC 7693 Appendix B: BLAKE2s-256("abc"). */
static void blake2s_rfc7693_b_abc(void) {
  uint8_t want[32], out[32];
  HEX(want, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
  CHECK_EQ_INT(ts_blake2s(out, 32, "abc", 3, NULL, 0), 0);
  CHECK_MEM(out, want, 32);
}

/* RFC 7693 Appendix E: deterministic input generator (a Fibonacci sequence). */
static void selftest_seq(uint8_t *out, size_t len, uint32_t seed) {
  uint32_t a = 0xDEAD4BADu * seed, b = 1, t;
  for (size_t i = 0; i < len; i++) {
    t = a + b;
    a = b;
    b = t;
    out[i] = (uint8_t)(t >> 24);
  }
}

/* RFC 7693 Appendix E self-test: unkeyed and keyed hashes for every (out length, input length) pair, fed into
 * a BLAKE2s-256 whose result (the "grand hash") the RFC gives. */
static void blake2s_rfc7693_e_selftest(void) {
  static const size_t md_len[4] = {16, 20, 28, 32};
  static const size_t in_len[6] = {0, 3, 64, 65, 255, 1024};
  uint8_t in[1024], md[32], key[32], want[32];
  ts_blake2s_ctx ctx;
  HEX(want, "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe");
  CHECK_EQ_INT(ts_blake2s_init(&ctx, 32, NULL, 0), 0);
  for (size_t i = 0; i < 4; i++) {
    size_t outlen = md_len[i];
    for (size_t j = 0; j < 6; j++) {
      size_t inlen = in_len[j];
      selftest_seq(in, inlen, (uint32_t)inlen);
      CHECK_EQ_INT(ts_blake2s(md, outlen, in, inlen, NULL, 0), 0);
      ts_blake2s_update(&ctx, md, outlen);
      selftest_seq(key, outlen, (uint32_t)outlen);
      CHECK_EQ_INT(ts_blake2s(md, outlen, in, inlen, key, outlen), 0);
      ts_blake2s_update(&ctx, md, outlen);
    }
  }
  ts_blake2s_final(&ctx, md, 32);
  CHECK_MEM(md, want, 32);
}

/* BLAKE2 reference testvectors/blake2s-kat.txt: key = 00 01 .. 1f, input = 00 01 .. n-1, 32-byte output. */
static void blake2s_kat_keyed(void) {
  static const struct { size_t n; const char *hash; } kat[] = {
      {0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49"},
      {1, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1"},
      {2, "6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803"},
      {3, "1d220dbe2ee134661fdf6d9e74b41704710556f2f6e5a091b227697445dbea6b"},
      {63, "c65382513f07460da39833cb666c5ed82e61b9e998f4b0c4287cee56c3cc9bcd"},
      {64, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4"},
      {65, "21fe0ceb0052be7fb0f004187cacd7de67fa6eb0938d927677f2398c132317a8"},
      {128, "0c311f38c35a4fb90d651c289d486856cd1413df9b0677f53ece2cd9e477c60a"},
      {255, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd"},
  };
  uint8_t key[32], in[255], want[32], out[32];
  for (size_t i = 0; i < sizeof key; i++) key[i] = (uint8_t)i;
  for (size_t i = 0; i < sizeof in; i++) in[i] = (uint8_t)i;
  for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
    HEX(want, kat[i].hash);
    CHECK_EQ_INT(ts_blake2s(out, 32, in, kat[i].n, key, 32), 0);
    CHECK_MEM(out, want, 32);
  }
}

/* The streaming API gives the one-shot result whatever the chunking (odd sizes straddling 64-byte blocks,
 * empty updates, input ending exactly on a block boundary), keyed and unkeyed, for several output lengths. */
static void blake2s_streaming_chunks(void) {
  static const size_t chunks[] = {1, 3, 0, 7, 13, 64, 63, 65, 2, 127, 5, 128, 31};
  static const size_t totals[] = {0, 1, 63, 64, 65, 128, 129, 511, 512, 1000};
  static const size_t outs[] = {1, 16, 20, 28, 32};
  uint8_t in[1000], key[32], one[32], streamed[32];
  for (size_t i = 0; i < sizeof in; i++) in[i] = (uint8_t)(i * 31 + 7);
  for (size_t i = 0; i < sizeof key; i++) key[i] = (uint8_t)(0x55 ^ i);
  for (size_t t = 0; t < sizeof totals / sizeof totals[0]; t++) {
    for (size_t o = 0; o < sizeof outs / sizeof outs[0]; o++) {
      for (size_t key_len = 0; key_len <= 32; key_len += 16) {
        size_t total = totals[t], out_len = outs[o], pos = 0, c = 0;
        ts_blake2s_ctx ctx;
        CHECK_EQ_INT(ts_blake2s(one, out_len, in, total, key_len ? key : NULL, key_len), 0);
        CHECK_EQ_INT(ts_blake2s_init(&ctx, out_len, key_len ? key : NULL, key_len), 0);
        while (pos < total) {
          size_t n = chunks[c++ % (sizeof chunks / sizeof chunks[0])];
          if (n > total - pos) n = total - pos;
          ts_blake2s_update(&ctx, in + pos, n);
          pos += n;
        }
        memset(streamed, 0, sizeof streamed);
        ts_blake2s_final(&ctx, streamed, out_len);
        CHECK_MEM(streamed, one, out_len);
      }
    }
  }
  /* Unkeyed streaming of "abc" in three calls still matches RFC 7693 Appendix B. */
  {
    ts_blake2s_ctx ctx;
    uint8_t want[32];
    HEX(want, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
    CHECK_EQ_INT(ts_blake2s_init(&ctx, 32, NULL, 0), 0);
    ts_blake2s_update(&ctx, "a", 1);
    ts_blake2s_update(&ctx, "", 0);
    ts_blake2s_update(&ctx, "bc", 2);
    ts_blake2s_final(&ctx, streamed, 32);
    CHECK_MEM(streamed, want, 32);
  }
}

static void blake2s_bad_lengths(void) {
  uint8_t out[33], key[33] = {0};
  ts_blake2s_ctx ctx;
  CHECK_EQ_INT(ts_blake2s(out, 0, "x", 1, NULL, 0), -1);
  CHECK_EQ_INT(ts_blake2s(out, 33, "x", 1, NULL, 0), -1);
  CHECK_EQ_INT(ts_blake2s(out, 32, "x", 1, key, 33), -1);
  CHECK_EQ_INT(ts_blake2s_init(&ctx, 0, NULL, 0), -1);
  CHECK_EQ_INT(ts_blake2s_init(&ctx, 33, NULL, 0), -1);
  CHECK_EQ_INT(ts_blake2s_init(&ctx, 32, key, 33), -1);
  CHECK_EQ_INT(ts_blake2s(out, 32, NULL, 0, NULL, 0), 0); /* empty input, no key */
  /* final with another length than init's: zeros, never stale bytes; the context is wiped either way. */
  memset(out, 0xee, sizeof out);
  CHECK_EQ_INT(ts_blake2s_init(&ctx, 32, NULL, 0), 0);
  ts_blake2s_update(&ctx, "abc", 3);
  ts_blake2s_final(&ctx, out, 16);
  CHECK(ts_ct_is_zero(out, 16));
  CHECK_EQ_INT(out[16], 0xee);
  CHECK(ts_ct_is_zero(&ctx, sizeof ctx));
}

/* ---------------------------------------------------------------- HMAC-BLAKE2s and the Noise KDF */

/* There is no RFC vector for HMAC-BLAKE2s. The expected values were computed independently with Node.js
 * v20.20.2 (OpenSSL) on the command line, where seq(n, s) is the n bytes s, s+1, … (mod 256):
 *   const h = (k, m) => crypto.createHmac('blake2s256', k).update(m).digest('hex');
 *   A: h(Buffer.from('key'), Buffer.from('The quick brown fox jumps over the lazy dog'))
 *   B: h(Buffer.alloc(0), Buffer.alloc(0))
 *   C: h(seq(32, 0), seq(64, 0))
 *   D: h(seq(64, 0), Buffer.from('abc'))                           (key exactly one block)
 *   E: h(Buffer.alloc(100, 0xaa), Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'))
 *   F: h(seq(65, 0), seq(200, 0))                                   (key one byte over a block) */
static void hmac_blake2s_node(void) {
  static const char fox[] = "The quick brown fox jumps over the lazy dog";
  static const char big[] = "Test Using Larger Than Block-Size Key - Hash Key First";
  uint8_t want[32], out[32], s[200], aa[100];
  for (size_t i = 0; i < sizeof s; i++) s[i] = (uint8_t)i;
  memset(aa, 0xaa, sizeof aa);

  HEX(want, "f93215bb90d4af4c3061cd932fb169fb8bb8a91d0b4022baea1271e1323cd9a0");
  ts_hmac_blake2s(out, (const uint8_t *)"key", 3, (const uint8_t *)fox, strlen(fox));
  CHECK_MEM(out, want, 32);
  HEX(want, "eaf4bb25938f4d20e72656bbbc7a9bf63c0c18537333c35bdb67db1402661acd");
  ts_hmac_blake2s(out, NULL, 0, NULL, 0);
  CHECK_MEM(out, want, 32);
  HEX(want, "3b35e945d05ac982850451ac8b6cdfffb98e56f50b95272fab665de081691056");
  ts_hmac_blake2s(out, s, 32, s, 64);
  CHECK_MEM(out, want, 32);
  HEX(want, "3a0ef09eac123871fb79852ec512086d013abff437bd68ca03630932bd6ba81f");
  ts_hmac_blake2s(out, s, 64, (const uint8_t *)"abc", 3);
  CHECK_MEM(out, want, 32);
  HEX(want, "6d5406353ca2d942cdc577ddbaaf90883f43b999eb3878979e68deb5d2e09563");
  ts_hmac_blake2s(out, aa, sizeof aa, (const uint8_t *)big, strlen(big));
  CHECK_MEM(out, want, 32);
  HEX(want, "ef6a7a193a0473432359174bbb87e963f3e681642597347c2cb473e44769fd41");
  ts_hmac_blake2s(out, s, 65, s, 200);
  CHECK_MEM(out, want, 32);
}

/* Noise's HKDF(ck, input) is RFC 5869 HKDF with salt = ck and empty info. Expected values from Node.js:
 *   crypto.hkdfSync('blake2s256', ikm, ck, Buffer.alloc(0), 96)  with ck = seq(32, 0x40), ikm = seq(32, 0x80)
 *   crypto.hkdfSync('blake2s256', Buffer.alloc(0), ck, Buffer.alloc(0), 64)   (empty input, as in Split()) */
static void kdf_node_hkdf(void) {
  uint8_t ck[32], ikm[32], want[96], o1[32], o2[32], o3[32], same[32];
  for (size_t i = 0; i < 32; i++) {
    ck[i] = (uint8_t)(0x40 + i);
    ikm[i] = (uint8_t)(0x80 + i);
  }
  HEX(want, "c1d38aac9c58d06e6ef12403a56f106f559737a95a6ad0d07afbd2154b5daabe"
            "cf6ed3e1efd252e50141d181905f077ba1d55371e8bd063360e963f7b519843b"
            "133bd1e2d11f61f69c3906cf5078d26fb5a6d8f0be87e646d8c827ebbbef8f04");
  ts_kdf(o1, o2, o3, ck, ikm, sizeof ikm);
  CHECK_MEM(o1, want, 32);
  CHECK_MEM(o2, want + 32, 32);
  CHECK_MEM(o3, want + 64, 32);
  memset(o1, 0, 32);
  memset(o2, 0, 32);
  ts_kdf(o1, o2, NULL, ck, ikm, sizeof ikm);
  CHECK_MEM(o1, want, 32);
  CHECK_MEM(o2, want + 32, 32);
  memset(o1, 0, 32);
  ts_kdf(o1, NULL, NULL, ck, ikm, sizeof ikm);
  CHECK_MEM(o1, want, 32);
  /* out1 may alias ck (MixKey writes the new chaining key over the old one). */
  memcpy(same, ck, 32);
  ts_kdf(same, o2, NULL, same, ikm, sizeof ikm);
  CHECK_MEM(same, want, 32);
  CHECK_MEM(o2, want + 32, 32);

  HEXN(want, 64, "78eea5e4bfedc2e792dc08620303ca6266f1fd18fab37c848ab8e97d65665f68"
                 "b458121cc4faa0a6c9552680d783a1f7ccea37e483bf5a88b990f5ebe26057cc");
  ts_kdf(o1, o2, NULL, ck, NULL, 0);
  CHECK_MEM(o1, want, 32);
  CHECK_MEM(o2, want + 32, 32);
}

/* ---------------------------------------------------------------- Noise IK: Tailscale's ts2021 handshake */

/* Values from test/fixtures/control/ts2021-handshake.json (Tailscale v1.72.1 control/controlbase, protocol version
 * 145, deterministic random source). */
static const char ts_machine_priv[] = "40350977ae29970e331926c3027b58fd5cfe94882bc7af04f9f9b234c3ebf76e";
static const char ts_machine_pub[] = "e35228126c4a3f515f8c294c09831a6bda7acd05798c1aff18fb043d428dd143";
static const char ts_control_priv[] = "0806ffab55410c95383ea98b8b566a320d2bafd6ecc519d189078e1dd8715254";
static const char ts_control_pub[] = "4e896a91726cb4a3579927b03fb46552216a50be8e6b39b30f1096a1fbfbde56";
/* randomReadsHex[0] and [1] are the unclamped machine and control private keys. */
static const char ts_rand_machine[] = "43350977ae29970e331926c3027b58fd5cfe94882bc7af04f9f9b234c3ebf7ae";
static const char ts_rand_control[] = "0d06ffab55410c95383ea98b8b566a320d2bafd6ecc519d189078e1dd8715254";
static const char ts_client_eph[] = "498d505dbd52ecb86b188940cef1cec2953ca25c7d176c19e544ba38b9bbbbd1"; /* randomReadsHex[2] */
static const char ts_server_eph[] = "a4ee0c1ed1b5a34e27bdf61dc637a0e20c6c0a571bf509a8afeb3fb242561aba"; /* randomReadsHex[3] */
static const char ts_handshake_hash[] = "5883d2b688b6384afcfaecac20d5d0aa89101380750390c2f4eef0200fa42327";
static const char ts_initiation[] =
    "0091010060300181d6455a8924f1545a11d5d90dd5de80b83d2b0a0ecab77128"
    "b8c309844b57acc47f44a86baacb399122b806e1c219e6558a96673873d50eb6"
    "03b174687fdc0c94f03be56e044a17e56f99dc2ef9e9a30d93f5811764d637ff"
    "5a04eb2fc0";
static const char ts_response[] =
    "0200302a37299c0480f801c8c5bd5616d7092a7c1a065506e50fa0bb2ec77be4"
    "558c66fd310f1851b5bf7b0d72f2850d0ead96";
/* The first record frames after the handshake, and the first 32 bytes and the BLAKE2s-256 (computed with
 * Python's hashlib) of the 4096- and 942-byte frames that a 5000-byte write (bytes i mod 256) was split into. */
static const char ts_rec_client0[] =
    "04001dace17f59f90075a777175c475df5ac22460126e7178db7b4a054fadec6";
static const char ts_rec_server0[] =
    "04001d9d5c5a3fe93cf471be20ab746ea8a1bb4a59314b6e7df0e108afaf4603";
static const char ts_rec_client1[] =
    "040029498eabc8c46a622e55b99b6df912c8eec906875e8edd4c9c1b97faa59c"
    "608fe745c86f50042749c8a2";
static const char ts_frame4096_head[] = "040ffd1a69991e2fd7a9ddd890d977626f9e588642a4c511c66fea3f7e96fd38";
static const char ts_frame4096_hash[] = "fcd8d6ea9ef34213f14a57f0ed0246f1b558c37f398d0c51af1f2f0b9a8d9a78";
static const char ts_frame942_head[] = "0403ab99fffc10ab6112f668235e5c146bd2be612ab2beb0a9af5289320ecc84";
static const char ts_frame942_hash[] = "c09c4e850e6b578ffd32de0823e66b1adc3b8fca55b16425c218d88b08b56da6";

typedef struct {
  uint8_t h[32], ck[32], k[32];
} noise_state;

static void noise_init(noise_state *s) {
  static const char name[] = "Noise_IK_25519_ChaChaPoly_BLAKE2s"; /* 33 bytes > 32, so h = HASH(name) */
  static const char prologue[] = "Tailscale Control Protocol v145";
  uint8_t rs[32];
  HEX(rs, ts_control_pub);
  CHECK_EQ_INT(ts_blake2s(s->h, 32, name, strlen(name), NULL, 0), 0);
  memcpy(s->ck, s->h, 32);
  memset(s->k, 0, 32);
  ts_blake2s_ctx c;
  ts_blake2s_init(&c, 32, NULL, 0);
  ts_blake2s_update(&c, s->h, 32);
  ts_blake2s_update(&c, prologue, strlen(prologue));
  ts_blake2s_final(&c, s->h, 32);
  ts_blake2s_init(&c, 32, NULL, 0);
  ts_blake2s_update(&c, s->h, 32);
  ts_blake2s_update(&c, rs, 32);
  ts_blake2s_final(&c, s->h, 32);
}

static void noise_mix_hash(noise_state *s, const uint8_t *data, size_t len) {
  ts_blake2s_ctx c;
  ts_blake2s_init(&c, 32, NULL, 0);
  ts_blake2s_update(&c, s->h, 32);
  ts_blake2s_update(&c, data, len);
  ts_blake2s_final(&c, s->h, 32);
}

/* MixKey(DH(priv, pub)): ck, k = HKDF(ck, dh). */
static void noise_mix_dh(noise_state *s, const uint8_t priv[32], const uint8_t pub[32]) {
  uint8_t dh[32];
  CHECK_EQ_INT(ts_x25519(dh, priv, pub), 0);
  ts_kdf(s->ck, s->k, NULL, s->ck, dh, sizeof dh);
}

/* Handshake messages use each key once, with the all-zero nonce and AD = h. */
static const uint8_t zero_nonce[12] = {0};

static void noise_encrypt_hash(noise_state *s, uint8_t *dst, const uint8_t *src, size_t len) {
  ts_chacha_seal(dst, src, len, s->h, 32, zero_nonce, s->k);
  noise_mix_hash(s, dst, len + 16);
}

static int noise_decrypt_hash(noise_state *s, uint8_t *dst, const uint8_t *src, size_t len) {
  int r = ts_chacha_open(dst, src, len, s->h, 32, zero_nonce, s->k);
  noise_mix_hash(s, src, len);
  return r;
}

/* controlbase's record nonce: 4 zero bytes then the counter big-endian (not WireGuard's little-endian). */
static void ts2021_record(uint8_t *frame, const uint8_t *pt, size_t len, uint64_t counter, const uint8_t key[32]) {
  uint8_t nonce[12] = {0};
  for (int i = 0; i < 8; i++) nonce[4 + i] = (uint8_t)(counter >> (56 - 8 * i));
  frame[0] = 0x04;
  frame[1] = (uint8_t)((len + 16) >> 8);
  frame[2] = (uint8_t)(len + 16);
  ts_chacha_seal(frame + 3, pt, len, NULL, 0, nonce, key);
}

static int ts2021_open_record(uint8_t *pt, const uint8_t *frame, size_t frame_len, uint64_t counter,
                              const uint8_t key[32]) {
  uint8_t nonce[12] = {0};
  for (int i = 0; i < 8; i++) nonce[4 + i] = (uint8_t)(counter >> (56 - 8 * i));
  if (frame_len < 3 + 16 || frame[0] != 0x04 || (size_t)(frame[1] << 8 | frame[2]) != frame_len - 3) return -1;
  return ts_chacha_open(pt, frame + 3, frame_len - 3, NULL, 0, nonce, key);
}

/* Both sides of the Noise_IK_25519_ChaChaPoly_BLAKE2s handshake, built only from crypto.h primitives, must
 * reproduce Tailscale's 101-byte initiation, 51-byte response and final handshake hash byte for byte. */
static void noise_ts2021_handshake(void) {
  uint8_t machine_priv[32], machine_pub[32], control_priv[32], control_pub[32], ce_priv[32], se_priv[32];
  uint8_t pub[32], raw[32], want_init[101], want_resp[51], want_hash[32], init[101], resp[51], got[32];
  noise_state cl, sv;
  HEX(machine_priv, ts_machine_priv);
  HEX(machine_pub, ts_machine_pub);
  HEX(control_priv, ts_control_priv);
  HEX(control_pub, ts_control_pub);
  HEX(ce_priv, ts_client_eph);
  HEX(se_priv, ts_server_eph);
  HEX(want_init, ts_initiation);
  HEX(want_resp, ts_response);
  HEX(want_hash, ts_handshake_hash);

  /* The static keys: the JSON's private keys are the random reads clamped, and their public keys match. */
  HEX(raw, ts_rand_machine);
  ts_x25519_clamp(raw);
  CHECK_MEM(raw, machine_priv, 32);
  HEX(raw, ts_rand_control);
  ts_x25519_clamp(raw);
  CHECK_MEM(raw, control_priv, 32);
  ts_x25519_public(pub, machine_priv);
  CHECK_MEM(pub, machine_pub, 32);
  ts_x25519_public(pub, control_priv);
  CHECK_MEM(pub, control_pub, 32);

  /* Client: initiation = version u16 BE, type 1, length 96 BE, e, enc(s), tag. */
  noise_init(&cl);
  init[0] = 0x00;
  init[1] = 145;
  init[2] = 0x01;
  init[3] = 0x00;
  init[4] = 96;
  ts_x25519_public(init + 5, ce_priv); /* e */
  noise_mix_hash(&cl, init + 5, 32);
  noise_mix_dh(&cl, ce_priv, control_pub);           /* es */
  noise_encrypt_hash(&cl, init + 37, machine_pub, 32); /* s */
  noise_mix_dh(&cl, machine_priv, control_pub);      /* ss */
  noise_encrypt_hash(&cl, init + 85, NULL, 0);       /* empty payload */
  CHECK_MEM(init, want_init, sizeof init);

  /* Server: reads the (published) initiation and learns the machine key. */
  noise_init(&sv);
  noise_mix_hash(&sv, want_init + 5, 32);
  noise_mix_dh(&sv, control_priv, want_init + 5);
  CHECK_EQ_INT(noise_decrypt_hash(&sv, got, want_init + 37, 48), 0);
  CHECK_MEM(got, machine_pub, 32);
  noise_mix_dh(&sv, control_priv, got);
  CHECK_EQ_INT(noise_decrypt_hash(&sv, got, want_init + 85, 16), 0);
  CHECK_MEM(sv.h, cl.h, 32);

  /* Server: response = type 2, length 48 BE, e, tag. */
  resp[0] = 0x02;
  resp[1] = 0x00;
  resp[2] = 48;
  ts_x25519_public(resp + 3, se_priv);
  noise_mix_hash(&sv, resp + 3, 32);
  noise_mix_dh(&sv, se_priv, want_init + 5); /* ee */
  noise_mix_dh(&sv, se_priv, machine_pub);   /* se */
  noise_encrypt_hash(&sv, resp + 35, NULL, 0);
  CHECK_MEM(resp, want_resp, sizeof resp);
  CHECK_MEM(sv.h, want_hash, 32);

  /* Client: reads the (published) response. */
  noise_mix_hash(&cl, want_resp + 3, 32);
  noise_mix_dh(&cl, ce_priv, want_resp + 3);      /* ee */
  noise_mix_dh(&cl, machine_priv, want_resp + 3); /* se */
  CHECK_EQ_INT(noise_decrypt_hash(&cl, got, want_resp + 35, 16), 0);
  CHECK_MEM(cl.h, want_hash, 32);

  /* Split: k1 client->server, k2 server->client; then the record frames. */
  uint8_t k1[32], k2[32], s1[32], s2[32];
  ts_kdf(k1, k2, NULL, cl.ck, NULL, 0);
  ts_kdf(s1, s2, NULL, sv.ck, NULL, 0);
  CHECK_MEM(k1, s1, 32);
  CHECK_MEM(k2, s2, 32);
  {
    uint8_t want[44], frame[44], pt[25];
    HEXN(want, 32, ts_rec_client0);
    ts2021_record(frame, (const uint8_t *)"hello control", 13, 0, k1);
    CHECK_MEM(frame, want, 32);
    CHECK_EQ_INT(ts2021_open_record(pt, want, 32, 0, k1), 0);
    CHECK_MEM(pt, "hello control", 13);

    HEXN(want, 32, ts_rec_server0);
    ts2021_record(frame, (const uint8_t *)"hello machine", 13, 0, k2);
    CHECK_MEM(frame, want, 32);
    CHECK_EQ_INT(ts2021_open_record(pt, want, 32, 0, k2), 0);
    CHECK_MEM(pt, "hello machine", 13);
    CHECK_EQ_INT(ts2021_open_record(pt, want, 32, 0, k1), -1);

    HEXN(want, 44, ts_rec_client1);
    ts2021_record(frame, (const uint8_t *)"second record from client", 25, 1, k1);
    CHECK_MEM(frame, want, 44);
    CHECK_EQ_INT(ts2021_open_record(pt, want, 44, 1, k1), 0);
    CHECK_MEM(pt, "second record from client", 25);
    /* A little-endian counter (WireGuard's layout) must not open it. */
    CHECK_EQ_INT(ts_chacha_open_ctr(pt, want + 3, 41, NULL, 0, 1, k1), -1);
  }
  {
    static uint8_t data[5000], frame[4096];
    uint8_t head[32], hash[32], want_hash_f[32];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)i;
    ts2021_record(frame, data, 4077, 2, k1);
    HEX(head, ts_frame4096_head);
    CHECK_MEM(frame, head, 32);
    HEX(want_hash_f, ts_frame4096_hash);
    ts_blake2s(hash, 32, frame, 4096, NULL, 0);
    CHECK_MEM(hash, want_hash_f, 32);
    ts2021_record(frame, data + 4077, 923, 3, k1);
    HEX(head, ts_frame942_head);
    CHECK_MEM(frame, head, 32);
    HEX(want_hash_f, ts_frame942_hash);
    ts_blake2s(hash, 32, frame, 942, NULL, 0);
    CHECK_MEM(hash, want_hash_f, 32);
  }
}

/* ---------------------------------------------------------------- NaCl box (Curve25519-XSalsa20-Poly1305) */

/* NaCl tests/box.c (libsodium test/default/box.c): alicesk, bobpk, nonce and the 131-byte message (after the 32
 * zero bytes crypto_box wants in front); box.out (box.exp) prints c[16..162] of crypto_box's output, i.e.
 * tag || ciphertext without NaCl's 16 leading zero bytes, which is libsodium's "easy" layout used here. */
static const char box_alicesk[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char box_bobpk[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char box_bobsk[] = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";     /* tests/box2.c */
static const char box_alicepk[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"; /* tests/box2.c */
static const char box_nonce[] = "69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37";
static const char box_m[] =
    "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffc"
    "e5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb31"
    "0e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde"
    "048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f93776384864"
    "5e0705";
static const char box_c[] =
    "f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce"
    "48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c972"
    "71d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae"
    "90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b3"
    "7973f622a43d14a6599b1f654cb45a74e355a5";

static void nacl_box_seal_vector(void) {
  uint8_t sk[32], pk[32], nonce[24], m[131], want[147], out[147];
  HEX(sk, box_alicesk);
  HEX(pk, box_bobpk);
  HEX(nonce, box_nonce);
  HEX(m, box_m);
  HEX(want, box_c);
  CHECK_EQ_INT(ts_box_seal(out, m, sizeof m, nonce, pk, sk), 0);
  CHECK_MEM(out, want, sizeof want);
}

/* NaCl tests/box2.c: Bob opens Alice's box. */
static void nacl_box_open_vector(void) {
  uint8_t sk[32], pk[32], nonce[24], want[131], c[147], out[131];
  HEX(sk, box_bobsk);
  HEX(pk, box_alicepk);
  HEX(nonce, box_nonce);
  HEX(want, box_m);
  HEX(c, box_c);
  CHECK_EQ_INT(ts_box_open(out, c, sizeof c, nonce, pk, sk), 0);
  CHECK_MEM(out, want, sizeof want);
  c[0] ^= 1; /* tag */
  CHECK_EQ_INT(ts_box_open(out, c, sizeof c, nonce, pk, sk), -1);
  c[0] ^= 1;
  c[146] ^= 1; /* ciphertext */
  CHECK_EQ_INT(ts_box_open(out, c, sizeof c, nonce, pk, sk), -1);
  c[146] ^= 1;
  nonce[23] ^= 1;
  CHECK_EQ_INT(ts_box_open(out, c, sizeof c, nonce, pk, sk), -1);
  nonce[23] ^= 1;
  CHECK_EQ_INT(ts_box_open(out, c, 15, nonce, pk, sk), -1);
  CHECK_EQ_INT(ts_box_open(out, c, 16, nonce, pk, sk), -1); /* an empty message's tag that is wrong */
}

/* beforenm/afternm give the same bytes, and both parties derive the same shared key. */
static void nacl_box_beforenm_afternm(void) {
  uint8_t ask[32], bpk[32], bsk[32], apk[32], nonce[24], m[131], want[147], out[147], back[131];
  uint8_t ka[32], kb[32];
  HEX(ask, box_alicesk);
  HEX(bpk, box_bobpk);
  HEX(bsk, box_bobsk);
  HEX(apk, box_alicepk);
  HEX(nonce, box_nonce);
  HEX(m, box_m);
  HEX(want, box_c);
  CHECK_EQ_INT(ts_box_beforenm(ka, bpk, ask), 0);
  CHECK_EQ_INT(ts_box_beforenm(kb, apk, bsk), 0);
  CHECK_MEM(ka, kb, 32);
  ts_box_seal_afternm(out, m, sizeof m, nonce, ka);
  CHECK_MEM(out, want, sizeof want);
  CHECK_EQ_INT(ts_box_open_afternm(back, out, sizeof out, nonce, kb), 0);
  CHECK_MEM(back, m, sizeof m);
  out[20] ^= 2;
  CHECK_EQ_INT(ts_box_open_afternm(back, out, sizeof out, nonce, kb), -1);
  CHECK_EQ_INT(ts_box_open_afternm(back, out, 10, nonce, kb), -1);
}

/* A small-order peer key (libsodium's test/default/box.c small_order_p) is refused. */
static void nacl_box_small_order_rejected(void) {
  uint8_t sk[32], bad[32], nonce[24] = {0}, m[8] = {0}, out[24], shared[32];
  HEX(sk, box_alicesk);
  HEX(bad, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
  CHECK_EQ_INT(ts_box_seal(out, m, sizeof m, nonce, bad, sk), -1);
  memset(shared, 0xaa, sizeof shared);
  CHECK_EQ_INT(ts_box_beforenm(shared, bad, sk), -1);
  CHECK(ts_ct_is_zero(shared, 32));
  memset(bad, 0, sizeof bad);
  CHECK_EQ_INT(ts_box_beforenm(shared, bad, sk), -1);
}

/* ---------------------------------------------------------------- DERP and disco boxes from Tailscale */

/* test/fixtures/devnet-derp/vectors.json: a disco packet is magic(6) || sender disco public key (32) || nonce (24) ||
 * box. Each is opened with the recipient's private key and re-sealed with the sender's, with the same nonce,
 * giving identical bytes. */
static const char disco_apriv[] = "482364f29d6e781ba6eb99fd5737131829217bc4cea099d61b9f21a932283853";
static const char disco_apub[] = "cd9cbf2f1c9dc0f15428162aa7faf069c06bcc5ab6429cfe83a74b8071068c04";
static const char disco_bpriv[] = "b841364000068958727ddebf00f00e3b8129b5ebd9932c8ba351b18c0c6d654c";
static const char disco_bpub[] = "a9b2abbf71a95f0e8f06a8c6f50b160c911711b2e077768a7fea575dda28742b";

static void check_disco(const char *packet_hex, const char *clear_hex, int from_a) {
  uint8_t apriv[32], apub[32], bpriv[32], bpub[32], pkt[200], clear[100], out[100], again[200];
  size_t n = ts_hex(pkt, sizeof pkt, packet_hex), m = ts_hex(clear, sizeof clear, clear_hex);
  HEX(apriv, disco_apriv);
  HEX(apub, disco_apub);
  HEX(bpriv, disco_bpriv);
  HEX(bpub, disco_bpub);
  ts_x25519_public(out, apriv);
  CHECK_MEM(out, apub, 32);
  ts_x25519_public(out, bpriv);
  CHECK_MEM(out, bpub, 32);
  CHECK(n <= sizeof pkt && m <= sizeof clear && n == 6 + 32 + 24 + 16 + m);
  if (n != 6 + 32 + 24 + 16 + m || n > sizeof pkt) return;
  CHECK_MEM(pkt, "TS\xf0\x9f\x92\xac", 6);
  CHECK_MEM(pkt + 6, from_a ? apub : bpub, 32);
  const uint8_t *nonce = pkt + 38, *box = pkt + 62;
  CHECK_EQ_INT(ts_box_open(out, box, n - 62, nonce, from_a ? apub : bpub, from_a ? bpriv : apriv), 0);
  CHECK_MEM(out, clear, m);
  memcpy(again, pkt, 62);
  CHECK_EQ_INT(ts_box_seal(again + 62, clear, m, nonce, from_a ? bpub : apub, from_a ? apriv : bpriv), 0);
  CHECK_MEM(again, pkt, n);
}

static void disco_open_and_reseal(void) {
  check_disco("5453f09f92accd9cbf2f1c9dc0f15428162aa7faf069c06bcc5ab6429cfe83a7"
              "4b8071068c04dd4025d3f44066d654a29ec5e9df572df860e617ee172e6a5489"
              "78a6d1e3c27838a6a72f845faa21bd778f34477cf976ac11322b388141a6a071"
              "860b2c56ec2ade0dfb70519a4472d325c8e0f9ea68278c0b2dd84270",
              "01000102030405060708090a0b0c7bb45121acbcc13d1736ec28b0806bda4c76"
              "b5276db3ef68a61e3b0908902b6f", 1);
  check_disco("5453f09f92aca9b2abbf71a95f0e8f06a8c6f50b160c911711b2e077768a7fea"
              "575dda28742beee49209b983d0087bc70f7c7c1b7746d75677c6d0ae03fed32d"
              "74362cbf2c5d28986258b38f52afc3375d43d789e85790339b659beba2430222"
              "d16d1d1c7579a8edd11d1bd52847",
              "02000102030405060708090a0b0c00000000000000000000ffffc0000207a2a9", 0);
  check_disco("5453f09f92accd9cbf2f1c9dc0f15428162aa7faf069c06bcc5ab6429cfe83a7"
              "4b8071068c048cf1242e3349a8f8afb57651f14ecfa6ece7792d29ac5e5b8a6a"
              "7d3c50090009b3f1b4de72cf1a7f361f8085ae4b55d960d16056475ec6bfac40"
              "c6fe374556e79dbe42351639aeb9060f8c59858f",
              "030000000000000000000000ffffc0000207a2a920010db80000000000000000"
              "00000007a2a9", 1);
}

/* DERP (frame = type u8, length u32 BE, payload), client a: ClientInfo = client public key || nonce || box to
 * the server; ServerInfo = nonce || box to the client. Both are JSON; re-sealing gives the same bytes. */
static void derp_client_server_info(void) {
  uint8_t apriv[32], apub[32], spriv[32], spub[32], ci[109], si[58], out[64], again[109];
  HEX(apriv, "c02a202883da05f9fb3ded906b1bd86e33c6b5dc2a4b4beb37714ac3c3150573");
  HEX(apub, "7bb45121acbcc13d1736ec28b0806bda4c76b5276db3ef68a61e3b0908902b6f");
  HEX(spriv, "10491a5945a0646c2342ba414a78fb1193962ae1a9c0a8a081579825d0ff4e5f");
  HEX(spub, "eb771496f1108813c90a67833700fe98144292e59e21090361cb32cdf78d7051");
  HEX(ci, "02000000687bb45121acbcc13d1736ec28b0806bda4c76b5276db3ef68a61e3b"
          "0908902b6fc8583cb026fdfc6576ccb4dd1fe7717c8c220a12fe4e27e5702aa6"
          "8fd56228104be809873c15812f1a50a7d611c3b4de81904e12ab6e262c64ec5d"
          "e4c02c1c4b4c1ada545e9ce89a");
  HEX(si, "0300000035566796af9f1dfade94e93e9282105d9387b0109db293c998980b92"
          "c36afdef5a6052102fea3e2510bd2b51fc6bcc39da515f9fa29e");
  ts_x25519_public(out, apriv);
  CHECK_MEM(out, apub, 32);
  ts_x25519_public(out, spriv);
  CHECK_MEM(out, spub, 32);

  CHECK_EQ_INT(ci[0], 0x02);
  CHECK_EQ_INT(ci[4], 104);
  CHECK_MEM(ci + 5, apub, 32);
  memset(out, 0, sizeof out);
  CHECK_EQ_INT(ts_box_open(out, ci + 61, 48, ci + 37, apub, spriv), 0);
  CHECK(out[0] == '{' && out[31] == '}');
  memcpy(again, ci, 61);
  CHECK_EQ_INT(ts_box_seal(again + 61, out, 32, ci + 37, spub, apriv), 0);
  CHECK_MEM(again, ci, sizeof ci);

  CHECK_EQ_INT(si[0], 0x03);
  CHECK_EQ_INT(si[4], 53);
  memset(out, 0, sizeof out);
  CHECK_EQ_INT(ts_box_open(out, si + 29, 29, si + 5, spub, apriv), 0);
  CHECK(out[0] == '{' && out[12] == '}');
  memcpy(again, si, 29);
  CHECK_EQ_INT(ts_box_seal(again + 29, out, 13, si + 5, apub, spriv), 0);
  CHECK_MEM(again, si, sizeof si);
}

/* ---------------------------------------------------------------- helpers */

static void ct_equal_and_is_zero(void) {
  uint8_t a[64], b[64];
  for (size_t i = 0; i < sizeof a; i++) a[i] = b[i] = (uint8_t)(i * 3 + 1);
  CHECK_EQ_INT(ts_ct_equal(a, b, sizeof a), 1);
  CHECK_EQ_INT(ts_ct_equal(a, b, 0), 1);
  for (size_t i = 0; i < sizeof a; i += 7) {
    for (int bit = 0; bit < 8; bit++) {
      b[i] ^= (uint8_t)(1u << bit);
      CHECK_EQ_INT(ts_ct_equal(a, b, sizeof a), 0);
      b[i] ^= (uint8_t)(1u << bit);
    }
  }
  b[63] = (uint8_t)~a[63];
  CHECK_EQ_INT(ts_ct_equal(a, b, sizeof a), 0);
  CHECK_EQ_INT(ts_ct_equal(a, b, 63), 1);

  memset(a, 0, sizeof a);
  CHECK_EQ_INT(ts_ct_is_zero(a, sizeof a), 1);
  CHECK_EQ_INT(ts_ct_is_zero(a, 0), 1);
  a[63] = 0x80;
  CHECK_EQ_INT(ts_ct_is_zero(a, sizeof a), 0);
  CHECK_EQ_INT(ts_ct_is_zero(a, 63), 1);
  a[0] = 1;
  CHECK_EQ_INT(ts_ct_is_zero(a, 1), 0);
}

static void wipe_zeroes(void) {
  uint8_t buf[77];
  memset(buf, 0xa5, sizeof buf);
  ts_wipe(buf + 1, 75);
  CHECK_EQ_INT(buf[0], 0xa5);
  CHECK(ts_ct_is_zero(buf + 1, 75));
  CHECK_EQ_INT(buf[76], 0xa5);
  ts_wipe(buf, 0);
  CHECK_EQ_INT(buf[0], 0xa5);
}

int main(void) {
  if (ts_crypto_init() != 0) return 2;
  CHECK_EQ_INT(ts_crypto_init(), 0); /* idempotent */
  RUN(x25519_rfc7748_5_2_vector1);
  RUN(x25519_rfc7748_5_2_vector2);
  RUN(x25519_rfc7748_5_2_iterated);
  RUN(x25519_rfc7748_6_1);
  RUN(x25519_low_order_rejected);
  RUN(x25519_clamp_bits);
  RUN(x25519_keypair_clamped);
  RUN(chacha_rfc8439_2_8_2_seal);
  RUN(chacha_rfc8439_2_8_2_open_and_tamper);
  RUN(chacha_rfc8439_a5_decrypt);
  RUN(chacha_ctr_nonce_layout);
  RUN(xchacha_draft03_a_3_1);
  RUN(blake2s_rfc7693_b_abc);
  RUN(blake2s_rfc7693_e_selftest);
  RUN(blake2s_kat_keyed);
  RUN(blake2s_streaming_chunks);
  RUN(blake2s_bad_lengths);
  RUN(hmac_blake2s_node);
  RUN(kdf_node_hkdf);
  RUN(noise_ts2021_handshake);
  RUN(nacl_box_seal_vector);
  RUN(nacl_box_open_vector);
  RUN(nacl_box_beforenm_afternm);
  RUN(nacl_box_small_order_rejected);
  RUN(disco_open_and_reseal);
  RUN(derp_client_server_info);
  RUN(ct_equal_and_is_zero);
  RUN(wipe_zeroes);
  TEST_MAIN_END();
}
