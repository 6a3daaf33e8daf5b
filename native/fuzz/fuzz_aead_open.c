/* libFuzzer target: the engine's ChaCha20-Poly1305 open (native/core/crypto/aead.c) against libsodium's, on
 * every code path the CPU has (ts_aead_cpu_limit). Input: a control byte (path, whether to seal first), the
 * key, the nonce, an additional-data length and bytes, then the box. With "seal first", the box is libsodium's
 * sealing of the rest, then one byte flipped where the input says (or none), so valid tags are reached too.
 * Both must agree on success and on the plaintext; a failed open leaves zeros. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/crypto.h"

#define MAX_BOX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    if (ts_crypto_init() != 0) abort();
    ready = 1;
  }
  if (size < 1 + 32 + 12 + 1 + 2) return 0;
  const uint8_t ctl = data[0];
  const uint8_t *key = data + 1, *nonce = data + 33;
  size_t ad_len = data[45] % 65;
  uint16_t flip = (uint16_t)(data[46] | data[47] << 8);
  data += 48;
  size -= 48;
  if (ad_len > size) ad_len = size;
  const uint8_t *ad = data;
  data += ad_len;
  size -= ad_len;
  if (size > MAX_BOX - 16) size = MAX_BOX - 16;

  static uint8_t box[MAX_BOX], ours[MAX_BOX], ref[MAX_BOX];
  size_t box_len;
  if (ctl & 0x80) {
    unsigned long long n = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(box, &n, data, size, ad, ad_len, NULL, nonce, key);
    box_len = (size_t)n;
    if (flip < box_len * 8 && (ctl & 0x40)) box[flip / 8] ^= (uint8_t)(1u << (flip % 8));
  } else {
    memcpy(box, data, size);
    box_len = size;
  }
  ts_aead_cpu_limit((enum ts_aead_level)((ctl & 0x3f) % (TS_AEAD_LEVEL_ALL + 1)));
  memset(ours, 0xa5, sizeof ours);
  int got = ts_aead_open(ours, box, box_len, ad, ad_len, nonce, key);
  unsigned long long ref_len = 0;
  int want = box_len < 16 ? -1
                          : crypto_aead_chacha20poly1305_ietf_decrypt(ref, &ref_len, NULL, box, box_len, ad, ad_len,
                                                                      nonce, key);
  if (got != (want == 0 ? 0 : -1)) abort();
  if (got == 0 && (ref_len != box_len - 16 || memcmp(ours, ref, box_len - 16) != 0)) abort();
  if (got != 0 && box_len >= 16)
    for (size_t i = 0; i < box_len - 16; i++)
      if (ours[i]) abort();
  /* In place agrees too. */
  if (got == 0) {
    memcpy(ours, box, box_len);
    if (ts_aead_open(ours, ours, box_len, ad, ad_len, nonce, key) != 0 || memcmp(ours, ref, box_len - 16) != 0)
      abort();
  }
  ts_aead_cpu_limit(TS_AEAD_LEVEL_ALL);
  return 0;
}
