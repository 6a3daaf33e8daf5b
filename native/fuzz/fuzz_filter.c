/* libFuzzer target: the packet filter. The input is decoded into a small rule set, a local set and a
 * script of inbound checks and outbound notes (each packet in an exactly-sized heap buffer so ASan sees any
 * over-read), with a tiny flow table so eviction runs constantly. Checks: no crash, verdicts in range, the
 * flow table within capacity, nothing accepted before rules, rule_allows agreeing with a linear reference
 * for TCP/UDP, and the reply to a packet just noted outbound passing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter/filter.h"

typedef struct {
  const uint8_t *p;
  size_t n;
} rd;

static uint8_t byte(rd *r) {
  if (!r->n) return 0;
  r->n--;
  return *r->p++;
}

static void take(rd *r, uint8_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = byte(r);
}

static ts_filter_prefix prefix(rd *r) {
  ts_filter_prefix p;
  memset(&p, 0, sizeof p);
  uint8_t b = byte(r);
  p.family = b & 1 ? 6 : 4;
  p.bits = (uint8_t)(byte(r) % (p.family == 4 ? 33 : 129));
  if (b & 2) p.bits = 0;
  /* Mostly 100.64.0.x / fd7a::x so packets below hit them. */
  if (p.family == 4) {
    p.addr[0] = 100, p.addr[1] = 64, p.addr[2] = 0, p.addr[3] = byte(r) & 7;
  } else {
    p.addr[0] = 0xfd, p.addr[1] = 0x7a, p.addr[15] = byte(r) & 7;
  }
  return p;
}

static int contains(const ts_filter_prefix *p, int fam, const uint8_t *a) {
  if (p->family != fam) return 0;
  for (unsigned i = 0; i < p->bits; i++) {
    unsigned s = 7 - i % 8;
    if (((p->addr[i / 8] >> s) & 1) != ((a[i / 8] >> s) & 1)) return 0;
  }
  return 1;
}

#define MAXR 4
#define MAXE 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rd r = {data, size};
  ts_filter_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.flow_capacity = 1 + byte(&r) % 8;
  cfg.udp_timeout_ns = 1 + byte(&r);
  cfg.tcp_timeout_ns = 1 + byte(&r);
  take(&r, cfg.hash_key, 16);
  ts_filter *f = ts_filter_new(&cfg);
  if (!f) return 0;

  uint8_t protos[MAXR][MAXE];
  ts_filter_prefix srcs[MAXR][MAXE];
  ts_filter_dst dsts[MAXR][MAXE];
  ts_filter_rule rules[MAXR];
  size_t nr = byte(&r) % (MAXR + 1);
  for (size_t i = 0; i < nr; i++) {
    size_t np = byte(&r) % (MAXE + 1), ns = byte(&r) % (MAXE + 1), nd = byte(&r) % (MAXE + 1);
    for (size_t j = 0; j < np; j++) {
      static const uint8_t common[] = {6, 17, 1, 58, 132, 47, 99, 0};
      uint8_t b = byte(&r);
      protos[i][j] = b & 0x80 ? b : common[b & 7];
    }
    for (size_t j = 0; j < ns; j++) srcs[i][j] = prefix(&r);
    for (size_t j = 0; j < nd; j++) {
      dsts[i][j].net = prefix(&r);
      uint16_t a = (uint16_t)(byte(&r) << 8 | byte(&r)), b = (uint16_t)(byte(&r) << 8 | byte(&r));
      dsts[i][j].first = a < b ? a : b;
      dsts[i][j].last = a < b ? b : a;
      if (byte(&r) & 1) dsts[i][j].first = 0, dsts[i][j].last = 65535;
    }
    rules[i] = (ts_filter_rule){protos[i], np, srcs[i], ns, dsts[i], nd};
  }
  ts_filter_prefix local[MAXE];
  size_t nl = byte(&r) % (MAXE + 1);
  for (size_t i = 0; i < nl; i++) local[i] = prefix(&r);
  if (ts_filter_set_local(f, local, nl) != 0) abort();
  int rules_set = 0;
  uint64_t now = 0;

  while (r.n) {
    uint8_t op = byte(&r);
    now += byte(&r);
    if (op % 16 == 0) {
      if (ts_filter_set_rules(f, rules, nr) != 0) abort();
      rules_set = 1;
      continue;
    }
    if (op % 16 == 1) {
      ts_filter_flush_flows(f);
      continue;
    }
    if (op % 16 == 2 && rules_set) {
      /* rule_allows vs a linear reference (ports-bearing protocols only). */
      uint8_t s[16] = {0}, d[16] = {0};
      int fam = op & 0x80 ? 6 : 4;
      if (fam == 4) s[0] = d[0] = 100, s[1] = d[1] = 64;
      else s[0] = d[0] = 0xfd, s[1] = d[1] = 0x7a;
      s[fam == 4 ? 3 : 15] = byte(&r) & 7;
      d[fam == 4 ? 3 : 15] = byte(&r) & 7;
      uint8_t proto = op & 0x40 ? 6 : 17;
      uint16_t port = (uint16_t)(byte(&r) << 8 | byte(&r));
      int want = 0;
      for (size_t i = 0; i < nr && !want; i++) {
        int pm = 0, sm = 0;
        for (size_t j = 0; j < rules[i].n_protos; j++) pm |= rules[i].protos[j] == proto;
        for (size_t j = 0; j < rules[i].n_srcs; j++) sm |= contains(&rules[i].srcs[j], fam, s);
        if (!pm || !sm) continue;
        for (size_t j = 0; j < rules[i].n_dsts; j++)
          if (contains(&rules[i].dsts[j].net, fam, d) && port >= rules[i].dsts[j].first &&
              port <= rules[i].dsts[j].last)
            want = 1;
      }
      if (ts_filter_rule_allows(f, proto, fam, s, d, port) != want) abort();
      continue;
    }
    if (op % 16 == 3) {
      /* A well-formed TCP/UDP packet in a small address and port space, so flows collide, hit and get
       * evicted. Sent out, its reply must pass at once whenever the flow was recorded and the reply's
       * destination (our source) is local. */
      uint8_t pkt[60], rep[60];
      int v6 = op & 0x80;
      uint8_t proto = op & 0x40 ? 6 : 17;
      size_t hl = v6 ? 40 : 20, tl = proto == 6 ? 20 : 8, n = hl + tl;
      memset(pkt, 0, sizeof pkt);
      uint8_t *src = pkt + (v6 ? 8 : 12), *dst = pkt + (v6 ? 24 : 16), *l4 = pkt + hl;
      if (v6) {
        pkt[0] = 0x60, pkt[5] = (uint8_t)tl, pkt[6] = proto;
        src[0] = dst[0] = 0xfd, src[1] = dst[1] = 0x7a;
        src[15] = byte(&r) & 7, dst[15] = byte(&r) & 7;
      } else {
        pkt[0] = 0x45, pkt[3] = (uint8_t)n, pkt[9] = proto;
        src[0] = dst[0] = 100, src[1] = dst[1] = 64;
        src[3] = byte(&r) & 7, dst[3] = byte(&r) & 7;
      }
      uint8_t ports = byte(&r);
      l4[1] = ports & 3, l4[3] = (ports >> 2) & 3;
      if (proto == 6) l4[12] = 0x50, l4[13] = byte(&r) & 0x3f;
      memcpy(rep, pkt, n);
      memcpy(rep + (src - pkt), dst, v6 ? 16 : 4);
      memcpy(rep + (dst - pkt), src, v6 ? 16 : 4);
      rep[hl + 1] = l4[3], rep[hl + 3] = l4[1];
      if (proto == 6) rep[hl + 13] = 0x10; /* ACK */
      int noted = ts_filter_note_out(f, pkt, n, now);
      ts_filter_reason v = ts_filter_check_in(f, rep, n, now);
      if (noted && rules_set && v != TS_FILTER_OK_FLOW && v != TS_FILTER_DROP_NOT_LOCAL) abort();
      if (ts_filter_flow_count(f) > ts_filter_flow_capacity(f)) abort();
      continue;
    }
    size_t len = byte(&r);
    if (len > r.n) len = r.n;
    uint8_t *pkt = malloc(len ? len : 1);
    if (!pkt) break;
    take(&r, pkt, len);
    /* Keep most packets plausible: a valid version nibble and a total length that fits. */
    if (len >= 40 && (op & 0x20)) {
      if (op & 0x40) {
        pkt[0] = 0x60;
        pkt[4] = (uint8_t)((len - 40) >> 8), pkt[5] = (uint8_t)(len - 40);
      } else {
        pkt[0] = 0x45;
        pkt[2] = (uint8_t)(len >> 8), pkt[3] = (uint8_t)len;
      }
    }
    if (op & 0x10) {
      ts_filter_note_out(f, pkt, len, now);
    } else {
      ts_filter_reason v = ts_filter_check_in(f, pkt, len, now);
      if ((unsigned)v >= TS_FILTER_REASON_COUNT) abort();
      if (!rules_set && v != TS_FILTER_DROP_NO_FILTER) abort();
    }
    free(pkt);
    if (ts_filter_flow_count(f) > ts_filter_flow_capacity(f)) abort();
  }
  ts_filter_free(f);
  return 0;
}
