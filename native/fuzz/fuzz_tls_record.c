/* libFuzzer target: the DERP connection's TLS 1.3 record layer (native/core/derp/tls_record.c). Input: the two
 * traffic secrets, a control byte, then either raw bytes taken as records (takeover sync first when the control
 * byte says so, then reads), or, in "sealed" mode, entries [inner type][length][padding][payload] that are
 * sealed correctly under the server key (following the reader's KeyUpdates), so authenticated content reaches
 * the message handling. Application data read must equal what was sealed; whatever is read back must never
 * crash; our writes must open under the mirror's keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "derp/tls_record.h"
#include "../test/tls_seal.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    if (ts_crypto_init() != 0) abort();
    ready = 1;
  }
  if (size < 65) return 0;
  static uint8_t buf[TS_TLS_MAX_RECORD + 64], scratch[TS_TLS_MAX_RECORD], out[2 * TS_TLS_MAX_RECORD];
  uint8_t ssec[32];
  memcpy(ssec, data + 32, 32);
  ts_tls_rl rl;
  ts_tls_rl_init(&rl, data, ssec);
  uint8_t ctl = data[64];
  data += 65;
  size -= 65;
  if (!(ctl & 2)) {
    if ((ctl & 1) && ts_tls_rl_sync_read(&rl, data, size, scratch) != 0) return 0;
    size_t off = 0;
    while (off < size) {
      long n = ts_tls_record_len(data + off, size - off);
      if (n <= 0) break;
      memcpy(buf, data + off, (size_t)n);
      off += (size_t)n;
      uint8_t *d;
      size_t dl;
      int r = ts_tls_rl_read(&rl, buf, (size_t)n, &d, &dl);
      if (r < 0 || r == TS_TLS_CLOSE) break;
      if (r == TS_TLS_DATA && dl > TS_TLS_MAX_PLAIN) abort();
    }
    ts_tls_rl_wipe(&rl);
    return 0;
  }
  uint64_t seq = 0;
  while (size >= 3) {
    uint8_t type = data[0];
    size_t n = data[1] * 64u, pad = data[2];
    data += 3;
    size -= 3;
    if (n > size) n = size;
    size_t w = ts_test_tls_seal(buf, ssec, seq++, type, data, n, pad);
    uint8_t *d;
    size_t dl;
    int r = ts_tls_rl_read(&rl, buf, w, &d, &dl);
    if (r == TS_TLS_DATA) {
      /* The content type is the last nonzero byte of payload + type (zeros before it are padding). */
      memcpy(scratch, data, n);
      scratch[n] = type;
      size_t m = n + 1;
      while (m > 0 && scratch[m - 1] == 0) m--;
      if (m == 0 || scratch[m - 1] != 23 || dl != m - 1 || memcmp(d, scratch, dl) != 0) abort();
    }
    data += n;
    size -= n;
    if (r < 0 || r == TS_TLS_CLOSE) break;
    if (r == TS_TLS_NONE && rl.rd.seq == 0) { /* a KeyUpdate: the reader moved to the next secret */
      uint8_t next[32];
      ts_tls13_expand_label(next, 32, ssec, "traffic upd", NULL, 0);
      memcpy(ssec, next, 32);
      seq = 0;
    }
  }
  /* Our writes (a KeyUpdate first if one was asked for) open under a mirror of our write keys. */
  ts_tls_rl mirror;
  ts_tls_rl_init(&mirror, ssec, rl.wr.secret);
  mirror.rd.seq = rl.wr.seq;
  size_t used;
  size_t w = ts_tls_rl_write(&rl, out, sizeof out, data, size, 1000, &used);
  size_t off = 0, got = 0;
  while (off < w) {
    long n = ts_tls_record_len(out + off, w - off);
    if (n <= 0) abort();
    uint8_t *d;
    size_t dl;
    int r = ts_tls_rl_read(&mirror, out + off, (size_t)n, &d, &dl);
    if (r == TS_TLS_DATA) {
      if (memcmp(d, data + got, dl) != 0) abort();
      got += dl;
    } else if (r != TS_TLS_NONE) {
      abort();
    }
    off += (size_t)n;
  }
  if (got != used) abort();
  ts_tls_rl_wipe(&rl);
  ts_tls_rl_wipe(&mirror);
  return 0;
}
