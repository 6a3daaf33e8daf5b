/* The DERP connection's TLS 1.3 record layer (native/core/derp/tls_record.c): HKDF-Expand-Label against
 * RFC 8448 §3 (the simple 1-RTT trace's application traffic keys), records both ways, tampering, wrong sequence,
 * oversized records, alerts, KeyUpdate both ways, padding, and the takeover's search for the first
 * application-epoch record. Records the test builds itself are sealed here with the primitives directly (not
 * through the code under test), so the layout is checked too. */
#include "crypto/crypto.h"
#include "derp/tls_record.h"
#include "tls_seal.h"
#include "test.h"

#include <stdlib.h>

#define HEX(buf, str) CHECK_EQ_INT(ts_hex((buf), sizeof(buf), (str)), sizeof(buf))

static uint8_t csec[32], ssec[32];

/* RFC 8448 §3: {server} and {client} "derive write traffic keys for application data" (AES-128-GCM, so
 * 16-byte keys; the label construction is what is checked). */
static void expand_label_rfc8448(void) {
  uint8_t prk[32], key[16], iv[12], want_key[16], want_iv[12];
  HEX(prk, "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
  HEX(want_key, "9f02283b6c9c07efc26bb9f2ac92e356");
  HEX(want_iv, "cf782b88dd83549aadf1e984");
  CHECK_EQ_INT(ts_tls13_expand_label(key, sizeof key, prk, "key", NULL, 0), 0);
  CHECK_EQ_INT(ts_tls13_expand_label(iv, sizeof iv, prk, "iv", NULL, 0), 0);
  CHECK_MEM(key, want_key, 16);
  CHECK_MEM(iv, want_iv, 12);
  HEX(prk, "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5");
  HEX(want_key, "17422dda596ed5d9acd890e3c63f5051");
  HEX(want_iv, "5b78923dee08579033e523d9");
  CHECK_EQ_INT(ts_tls13_expand_label(key, sizeof key, prk, "key", NULL, 0), 0);
  CHECK_EQ_INT(ts_tls13_expand_label(iv, sizeof iv, prk, "iv", NULL, 0), 0);
  CHECK_MEM(key, want_key, 16);
  CHECK_MEM(iv, want_iv, 12);
  uint8_t big[33];
  CHECK_EQ_INT(ts_tls13_expand_label(big, sizeof big, prk, "key", NULL, 0), -1);
}


static void setup(ts_tls_rl *cli, ts_tls_rl *srv) {
  for (int i = 0; i < 32; i++) csec[i] = (uint8_t)(i + 1), ssec[i] = (uint8_t)(0x80 + i);
  ts_tls_rl_init(cli, csec, ssec);
  ts_tls_rl_init(srv, ssec, csec); /* the server's write side is the server secret */
}

static void both_ways(void) {
  ts_tls_rl cli, srv;
  setup(&cli, &srv);
  static uint8_t msg[40000], wire[50000];
  for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 7);
  size_t used;
  size_t w = ts_tls_rl_write(&cli, wire, sizeof wire, msg, sizeof msg, 0, &used);
  CHECK_EQ_INT(used, sizeof msg);
  CHECK_EQ_INT(w, sizeof msg + 3 * TS_TLS_OVERHEAD); /* 16384 + 16384 + 7232 */
  size_t off = 0, got = 0;
  while (off < w) {
    long n = ts_tls_record_len(wire + off, w - off);
    CHECK(n > 0);
    if (n <= 0) return;
    uint8_t *d;
    size_t dl;
    CHECK_EQ_INT(ts_tls_rl_read(&srv, wire + off, (size_t)n, &d, &dl), TS_TLS_DATA);
    CHECK_MEM(d, msg + got, dl);
    got += dl;
    off += (size_t)n;
  }
  CHECK_EQ_INT(got, sizeof msg);
  /* The other way, and a cap that holds one record only. */
  w = ts_tls_rl_write(&srv, wire, 100 + TS_TLS_OVERHEAD, msg, 250, 100, &used);
  CHECK_EQ_INT(used, 100);
  uint8_t *d;
  size_t dl;
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_DATA);
  CHECK_EQ_INT(dl, 100);
  CHECK_MEM(d, msg, 100);
  /* Incomplete records wait; unknown types and oversize lengths are errors. */
  CHECK_EQ_INT(ts_tls_record_len(wire, 4), 0);
  CHECK_EQ_INT(ts_tls_record_len(wire, w - 1), 0);
  uint8_t bad[5] = {23, 3, 3, (uint8_t)((TS_TLS_MAX_CIPHER + 1) >> 8), (uint8_t)(TS_TLS_MAX_CIPHER + 1)};
  CHECK_EQ_INT(ts_tls_record_len(bad, 5), TS_TLS_E_RECORD);
  bad[0] = 24;
  CHECK_EQ_INT(ts_tls_record_len(bad, 1), TS_TLS_E_RECORD);
  ts_tls_rl_wipe(&cli);
  CHECK(ts_ct_is_zero(&cli, sizeof cli));
}

static void tamper_and_sequence(void) {
  ts_tls_rl cli, srv;
  setup(&cli, &srv);
  uint8_t wire[256], copy[256], *d;
  size_t used, dl;
  size_t w = ts_tls_rl_write(&srv, wire, sizeof wire, (const uint8_t *)"hello", 5, 0, &used);
  memcpy(copy, wire, w);
  wire[w - 1] ^= 1; /* the tag */
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_E_AUTH);
  memcpy(wire, copy, w);
  wire[4] ^= 0; /* header is additional data: a changed header fails too */
  wire[2] = 1;
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_E_AUTH);
  memcpy(wire, copy, w);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_DATA);
  memcpy(wire, copy, w); /* replayed: the sequence moved on */
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_E_AUTH);
  /* A record sealed at a sequence ahead of ours fails too. */
  setup(&cli, &srv);
  w = ts_test_tls_seal(wire, ssec, 1, 23, (const uint8_t *)"x", 1, 0);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_E_AUTH);
  /* Too short for a tag, oversized inner plaintext, plaintext type. */
  uint8_t tiny[8] = {23, 3, 3, 0, 3, 1, 2, 3};
  CHECK_EQ_INT(ts_tls_rl_read(&cli, tiny, sizeof tiny, &d, &dl), TS_TLS_E_RECORD);
  static uint8_t big[TS_TLS_MAX_RECORD + 64], pt[TS_TLS_MAX_PLAIN + 1];
  w = ts_test_tls_seal(big, ssec, 0, 23, pt, sizeof pt, 0);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, big, w, &d, &dl), TS_TLS_E_RECORD);
  setup(&cli, &srv);
  w = ts_test_tls_seal(wire, ssec, 0, 23, (const uint8_t *)"x", 1, 0);
  wire[0] = 22;
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_E_PROTO);
}

static void padding_and_alerts(void) {
  ts_tls_rl cli, srv;
  setup(&cli, &srv);
  uint8_t wire[512], *d;
  size_t dl;
  size_t w = ts_test_tls_seal(wire, ssec, 0, 23, (const uint8_t *)"abc", 3, 100);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_DATA);
  CHECK_EQ_INT(dl, 3);
  CHECK_MEM(d, "abc", 3);
  /* Each error ends a connection: the cases after one start from fresh keys. */
  uint8_t zeros[8] = {0};
  w = ts_test_tls_seal(wire, ssec, 1, 0, zeros, 0, 7); /* all padding, no type */
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_E_PROTO);
  const uint8_t fatal[2] = {2, 40}, close_notify[2] = {1, 0};
  setup(&cli, &srv);
  w = ts_test_tls_seal(wire, ssec, 0, 21, fatal, 2, 0);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_E_ALERT);
  setup(&cli, &srv);
  w = ts_test_tls_seal(wire, ssec, 0, 21, close_notify, 1, 0);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_E_PROTO);
  /* NewSessionTicket ignored (two in a record); an unknown message or one cut short is an error. */
  const uint8_t nst2[] = {4, 0, 0, 2, 9, 9, 4, 0, 0, 1, 7}, cut[] = {4, 0, 0, 9, 1}, other[] = {20, 0, 0, 0};
  setup(&cli, &srv);
  w = ts_test_tls_seal(wire, ssec, 0, 22, nst2, sizeof nst2, 0);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_NONE);
  w = ts_test_tls_seal(wire, ssec, 1, 21, close_notify, 2, 0);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_CLOSE);
  setup(&cli, &srv);
  w = ts_test_tls_seal(wire, ssec, 0, 22, cut, sizeof cut, 0);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_E_PROTO);
  setup(&cli, &srv);
  w = ts_test_tls_seal(wire, ssec, 0, 22, other, sizeof other, 0);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_E_PROTO);
}

static void key_update(void) {
  ts_tls_rl cli, srv;
  setup(&cli, &srv);
  uint8_t wire[1024], *d;
  size_t dl, used;
  /* The server updates its key and asks for ours. */
  const uint8_t ku_req[] = {24, 0, 0, 1, 1};
  size_t w = ts_test_tls_seal(wire, ssec, 0, 22, ku_req, sizeof ku_req, 0);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_NONE);
  CHECK_EQ_INT(cli.send_key_update, 1);
  uint8_t s1[32];
  ts_tls13_expand_label(s1, 32, ssec, "traffic upd", NULL, 0);
  w = ts_test_tls_seal(wire, s1, 0, 23, (const uint8_t *)"new", 3, 0);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_DATA);
  CHECK_MEM(d, "new", 3);
  /* Our next write starts with our KeyUpdate (old key), then data under the new key: the server side of
   * the record layer follows both. */
  w = ts_tls_rl_write(&cli, wire, sizeof wire, (const uint8_t *)"ok", 2, 0, &used);
  CHECK_EQ_INT(cli.send_key_update, 0);
  long n = ts_tls_record_len(wire, w);
  CHECK(n > 0 && (size_t)n < w);
  if (n <= 0) return;
  CHECK_EQ_INT(ts_tls_rl_read(&srv, wire, (size_t)n, &d, &dl), TS_TLS_NONE);
  CHECK_EQ_INT(srv.send_key_update, 0); /* update_not_requested */
  CHECK_EQ_INT(ts_tls_rl_read(&srv, wire + n, w - (size_t)n, &d, &dl), TS_TLS_DATA);
  CHECK_MEM(d, "ok", 2);
  /* A KeyUpdate not last in its record, or with a bad value, is an error. */
  const uint8_t ku_then_nst[] = {24, 0, 0, 1, 0, 4, 0, 0, 0}, ku_bad[] = {24, 0, 0, 1, 2};
  w = ts_test_tls_seal(wire, s1, 1, 22, ku_then_nst, sizeof ku_then_nst, 0);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_E_PROTO);
  setup(&cli, &srv);
  w = ts_test_tls_seal(wire, ssec, 0, 22, ku_bad, sizeof ku_bad, 0);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_E_PROTO);
}

/* Takeover: the records the handshake saw are ServerHello (plaintext), change_cipher_spec, handshake-epoch
 * records (another key), then two NewSessionTickets under the application key. */
static void sync_after_handshake(void) {
  ts_tls_rl cli, srv;
  setup(&cli, &srv);
  static uint8_t recs[4096], scratch[TS_TLS_MAX_RECORD];
  uint8_t hs_secret[32], *d;
  memset(hs_secret, 0x55, sizeof hs_secret);
  size_t n = 0, dl;
  const uint8_t sh[] = {22, 3, 3, 0, 4, 2, 0, 0, 0}, ccs[] = {20, 3, 3, 0, 1, 1};
  const uint8_t hs[] = {8, 0, 0, 2, 0, 0, 11, 0, 0, 0, 20, 0, 0, 0}, nst[] = {4, 0, 0, 3, 1, 2, 3};
  memcpy(recs + n, sh, sizeof sh), n += sizeof sh;
  memcpy(recs + n, ccs, sizeof ccs), n += sizeof ccs;
  n += ts_test_tls_seal(recs + n, hs_secret, 0, 22, hs, sizeof hs, 0);
  n += ts_test_tls_seal(recs + n, hs_secret, 1, 22, hs, sizeof hs, 0);
  size_t before_app = n;
  n += ts_test_tls_seal(recs + n, ssec, 0, 22, nst, sizeof nst, 0);
  n += ts_test_tls_seal(recs + n, ssec, 1, 22, nst, sizeof nst, 0);
  CHECK_EQ_INT(ts_tls_rl_sync_read(&cli, recs, n, scratch), 0);
  CHECK_EQ_INT(cli.rd.seq, 2);
  uint8_t wire[256];
  size_t w = ts_test_tls_seal(wire, ssec, 2, 23, (const uint8_t *)"hi", 2, 0);
  CHECK_EQ_INT(ts_tls_rl_read(&cli, wire, w, &d, &dl), TS_TLS_DATA);
  /* Nothing in the application epoch yet: sequence 0. */
  setup(&cli, &srv);
  CHECK_EQ_INT(ts_tls_rl_sync_read(&cli, recs, before_app, scratch), 0);
  CHECK_EQ_INT(cli.rd.seq, 0);
  /* Application data the handshake consumed would be lost: refused. */
  setup(&cli, &srv);
  n = before_app + ts_test_tls_seal(recs + before_app, ssec, 0, 23, (const uint8_t *)"lost", 4, 0);
  CHECK_EQ_INT(ts_tls_rl_sync_read(&cli, recs, n, scratch), TS_TLS_E_PROTO);
  /* A handshake-epoch record after an application one cannot be. */
  setup(&cli, &srv);
  n = before_app + ts_test_tls_seal(recs + before_app, ssec, 0, 22, nst, sizeof nst, 0);
  n += ts_test_tls_seal(recs + n, hs_secret, 2, 22, hs, sizeof hs, 0);
  CHECK_EQ_INT(ts_tls_rl_sync_read(&cli, recs, n, scratch), TS_TLS_E_AUTH);
  /* Truncated copies. */
  CHECK_EQ_INT(ts_tls_rl_sync_read(&cli, recs, n - 1, scratch), TS_TLS_E_RECORD);
  /* The client's side: ClientHello, CCS and Finished (handshake key) pass; an application record does not. */
  setup(&cli, &srv);
  n = 0;
  memcpy(recs + n, sh, sizeof sh), n += sizeof sh;
  memcpy(recs + n, ccs, sizeof ccs), n += sizeof ccs;
  n += ts_test_tls_seal(recs + n, hs_secret, 0, 22, hs, sizeof hs, 0);
  CHECK_EQ_INT(ts_tls_rl_sync_write(&cli, recs, n, scratch), 0);
  n += ts_test_tls_seal(recs + n, csec, 0, 23, (const uint8_t *)"GET", 3, 0);
  CHECK_EQ_INT(ts_tls_rl_sync_write(&cli, recs, n, scratch), TS_TLS_E_PROTO);
}

int main(void) {
  if (ts_crypto_init() != 0) return 1;
  RUN(expand_label_rfc8448);
  RUN(both_ways);
  RUN(tamper_and_sequence);
  RUN(padding_and_alerts);
  RUN(key_update);
  RUN(sync_after_handshake);
  TEST_MAIN_END();
}
