/* libFuzzer target: decrypted in-tunnel packets as TSMP (disco/tsmp.h) and as magicsock takes them
 * (ts_ms_tsmp_input, docs/protocol/magicsock.md §5). The input is the packet; a parse that finds a disco key
 * advertisement must re-encode to the same message, a ping must give a pong that parses and echoes it; magicsock must count every packet exactly once and keep
 * a usable state. Crashes, sanitizer reports or broken invariants abort. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "disco/tsmp.h"
#include "magicsock/magicsock.h"

static void no_send(void *ctx, const ts_ms_path *path, const uint8_t node_key[32], const uint8_t *pkt, size_t len) {
  (void)ctx, (void)path, (void)node_key, (void)pkt, (void)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int inited;
  if (!inited) {
    if (ts_crypto_init() != 0) abort();
    inited = 1;
  }
  ts_tsmp_msg m;
  ts_tsmp_kind k = ts_tsmp_parse(&m, data, size);
  if ((k != TS_TSMP_NOT) != ts_tsmp_is(data, size)) abort();
  /* v4-mapped IPv6 addresses come out as IPv4 (net/addr.h), so only same-family pairs re-encode */
  if (k == TS_TSMP_DISCO_ADVERT && m.src.family == m.dst.family) {
    uint8_t out[128];
    ts_tsmp_msg m2;
    long n = ts_tsmp_disco_advert_encode(out, sizeof out, &m.src, &m.dst, m.disco_key);
    if (n < 0 || ts_tsmp_parse(&m2, out, (size_t)n) != TS_TSMP_DISCO_ADVERT) abort();
    if (memcmp(&m, &m2, sizeof m) != 0) abort();
  }

  if (k == TS_TSMP_PING) {
    uint8_t out[TS_TSMP_MAX_REPLY];
    ts_tsmp_msg p;
    long n = ts_tsmp_pong_encode(out, sizeof out, &m, 7);
    if (m.src.family == m.dst.family) {
      if (n < 0 || ts_tsmp_parse(&p, out, (size_t)n) != TS_TSMP_PONG || p.type != TS_TSMP_TYPE_PONG || memcmp(p.ping_data, m.ping_data, 8) != 0) abort();
      if (memcmp(out + n - 10, m.ping_data, 8) != 0) abort();
      /* Our own ping of the same data parses back as that ping. */
      n = ts_tsmp_ping_encode(out, sizeof out, &m.src, &m.dst, m.ping_data);
      if (n < 0 || ts_tsmp_parse(&p, out, (size_t)n) != TS_TSMP_PING || memcmp(p.ping_data, m.ping_data, 8) != 0) abort();
    }
  }

  ts_ms_config cfg = {.send = no_send};
  memset(cfg.disco_private, 0x31, 32);
  memset(cfg.node_public, 0x41, 32);
  ts_ms *ms = ts_ms_new(&cfg);
  if (!ms) abort();
  uint8_t node[32], disco_priv[32], disco[32];
  memset(node, 0x42, 32);
  memset(disco_priv, 0x52, 32);
  ts_x25519_public(disco, disco_priv);
  ts_ms_peer *p = ts_ms_peer_set(ms, node, disco, 1, NULL, 0, 1);
  if (!p) abort();
  int r = ts_ms_tsmp_input(ms, p, data, size, 2);
  ts_ms_counters c;
  ts_ms_counters_get(ms, &c);
  if (c.tsmp_disco_applied + c.tsmp_disco_unchanged + c.tsmp_ping + c.tsmp_pong + c.tsmp_other + c.tsmp_bad != 1) abort();
  if (r == TS_MS_TSMP_APPLIED && k != TS_TSMP_DISCO_ADVERT) abort();
  /* the peer is still usable: the netmap can set it again, and routing works */
  ts_ms_path out[2];
  if (ts_ms_peer_set(ms, node, disco, 1, NULL, 0, 3) != p) abort();
  (void)ts_ms_route(ms, p, 4, out);
  ts_ms_free(ms);
  return 0;
}
