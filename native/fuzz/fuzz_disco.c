/* libFuzzer target: disco packets, disco messages and STUN messages from untrusted UDP/DERP input.
 * The first byte picks what the rest is:
 *   0: a raw datagram: the demux tests, then open with a fixed key (authentic packets are impossible to
 *      reach by mutation, so mode 1 does that)
 *   1: a disco cleartext: sealed with a fixed key, opened, decoded; a message that decodes must re-encode
 *      and decode to the same message
 *   2: a STUN message with the header's cookie and length, and the FINGERPRINT, fixed up so the attribute
 *      walk gets deep; a response that parses must rebuild to the same address
 * Crashes, sanitizer reports or broken invariants abort. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "disco/disco.h"
#include "disco/stun.h"

static void check_msg(const uint8_t *clear, size_t len) {
  ts_disco_msg m, m2;
  if (ts_disco_decode(&m, clear, len) != 0) return;
  if (m.type == TS_DISCO_CALL_ME_MAYBE && m.n_endpoints > TS_DISCO_MAX_ENDPOINTS) return;
  long n = ts_disco_encoded_len(&m);
  if (n < 0) abort();
  uint8_t *enc = malloc((size_t)n + 1);
  if (!enc) return;
  if (ts_disco_encode(enc, (size_t)n, &m) != n) abort();
  if (ts_disco_decode(&m2, enc, (size_t)n) != 0) abort();
  if (memcmp(&m, &m2, sizeof m) != 0) abort();
  free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int inited;
  if (!inited) {
    if (ts_crypto_init() != 0) abort();
    inited = 1;
  }
  if (size < 1) return 0;
  uint8_t mode = data[0] % 3;
  data++, size--;
  uint8_t priv_a[32], pub_a[32], priv_b[32], pub_b[32], shared[32];
  memset(priv_a, 0x31, 32);
  memset(priv_b, 0x42, 32);
  ts_x25519_public(pub_a, priv_a);
  ts_x25519_public(pub_b, priv_b);
  if (ts_disco_shared_key(shared, pub_b, priv_a) != 0) abort();
  uint8_t *buf = malloc(size + TS_DISCO_OVERHEAD + 64);
  uint8_t *clear = malloc(size + TS_DISCO_OVERHEAD + 64);
  if (!buf || !clear) abort();

  if (mode == 0) {
    int d = ts_disco_is_disco(data, size);
    (void)ts_stun_is_stun(data, size);
    (void)ts_stun_is_binding_response(data, size);
    if (d) {
      (void)ts_disco_sender(data);
      long n = ts_disco_open(clear, size, data, size, shared);
      if (n >= 0) check_msg(clear, (size_t)n);
    }
    check_msg(data, size);
  } else if (mode == 1) {
    uint8_t nonce[24] = {1, 2, 3};
    long n = ts_disco_seal(buf, size + TS_DISCO_OVERHEAD, pub_a, shared, nonce, data, size);
    if (n != (long)(size + TS_DISCO_OVERHEAD)) abort();
    if (!ts_disco_is_disco(buf, (size_t)n)) abort();
    long c = ts_disco_open(clear, size, buf, (size_t)n, shared);
    if (c != (long)size || (size && memcmp(clear, data, size) != 0)) abort();
    check_msg(clear, size);
  } else {
    if (size < TS_STUN_HDR_LEN) {
      free(buf), free(clear);
      return 0;
    }
    size_t len = size & ~(size_t)3;
    memcpy(buf, data, len);
    buf[0] &= 0x3f;
    buf[4] = 0x21, buf[5] = 0x12, buf[6] = 0xA4, buf[7] = 0x42;
    buf[2] = (uint8_t)((len - TS_STUN_HDR_LEN) >> 8), buf[3] = (uint8_t)(len - TS_STUN_HDR_LEN);
    if ((data[1] & 1) && len >= TS_STUN_HDR_LEN + 8) { /* a correct fingerprint at the end */
      uint8_t *fp = buf + len - 8;
      fp[0] = 0x80, fp[1] = 0x28, fp[2] = 0, fp[3] = 4;
      uint32_t v = ts_stun_crc32(buf, len - 8) ^ TS_STUN_FINGERPRINT_XOR;
      fp[4] = (uint8_t)(v >> 24), fp[5] = (uint8_t)(v >> 16), fp[6] = (uint8_t)(v >> 8), fp[7] = (uint8_t)v;
    }
    uint8_t tx[12];
    ts_addr a, b;
    (void)ts_stun_parse_request(buf, len, tx);
    buf[0] = 0x01, buf[1] = 0x01; /* as a Binding success */
    if (ts_stun_parse_response(buf, len, tx, &a) == 0) {
      if (a.family != TS_ADDR_V4 && a.family != TS_ADDR_V6) abort();
      uint8_t resp[64], tx2[12];
      long n = ts_stun_response(resp, sizeof resp, tx, &a, data[1] & 2);
      if (n < 0) abort();
      if (ts_stun_parse_response(resp, (size_t)n, tx2, &b) != 0) abort();
      if (memcmp(tx, tx2, 12) != 0 || !ts_addr_equal(&a, &b)) abort();
    }
    (void)ts_stun_parse_response(data, size, tx, &a);
  }
  free(buf);
  free(clear);
  return 0;
}
