/* Tests for the inbound packet filter (native/core/filter): rule matching for IPv4/IPv6, ports, protocols,
 * ICMP, the flow table (replies, eviction, bounded memory, timeouts), fragments, extension headers and
 * malformed input, plus a table cross-checked against lib/wire/filter.ts's reference matcher. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "filter/filter.h"
#include "filter/filter_pkt.h"
#include "test.h"

#define SEC TS_FILTER_NS_PER_SEC
#define TCP TS_FILTER_PROTO_TCP
#define UDP TS_FILTER_PROTO_UDP
#define SYN 0x02
#define ACK 0x10
#define RST 0x04
#define FIN 0x01

/* ---- helpers: addresses, prefixes, packets ---- */

static int fam_of(const char *ip) { return strchr(ip, ':') ? 6 : 4; }

static void addr(const char *ip, uint8_t out[16]) {
  memset(out, 0, 16);
  int ok = inet_pton(fam_of(ip) == 4 ? AF_INET : AF_INET6, ip, out);
  if (ok != 1) {
    fprintf(stderr, "bad address in test: %s\n", ip);
    abort();
  }
}

static ts_filter_prefix pfx(const char *ip, int bits) {
  ts_filter_prefix p;
  memset(&p, 0, sizeof p);
  p.family = (uint8_t)fam_of(ip);
  p.bits = (uint8_t)bits;
  addr(ip, p.addr);
  return p;
}

static ts_filter_dst dstp(const char *ip, int bits, uint16_t first, uint16_t last) {
  ts_filter_dst d;
  d.net = pfx(ip, bits);
  d.first = first;
  d.last = last;
  return d;
}

static void put16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* IP header around an L4 payload. frag4: the IPv4 flags+offset field (host order). For IPv6, `ext` (ext_len
 * bytes, already chained: its first byte is the transport's next header... the caller builds it) goes
 * between the fixed header and l4; nh is the fixed header's next header. */
static size_t ip4(uint8_t *b, uint8_t proto, const char *src, const char *dst, const uint8_t *l4, size_t l4len,
                  unsigned frag4) {
  uint8_t a[16];
  memset(b, 0, 20);
  b[0] = 0x45;
  put16(b + 2, (unsigned)(20 + l4len));
  put16(b + 6, frag4);
  b[8] = 64;
  b[9] = proto;
  addr(src, a);
  memcpy(b + 12, a, 4);
  addr(dst, a);
  memcpy(b + 16, a, 4);
  memcpy(b + 20, l4, l4len);
  return 20 + l4len;
}

static size_t ip6(uint8_t *b, uint8_t nh, const char *src, const char *dst, const uint8_t *ext, size_t ext_len,
                  const uint8_t *l4, size_t l4len) {
  memset(b, 0, 40);
  b[0] = 0x60;
  put16(b + 4, (unsigned)(ext_len + l4len));
  b[6] = nh;
  b[7] = 64;
  addr(src, b + 8);
  addr(dst, b + 24);
  if (ext_len) memcpy(b + 40, ext, ext_len);
  memcpy(b + 40 + ext_len, l4, l4len);
  return 40 + ext_len + l4len;
}

static size_t l4_tcp(uint8_t *t, uint16_t sport, uint16_t dport, uint8_t flags) {
  memset(t, 0, 20);
  put16(t, sport);
  put16(t + 2, dport);
  t[12] = 5 << 4;
  t[13] = flags;
  return 20;
}

static size_t l4_udp(uint8_t *u, uint16_t sport, uint16_t dport) {
  memset(u, 0, 8);
  put16(u, sport);
  put16(u + 2, dport);
  put16(u + 4, 8);
  return 8;
}

static size_t l4_icmp(uint8_t *c, uint8_t type, uint8_t code) {
  memset(c, 0, 8);
  c[0] = type;
  c[1] = code;
  return 8;
}

/* Whole packets, family from the source address. */
static size_t tcp_pkt(uint8_t *b, const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t flags) {
  uint8_t l4[20];
  size_t n = l4_tcp(l4, sport, dport, flags);
  return fam_of(src) == 4 ? ip4(b, TCP, src, dst, l4, n, 0) : ip6(b, TCP, src, dst, NULL, 0, l4, n);
}

static size_t udp_pkt(uint8_t *b, const char *src, uint16_t sport, const char *dst, uint16_t dport) {
  uint8_t l4[8];
  size_t n = l4_udp(l4, sport, dport);
  return fam_of(src) == 4 ? ip4(b, UDP, src, dst, l4, n, 0) : ip6(b, UDP, src, dst, NULL, 0, l4, n);
}

static size_t proto_pkt(uint8_t *b, uint8_t proto, const char *src, const char *dst) {
  uint8_t l4[16] = {0};
  return fam_of(src) == 4 ? ip4(b, proto, src, dst, l4, sizeof l4, 0) : ip6(b, proto, src, dst, NULL, 0, l4, sizeof l4);
}

static size_t icmp_pkt(uint8_t *b, const char *src, const char *dst, uint8_t type, uint8_t code) {
  uint8_t l4[8];
  size_t n = l4_icmp(l4, type, code);
  return fam_of(src) == 4 ? ip4(b, 1, src, dst, l4, n, 0) : ip6(b, 58, src, dst, NULL, 0, l4, n);
}

static const uint8_t DEFAULT_PROTOS[] = {6, 17, 1, 58};

/* A filter whose local set is our two addresses (100.64.0.2, fd7a:115c:a1e0::2) plus extra. */
static ts_filter *mk(uint32_t cap) {
  ts_filter_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.flow_capacity = cap;
  for (int i = 0; i < 16; i++) cfg.hash_key[i] = (uint8_t)(i * 7 + 1);
  ts_filter *f = ts_filter_new(&cfg);
  ts_filter_prefix local[2] = {pfx("100.64.0.2", 32), pfx("fd7a:115c:a1e0::2", 128)};
  if (!f || ts_filter_set_local(f, local, 2) != 0) abort();
  return f;
}

static int set1(ts_filter *f, const uint8_t *protos, size_t np, const ts_filter_prefix *srcs, size_t ns,
                const ts_filter_dst *dsts, size_t nd) {
  ts_filter_rule r = {protos, np, srcs, ns, dsts, nd};
  return ts_filter_set_rules(f, &r, 1);
}

#define IN(f, b, n, t) ts_filter_check_in((f), (b), (n), (t))

/* ---- tests ---- */

static void test_default_deny_before_rules(void) {
  ts_filter *f = mk(0);
  uint8_t b[128];
  size_t n = tcp_pkt(b, "100.64.0.1", 1234, "100.64.0.2", 80, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_FILTER);
  /* Even a reply to an outbound flow: nothing gets in before the first filter. */
  uint8_t o[128];
  size_t on = udp_pkt(o, "100.64.0.2", 5000, "100.64.0.1", 53);
  CHECK_EQ_INT(ts_filter_note_out(f, o, on, 0), 1);
  n = udp_pkt(b, "100.64.0.1", 53, "100.64.0.2", 5000);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_FILTER);
  /* An empty rule set: new flows denied, replies accepted. */
  CHECK_EQ_INT(ts_filter_set_rules(f, NULL, 0), 0);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_OK_FLOW);
  n = tcp_pkt(b, "100.64.0.1", 1234, "100.64.0.2", 80, SYN);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_DROP_NO_RULE);
  CHECK_EQ_INT(ts_filter_check_in(NULL, b, n, 0), TS_FILTER_DROP_NO_FILTER);
  ts_filter_free(f);
}

static void test_v4_rules(void) {
  ts_filter *f = mk(0);
  ts_filter_prefix local[1] = {pfx("100.64.0.0", 10)};
  CHECK_EQ_INT(ts_filter_set_local(f, local, 1), 0);
  ts_filter_prefix s = pfx("100.64.0.1", 32);
  ts_filter_dst d = dstp("100.64.0.2", 32, 80, 90);
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &s, 1, &d, 1), 0);
  uint8_t b[128];
  size_t n;
  n = tcp_pkt(b, "100.64.0.1", 1234, "100.64.0.2", 80, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = tcp_pkt(b, "100.64.0.1", 1234, "100.64.0.2", 90, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = tcp_pkt(b, "100.64.0.1", 1234, "100.64.0.2", 91, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  n = tcp_pkt(b, "100.64.0.1", 1234, "100.64.0.2", 79, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  n = tcp_pkt(b, "100.64.0.3", 1234, "100.64.0.2", 80, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  n = tcp_pkt(b, "100.64.0.1", 1234, "100.64.0.4", 80, SYN); /* local, but no rule for it */
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  n = tcp_pkt(b, "100.64.0.1", 1234, "10.0.0.2", 80, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NOT_LOCAL);
  n = udp_pkt(b, "100.64.0.1", 1234, "100.64.0.2", 85);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = udp_pkt(b, "100.64.0.1", 1234, "100.64.0.2", 95);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  /* Host bits in a rule prefix are ignored (the compiler never sends them, but stay safe). */
  s = pfx("100.64.0.77", 24);
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &s, 1, &d, 1), 0);
  n = tcp_pkt(b, "100.64.0.200", 1, "100.64.0.2", 80, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = tcp_pkt(b, "100.64.1.200", 1, "100.64.0.2", 80, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  ts_filter_free(f);
}

static void test_v6_rules(void) {
  ts_filter *f = mk(0);
  ts_filter_prefix s = pfx("fd7a:115c:a1e0:ab00::", 56);
  ts_filter_dst d = dstp("fd7a:115c:a1e0::2", 128, 443, 443);
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &s, 1, &d, 1), 0);
  uint8_t b[128];
  size_t n;
  n = tcp_pkt(b, "fd7a:115c:a1e0:ab12::1", 999, "fd7a:115c:a1e0::2", 443, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = tcp_pkt(b, "fd7a:115c:a1e0:ac12::1", 999, "fd7a:115c:a1e0::2", 443, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  n = tcp_pkt(b, "fd7a:115c:a1e0:ab12::1", 999, "fd7a:115c:a1e0::2", 444, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  n = udp_pkt(b, "fd7a:115c:a1e0:abff::1", 999, "fd7a:115c:a1e0::2", 443);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = udp_pkt(b, "fd7a:115c:a1e0:ab12::1", 999, "fd7a:115c:a1e0::3", 443);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NOT_LOCAL);
  /* A v4 packet never matches v6 prefixes. */
  n = tcp_pkt(b, "100.64.0.1", 999, "100.64.0.2", 443, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  ts_filter_free(f);
}

static void test_wildcard_and_multi_rules(void) {
  ts_filter *f = mk(0);
  ts_filter_prefix any[2] = {pfx("0.0.0.0", 0), pfx("::", 0)};
  ts_filter_dst anyd[2] = {dstp("0.0.0.0", 0, 0, 65535), dstp("::", 0, 0, 65535)};
  ts_filter_prefix one = pfx("100.64.0.5", 32);
  ts_filter_dst d22 = dstp("100.64.0.2", 32, 22, 22);
  const uint8_t udp_only[] = {17};
  ts_filter_rule rules[2] = {{udp_only, 1, any, 2, anyd, 2}, {DEFAULT_PROTOS, 4, &one, 1, &d22, 1}};
  CHECK_EQ_INT(ts_filter_set_rules(f, rules, 2), 0);
  uint8_t b[128];
  size_t n;
  n = udp_pkt(b, "1.2.3.4", 1, "100.64.0.2", 65535);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = udp_pkt(b, "2001:db8::1", 1, "fd7a:115c:a1e0::2", 0);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = tcp_pkt(b, "1.2.3.4", 1, "100.64.0.2", 22, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  n = tcp_pkt(b, "100.64.0.5", 1, "100.64.0.2", 22, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  ts_filter_free(f);
}

static void test_other_protocols_and_tsmp(void) {
  ts_filter *f = mk(0);
  ts_filter_prefix s = pfx("100.64.0.9", 32);
  ts_filter_dst all = dstp("100.64.0.2", 32, 0, 65535), some = dstp("100.64.0.2", 32, 1, 65535);
  const uint8_t gre[] = {47}, esp[] = {50};
  ts_filter_rule rules[2] = {{gre, 1, &s, 1, &all, 1}, {esp, 1, &s, 1, &some, 1}};
  CHECK_EQ_INT(ts_filter_set_rules(f, rules, 2), 0);
  uint8_t b[128];
  size_t n;
  n = proto_pkt(b, 47, "100.64.0.9", "100.64.0.2");
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = proto_pkt(b, 47, "100.64.0.8", "100.64.0.2");
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  n = proto_pkt(b, 50, "100.64.0.9", "100.64.0.2"); /* rule does not cover all ports */
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  n = tcp_pkt(b, "100.64.0.9", 1, "100.64.0.2", 80, SYN); /* GRE rule does not allow TCP */
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  n = proto_pkt(b, 99, "1.2.3.4", "100.64.0.2");
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_TSMP);
  n = proto_pkt(b, 99, "fd7a:115c:a1e0::77", "fd7a:115c:a1e0::2");
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_TSMP);
  n = proto_pkt(b, 99, "1.2.3.4", "100.64.0.3");
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NOT_LOCAL);
  ts_filter_free(f);
}

static void test_icmp(void) {
  ts_filter *f = mk(0);
  ts_filter_prefix s[2] = {pfx("100.64.0.1", 32), pfx("fd7a:115c:a1e0::1", 128)};
  ts_filter_dst d[2] = {dstp("100.64.0.2", 32, 22, 22), dstp("fd7a:115c:a1e0::2", 128, 22, 22)};
  const uint8_t tcp_only[] = {6};
  CHECK_EQ_INT(set1(f, tcp_only, 1, s, 2, d, 2), 0);
  uint8_t b[128];
  size_t n;
  /* Echo request: any rule whose source and destination match, whatever its protocols and ports. */
  n = icmp_pkt(b, "100.64.0.1", "100.64.0.2", 8, 0);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = icmp_pkt(b, "100.64.0.3", "100.64.0.2", 8, 0);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  n = icmp_pkt(b, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 128, 0);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = icmp_pkt(b, "fd7a:115c:a1e0::3", "fd7a:115c:a1e0::2", 128, 0);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  /* Replies and errors from anyone. */
  n = icmp_pkt(b, "100.64.0.3", "100.64.0.2", 0, 0);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_ICMP_REPLY);
  n = icmp_pkt(b, "100.64.0.3", "100.64.0.2", 0, 1); /* echo reply with a nonzero code is not one */
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  const uint8_t err4[] = {3, 11, 12}, err6[] = {1, 2, 3, 4};
  for (size_t i = 0; i < sizeof err4; i++) {
    n = icmp_pkt(b, "100.64.0.3", "100.64.0.2", err4[i], 1);
    CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_ICMP_REPLY);
  }
  for (size_t i = 0; i < sizeof err6; i++) {
    n = icmp_pkt(b, "fd7a:115c:a1e0::3", "fd7a:115c:a1e0::2", err6[i], 0);
    CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_ICMP_REPLY);
  }
  n = icmp_pkt(b, "fd7a:115c:a1e0::3", "fd7a:115c:a1e0::2", 129, 0);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_ICMP_REPLY);
  n = icmp_pkt(b, "fd7a:115c:a1e0::3", "fd7a:115c:a1e0::2", 135, 0); /* neighbor solicitation, unicast */
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  /* ICMP shorter than 8 bytes is malformed. */
  uint8_t l4[4] = {0, 0, 0, 0};
  n = ip4(b, 1, "100.64.0.3", "100.64.0.2", l4, 4, 0);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_MALFORMED);
  ts_filter_free(f);
}

static void test_tcp_flows(void) {
  ts_filter *f = mk(0);
  ts_filter_prefix s = pfx("100.64.0.7", 32);
  ts_filter_dst d = dstp("100.64.0.2", 32, 22, 22);
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &s, 1, &d, 1), 0);
  uint8_t b[128], o[128];
  size_t n, on;
  /* Our outbound connection to a peer that may not connect to us. */
  on = tcp_pkt(o, "100.64.0.2", 40000, "100.64.0.1", 443, SYN);
  CHECK_EQ_INT(ts_filter_note_out(f, o, on, 0), 1);
  CHECK_EQ_INT(ts_filter_flow_count(f), 1);
  n = tcp_pkt(b, "100.64.0.1", 443, "100.64.0.2", 40000, SYN | ACK);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_OK_FLOW);
  n = tcp_pkt(b, "100.64.0.1", 443, "100.64.0.2", 40000, ACK);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_OK_FLOW);
  n = tcp_pkt(b, "100.64.0.1", 443, "100.64.0.2", 40000, FIN | ACK);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_OK_FLOW);
  n = tcp_pkt(b, "100.64.0.1", 443, "100.64.0.2", 40000, RST);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_OK_FLOW);
  /* A bare SYN on the same tuple still needs a rule: state never opens new connections. */
  n = tcp_pkt(b, "100.64.0.1", 443, "100.64.0.2", 40000, SYN);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_DROP_NO_RULE);
  /* Unsolicited non-SYN: other port, other peer, other family. */
  n = tcp_pkt(b, "100.64.0.1", 444, "100.64.0.2", 40000, ACK);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_DROP_NO_FLOW);
  n = tcp_pkt(b, "100.64.0.9", 443, "100.64.0.2", 40000, SYN | ACK);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_DROP_NO_FLOW);
  n = tcp_pkt(b, "100.64.0.1", 443, "100.64.0.2", 40001, ACK);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_DROP_NO_FLOW);
  /* A UDP packet on the TCP tuple is not a reply. */
  n = udp_pkt(b, "100.64.0.1", 443, "100.64.0.2", 40000);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_DROP_NO_RULE);
  /* Inbound connection allowed by a rule: SYN, then non-SYN passes by the rule even untracked. */
  n = tcp_pkt(b, "100.64.0.7", 5555, "100.64.0.2", 22, SYN);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_OK_RULE);
  n = tcp_pkt(b, "100.64.0.7", 5555, "100.64.0.2", 22, ACK);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_OK_RULE);
  /* Our SYN-ACK records it; then it is a flow (and one that survives a rule change). */
  on = tcp_pkt(o, "100.64.0.2", 22, "100.64.0.7", 5555, SYN | ACK);
  CHECK_EQ_INT(ts_filter_note_out(f, o, on, 1), 1);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_OK_FLOW);
  CHECK_EQ_INT(ts_filter_set_rules(f, NULL, 0), 0);
  CHECK_EQ_INT(IN(f, b, n, 2), TS_FILTER_OK_FLOW);
  n = tcp_pkt(b, "100.64.0.7", 5556, "100.64.0.2", 22, SYN);
  CHECK_EQ_INT(IN(f, b, n, 2), TS_FILTER_DROP_NO_RULE);
  /* IPv6 flow. */
  on = tcp_pkt(o, "fd7a:115c:a1e0::2", 40000, "fd7a:115c:a1e0::1", 443, SYN);
  CHECK_EQ_INT(ts_filter_note_out(f, o, on, 3), 1);
  n = tcp_pkt(b, "fd7a:115c:a1e0::1", 443, "fd7a:115c:a1e0::2", 40000, SYN | ACK);
  CHECK_EQ_INT(IN(f, b, n, 3), TS_FILTER_OK_FLOW);
  n = tcp_pkt(b, "fd7a:115c:a1e0::1", 443, "fd7a:115c:a1e0::2", 40002, ACK);
  CHECK_EQ_INT(IN(f, b, n, 3), TS_FILTER_DROP_NO_FLOW);
  ts_filter_free(f);
}

static void test_tcp_rst_creates_no_flow(void) {
  ts_filter *f = mk(0);
  CHECK_EQ_INT(ts_filter_set_rules(f, NULL, 0), 0);
  uint8_t b[128], o[128];
  size_t on = tcp_pkt(o, "100.64.0.2", 80, "100.64.0.1", 5000, RST | ACK);
  CHECK_EQ_INT(ts_filter_note_out(f, o, on, 0), 0);
  CHECK_EQ_INT(ts_filter_flow_count(f), 0);
  size_t n = tcp_pkt(b, "100.64.0.1", 5000, "100.64.0.2", 80, ACK);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_FLOW);
  /* ...but a RST on a known flow refreshes it (the peer may still retransmit). */
  on = tcp_pkt(o, "100.64.0.2", 80, "100.64.0.1", 5000, ACK);
  CHECK_EQ_INT(ts_filter_note_out(f, o, on, 0), 1);
  on = tcp_pkt(o, "100.64.0.2", 80, "100.64.0.1", 5000, RST);
  CHECK_EQ_INT(ts_filter_note_out(f, o, on, 0), 1);
  CHECK_EQ_INT(ts_filter_flow_count(f), 1);
  ts_filter_free(f);
}

static void test_udp_flows_and_timeouts(void) {
  ts_filter_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.udp_timeout_ns = 30 * SEC;
  cfg.tcp_timeout_ns = 100 * SEC;
  ts_filter *f = ts_filter_new(&cfg);
  ts_filter_prefix local = pfx("100.64.0.2", 32);
  CHECK_EQ_INT(ts_filter_set_local(f, &local, 1), 0);
  CHECK_EQ_INT(ts_filter_set_rules(f, NULL, 0), 0);
  uint8_t b[128], o[128];
  size_t on = udp_pkt(o, "100.64.0.2", 5353, "100.64.0.1", 53);
  CHECK_EQ_INT(ts_filter_note_out(f, o, on, 0), 1);
  size_t n = udp_pkt(b, "100.64.0.1", 53, "100.64.0.2", 5353);
  CHECK_EQ_INT(IN(f, b, n, 10 * SEC), TS_FILTER_OK_FLOW);
  /* Inbound traffic refreshes the entry: 10 s + 30 s later it is still there. */
  CHECK_EQ_INT(IN(f, b, n, 39 * SEC), TS_FILTER_OK_FLOW);
  CHECK_EQ_INT(IN(f, b, n, 69 * SEC - 1), TS_FILTER_OK_FLOW);
  /* Idle for the whole timeout: gone. */
  CHECK_EQ_INT(IN(f, b, n, 99 * SEC), TS_FILTER_DROP_NO_RULE);
  CHECK_EQ_INT(ts_filter_flow_count(f), 0);
  size_t m = udp_pkt(b, "100.64.0.1", 54, "100.64.0.2", 5353);
  CHECK_EQ_INT(IN(f, b, m, 0), TS_FILTER_DROP_NO_RULE);
  /* TCP uses its own timeout. */
  on = tcp_pkt(o, "100.64.0.2", 40000, "100.64.0.1", 443, SYN);
  CHECK_EQ_INT(ts_filter_note_out(f, o, on, 1000 * SEC), 1);
  n = tcp_pkt(b, "100.64.0.1", 443, "100.64.0.2", 40000, ACK);
  CHECK_EQ_INT(IN(f, b, n, 1099 * SEC), TS_FILTER_OK_FLOW);
  CHECK_EQ_INT(IN(f, b, n, 1199 * SEC + 1), TS_FILTER_DROP_NO_FLOW);
  /* SCTP is tracked like UDP. */
  uint8_t l4[12] = {0x13, 0x88, 0x00, 0x50};
  on = ip4(o, 132, "100.64.0.2", "100.64.0.1", l4, 12, 0);
  CHECK_EQ_INT(ts_filter_note_out(f, o, on, 0), 1);
  uint8_t r4[12] = {0x00, 0x50, 0x13, 0x88};
  n = ip4(b, 132, "100.64.0.1", "100.64.0.2", r4, 12, 0);
  CHECK_EQ_INT(IN(f, b, n, 1), TS_FILTER_OK_FLOW);
  /* Other protocols create no state. */
  on = proto_pkt(o, 47, "100.64.0.2", "100.64.0.1");
  CHECK_EQ_INT(ts_filter_note_out(f, o, on, 0), 0);
  ts_filter_free(f);
}

static void test_flow_eviction_bounded(void) {
  ts_filter *f = mk(8);
  CHECK_EQ_INT(ts_filter_flow_capacity(f), 8);
  ts_filter_prefix s = pfx("100.64.0.7", 32);
  ts_filter_dst d = dstp("100.64.0.2", 32, 8000, 8999);
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &s, 1, &d, 1), 0);
  uint8_t b[128], o[128];
  size_t n, on;
  /* 1000 outbound flows through an 8-entry table: never more than 8, the 8 most recent survive. */
  for (unsigned i = 0; i < 1000; i++) {
    on = udp_pkt(o, "100.64.0.2", (uint16_t)(10000 + i), "100.64.0.1", 53);
    CHECK_EQ_INT(ts_filter_note_out(f, o, on, i), 1);
    CHECK(ts_filter_flow_count(f) <= 8);
  }
  for (unsigned i = 0; i < 1000; i++) {
    n = udp_pkt(b, "100.64.0.1", 53, "100.64.0.2", (uint16_t)(10000 + i));
    CHECK_EQ_INT(IN(f, b, n, 1000), i >= 992 ? TS_FILTER_OK_FLOW : TS_FILTER_DROP_NO_RULE);
  }
  /* Using an entry makes it recent: touch the oldest survivor, add one, the next-oldest goes. */
  n = udp_pkt(b, "100.64.0.1", 53, "100.64.0.2", 10992);
  CHECK_EQ_INT(IN(f, b, n, 1001), TS_FILTER_OK_FLOW);
  on = udp_pkt(o, "100.64.0.2", 20000, "100.64.0.1", 53);
  CHECK_EQ_INT(ts_filter_note_out(f, o, on, 1002), 1);
  CHECK_EQ_INT(IN(f, b, n, 1003), TS_FILTER_OK_FLOW);
  n = udp_pkt(b, "100.64.0.1", 53, "100.64.0.2", 10993);
  CHECK_EQ_INT(IN(f, b, n, 1003), TS_FILTER_DROP_NO_RULE);
  /* Flows the rules allow anyway (peer 100.64.0.7 -> our ports 8000-8999) never push out live flows of
   * our own: with the table full of those, they are not recorded (and still pass by rule). */
  for (unsigned i = 0; i < 100; i++) {
    on = udp_pkt(o, "100.64.0.2", (uint16_t)(8000 + i), "100.64.0.7", (uint16_t)(30000 + i));
    CHECK_EQ_INT(ts_filter_note_out(f, o, on, 2000 + i), 0);
  }
  CHECK_EQ_INT(ts_filter_flow_count(f), 8);
  n = udp_pkt(b, "100.64.0.1", 53, "100.64.0.2", 20000);
  CHECK_EQ_INT(IN(f, b, n, 3000), TS_FILTER_OK_FLOW);
  n = udp_pkt(b, "100.64.0.7", 30000, "100.64.0.2", 8000);
  CHECK_EQ_INT(IN(f, b, n, 3000), TS_FILTER_OK_RULE);
  /* With room, they are recorded, and evicted before our own flows once the table fills. */
  ts_filter_flush_flows(f);
  for (unsigned i = 0; i < 4; i++) {
    on = udp_pkt(o, "100.64.0.2", (uint16_t)(10000 + i), "100.64.0.1", 53);
    CHECK_EQ_INT(ts_filter_note_out(f, o, on, i), 1);
  }
  for (unsigned i = 0; i < 100; i++) {
    on = udp_pkt(o, "100.64.0.2", (uint16_t)(8000 + i), "100.64.0.7", (uint16_t)(30000 + i));
    CHECK_EQ_INT(ts_filter_note_out(f, o, on, 10 + i), 1);
  }
  CHECK_EQ_INT(ts_filter_flow_count(f), 8);
  for (unsigned i = 0; i < 4; i++) {
    n = udp_pkt(b, "100.64.0.1", 53, "100.64.0.2", (uint16_t)(10000 + i));
    CHECK_EQ_INT(IN(f, b, n, 200), TS_FILTER_OK_FLOW);
  }
  n = udp_pkt(b, "100.64.0.7", 30099, "100.64.0.2", 8099);
  CHECK_EQ_INT(IN(f, b, n, 200), TS_FILTER_OK_FLOW);
  n = udp_pkt(b, "100.64.0.7", 30000, "100.64.0.2", 8000);
  CHECK_EQ_INT(IN(f, b, n, 200), TS_FILTER_OK_RULE);
  /* An expired own flow is reused before a live allowed one. */
  ts_filter_flush_flows(f);
  CHECK_EQ_INT(ts_filter_flow_count(f), 0);
  on = udp_pkt(o, "100.64.0.2", 8000, "100.64.0.7", 30000); /* allowed class */
  CHECK_EQ_INT(ts_filter_note_out(f, o, on, 500 * SEC), 1);
  for (unsigned i = 0; i < 7; i++) {
    on = udp_pkt(o, "100.64.0.2", (uint16_t)(10000 + i), "100.64.0.1", 53);
    CHECK_EQ_INT(ts_filter_note_out(f, o, on, i), 1); /* own class, expire at 180 s */
  }
  on = udp_pkt(o, "100.64.0.2", 12345, "100.64.0.1", 53);
  CHECK_EQ_INT(ts_filter_note_out(f, o, on, 500 * SEC), 1);
  n = udp_pkt(b, "100.64.0.7", 30000, "100.64.0.2", 8000);
  CHECK_EQ_INT(IN(f, b, n, 500 * SEC), TS_FILTER_OK_FLOW);
  /* Capacity 1 still works; absurd capacities are refused. */
  ts_filter_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.flow_capacity = TS_FILTER_MAX_FLOWS + 1;
  CHECK(ts_filter_new(&cfg) == NULL);
  ts_filter *g = mk(1);
  CHECK_EQ_INT(ts_filter_set_rules(g, NULL, 0), 0);
  for (unsigned i = 0; i < 10; i++) {
    on = udp_pkt(o, "100.64.0.2", (uint16_t)(100 + i), "100.64.0.1", 53);
    CHECK_EQ_INT(ts_filter_note_out(g, o, on, i), 1);
    CHECK_EQ_INT(ts_filter_flow_count(g), 1);
  }
  n = udp_pkt(b, "100.64.0.1", 53, "100.64.0.2", 109);
  CHECK_EQ_INT(IN(g, b, n, 10), TS_FILTER_OK_FLOW);
  ts_filter_free(g);
  ts_filter_free(f);
}

/* The flow table against a reference LRU model (one class, no expiry): random outbound notes and inbound
 * replies over 64 ports with 16 entries; every reply's verdict must say whether the model holds the flow. */
static void test_flow_table_matches_lru_model(void) {
  enum { CAP = 16, PORTS = 64 };
  ts_filter *f = mk(CAP);
  CHECK_EQ_INT(ts_filter_set_rules(f, NULL, 0), 0);
  uint64_t last_use[PORTS] = {0}; /* 0 = not in the model */
  int in_model[PORTS] = {0};
  uint64_t x = 12345, clock = 1;
  uint8_t b[128];
  for (int step = 0; step < 20000; step++, clock++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    unsigned port = (unsigned)(x % PORTS);
    if ((x >> 8) & 1) {
      size_t n = udp_pkt(b, "100.64.0.2", (uint16_t)(20000 + port), "100.64.0.1", 53);
      CHECK_EQ_INT(ts_filter_note_out(f, b, n, clock), 1);
      if (!in_model[port]) {
        int count = 0;
        for (unsigned i = 0; i < PORTS; i++) count += in_model[i];
        if (count == CAP) { /* evict the least recently used */
          unsigned victim = 0;
          uint64_t oldest = UINT64_MAX;
          for (unsigned i = 0; i < PORTS; i++)
            if (in_model[i] && last_use[i] < oldest) oldest = last_use[i], victim = i;
          in_model[victim] = 0;
        }
        in_model[port] = 1;
      }
      last_use[port] = clock;
    } else {
      size_t n = udp_pkt(b, "100.64.0.1", 53, "100.64.0.2", (uint16_t)(20000 + port));
      ts_filter_reason r = IN(f, b, n, clock);
      CHECK_EQ_INT(r, in_model[port] ? TS_FILTER_OK_FLOW : TS_FILTER_DROP_NO_RULE);
      if (in_model[port]) last_use[port] = clock;
    }
  }
  size_t count = 0;
  for (unsigned i = 0; i < PORTS; i++) count += (size_t)in_model[i];
  CHECK_EQ_INT(ts_filter_flow_count(f), count);
  ts_filter_free(f);
}

static void test_fragments_v4(void) {
  ts_filter *f = mk(0);
  ts_filter_prefix s = pfx("100.64.0.1", 32);
  ts_filter_dst d = dstp("100.64.0.2", 32, 53, 53);
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &s, 1, &d, 1), 0);
  uint8_t b[256], l4[128];
  memset(l4, 0xab, sizeof l4);
  size_t n;
  /* First fragment (MF, offset 0) is judged like a whole packet. */
  l4_udp(l4, 999, 53);
  n = ip4(b, UDP, "100.64.0.1", "100.64.0.2", l4, 96, 0x2000);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = ip4(b, UDP, "100.64.0.3", "100.64.0.2", l4, 96, 0x2000);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  /* Tiny first fragment that cuts the TCP header: malformed. */
  l4_tcp(l4, 999, 80, SYN);
  n = ip4(b, TCP, "100.64.0.1", "100.64.0.2", l4, 12, 0x2000);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_MALFORMED);
  /* Non-first fragments: accepted at offset >= 80 bytes (10 units), dropped below. */
  n = ip4(b, UDP, "100.64.0.3", "100.64.0.2", l4, 40, 10);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_FRAGMENT);
  n = ip4(b, TCP, "100.64.0.3", "100.64.0.2", l4, 40, 0x2000 | 200);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_FRAGMENT);
  n = ip4(b, TCP, "100.64.0.3", "100.64.0.2", l4, 40, 1); /* RFC 1858: would overwrite TCP flags */
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_FRAGMENT);
  n = ip4(b, TCP, "100.64.0.3", "100.64.0.2", l4, 40, 0x2000 | 9);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_FRAGMENT);
  /* Fragments still need a local destination, and none pass before rules. */
  n = ip4(b, UDP, "100.64.0.3", "100.64.0.9", l4, 40, 100);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NOT_LOCAL);
  /* Fragments create no flow state. */
  n = ip4(b, UDP, "100.64.0.2", "100.64.0.3", l4, 40, 100);
  CHECK_EQ_INT(ts_filter_note_out(f, b, n, 0), 0);
  ts_filter *g = mk(0);
  n = ip4(b, UDP, "100.64.0.3", "100.64.0.2", l4, 40, 100);
  CHECK_EQ_INT(IN(g, b, n, 0), TS_FILTER_DROP_NO_FILTER);
  ts_filter_free(g);
  ts_filter_free(f);
}

/* An IPv6 extension header of 8*units bytes whose next header is nh. */
static size_t ext6(uint8_t *e, uint8_t nh, unsigned units) {
  memset(e, 0, units * 8);
  e[0] = nh;
  e[1] = (uint8_t)(units - 1);
  return units * 8;
}

static size_t frag6(uint8_t *e, uint8_t nh, unsigned offset_bytes, int more) {
  memset(e, 0, 8);
  e[0] = nh;
  put16(e + 2, (offset_bytes & 0xfff8u) | (more ? 1u : 0u));
  e[7] = 0x42; /* identification */
  return 8;
}

static void test_ipv6_extension_headers_and_fragments(void) {
  ts_filter *f = mk(0);
  ts_filter_prefix s = pfx("fd7a:115c:a1e0::1", 128);
  ts_filter_dst d = dstp("fd7a:115c:a1e0::2", 128, 443, 443);
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &s, 1, &d, 1), 0);
  const char *peer = "fd7a:115c:a1e0::1", *other = "fd7a:115c:a1e0::3", *me = "fd7a:115c:a1e0::2";
  uint8_t b[512], ext[256], l4[64];
  size_t n, e;
  l4_tcp(l4, 999, 443, SYN);
  /* Hop-by-hop, destination options (16 bytes), routing, then TCP. */
  e = ext6(ext, 60, 1);
  e += ext6(ext + e, 43, 2);
  e += ext6(ext + e, TCP, 1);
  n = ip6(b, 0, peer, me, ext, e, l4, 20);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = ip6(b, 0, other, me, ext, e, l4, 20);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  /* AH (length in 4-byte units + 2): 12 bytes. */
  memset(ext, 0, 12);
  ext[0] = TCP;
  ext[1] = 1;
  n = ip6(b, 51, peer, me, ext, 12, l4, 20);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  /* Nine headers: too long a chain. Eight are fine. */
  e = 0;
  for (int i = 0; i < 8; i++) e += ext6(ext + e, i == 7 ? TCP : 60, 1);
  n = ip6(b, 60, peer, me, ext, e, l4, 20);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  e = 0;
  for (int i = 0; i < 9; i++) e += ext6(ext + e, i == 8 ? TCP : 60, 1);
  n = ip6(b, 60, peer, me, ext, e, l4, 20);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_MALFORMED);
  /* A header claiming more bytes than the packet has. */
  e = ext6(ext, TCP, 1);
  ext[1] = 200;
  n = ip6(b, 60, peer, me, ext, e, l4, 20);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_MALFORMED);
  /* No next header (59): an "other" protocol. */
  n = ip6(b, 59, peer, me, NULL, 0, l4, 8);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  /* Fragment header: first fragment judged normally; atomic fragment too. */
  e = frag6(ext, TCP, 0, 1);
  n = ip6(b, 44, peer, me, ext, e, l4, 20);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = ip6(b, 44, other, me, ext, e, l4, 20);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  e = frag6(ext, TCP, 0, 0);
  n = ip6(b, 44, peer, me, ext, e, l4, 20);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  e = frag6(ext, TCP, 0, 1);
  n = ip6(b, 44, peer, me, ext, e, l4, 10); /* first fragment cut inside TCP */
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_MALFORMED);
  e = frag6(ext, TCP, 1200, 0);
  n = ip6(b, 44, other, me, ext, e, l4, 20);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_FRAGMENT);
  e = frag6(ext, TCP, 8, 1);
  n = ip6(b, 44, other, me, ext, e, l4, 20);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_FRAGMENT);
  /* The parser reports fields from behind the chain. */
  ts_fpkt q;
  e = ext6(ext, 44, 1);
  e += frag6(ext + e, TCP, 0, 1);
  n = ip6(b, 0, peer, me, ext, e, l4, 20);
  CHECK_EQ_INT(ts_fpkt_parse(b, n, &q), TS_FPKT_OK);
  CHECK_EQ_INT(q.proto, TCP);
  CHECK_EQ_INT(q.sport, 999);
  CHECK_EQ_INT(q.dport, 443);
  CHECK_EQ_INT(q.tcp_flags, SYN);
  ts_filter_free(f);
}

static void test_multicast_link_local(void) {
  ts_filter *f = mk(0);
  ts_filter_prefix any[2] = {pfx("0.0.0.0", 0), pfx("::", 0)};
  ts_filter_dst anyd[2] = {dstp("0.0.0.0", 0, 0, 65535), dstp("::", 0, 0, 65535)};
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, any, 2, anyd, 2), 0);
  /* Even when "local" covers everything, these destinations are refused. */
  CHECK_EQ_INT(ts_filter_set_local(f, any, 2), 0);
  uint8_t b[128];
  size_t n;
  n = udp_pkt(b, "100.64.0.1", 1, "224.0.0.251", 5353);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_MULTICAST);
  n = udp_pkt(b, "100.64.0.1", 1, "239.255.255.250", 1900);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_MULTICAST);
  n = udp_pkt(b, "fd7a:115c:a1e0::1", 1, "ff02::fb", 5353);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_MULTICAST);
  n = udp_pkt(b, "100.64.0.1", 1, "169.254.1.1", 53);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_LINK_LOCAL);
  n = udp_pkt(b, "fd7a:115c:a1e0::1", 1, "fe80::1", 53);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_LINK_LOCAL);
  n = udp_pkt(b, "fd7a:115c:a1e0::1", 1, "febf::1", 53);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_LINK_LOCAL);
  n = udp_pkt(b, "100.64.0.1", 1, "169.254.169.254", 80); /* the cloud metadata address is exempt */
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  n = udp_pkt(b, "fd7a:115c:a1e0::1", 1, "fec0::1", 53);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  /* Without a local set nothing is ours. */
  CHECK_EQ_INT(ts_filter_set_local(f, NULL, 0), 0);
  n = udp_pkt(b, "100.64.0.1", 1, "100.64.0.2", 53);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NOT_LOCAL);
  ts_filter_free(f);
}

static void test_malformed(void) {
  ts_filter *f = mk(0);
  ts_filter_prefix any[2] = {pfx("0.0.0.0", 0), pfx("::", 0)};
  ts_filter_dst anyd[2] = {dstp("0.0.0.0", 0, 0, 65535), dstp("::", 0, 0, 65535)};
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, any, 2, anyd, 2), 0);
  uint8_t b[256];
  size_t n = tcp_pkt(b, "100.64.0.1", 1, "100.64.0.2", 80, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  for (size_t cut = 0; cut < n; cut++) CHECK_EQ_INT(IN(f, b, cut, 0), TS_FILTER_DROP_MALFORMED);
  CHECK_EQ_INT(IN(f, NULL, 0, 0), TS_FILTER_DROP_MALFORMED);
  uint8_t c[256];
  memcpy(c, b, n);
  c[0] = 0x55; /* version 5 */
  CHECK_EQ_INT(IN(f, c, n, 0), TS_FILTER_DROP_MALFORMED);
  memcpy(c, b, n);
  c[0] = 0x44; /* IHL 16 bytes */
  CHECK_EQ_INT(IN(f, c, n, 0), TS_FILTER_DROP_MALFORMED);
  memcpy(c, b, n);
  c[0] = 0x4f; /* IHL 60 > total length 40 */
  CHECK_EQ_INT(IN(f, c, n, 0), TS_FILTER_DROP_MALFORMED);
  memcpy(c, b, n);
  put16(c + 2, 41); /* total length beyond the buffer */
  CHECK_EQ_INT(IN(f, c, n, 0), TS_FILTER_DROP_MALFORMED);
  memcpy(c, b, n);
  put16(c + 2, 36); /* total length cuts the TCP header */
  CHECK_EQ_INT(IN(f, c, n, 0), TS_FILTER_DROP_MALFORMED);
  memcpy(c, b, n);
  c[32] = 4 << 4; /* TCP data offset 16 bytes */
  CHECK_EQ_INT(IN(f, c, n, 0), TS_FILTER_DROP_MALFORMED);
  memcpy(c, b, n);
  c[32] = 15 << 4; /* TCP data offset 60 bytes > segment */
  CHECK_EQ_INT(IN(f, c, n, 0), TS_FILTER_DROP_MALFORMED);
  /* Trailing bytes after the IP total length are ignored. */
  memcpy(c, b, n);
  memset(c + n, 0xee, 20);
  CHECK_EQ_INT(IN(f, c, n + 20, 0), TS_FILTER_OK_RULE);
  /* IPv6: payload length beyond the buffer, zero (jumbogram), truncated UDP. */
  n = udp_pkt(b, "fd7a:115c:a1e0::1", 1, "fd7a:115c:a1e0::2", 53);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  for (size_t cut = 0; cut < n; cut++) CHECK_EQ_INT(IN(f, b, cut, 0), TS_FILTER_DROP_MALFORMED);
  memcpy(c, b, n);
  put16(c + 4, 0);
  CHECK_EQ_INT(IN(f, c, n, 0), TS_FILTER_DROP_MALFORMED);
  memcpy(c, b, n);
  put16(c + 4, 4);
  CHECK_EQ_INT(IN(f, c, n, 0), TS_FILTER_DROP_MALFORMED);
  CHECK_EQ_INT(ts_filter_note_out(f, c, n, 0), 0);
  /* Random garbage (deterministic xorshift): never crashes, always a verdict, mostly drops. */
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < 20000; i++) {
    size_t len = 0;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    len = x % sizeof b;
    for (size_t j = 0; j < len; j++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      b[j] = (uint8_t)x;
    }
    if (i & 1) b[0] = (uint8_t)((i & 2 ? 0x40 : 0x60) | (b[0] & 0x0f));
    ts_filter_reason r = IN(f, b, len, (uint64_t)i);
    CHECK((unsigned)r < TS_FILTER_REASON_COUNT);
    ts_filter_note_out(f, b, len, (uint64_t)i);
  }
  CHECK(ts_filter_flow_count(f) <= ts_filter_flow_capacity(f));
  ts_filter_free(f);
}

static void test_set_rules_validation(void) {
  ts_filter *f = mk(0);
  ts_filter_prefix s = pfx("100.64.0.1", 32);
  ts_filter_dst d = dstp("100.64.0.2", 32, 80, 80);
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &s, 1, &d, 1), 0);
  uint8_t b[128];
  size_t n = tcp_pkt(b, "100.64.0.1", 1, "100.64.0.2", 80, SYN);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  ts_filter_prefix bad = s;
  bad.bits = 33;
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &bad, 1, &d, 1), -1);
  bad = s;
  bad.family = 5;
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &bad, 1, &d, 1), -1);
  ts_filter_dst badd = d;
  badd.first = 81;
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &s, 1, &badd, 1), -1);
  badd = d;
  badd.net.bits = 129;
  badd.net.family = 6;
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &s, 1, &badd, 1), -1);
  CHECK_EQ_INT(set1(f, NULL, 4, &s, 1, &d, 1), -1);
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, NULL, 1, &d, 1), -1);
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &s, 1, NULL, 1), -1);
  CHECK_EQ_INT(ts_filter_set_rules(f, NULL, 3), -1);
  CHECK_EQ_INT(ts_filter_set_local(f, NULL, 1), -1);
  CHECK_EQ_INT(ts_filter_set_local(f, &bad, 1), -1);
  CHECK_EQ_INT(ts_filter_set_rules(NULL, NULL, 0), -1);
  uint8_t a1[16], a2[16];
  addr("100.64.0.1", a1);
  addr("100.64.0.2", a2);
  CHECK_EQ_INT(ts_filter_rule_allows(f, TCP, 4, a1, a2, 80), 1);
  CHECK_EQ_INT(ts_filter_rule_allows(f, TCP, 5, a1, a2, 80), 0);
  CHECK_EQ_INT(ts_filter_rule_allows(f, TCP, 4, NULL, a2, 80), 0);
  CHECK_EQ_INT(ts_filter_rule_allows(NULL, TCP, 4, a1, a2, 80), 0);
  /* All refused: the old rules and local set still apply. */
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  /* Rules with empty parts match nothing. */
  CHECK_EQ_INT(set1(f, NULL, 0, &s, 1, &d, 1), 0);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, NULL, 0, &d, 1), 0);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &s, 1, NULL, 0), 0);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_DROP_NO_RULE);
  /* The caller's arrays are copied: changing them afterwards changes nothing. */
  CHECK_EQ_INT(set1(f, DEFAULT_PROTOS, 4, &s, 1, &d, 1), 0);
  s = pfx("100.64.0.99", 32);
  CHECK_EQ_INT(IN(f, b, n, 0), TS_FILTER_OK_RULE);
  ts_filter_free(f);
  ts_filter_free(NULL);
}

static void test_counters_and_names(void) {
  ts_filter *f = mk(0);
  uint8_t b[128];
  size_t n = tcp_pkt(b, "100.64.0.1", 1, "100.64.0.2", 80, SYN);
  IN(f, b, n, 0);
  IN(f, b, n, 0);
  CHECK_EQ_INT(ts_filter_set_rules(f, NULL, 0), 0);
  IN(f, b, n, 0);
  IN(f, b, 3, 0);
  n = proto_pkt(b, 99, "100.64.0.1", "100.64.0.2");
  IN(f, b, n, 0);
  uint64_t c[TS_FILTER_REASON_COUNT];
  ts_filter_counters(f, c);
  CHECK_EQ_INT(c[TS_FILTER_DROP_NO_FILTER], 2);
  CHECK_EQ_INT(c[TS_FILTER_DROP_NO_RULE], 1);
  CHECK_EQ_INT(c[TS_FILTER_DROP_MALFORMED], 1);
  CHECK_EQ_INT(c[TS_FILTER_OK_TSMP], 1);
  CHECK_EQ_INT(c[TS_FILTER_OK_RULE], 0);
  for (int r = 0; r < TS_FILTER_REASON_COUNT; r++) {
    CHECK(strcmp(ts_filter_reason_name((ts_filter_reason)r), "unknown") != 0);
    CHECK_EQ_INT(ts_filter_accepted((ts_filter_reason)r), r < TS_FILTER_FIRST_DROP);
  }
  CHECK(strcmp(ts_filter_reason_name(TS_FILTER_REASON_COUNT), "unknown") == 0);
  CHECK(strcmp(ts_filter_reason_name(TS_FILTER_DROP_NO_FLOW), "drop-no-flow") == 0);
  ts_filter_free(f);
}

/* ---- cross-check against lib/wire/filter.ts ----
 * Generated by running the TypeScript compiler and reference matcher (dist/control/filter.js) over fixed
 * FilterRules (single IPs, CIDRs, an a-b range, "*", IPProto lists, an all-ports rule for GRE, a 1-65535 rule
 * for ESP, a port-0-only rule): each case is {proto, src, dst, port, filterAllows(), expected here}. The two
 * verdicts agree except for ICMP, where this filter follows Tailscale (any rule whose source and destination
 * match, protocols ignored) and filterAllows also requires ICMP in the rule's protocols; the generator
 * computes that column from the compiled matches. The generator is at the end of this file; regenerate with
 *   npm run build:ts && sed -n '/^GENERATOR-BEGIN$/,/^GENERATOR-END$/p' native/test/test_filter.c | sed '1d;$d' \
 *     > /tmp/gen.js && node /tmp/gen.js "$PWD"
 * and paste its two lists into XRULES and XCASES. */
typedef struct {
  uint8_t protos[8];
  size_t np;
  struct { int fam, bits; const char *ip; } srcs[4];
  size_t ns;
  struct { struct { int fam, bits; const char *ip; } net; uint16_t first, last; } dsts[4];
  size_t nd;
} xrule;
typedef struct {
  uint8_t proto;
  const char *src, *dst;
  uint16_t port;
  int ts_allows, expect;
} xcase;

static const xrule XRULES[] = {
  {{6, 17, 1, 58}, 4, {{4, 32, "100.64.0.1"}}, 1, {{{4, 32, "100.64.0.2"}, 80, 90}}, 1},
  {{6}, 1, {{4, 24, "100.64.1.0"}, {6, 48, "fd7a:115c:a1e0::"}}, 2, {{{4, 0, "0.0.0.0"}, 22, 22}, {{6, 0, "::"}, 22, 22}}, 2},
  {{17, 132}, 2, {{4, 31, "100.64.0.10"}, {4, 31, "100.64.0.12"}}, 2, {{{4, 31, "100.64.0.2"}, 5000, 5999}}, 1},
  {{6, 17, 1, 58}, 4, {{4, 0, "0.0.0.0"}, {6, 0, "::"}}, 2, {{{6, 128, "fd7a:115c:a1e0::2"}, 443, 443}}, 1},
  {{47, 6}, 2, {{4, 32, "100.64.0.9"}, {6, 128, "fd7a:115c:a1e0::9"}}, 2, {{{4, 32, "100.64.0.2"}, 0, 65535}, {{6, 128, "fd7a:115c:a1e0::2"}, 0, 65535}}, 2},
  {{50}, 1, {{4, 32, "100.64.0.20"}}, 1, {{{4, 32, "100.64.0.2"}, 1, 65535}}, 1},
  {{6, 17}, 2, {{4, 32, "100.64.0.30"}}, 1, {{{4, 30, "100.64.0.0"}, 0, 0}}, 1},
};

static const xcase XCASES[] = {
  {6, "100.64.0.1", "100.64.0.2", 0, 0, 0},
  {6, "100.64.0.1", "100.64.0.2", 1, 0, 0},
  {6, "100.64.0.1", "100.64.0.2", 22, 0, 0},
  {6, "100.64.0.1", "100.64.0.2", 23, 0, 0},
  {6, "100.64.0.1", "100.64.0.2", 79, 0, 0},
  {6, "100.64.0.1", "100.64.0.2", 80, 1, 1},
  {6, "100.64.0.1", "100.64.0.2", 90, 1, 1},
  {6, "100.64.0.1", "100.64.0.2", 91, 0, 0},
  {6, "100.64.0.1", "100.64.0.2", 443, 0, 0},
  {6, "100.64.0.1", "100.64.0.2", 4999, 0, 0},
  {6, "100.64.0.1", "100.64.0.2", 5000, 0, 0},
  {6, "100.64.0.1", "100.64.0.2", 5999, 0, 0},
  {6, "100.64.0.1", "100.64.0.2", 65535, 0, 0},
  {17, "100.64.0.1", "100.64.0.2", 0, 0, 0},
  {17, "100.64.0.1", "100.64.0.2", 1, 0, 0},
  {17, "100.64.0.1", "100.64.0.2", 22, 0, 0},
  {17, "100.64.0.1", "100.64.0.2", 23, 0, 0},
  {17, "100.64.0.1", "100.64.0.2", 79, 0, 0},
  {17, "100.64.0.1", "100.64.0.2", 80, 1, 1},
  {17, "100.64.0.1", "100.64.0.2", 90, 1, 1},
  {17, "100.64.0.1", "100.64.0.2", 91, 0, 0},
  {17, "100.64.0.1", "100.64.0.2", 443, 0, 0},
  {17, "100.64.0.1", "100.64.0.2", 4999, 0, 0},
  {17, "100.64.0.1", "100.64.0.2", 5000, 0, 0},
  {17, "100.64.0.1", "100.64.0.2", 5999, 0, 0},
  {17, "100.64.0.1", "100.64.0.2", 65535, 0, 0},
  {132, "100.64.0.1", "100.64.0.2", 0, 0, 0},
  {132, "100.64.0.1", "100.64.0.2", 1, 0, 0},
  {132, "100.64.0.1", "100.64.0.2", 22, 0, 0},
  {132, "100.64.0.1", "100.64.0.2", 23, 0, 0},
  {132, "100.64.0.1", "100.64.0.2", 79, 0, 0},
  {132, "100.64.0.1", "100.64.0.2", 80, 0, 0},
  {132, "100.64.0.1", "100.64.0.2", 90, 0, 0},
  {132, "100.64.0.1", "100.64.0.2", 91, 0, 0},
  {132, "100.64.0.1", "100.64.0.2", 443, 0, 0},
  {132, "100.64.0.1", "100.64.0.2", 4999, 0, 0},
  {132, "100.64.0.1", "100.64.0.2", 5000, 0, 0},
  {132, "100.64.0.1", "100.64.0.2", 5999, 0, 0},
  {132, "100.64.0.1", "100.64.0.2", 65535, 0, 0},
  {1, "100.64.0.1", "100.64.0.2", 0, 1, 1},
  {47, "100.64.0.1", "100.64.0.2", 0, 0, 0},
  {50, "100.64.0.1", "100.64.0.2", 0, 0, 0},
  {6, "100.64.0.1", "100.64.0.3", 0, 0, 0},
  {6, "100.64.0.1", "100.64.0.3", 1, 0, 0},
  {6, "100.64.0.1", "100.64.0.3", 22, 0, 0},
  {6, "100.64.0.1", "100.64.0.3", 23, 0, 0},
  {6, "100.64.0.1", "100.64.0.3", 79, 0, 0},
  {6, "100.64.0.1", "100.64.0.3", 80, 0, 0},
  {6, "100.64.0.1", "100.64.0.3", 90, 0, 0},
  {6, "100.64.0.1", "100.64.0.3", 91, 0, 0},
  {6, "100.64.0.1", "100.64.0.3", 443, 0, 0},
  {6, "100.64.0.1", "100.64.0.3", 4999, 0, 0},
  {6, "100.64.0.1", "100.64.0.3", 5000, 0, 0},
  {6, "100.64.0.1", "100.64.0.3", 5999, 0, 0},
  {6, "100.64.0.1", "100.64.0.3", 65535, 0, 0},
  {17, "100.64.0.1", "100.64.0.3", 0, 0, 0},
  {17, "100.64.0.1", "100.64.0.3", 1, 0, 0},
  {17, "100.64.0.1", "100.64.0.3", 22, 0, 0},
  {17, "100.64.0.1", "100.64.0.3", 23, 0, 0},
  {17, "100.64.0.1", "100.64.0.3", 79, 0, 0},
  {17, "100.64.0.1", "100.64.0.3", 80, 0, 0},
  {17, "100.64.0.1", "100.64.0.3", 90, 0, 0},
  {17, "100.64.0.1", "100.64.0.3", 91, 0, 0},
  {17, "100.64.0.1", "100.64.0.3", 443, 0, 0},
  {17, "100.64.0.1", "100.64.0.3", 4999, 0, 0},
  {17, "100.64.0.1", "100.64.0.3", 5000, 0, 0},
  {17, "100.64.0.1", "100.64.0.3", 5999, 0, 0},
  {17, "100.64.0.1", "100.64.0.3", 65535, 0, 0},
  {132, "100.64.0.1", "100.64.0.3", 0, 0, 0},
  {132, "100.64.0.1", "100.64.0.3", 1, 0, 0},
  {132, "100.64.0.1", "100.64.0.3", 22, 0, 0},
  {132, "100.64.0.1", "100.64.0.3", 23, 0, 0},
  {132, "100.64.0.1", "100.64.0.3", 79, 0, 0},
  {132, "100.64.0.1", "100.64.0.3", 80, 0, 0},
  {132, "100.64.0.1", "100.64.0.3", 90, 0, 0},
  {132, "100.64.0.1", "100.64.0.3", 91, 0, 0},
  {132, "100.64.0.1", "100.64.0.3", 443, 0, 0},
  {132, "100.64.0.1", "100.64.0.3", 4999, 0, 0},
  {132, "100.64.0.1", "100.64.0.3", 5000, 0, 0},
  {132, "100.64.0.1", "100.64.0.3", 5999, 0, 0},
  {132, "100.64.0.1", "100.64.0.3", 65535, 0, 0},
  {1, "100.64.0.1", "100.64.0.3", 0, 0, 0},
  {47, "100.64.0.1", "100.64.0.3", 0, 0, 0},
  {50, "100.64.0.1", "100.64.0.3", 0, 0, 0},
  {6, "100.64.0.1", "100.64.0.4", 0, 0, 0},
  {6, "100.64.0.1", "100.64.0.4", 1, 0, 0},
  {6, "100.64.0.1", "100.64.0.4", 22, 0, 0},
  {6, "100.64.0.1", "100.64.0.4", 23, 0, 0},
  {6, "100.64.0.1", "100.64.0.4", 79, 0, 0},
  {6, "100.64.0.1", "100.64.0.4", 80, 0, 0},
  {6, "100.64.0.1", "100.64.0.4", 90, 0, 0},
  {6, "100.64.0.1", "100.64.0.4", 91, 0, 0},
  {6, "100.64.0.1", "100.64.0.4", 443, 0, 0},
  {6, "100.64.0.1", "100.64.0.4", 4999, 0, 0},
  {6, "100.64.0.1", "100.64.0.4", 5000, 0, 0},
  {6, "100.64.0.1", "100.64.0.4", 5999, 0, 0},
  {6, "100.64.0.1", "100.64.0.4", 65535, 0, 0},
  {17, "100.64.0.1", "100.64.0.4", 0, 0, 0},
  {17, "100.64.0.1", "100.64.0.4", 1, 0, 0},
  {17, "100.64.0.1", "100.64.0.4", 22, 0, 0},
  {17, "100.64.0.1", "100.64.0.4", 23, 0, 0},
  {17, "100.64.0.1", "100.64.0.4", 79, 0, 0},
  {17, "100.64.0.1", "100.64.0.4", 80, 0, 0},
  {17, "100.64.0.1", "100.64.0.4", 90, 0, 0},
  {17, "100.64.0.1", "100.64.0.4", 91, 0, 0},
  {17, "100.64.0.1", "100.64.0.4", 443, 0, 0},
  {17, "100.64.0.1", "100.64.0.4", 4999, 0, 0},
  {17, "100.64.0.1", "100.64.0.4", 5000, 0, 0},
  {17, "100.64.0.1", "100.64.0.4", 5999, 0, 0},
  {17, "100.64.0.1", "100.64.0.4", 65535, 0, 0},
  {132, "100.64.0.1", "100.64.0.4", 0, 0, 0},
  {132, "100.64.0.1", "100.64.0.4", 1, 0, 0},
  {132, "100.64.0.1", "100.64.0.4", 22, 0, 0},
  {132, "100.64.0.1", "100.64.0.4", 23, 0, 0},
  {132, "100.64.0.1", "100.64.0.4", 79, 0, 0},
  {132, "100.64.0.1", "100.64.0.4", 80, 0, 0},
  {132, "100.64.0.1", "100.64.0.4", 90, 0, 0},
  {132, "100.64.0.1", "100.64.0.4", 91, 0, 0},
  {132, "100.64.0.1", "100.64.0.4", 443, 0, 0},
  {132, "100.64.0.1", "100.64.0.4", 4999, 0, 0},
  {132, "100.64.0.1", "100.64.0.4", 5000, 0, 0},
  {132, "100.64.0.1", "100.64.0.4", 5999, 0, 0},
  {132, "100.64.0.1", "100.64.0.4", 65535, 0, 0},
  {1, "100.64.0.1", "100.64.0.4", 0, 0, 0},
  {47, "100.64.0.1", "100.64.0.4", 0, 0, 0},
  {50, "100.64.0.1", "100.64.0.4", 0, 0, 0},
  {6, "100.64.0.3", "100.64.0.2", 0, 0, 0},
  {6, "100.64.0.3", "100.64.0.2", 1, 0, 0},
  {6, "100.64.0.3", "100.64.0.2", 22, 0, 0},
  {6, "100.64.0.3", "100.64.0.2", 23, 0, 0},
  {6, "100.64.0.3", "100.64.0.2", 79, 0, 0},
  {6, "100.64.0.3", "100.64.0.2", 80, 0, 0},
  {6, "100.64.0.3", "100.64.0.2", 90, 0, 0},
  {6, "100.64.0.3", "100.64.0.2", 91, 0, 0},
  {6, "100.64.0.3", "100.64.0.2", 443, 0, 0},
  {6, "100.64.0.3", "100.64.0.2", 4999, 0, 0},
  {6, "100.64.0.3", "100.64.0.2", 5000, 0, 0},
  {6, "100.64.0.3", "100.64.0.2", 5999, 0, 0},
  {6, "100.64.0.3", "100.64.0.2", 65535, 0, 0},
  {17, "100.64.0.3", "100.64.0.2", 0, 0, 0},
  {17, "100.64.0.3", "100.64.0.2", 1, 0, 0},
  {17, "100.64.0.3", "100.64.0.2", 22, 0, 0},
  {17, "100.64.0.3", "100.64.0.2", 23, 0, 0},
  {17, "100.64.0.3", "100.64.0.2", 79, 0, 0},
  {17, "100.64.0.3", "100.64.0.2", 80, 0, 0},
  {17, "100.64.0.3", "100.64.0.2", 90, 0, 0},
  {17, "100.64.0.3", "100.64.0.2", 91, 0, 0},
  {17, "100.64.0.3", "100.64.0.2", 443, 0, 0},
  {17, "100.64.0.3", "100.64.0.2", 4999, 0, 0},
  {17, "100.64.0.3", "100.64.0.2", 5000, 0, 0},
  {17, "100.64.0.3", "100.64.0.2", 5999, 0, 0},
  {17, "100.64.0.3", "100.64.0.2", 65535, 0, 0},
  {132, "100.64.0.3", "100.64.0.2", 0, 0, 0},
  {132, "100.64.0.3", "100.64.0.2", 1, 0, 0},
  {132, "100.64.0.3", "100.64.0.2", 22, 0, 0},
  {132, "100.64.0.3", "100.64.0.2", 23, 0, 0},
  {132, "100.64.0.3", "100.64.0.2", 79, 0, 0},
  {132, "100.64.0.3", "100.64.0.2", 80, 0, 0},
  {132, "100.64.0.3", "100.64.0.2", 90, 0, 0},
  {132, "100.64.0.3", "100.64.0.2", 91, 0, 0},
  {132, "100.64.0.3", "100.64.0.2", 443, 0, 0},
  {132, "100.64.0.3", "100.64.0.2", 4999, 0, 0},
  {132, "100.64.0.3", "100.64.0.2", 5000, 0, 0},
  {132, "100.64.0.3", "100.64.0.2", 5999, 0, 0},
  {132, "100.64.0.3", "100.64.0.2", 65535, 0, 0},
  {1, "100.64.0.3", "100.64.0.2", 0, 0, 0},
  {47, "100.64.0.3", "100.64.0.2", 0, 0, 0},
  {50, "100.64.0.3", "100.64.0.2", 0, 0, 0},
  {6, "100.64.0.3", "100.64.0.3", 0, 0, 0},
  {6, "100.64.0.3", "100.64.0.3", 1, 0, 0},
  {6, "100.64.0.3", "100.64.0.3", 22, 0, 0},
  {6, "100.64.0.3", "100.64.0.3", 23, 0, 0},
  {6, "100.64.0.3", "100.64.0.3", 79, 0, 0},
  {6, "100.64.0.3", "100.64.0.3", 80, 0, 0},
  {6, "100.64.0.3", "100.64.0.3", 90, 0, 0},
  {6, "100.64.0.3", "100.64.0.3", 91, 0, 0},
  {6, "100.64.0.3", "100.64.0.3", 443, 0, 0},
  {6, "100.64.0.3", "100.64.0.3", 4999, 0, 0},
  {6, "100.64.0.3", "100.64.0.3", 5000, 0, 0},
  {6, "100.64.0.3", "100.64.0.3", 5999, 0, 0},
  {6, "100.64.0.3", "100.64.0.3", 65535, 0, 0},
  {17, "100.64.0.3", "100.64.0.3", 0, 0, 0},
  {17, "100.64.0.3", "100.64.0.3", 1, 0, 0},
  {17, "100.64.0.3", "100.64.0.3", 22, 0, 0},
  {17, "100.64.0.3", "100.64.0.3", 23, 0, 0},
  {17, "100.64.0.3", "100.64.0.3", 79, 0, 0},
  {17, "100.64.0.3", "100.64.0.3", 80, 0, 0},
  {17, "100.64.0.3", "100.64.0.3", 90, 0, 0},
  {17, "100.64.0.3", "100.64.0.3", 91, 0, 0},
  {17, "100.64.0.3", "100.64.0.3", 443, 0, 0},
  {17, "100.64.0.3", "100.64.0.3", 4999, 0, 0},
  {17, "100.64.0.3", "100.64.0.3", 5000, 0, 0},
  {17, "100.64.0.3", "100.64.0.3", 5999, 0, 0},
  {17, "100.64.0.3", "100.64.0.3", 65535, 0, 0},
  {132, "100.64.0.3", "100.64.0.3", 0, 0, 0},
  {132, "100.64.0.3", "100.64.0.3", 1, 0, 0},
  {132, "100.64.0.3", "100.64.0.3", 22, 0, 0},
  {132, "100.64.0.3", "100.64.0.3", 23, 0, 0},
  {132, "100.64.0.3", "100.64.0.3", 79, 0, 0},
  {132, "100.64.0.3", "100.64.0.3", 80, 0, 0},
  {132, "100.64.0.3", "100.64.0.3", 90, 0, 0},
  {132, "100.64.0.3", "100.64.0.3", 91, 0, 0},
  {132, "100.64.0.3", "100.64.0.3", 443, 0, 0},
  {132, "100.64.0.3", "100.64.0.3", 4999, 0, 0},
  {132, "100.64.0.3", "100.64.0.3", 5000, 0, 0},
  {132, "100.64.0.3", "100.64.0.3", 5999, 0, 0},
  {132, "100.64.0.3", "100.64.0.3", 65535, 0, 0},
  {1, "100.64.0.3", "100.64.0.3", 0, 0, 0},
  {47, "100.64.0.3", "100.64.0.3", 0, 0, 0},
  {50, "100.64.0.3", "100.64.0.3", 0, 0, 0},
  {6, "100.64.0.3", "100.64.0.4", 0, 0, 0},
  {6, "100.64.0.3", "100.64.0.4", 1, 0, 0},
  {6, "100.64.0.3", "100.64.0.4", 22, 0, 0},
  {6, "100.64.0.3", "100.64.0.4", 23, 0, 0},
  {6, "100.64.0.3", "100.64.0.4", 79, 0, 0},
  {6, "100.64.0.3", "100.64.0.4", 80, 0, 0},
  {6, "100.64.0.3", "100.64.0.4", 90, 0, 0},
  {6, "100.64.0.3", "100.64.0.4", 91, 0, 0},
  {6, "100.64.0.3", "100.64.0.4", 443, 0, 0},
  {6, "100.64.0.3", "100.64.0.4", 4999, 0, 0},
  {6, "100.64.0.3", "100.64.0.4", 5000, 0, 0},
  {6, "100.64.0.3", "100.64.0.4", 5999, 0, 0},
  {6, "100.64.0.3", "100.64.0.4", 65535, 0, 0},
  {17, "100.64.0.3", "100.64.0.4", 0, 0, 0},
  {17, "100.64.0.3", "100.64.0.4", 1, 0, 0},
  {17, "100.64.0.3", "100.64.0.4", 22, 0, 0},
  {17, "100.64.0.3", "100.64.0.4", 23, 0, 0},
  {17, "100.64.0.3", "100.64.0.4", 79, 0, 0},
  {17, "100.64.0.3", "100.64.0.4", 80, 0, 0},
  {17, "100.64.0.3", "100.64.0.4", 90, 0, 0},
  {17, "100.64.0.3", "100.64.0.4", 91, 0, 0},
  {17, "100.64.0.3", "100.64.0.4", 443, 0, 0},
  {17, "100.64.0.3", "100.64.0.4", 4999, 0, 0},
  {17, "100.64.0.3", "100.64.0.4", 5000, 0, 0},
  {17, "100.64.0.3", "100.64.0.4", 5999, 0, 0},
  {17, "100.64.0.3", "100.64.0.4", 65535, 0, 0},
  {132, "100.64.0.3", "100.64.0.4", 0, 0, 0},
  {132, "100.64.0.3", "100.64.0.4", 1, 0, 0},
  {132, "100.64.0.3", "100.64.0.4", 22, 0, 0},
  {132, "100.64.0.3", "100.64.0.4", 23, 0, 0},
  {132, "100.64.0.3", "100.64.0.4", 79, 0, 0},
  {132, "100.64.0.3", "100.64.0.4", 80, 0, 0},
  {132, "100.64.0.3", "100.64.0.4", 90, 0, 0},
  {132, "100.64.0.3", "100.64.0.4", 91, 0, 0},
  {132, "100.64.0.3", "100.64.0.4", 443, 0, 0},
  {132, "100.64.0.3", "100.64.0.4", 4999, 0, 0},
  {132, "100.64.0.3", "100.64.0.4", 5000, 0, 0},
  {132, "100.64.0.3", "100.64.0.4", 5999, 0, 0},
  {132, "100.64.0.3", "100.64.0.4", 65535, 0, 0},
  {1, "100.64.0.3", "100.64.0.4", 0, 0, 0},
  {47, "100.64.0.3", "100.64.0.4", 0, 0, 0},
  {50, "100.64.0.3", "100.64.0.4", 0, 0, 0},
  {6, "100.64.1.77", "100.64.0.2", 0, 0, 0},
  {6, "100.64.1.77", "100.64.0.2", 1, 0, 0},
  {6, "100.64.1.77", "100.64.0.2", 22, 1, 1},
  {6, "100.64.1.77", "100.64.0.2", 23, 0, 0},
  {6, "100.64.1.77", "100.64.0.2", 79, 0, 0},
  {6, "100.64.1.77", "100.64.0.2", 80, 0, 0},
  {6, "100.64.1.77", "100.64.0.2", 90, 0, 0},
  {6, "100.64.1.77", "100.64.0.2", 91, 0, 0},
  {6, "100.64.1.77", "100.64.0.2", 443, 0, 0},
  {6, "100.64.1.77", "100.64.0.2", 4999, 0, 0},
  {6, "100.64.1.77", "100.64.0.2", 5000, 0, 0},
  {6, "100.64.1.77", "100.64.0.2", 5999, 0, 0},
  {6, "100.64.1.77", "100.64.0.2", 65535, 0, 0},
  {17, "100.64.1.77", "100.64.0.2", 0, 0, 0},
  {17, "100.64.1.77", "100.64.0.2", 1, 0, 0},
  {17, "100.64.1.77", "100.64.0.2", 22, 0, 0},
  {17, "100.64.1.77", "100.64.0.2", 23, 0, 0},
  {17, "100.64.1.77", "100.64.0.2", 79, 0, 0},
  {17, "100.64.1.77", "100.64.0.2", 80, 0, 0},
  {17, "100.64.1.77", "100.64.0.2", 90, 0, 0},
  {17, "100.64.1.77", "100.64.0.2", 91, 0, 0},
  {17, "100.64.1.77", "100.64.0.2", 443, 0, 0},
  {17, "100.64.1.77", "100.64.0.2", 4999, 0, 0},
  {17, "100.64.1.77", "100.64.0.2", 5000, 0, 0},
  {17, "100.64.1.77", "100.64.0.2", 5999, 0, 0},
  {17, "100.64.1.77", "100.64.0.2", 65535, 0, 0},
  {132, "100.64.1.77", "100.64.0.2", 0, 0, 0},
  {132, "100.64.1.77", "100.64.0.2", 1, 0, 0},
  {132, "100.64.1.77", "100.64.0.2", 22, 0, 0},
  {132, "100.64.1.77", "100.64.0.2", 23, 0, 0},
  {132, "100.64.1.77", "100.64.0.2", 79, 0, 0},
  {132, "100.64.1.77", "100.64.0.2", 80, 0, 0},
  {132, "100.64.1.77", "100.64.0.2", 90, 0, 0},
  {132, "100.64.1.77", "100.64.0.2", 91, 0, 0},
  {132, "100.64.1.77", "100.64.0.2", 443, 0, 0},
  {132, "100.64.1.77", "100.64.0.2", 4999, 0, 0},
  {132, "100.64.1.77", "100.64.0.2", 5000, 0, 0},
  {132, "100.64.1.77", "100.64.0.2", 5999, 0, 0},
  {132, "100.64.1.77", "100.64.0.2", 65535, 0, 0},
  {1, "100.64.1.77", "100.64.0.2", 0, 0, 1},
  {47, "100.64.1.77", "100.64.0.2", 0, 0, 0},
  {50, "100.64.1.77", "100.64.0.2", 0, 0, 0},
  {6, "100.64.1.77", "100.64.0.3", 0, 0, 0},
  {6, "100.64.1.77", "100.64.0.3", 1, 0, 0},
  {6, "100.64.1.77", "100.64.0.3", 22, 1, 1},
  {6, "100.64.1.77", "100.64.0.3", 23, 0, 0},
  {6, "100.64.1.77", "100.64.0.3", 79, 0, 0},
  {6, "100.64.1.77", "100.64.0.3", 80, 0, 0},
  {6, "100.64.1.77", "100.64.0.3", 90, 0, 0},
  {6, "100.64.1.77", "100.64.0.3", 91, 0, 0},
  {6, "100.64.1.77", "100.64.0.3", 443, 0, 0},
  {6, "100.64.1.77", "100.64.0.3", 4999, 0, 0},
  {6, "100.64.1.77", "100.64.0.3", 5000, 0, 0},
  {6, "100.64.1.77", "100.64.0.3", 5999, 0, 0},
  {6, "100.64.1.77", "100.64.0.3", 65535, 0, 0},
  {17, "100.64.1.77", "100.64.0.3", 0, 0, 0},
  {17, "100.64.1.77", "100.64.0.3", 1, 0, 0},
  {17, "100.64.1.77", "100.64.0.3", 22, 0, 0},
  {17, "100.64.1.77", "100.64.0.3", 23, 0, 0},
  {17, "100.64.1.77", "100.64.0.3", 79, 0, 0},
  {17, "100.64.1.77", "100.64.0.3", 80, 0, 0},
  {17, "100.64.1.77", "100.64.0.3", 90, 0, 0},
  {17, "100.64.1.77", "100.64.0.3", 91, 0, 0},
  {17, "100.64.1.77", "100.64.0.3", 443, 0, 0},
  {17, "100.64.1.77", "100.64.0.3", 4999, 0, 0},
  {17, "100.64.1.77", "100.64.0.3", 5000, 0, 0},
  {17, "100.64.1.77", "100.64.0.3", 5999, 0, 0},
  {17, "100.64.1.77", "100.64.0.3", 65535, 0, 0},
  {132, "100.64.1.77", "100.64.0.3", 0, 0, 0},
  {132, "100.64.1.77", "100.64.0.3", 1, 0, 0},
  {132, "100.64.1.77", "100.64.0.3", 22, 0, 0},
  {132, "100.64.1.77", "100.64.0.3", 23, 0, 0},
  {132, "100.64.1.77", "100.64.0.3", 79, 0, 0},
  {132, "100.64.1.77", "100.64.0.3", 80, 0, 0},
  {132, "100.64.1.77", "100.64.0.3", 90, 0, 0},
  {132, "100.64.1.77", "100.64.0.3", 91, 0, 0},
  {132, "100.64.1.77", "100.64.0.3", 443, 0, 0},
  {132, "100.64.1.77", "100.64.0.3", 4999, 0, 0},
  {132, "100.64.1.77", "100.64.0.3", 5000, 0, 0},
  {132, "100.64.1.77", "100.64.0.3", 5999, 0, 0},
  {132, "100.64.1.77", "100.64.0.3", 65535, 0, 0},
  {1, "100.64.1.77", "100.64.0.3", 0, 0, 1},
  {47, "100.64.1.77", "100.64.0.3", 0, 0, 0},
  {50, "100.64.1.77", "100.64.0.3", 0, 0, 0},
  {6, "100.64.1.77", "100.64.0.4", 0, 0, 0},
  {6, "100.64.1.77", "100.64.0.4", 1, 0, 0},
  {6, "100.64.1.77", "100.64.0.4", 22, 1, 1},
  {6, "100.64.1.77", "100.64.0.4", 23, 0, 0},
  {6, "100.64.1.77", "100.64.0.4", 79, 0, 0},
  {6, "100.64.1.77", "100.64.0.4", 80, 0, 0},
  {6, "100.64.1.77", "100.64.0.4", 90, 0, 0},
  {6, "100.64.1.77", "100.64.0.4", 91, 0, 0},
  {6, "100.64.1.77", "100.64.0.4", 443, 0, 0},
  {6, "100.64.1.77", "100.64.0.4", 4999, 0, 0},
  {6, "100.64.1.77", "100.64.0.4", 5000, 0, 0},
  {6, "100.64.1.77", "100.64.0.4", 5999, 0, 0},
  {6, "100.64.1.77", "100.64.0.4", 65535, 0, 0},
  {17, "100.64.1.77", "100.64.0.4", 0, 0, 0},
  {17, "100.64.1.77", "100.64.0.4", 1, 0, 0},
  {17, "100.64.1.77", "100.64.0.4", 22, 0, 0},
  {17, "100.64.1.77", "100.64.0.4", 23, 0, 0},
  {17, "100.64.1.77", "100.64.0.4", 79, 0, 0},
  {17, "100.64.1.77", "100.64.0.4", 80, 0, 0},
  {17, "100.64.1.77", "100.64.0.4", 90, 0, 0},
  {17, "100.64.1.77", "100.64.0.4", 91, 0, 0},
  {17, "100.64.1.77", "100.64.0.4", 443, 0, 0},
  {17, "100.64.1.77", "100.64.0.4", 4999, 0, 0},
  {17, "100.64.1.77", "100.64.0.4", 5000, 0, 0},
  {17, "100.64.1.77", "100.64.0.4", 5999, 0, 0},
  {17, "100.64.1.77", "100.64.0.4", 65535, 0, 0},
  {132, "100.64.1.77", "100.64.0.4", 0, 0, 0},
  {132, "100.64.1.77", "100.64.0.4", 1, 0, 0},
  {132, "100.64.1.77", "100.64.0.4", 22, 0, 0},
  {132, "100.64.1.77", "100.64.0.4", 23, 0, 0},
  {132, "100.64.1.77", "100.64.0.4", 79, 0, 0},
  {132, "100.64.1.77", "100.64.0.4", 80, 0, 0},
  {132, "100.64.1.77", "100.64.0.4", 90, 0, 0},
  {132, "100.64.1.77", "100.64.0.4", 91, 0, 0},
  {132, "100.64.1.77", "100.64.0.4", 443, 0, 0},
  {132, "100.64.1.77", "100.64.0.4", 4999, 0, 0},
  {132, "100.64.1.77", "100.64.0.4", 5000, 0, 0},
  {132, "100.64.1.77", "100.64.0.4", 5999, 0, 0},
  {132, "100.64.1.77", "100.64.0.4", 65535, 0, 0},
  {1, "100.64.1.77", "100.64.0.4", 0, 0, 1},
  {47, "100.64.1.77", "100.64.0.4", 0, 0, 0},
  {50, "100.64.1.77", "100.64.0.4", 0, 0, 0},
  {6, "100.64.0.11", "100.64.0.2", 0, 0, 0},
  {6, "100.64.0.11", "100.64.0.2", 1, 0, 0},
  {6, "100.64.0.11", "100.64.0.2", 22, 0, 0},
  {6, "100.64.0.11", "100.64.0.2", 23, 0, 0},
  {6, "100.64.0.11", "100.64.0.2", 79, 0, 0},
  {6, "100.64.0.11", "100.64.0.2", 80, 0, 0},
  {6, "100.64.0.11", "100.64.0.2", 90, 0, 0},
  {6, "100.64.0.11", "100.64.0.2", 91, 0, 0},
  {6, "100.64.0.11", "100.64.0.2", 443, 0, 0},
  {6, "100.64.0.11", "100.64.0.2", 4999, 0, 0},
  {6, "100.64.0.11", "100.64.0.2", 5000, 0, 0},
  {6, "100.64.0.11", "100.64.0.2", 5999, 0, 0},
  {6, "100.64.0.11", "100.64.0.2", 65535, 0, 0},
  {17, "100.64.0.11", "100.64.0.2", 0, 0, 0},
  {17, "100.64.0.11", "100.64.0.2", 1, 0, 0},
  {17, "100.64.0.11", "100.64.0.2", 22, 0, 0},
  {17, "100.64.0.11", "100.64.0.2", 23, 0, 0},
  {17, "100.64.0.11", "100.64.0.2", 79, 0, 0},
  {17, "100.64.0.11", "100.64.0.2", 80, 0, 0},
  {17, "100.64.0.11", "100.64.0.2", 90, 0, 0},
  {17, "100.64.0.11", "100.64.0.2", 91, 0, 0},
  {17, "100.64.0.11", "100.64.0.2", 443, 0, 0},
  {17, "100.64.0.11", "100.64.0.2", 4999, 0, 0},
  {17, "100.64.0.11", "100.64.0.2", 5000, 1, 1},
  {17, "100.64.0.11", "100.64.0.2", 5999, 1, 1},
  {17, "100.64.0.11", "100.64.0.2", 65535, 0, 0},
  {132, "100.64.0.11", "100.64.0.2", 0, 0, 0},
  {132, "100.64.0.11", "100.64.0.2", 1, 0, 0},
  {132, "100.64.0.11", "100.64.0.2", 22, 0, 0},
  {132, "100.64.0.11", "100.64.0.2", 23, 0, 0},
  {132, "100.64.0.11", "100.64.0.2", 79, 0, 0},
  {132, "100.64.0.11", "100.64.0.2", 80, 0, 0},
  {132, "100.64.0.11", "100.64.0.2", 90, 0, 0},
  {132, "100.64.0.11", "100.64.0.2", 91, 0, 0},
  {132, "100.64.0.11", "100.64.0.2", 443, 0, 0},
  {132, "100.64.0.11", "100.64.0.2", 4999, 0, 0},
  {132, "100.64.0.11", "100.64.0.2", 5000, 1, 1},
  {132, "100.64.0.11", "100.64.0.2", 5999, 1, 1},
  {132, "100.64.0.11", "100.64.0.2", 65535, 0, 0},
  {1, "100.64.0.11", "100.64.0.2", 0, 0, 1},
  {47, "100.64.0.11", "100.64.0.2", 0, 0, 0},
  {50, "100.64.0.11", "100.64.0.2", 0, 0, 0},
  {6, "100.64.0.11", "100.64.0.3", 0, 0, 0},
  {6, "100.64.0.11", "100.64.0.3", 1, 0, 0},
  {6, "100.64.0.11", "100.64.0.3", 22, 0, 0},
  {6, "100.64.0.11", "100.64.0.3", 23, 0, 0},
  {6, "100.64.0.11", "100.64.0.3", 79, 0, 0},
  {6, "100.64.0.11", "100.64.0.3", 80, 0, 0},
  {6, "100.64.0.11", "100.64.0.3", 90, 0, 0},
  {6, "100.64.0.11", "100.64.0.3", 91, 0, 0},
  {6, "100.64.0.11", "100.64.0.3", 443, 0, 0},
  {6, "100.64.0.11", "100.64.0.3", 4999, 0, 0},
  {6, "100.64.0.11", "100.64.0.3", 5000, 0, 0},
  {6, "100.64.0.11", "100.64.0.3", 5999, 0, 0},
  {6, "100.64.0.11", "100.64.0.3", 65535, 0, 0},
  {17, "100.64.0.11", "100.64.0.3", 0, 0, 0},
  {17, "100.64.0.11", "100.64.0.3", 1, 0, 0},
  {17, "100.64.0.11", "100.64.0.3", 22, 0, 0},
  {17, "100.64.0.11", "100.64.0.3", 23, 0, 0},
  {17, "100.64.0.11", "100.64.0.3", 79, 0, 0},
  {17, "100.64.0.11", "100.64.0.3", 80, 0, 0},
  {17, "100.64.0.11", "100.64.0.3", 90, 0, 0},
  {17, "100.64.0.11", "100.64.0.3", 91, 0, 0},
  {17, "100.64.0.11", "100.64.0.3", 443, 0, 0},
  {17, "100.64.0.11", "100.64.0.3", 4999, 0, 0},
  {17, "100.64.0.11", "100.64.0.3", 5000, 1, 1},
  {17, "100.64.0.11", "100.64.0.3", 5999, 1, 1},
  {17, "100.64.0.11", "100.64.0.3", 65535, 0, 0},
  {132, "100.64.0.11", "100.64.0.3", 0, 0, 0},
  {132, "100.64.0.11", "100.64.0.3", 1, 0, 0},
  {132, "100.64.0.11", "100.64.0.3", 22, 0, 0},
  {132, "100.64.0.11", "100.64.0.3", 23, 0, 0},
  {132, "100.64.0.11", "100.64.0.3", 79, 0, 0},
  {132, "100.64.0.11", "100.64.0.3", 80, 0, 0},
  {132, "100.64.0.11", "100.64.0.3", 90, 0, 0},
  {132, "100.64.0.11", "100.64.0.3", 91, 0, 0},
  {132, "100.64.0.11", "100.64.0.3", 443, 0, 0},
  {132, "100.64.0.11", "100.64.0.3", 4999, 0, 0},
  {132, "100.64.0.11", "100.64.0.3", 5000, 1, 1},
  {132, "100.64.0.11", "100.64.0.3", 5999, 1, 1},
  {132, "100.64.0.11", "100.64.0.3", 65535, 0, 0},
  {1, "100.64.0.11", "100.64.0.3", 0, 0, 1},
  {47, "100.64.0.11", "100.64.0.3", 0, 0, 0},
  {50, "100.64.0.11", "100.64.0.3", 0, 0, 0},
  {6, "100.64.0.11", "100.64.0.4", 0, 0, 0},
  {6, "100.64.0.11", "100.64.0.4", 1, 0, 0},
  {6, "100.64.0.11", "100.64.0.4", 22, 0, 0},
  {6, "100.64.0.11", "100.64.0.4", 23, 0, 0},
  {6, "100.64.0.11", "100.64.0.4", 79, 0, 0},
  {6, "100.64.0.11", "100.64.0.4", 80, 0, 0},
  {6, "100.64.0.11", "100.64.0.4", 90, 0, 0},
  {6, "100.64.0.11", "100.64.0.4", 91, 0, 0},
  {6, "100.64.0.11", "100.64.0.4", 443, 0, 0},
  {6, "100.64.0.11", "100.64.0.4", 4999, 0, 0},
  {6, "100.64.0.11", "100.64.0.4", 5000, 0, 0},
  {6, "100.64.0.11", "100.64.0.4", 5999, 0, 0},
  {6, "100.64.0.11", "100.64.0.4", 65535, 0, 0},
  {17, "100.64.0.11", "100.64.0.4", 0, 0, 0},
  {17, "100.64.0.11", "100.64.0.4", 1, 0, 0},
  {17, "100.64.0.11", "100.64.0.4", 22, 0, 0},
  {17, "100.64.0.11", "100.64.0.4", 23, 0, 0},
  {17, "100.64.0.11", "100.64.0.4", 79, 0, 0},
  {17, "100.64.0.11", "100.64.0.4", 80, 0, 0},
  {17, "100.64.0.11", "100.64.0.4", 90, 0, 0},
  {17, "100.64.0.11", "100.64.0.4", 91, 0, 0},
  {17, "100.64.0.11", "100.64.0.4", 443, 0, 0},
  {17, "100.64.0.11", "100.64.0.4", 4999, 0, 0},
  {17, "100.64.0.11", "100.64.0.4", 5000, 0, 0},
  {17, "100.64.0.11", "100.64.0.4", 5999, 0, 0},
  {17, "100.64.0.11", "100.64.0.4", 65535, 0, 0},
  {132, "100.64.0.11", "100.64.0.4", 0, 0, 0},
  {132, "100.64.0.11", "100.64.0.4", 1, 0, 0},
  {132, "100.64.0.11", "100.64.0.4", 22, 0, 0},
  {132, "100.64.0.11", "100.64.0.4", 23, 0, 0},
  {132, "100.64.0.11", "100.64.0.4", 79, 0, 0},
  {132, "100.64.0.11", "100.64.0.4", 80, 0, 0},
  {132, "100.64.0.11", "100.64.0.4", 90, 0, 0},
  {132, "100.64.0.11", "100.64.0.4", 91, 0, 0},
  {132, "100.64.0.11", "100.64.0.4", 443, 0, 0},
  {132, "100.64.0.11", "100.64.0.4", 4999, 0, 0},
  {132, "100.64.0.11", "100.64.0.4", 5000, 0, 0},
  {132, "100.64.0.11", "100.64.0.4", 5999, 0, 0},
  {132, "100.64.0.11", "100.64.0.4", 65535, 0, 0},
  {1, "100.64.0.11", "100.64.0.4", 0, 0, 0},
  {47, "100.64.0.11", "100.64.0.4", 0, 0, 0},
  {50, "100.64.0.11", "100.64.0.4", 0, 0, 0},
  {6, "100.64.0.14", "100.64.0.2", 0, 0, 0},
  {6, "100.64.0.14", "100.64.0.2", 1, 0, 0},
  {6, "100.64.0.14", "100.64.0.2", 22, 0, 0},
  {6, "100.64.0.14", "100.64.0.2", 23, 0, 0},
  {6, "100.64.0.14", "100.64.0.2", 79, 0, 0},
  {6, "100.64.0.14", "100.64.0.2", 80, 0, 0},
  {6, "100.64.0.14", "100.64.0.2", 90, 0, 0},
  {6, "100.64.0.14", "100.64.0.2", 91, 0, 0},
  {6, "100.64.0.14", "100.64.0.2", 443, 0, 0},
  {6, "100.64.0.14", "100.64.0.2", 4999, 0, 0},
  {6, "100.64.0.14", "100.64.0.2", 5000, 0, 0},
  {6, "100.64.0.14", "100.64.0.2", 5999, 0, 0},
  {6, "100.64.0.14", "100.64.0.2", 65535, 0, 0},
  {17, "100.64.0.14", "100.64.0.2", 0, 0, 0},
  {17, "100.64.0.14", "100.64.0.2", 1, 0, 0},
  {17, "100.64.0.14", "100.64.0.2", 22, 0, 0},
  {17, "100.64.0.14", "100.64.0.2", 23, 0, 0},
  {17, "100.64.0.14", "100.64.0.2", 79, 0, 0},
  {17, "100.64.0.14", "100.64.0.2", 80, 0, 0},
  {17, "100.64.0.14", "100.64.0.2", 90, 0, 0},
  {17, "100.64.0.14", "100.64.0.2", 91, 0, 0},
  {17, "100.64.0.14", "100.64.0.2", 443, 0, 0},
  {17, "100.64.0.14", "100.64.0.2", 4999, 0, 0},
  {17, "100.64.0.14", "100.64.0.2", 5000, 0, 0},
  {17, "100.64.0.14", "100.64.0.2", 5999, 0, 0},
  {17, "100.64.0.14", "100.64.0.2", 65535, 0, 0},
  {132, "100.64.0.14", "100.64.0.2", 0, 0, 0},
  {132, "100.64.0.14", "100.64.0.2", 1, 0, 0},
  {132, "100.64.0.14", "100.64.0.2", 22, 0, 0},
  {132, "100.64.0.14", "100.64.0.2", 23, 0, 0},
  {132, "100.64.0.14", "100.64.0.2", 79, 0, 0},
  {132, "100.64.0.14", "100.64.0.2", 80, 0, 0},
  {132, "100.64.0.14", "100.64.0.2", 90, 0, 0},
  {132, "100.64.0.14", "100.64.0.2", 91, 0, 0},
  {132, "100.64.0.14", "100.64.0.2", 443, 0, 0},
  {132, "100.64.0.14", "100.64.0.2", 4999, 0, 0},
  {132, "100.64.0.14", "100.64.0.2", 5000, 0, 0},
  {132, "100.64.0.14", "100.64.0.2", 5999, 0, 0},
  {132, "100.64.0.14", "100.64.0.2", 65535, 0, 0},
  {1, "100.64.0.14", "100.64.0.2", 0, 0, 0},
  {47, "100.64.0.14", "100.64.0.2", 0, 0, 0},
  {50, "100.64.0.14", "100.64.0.2", 0, 0, 0},
  {6, "100.64.0.14", "100.64.0.3", 0, 0, 0},
  {6, "100.64.0.14", "100.64.0.3", 1, 0, 0},
  {6, "100.64.0.14", "100.64.0.3", 22, 0, 0},
  {6, "100.64.0.14", "100.64.0.3", 23, 0, 0},
  {6, "100.64.0.14", "100.64.0.3", 79, 0, 0},
  {6, "100.64.0.14", "100.64.0.3", 80, 0, 0},
  {6, "100.64.0.14", "100.64.0.3", 90, 0, 0},
  {6, "100.64.0.14", "100.64.0.3", 91, 0, 0},
  {6, "100.64.0.14", "100.64.0.3", 443, 0, 0},
  {6, "100.64.0.14", "100.64.0.3", 4999, 0, 0},
  {6, "100.64.0.14", "100.64.0.3", 5000, 0, 0},
  {6, "100.64.0.14", "100.64.0.3", 5999, 0, 0},
  {6, "100.64.0.14", "100.64.0.3", 65535, 0, 0},
  {17, "100.64.0.14", "100.64.0.3", 0, 0, 0},
  {17, "100.64.0.14", "100.64.0.3", 1, 0, 0},
  {17, "100.64.0.14", "100.64.0.3", 22, 0, 0},
  {17, "100.64.0.14", "100.64.0.3", 23, 0, 0},
  {17, "100.64.0.14", "100.64.0.3", 79, 0, 0},
  {17, "100.64.0.14", "100.64.0.3", 80, 0, 0},
  {17, "100.64.0.14", "100.64.0.3", 90, 0, 0},
  {17, "100.64.0.14", "100.64.0.3", 91, 0, 0},
  {17, "100.64.0.14", "100.64.0.3", 443, 0, 0},
  {17, "100.64.0.14", "100.64.0.3", 4999, 0, 0},
  {17, "100.64.0.14", "100.64.0.3", 5000, 0, 0},
  {17, "100.64.0.14", "100.64.0.3", 5999, 0, 0},
  {17, "100.64.0.14", "100.64.0.3", 65535, 0, 0},
  {132, "100.64.0.14", "100.64.0.3", 0, 0, 0},
  {132, "100.64.0.14", "100.64.0.3", 1, 0, 0},
  {132, "100.64.0.14", "100.64.0.3", 22, 0, 0},
  {132, "100.64.0.14", "100.64.0.3", 23, 0, 0},
  {132, "100.64.0.14", "100.64.0.3", 79, 0, 0},
  {132, "100.64.0.14", "100.64.0.3", 80, 0, 0},
  {132, "100.64.0.14", "100.64.0.3", 90, 0, 0},
  {132, "100.64.0.14", "100.64.0.3", 91, 0, 0},
  {132, "100.64.0.14", "100.64.0.3", 443, 0, 0},
  {132, "100.64.0.14", "100.64.0.3", 4999, 0, 0},
  {132, "100.64.0.14", "100.64.0.3", 5000, 0, 0},
  {132, "100.64.0.14", "100.64.0.3", 5999, 0, 0},
  {132, "100.64.0.14", "100.64.0.3", 65535, 0, 0},
  {1, "100.64.0.14", "100.64.0.3", 0, 0, 0},
  {47, "100.64.0.14", "100.64.0.3", 0, 0, 0},
  {50, "100.64.0.14", "100.64.0.3", 0, 0, 0},
  {6, "100.64.0.14", "100.64.0.4", 0, 0, 0},
  {6, "100.64.0.14", "100.64.0.4", 1, 0, 0},
  {6, "100.64.0.14", "100.64.0.4", 22, 0, 0},
  {6, "100.64.0.14", "100.64.0.4", 23, 0, 0},
  {6, "100.64.0.14", "100.64.0.4", 79, 0, 0},
  {6, "100.64.0.14", "100.64.0.4", 80, 0, 0},
  {6, "100.64.0.14", "100.64.0.4", 90, 0, 0},
  {6, "100.64.0.14", "100.64.0.4", 91, 0, 0},
  {6, "100.64.0.14", "100.64.0.4", 443, 0, 0},
  {6, "100.64.0.14", "100.64.0.4", 4999, 0, 0},
  {6, "100.64.0.14", "100.64.0.4", 5000, 0, 0},
  {6, "100.64.0.14", "100.64.0.4", 5999, 0, 0},
  {6, "100.64.0.14", "100.64.0.4", 65535, 0, 0},
  {17, "100.64.0.14", "100.64.0.4", 0, 0, 0},
  {17, "100.64.0.14", "100.64.0.4", 1, 0, 0},
  {17, "100.64.0.14", "100.64.0.4", 22, 0, 0},
  {17, "100.64.0.14", "100.64.0.4", 23, 0, 0},
  {17, "100.64.0.14", "100.64.0.4", 79, 0, 0},
  {17, "100.64.0.14", "100.64.0.4", 80, 0, 0},
  {17, "100.64.0.14", "100.64.0.4", 90, 0, 0},
  {17, "100.64.0.14", "100.64.0.4", 91, 0, 0},
  {17, "100.64.0.14", "100.64.0.4", 443, 0, 0},
  {17, "100.64.0.14", "100.64.0.4", 4999, 0, 0},
  {17, "100.64.0.14", "100.64.0.4", 5000, 0, 0},
  {17, "100.64.0.14", "100.64.0.4", 5999, 0, 0},
  {17, "100.64.0.14", "100.64.0.4", 65535, 0, 0},
  {132, "100.64.0.14", "100.64.0.4", 0, 0, 0},
  {132, "100.64.0.14", "100.64.0.4", 1, 0, 0},
  {132, "100.64.0.14", "100.64.0.4", 22, 0, 0},
  {132, "100.64.0.14", "100.64.0.4", 23, 0, 0},
  {132, "100.64.0.14", "100.64.0.4", 79, 0, 0},
  {132, "100.64.0.14", "100.64.0.4", 80, 0, 0},
  {132, "100.64.0.14", "100.64.0.4", 90, 0, 0},
  {132, "100.64.0.14", "100.64.0.4", 91, 0, 0},
  {132, "100.64.0.14", "100.64.0.4", 443, 0, 0},
  {132, "100.64.0.14", "100.64.0.4", 4999, 0, 0},
  {132, "100.64.0.14", "100.64.0.4", 5000, 0, 0},
  {132, "100.64.0.14", "100.64.0.4", 5999, 0, 0},
  {132, "100.64.0.14", "100.64.0.4", 65535, 0, 0},
  {1, "100.64.0.14", "100.64.0.4", 0, 0, 0},
  {47, "100.64.0.14", "100.64.0.4", 0, 0, 0},
  {50, "100.64.0.14", "100.64.0.4", 0, 0, 0},
  {6, "100.64.0.9", "100.64.0.2", 0, 1, 1},
  {6, "100.64.0.9", "100.64.0.2", 1, 1, 1},
  {6, "100.64.0.9", "100.64.0.2", 22, 1, 1},
  {6, "100.64.0.9", "100.64.0.2", 23, 1, 1},
  {6, "100.64.0.9", "100.64.0.2", 79, 1, 1},
  {6, "100.64.0.9", "100.64.0.2", 80, 1, 1},
  {6, "100.64.0.9", "100.64.0.2", 90, 1, 1},
  {6, "100.64.0.9", "100.64.0.2", 91, 1, 1},
  {6, "100.64.0.9", "100.64.0.2", 443, 1, 1},
  {6, "100.64.0.9", "100.64.0.2", 4999, 1, 1},
  {6, "100.64.0.9", "100.64.0.2", 5000, 1, 1},
  {6, "100.64.0.9", "100.64.0.2", 5999, 1, 1},
  {6, "100.64.0.9", "100.64.0.2", 65535, 1, 1},
  {17, "100.64.0.9", "100.64.0.2", 0, 0, 0},
  {17, "100.64.0.9", "100.64.0.2", 1, 0, 0},
  {17, "100.64.0.9", "100.64.0.2", 22, 0, 0},
  {17, "100.64.0.9", "100.64.0.2", 23, 0, 0},
  {17, "100.64.0.9", "100.64.0.2", 79, 0, 0},
  {17, "100.64.0.9", "100.64.0.2", 80, 0, 0},
  {17, "100.64.0.9", "100.64.0.2", 90, 0, 0},
  {17, "100.64.0.9", "100.64.0.2", 91, 0, 0},
  {17, "100.64.0.9", "100.64.0.2", 443, 0, 0},
  {17, "100.64.0.9", "100.64.0.2", 4999, 0, 0},
  {17, "100.64.0.9", "100.64.0.2", 5000, 0, 0},
  {17, "100.64.0.9", "100.64.0.2", 5999, 0, 0},
  {17, "100.64.0.9", "100.64.0.2", 65535, 0, 0},
  {132, "100.64.0.9", "100.64.0.2", 0, 0, 0},
  {132, "100.64.0.9", "100.64.0.2", 1, 0, 0},
  {132, "100.64.0.9", "100.64.0.2", 22, 0, 0},
  {132, "100.64.0.9", "100.64.0.2", 23, 0, 0},
  {132, "100.64.0.9", "100.64.0.2", 79, 0, 0},
  {132, "100.64.0.9", "100.64.0.2", 80, 0, 0},
  {132, "100.64.0.9", "100.64.0.2", 90, 0, 0},
  {132, "100.64.0.9", "100.64.0.2", 91, 0, 0},
  {132, "100.64.0.9", "100.64.0.2", 443, 0, 0},
  {132, "100.64.0.9", "100.64.0.2", 4999, 0, 0},
  {132, "100.64.0.9", "100.64.0.2", 5000, 0, 0},
  {132, "100.64.0.9", "100.64.0.2", 5999, 0, 0},
  {132, "100.64.0.9", "100.64.0.2", 65535, 0, 0},
  {1, "100.64.0.9", "100.64.0.2", 0, 0, 1},
  {47, "100.64.0.9", "100.64.0.2", 0, 1, 1},
  {50, "100.64.0.9", "100.64.0.2", 0, 0, 0},
  {6, "100.64.0.9", "100.64.0.3", 0, 0, 0},
  {6, "100.64.0.9", "100.64.0.3", 1, 0, 0},
  {6, "100.64.0.9", "100.64.0.3", 22, 0, 0},
  {6, "100.64.0.9", "100.64.0.3", 23, 0, 0},
  {6, "100.64.0.9", "100.64.0.3", 79, 0, 0},
  {6, "100.64.0.9", "100.64.0.3", 80, 0, 0},
  {6, "100.64.0.9", "100.64.0.3", 90, 0, 0},
  {6, "100.64.0.9", "100.64.0.3", 91, 0, 0},
  {6, "100.64.0.9", "100.64.0.3", 443, 0, 0},
  {6, "100.64.0.9", "100.64.0.3", 4999, 0, 0},
  {6, "100.64.0.9", "100.64.0.3", 5000, 0, 0},
  {6, "100.64.0.9", "100.64.0.3", 5999, 0, 0},
  {6, "100.64.0.9", "100.64.0.3", 65535, 0, 0},
  {17, "100.64.0.9", "100.64.0.3", 0, 0, 0},
  {17, "100.64.0.9", "100.64.0.3", 1, 0, 0},
  {17, "100.64.0.9", "100.64.0.3", 22, 0, 0},
  {17, "100.64.0.9", "100.64.0.3", 23, 0, 0},
  {17, "100.64.0.9", "100.64.0.3", 79, 0, 0},
  {17, "100.64.0.9", "100.64.0.3", 80, 0, 0},
  {17, "100.64.0.9", "100.64.0.3", 90, 0, 0},
  {17, "100.64.0.9", "100.64.0.3", 91, 0, 0},
  {17, "100.64.0.9", "100.64.0.3", 443, 0, 0},
  {17, "100.64.0.9", "100.64.0.3", 4999, 0, 0},
  {17, "100.64.0.9", "100.64.0.3", 5000, 0, 0},
  {17, "100.64.0.9", "100.64.0.3", 5999, 0, 0},
  {17, "100.64.0.9", "100.64.0.3", 65535, 0, 0},
  {132, "100.64.0.9", "100.64.0.3", 0, 0, 0},
  {132, "100.64.0.9", "100.64.0.3", 1, 0, 0},
  {132, "100.64.0.9", "100.64.0.3", 22, 0, 0},
  {132, "100.64.0.9", "100.64.0.3", 23, 0, 0},
  {132, "100.64.0.9", "100.64.0.3", 79, 0, 0},
  {132, "100.64.0.9", "100.64.0.3", 80, 0, 0},
  {132, "100.64.0.9", "100.64.0.3", 90, 0, 0},
  {132, "100.64.0.9", "100.64.0.3", 91, 0, 0},
  {132, "100.64.0.9", "100.64.0.3", 443, 0, 0},
  {132, "100.64.0.9", "100.64.0.3", 4999, 0, 0},
  {132, "100.64.0.9", "100.64.0.3", 5000, 0, 0},
  {132, "100.64.0.9", "100.64.0.3", 5999, 0, 0},
  {132, "100.64.0.9", "100.64.0.3", 65535, 0, 0},
  {1, "100.64.0.9", "100.64.0.3", 0, 0, 0},
  {47, "100.64.0.9", "100.64.0.3", 0, 0, 0},
  {50, "100.64.0.9", "100.64.0.3", 0, 0, 0},
  {6, "100.64.0.9", "100.64.0.4", 0, 0, 0},
  {6, "100.64.0.9", "100.64.0.4", 1, 0, 0},
  {6, "100.64.0.9", "100.64.0.4", 22, 0, 0},
  {6, "100.64.0.9", "100.64.0.4", 23, 0, 0},
  {6, "100.64.0.9", "100.64.0.4", 79, 0, 0},
  {6, "100.64.0.9", "100.64.0.4", 80, 0, 0},
  {6, "100.64.0.9", "100.64.0.4", 90, 0, 0},
  {6, "100.64.0.9", "100.64.0.4", 91, 0, 0},
  {6, "100.64.0.9", "100.64.0.4", 443, 0, 0},
  {6, "100.64.0.9", "100.64.0.4", 4999, 0, 0},
  {6, "100.64.0.9", "100.64.0.4", 5000, 0, 0},
  {6, "100.64.0.9", "100.64.0.4", 5999, 0, 0},
  {6, "100.64.0.9", "100.64.0.4", 65535, 0, 0},
  {17, "100.64.0.9", "100.64.0.4", 0, 0, 0},
  {17, "100.64.0.9", "100.64.0.4", 1, 0, 0},
  {17, "100.64.0.9", "100.64.0.4", 22, 0, 0},
  {17, "100.64.0.9", "100.64.0.4", 23, 0, 0},
  {17, "100.64.0.9", "100.64.0.4", 79, 0, 0},
  {17, "100.64.0.9", "100.64.0.4", 80, 0, 0},
  {17, "100.64.0.9", "100.64.0.4", 90, 0, 0},
  {17, "100.64.0.9", "100.64.0.4", 91, 0, 0},
  {17, "100.64.0.9", "100.64.0.4", 443, 0, 0},
  {17, "100.64.0.9", "100.64.0.4", 4999, 0, 0},
  {17, "100.64.0.9", "100.64.0.4", 5000, 0, 0},
  {17, "100.64.0.9", "100.64.0.4", 5999, 0, 0},
  {17, "100.64.0.9", "100.64.0.4", 65535, 0, 0},
  {132, "100.64.0.9", "100.64.0.4", 0, 0, 0},
  {132, "100.64.0.9", "100.64.0.4", 1, 0, 0},
  {132, "100.64.0.9", "100.64.0.4", 22, 0, 0},
  {132, "100.64.0.9", "100.64.0.4", 23, 0, 0},
  {132, "100.64.0.9", "100.64.0.4", 79, 0, 0},
  {132, "100.64.0.9", "100.64.0.4", 80, 0, 0},
  {132, "100.64.0.9", "100.64.0.4", 90, 0, 0},
  {132, "100.64.0.9", "100.64.0.4", 91, 0, 0},
  {132, "100.64.0.9", "100.64.0.4", 443, 0, 0},
  {132, "100.64.0.9", "100.64.0.4", 4999, 0, 0},
  {132, "100.64.0.9", "100.64.0.4", 5000, 0, 0},
  {132, "100.64.0.9", "100.64.0.4", 5999, 0, 0},
  {132, "100.64.0.9", "100.64.0.4", 65535, 0, 0},
  {1, "100.64.0.9", "100.64.0.4", 0, 0, 0},
  {47, "100.64.0.9", "100.64.0.4", 0, 0, 0},
  {50, "100.64.0.9", "100.64.0.4", 0, 0, 0},
  {6, "100.64.0.20", "100.64.0.2", 0, 0, 0},
  {6, "100.64.0.20", "100.64.0.2", 1, 0, 0},
  {6, "100.64.0.20", "100.64.0.2", 22, 0, 0},
  {6, "100.64.0.20", "100.64.0.2", 23, 0, 0},
  {6, "100.64.0.20", "100.64.0.2", 79, 0, 0},
  {6, "100.64.0.20", "100.64.0.2", 80, 0, 0},
  {6, "100.64.0.20", "100.64.0.2", 90, 0, 0},
  {6, "100.64.0.20", "100.64.0.2", 91, 0, 0},
  {6, "100.64.0.20", "100.64.0.2", 443, 0, 0},
  {6, "100.64.0.20", "100.64.0.2", 4999, 0, 0},
  {6, "100.64.0.20", "100.64.0.2", 5000, 0, 0},
  {6, "100.64.0.20", "100.64.0.2", 5999, 0, 0},
  {6, "100.64.0.20", "100.64.0.2", 65535, 0, 0},
  {17, "100.64.0.20", "100.64.0.2", 0, 0, 0},
  {17, "100.64.0.20", "100.64.0.2", 1, 0, 0},
  {17, "100.64.0.20", "100.64.0.2", 22, 0, 0},
  {17, "100.64.0.20", "100.64.0.2", 23, 0, 0},
  {17, "100.64.0.20", "100.64.0.2", 79, 0, 0},
  {17, "100.64.0.20", "100.64.0.2", 80, 0, 0},
  {17, "100.64.0.20", "100.64.0.2", 90, 0, 0},
  {17, "100.64.0.20", "100.64.0.2", 91, 0, 0},
  {17, "100.64.0.20", "100.64.0.2", 443, 0, 0},
  {17, "100.64.0.20", "100.64.0.2", 4999, 0, 0},
  {17, "100.64.0.20", "100.64.0.2", 5000, 0, 0},
  {17, "100.64.0.20", "100.64.0.2", 5999, 0, 0},
  {17, "100.64.0.20", "100.64.0.2", 65535, 0, 0},
  {132, "100.64.0.20", "100.64.0.2", 0, 0, 0},
  {132, "100.64.0.20", "100.64.0.2", 1, 0, 0},
  {132, "100.64.0.20", "100.64.0.2", 22, 0, 0},
  {132, "100.64.0.20", "100.64.0.2", 23, 0, 0},
  {132, "100.64.0.20", "100.64.0.2", 79, 0, 0},
  {132, "100.64.0.20", "100.64.0.2", 80, 0, 0},
  {132, "100.64.0.20", "100.64.0.2", 90, 0, 0},
  {132, "100.64.0.20", "100.64.0.2", 91, 0, 0},
  {132, "100.64.0.20", "100.64.0.2", 443, 0, 0},
  {132, "100.64.0.20", "100.64.0.2", 4999, 0, 0},
  {132, "100.64.0.20", "100.64.0.2", 5000, 0, 0},
  {132, "100.64.0.20", "100.64.0.2", 5999, 0, 0},
  {132, "100.64.0.20", "100.64.0.2", 65535, 0, 0},
  {1, "100.64.0.20", "100.64.0.2", 0, 0, 1},
  {47, "100.64.0.20", "100.64.0.2", 0, 0, 0},
  {50, "100.64.0.20", "100.64.0.2", 0, 0, 0},
  {6, "100.64.0.20", "100.64.0.3", 0, 0, 0},
  {6, "100.64.0.20", "100.64.0.3", 1, 0, 0},
  {6, "100.64.0.20", "100.64.0.3", 22, 0, 0},
  {6, "100.64.0.20", "100.64.0.3", 23, 0, 0},
  {6, "100.64.0.20", "100.64.0.3", 79, 0, 0},
  {6, "100.64.0.20", "100.64.0.3", 80, 0, 0},
  {6, "100.64.0.20", "100.64.0.3", 90, 0, 0},
  {6, "100.64.0.20", "100.64.0.3", 91, 0, 0},
  {6, "100.64.0.20", "100.64.0.3", 443, 0, 0},
  {6, "100.64.0.20", "100.64.0.3", 4999, 0, 0},
  {6, "100.64.0.20", "100.64.0.3", 5000, 0, 0},
  {6, "100.64.0.20", "100.64.0.3", 5999, 0, 0},
  {6, "100.64.0.20", "100.64.0.3", 65535, 0, 0},
  {17, "100.64.0.20", "100.64.0.3", 0, 0, 0},
  {17, "100.64.0.20", "100.64.0.3", 1, 0, 0},
  {17, "100.64.0.20", "100.64.0.3", 22, 0, 0},
  {17, "100.64.0.20", "100.64.0.3", 23, 0, 0},
  {17, "100.64.0.20", "100.64.0.3", 79, 0, 0},
  {17, "100.64.0.20", "100.64.0.3", 80, 0, 0},
  {17, "100.64.0.20", "100.64.0.3", 90, 0, 0},
  {17, "100.64.0.20", "100.64.0.3", 91, 0, 0},
  {17, "100.64.0.20", "100.64.0.3", 443, 0, 0},
  {17, "100.64.0.20", "100.64.0.3", 4999, 0, 0},
  {17, "100.64.0.20", "100.64.0.3", 5000, 0, 0},
  {17, "100.64.0.20", "100.64.0.3", 5999, 0, 0},
  {17, "100.64.0.20", "100.64.0.3", 65535, 0, 0},
  {132, "100.64.0.20", "100.64.0.3", 0, 0, 0},
  {132, "100.64.0.20", "100.64.0.3", 1, 0, 0},
  {132, "100.64.0.20", "100.64.0.3", 22, 0, 0},
  {132, "100.64.0.20", "100.64.0.3", 23, 0, 0},
  {132, "100.64.0.20", "100.64.0.3", 79, 0, 0},
  {132, "100.64.0.20", "100.64.0.3", 80, 0, 0},
  {132, "100.64.0.20", "100.64.0.3", 90, 0, 0},
  {132, "100.64.0.20", "100.64.0.3", 91, 0, 0},
  {132, "100.64.0.20", "100.64.0.3", 443, 0, 0},
  {132, "100.64.0.20", "100.64.0.3", 4999, 0, 0},
  {132, "100.64.0.20", "100.64.0.3", 5000, 0, 0},
  {132, "100.64.0.20", "100.64.0.3", 5999, 0, 0},
  {132, "100.64.0.20", "100.64.0.3", 65535, 0, 0},
  {1, "100.64.0.20", "100.64.0.3", 0, 0, 0},
  {47, "100.64.0.20", "100.64.0.3", 0, 0, 0},
  {50, "100.64.0.20", "100.64.0.3", 0, 0, 0},
  {6, "100.64.0.20", "100.64.0.4", 0, 0, 0},
  {6, "100.64.0.20", "100.64.0.4", 1, 0, 0},
  {6, "100.64.0.20", "100.64.0.4", 22, 0, 0},
  {6, "100.64.0.20", "100.64.0.4", 23, 0, 0},
  {6, "100.64.0.20", "100.64.0.4", 79, 0, 0},
  {6, "100.64.0.20", "100.64.0.4", 80, 0, 0},
  {6, "100.64.0.20", "100.64.0.4", 90, 0, 0},
  {6, "100.64.0.20", "100.64.0.4", 91, 0, 0},
  {6, "100.64.0.20", "100.64.0.4", 443, 0, 0},
  {6, "100.64.0.20", "100.64.0.4", 4999, 0, 0},
  {6, "100.64.0.20", "100.64.0.4", 5000, 0, 0},
  {6, "100.64.0.20", "100.64.0.4", 5999, 0, 0},
  {6, "100.64.0.20", "100.64.0.4", 65535, 0, 0},
  {17, "100.64.0.20", "100.64.0.4", 0, 0, 0},
  {17, "100.64.0.20", "100.64.0.4", 1, 0, 0},
  {17, "100.64.0.20", "100.64.0.4", 22, 0, 0},
  {17, "100.64.0.20", "100.64.0.4", 23, 0, 0},
  {17, "100.64.0.20", "100.64.0.4", 79, 0, 0},
  {17, "100.64.0.20", "100.64.0.4", 80, 0, 0},
  {17, "100.64.0.20", "100.64.0.4", 90, 0, 0},
  {17, "100.64.0.20", "100.64.0.4", 91, 0, 0},
  {17, "100.64.0.20", "100.64.0.4", 443, 0, 0},
  {17, "100.64.0.20", "100.64.0.4", 4999, 0, 0},
  {17, "100.64.0.20", "100.64.0.4", 5000, 0, 0},
  {17, "100.64.0.20", "100.64.0.4", 5999, 0, 0},
  {17, "100.64.0.20", "100.64.0.4", 65535, 0, 0},
  {132, "100.64.0.20", "100.64.0.4", 0, 0, 0},
  {132, "100.64.0.20", "100.64.0.4", 1, 0, 0},
  {132, "100.64.0.20", "100.64.0.4", 22, 0, 0},
  {132, "100.64.0.20", "100.64.0.4", 23, 0, 0},
  {132, "100.64.0.20", "100.64.0.4", 79, 0, 0},
  {132, "100.64.0.20", "100.64.0.4", 80, 0, 0},
  {132, "100.64.0.20", "100.64.0.4", 90, 0, 0},
  {132, "100.64.0.20", "100.64.0.4", 91, 0, 0},
  {132, "100.64.0.20", "100.64.0.4", 443, 0, 0},
  {132, "100.64.0.20", "100.64.0.4", 4999, 0, 0},
  {132, "100.64.0.20", "100.64.0.4", 5000, 0, 0},
  {132, "100.64.0.20", "100.64.0.4", 5999, 0, 0},
  {132, "100.64.0.20", "100.64.0.4", 65535, 0, 0},
  {1, "100.64.0.20", "100.64.0.4", 0, 0, 0},
  {47, "100.64.0.20", "100.64.0.4", 0, 0, 0},
  {50, "100.64.0.20", "100.64.0.4", 0, 0, 0},
  {6, "100.64.0.30", "100.64.0.2", 0, 1, 1},
  {6, "100.64.0.30", "100.64.0.2", 1, 0, 0},
  {6, "100.64.0.30", "100.64.0.2", 22, 0, 0},
  {6, "100.64.0.30", "100.64.0.2", 23, 0, 0},
  {6, "100.64.0.30", "100.64.0.2", 79, 0, 0},
  {6, "100.64.0.30", "100.64.0.2", 80, 0, 0},
  {6, "100.64.0.30", "100.64.0.2", 90, 0, 0},
  {6, "100.64.0.30", "100.64.0.2", 91, 0, 0},
  {6, "100.64.0.30", "100.64.0.2", 443, 0, 0},
  {6, "100.64.0.30", "100.64.0.2", 4999, 0, 0},
  {6, "100.64.0.30", "100.64.0.2", 5000, 0, 0},
  {6, "100.64.0.30", "100.64.0.2", 5999, 0, 0},
  {6, "100.64.0.30", "100.64.0.2", 65535, 0, 0},
  {17, "100.64.0.30", "100.64.0.2", 0, 1, 1},
  {17, "100.64.0.30", "100.64.0.2", 1, 0, 0},
  {17, "100.64.0.30", "100.64.0.2", 22, 0, 0},
  {17, "100.64.0.30", "100.64.0.2", 23, 0, 0},
  {17, "100.64.0.30", "100.64.0.2", 79, 0, 0},
  {17, "100.64.0.30", "100.64.0.2", 80, 0, 0},
  {17, "100.64.0.30", "100.64.0.2", 90, 0, 0},
  {17, "100.64.0.30", "100.64.0.2", 91, 0, 0},
  {17, "100.64.0.30", "100.64.0.2", 443, 0, 0},
  {17, "100.64.0.30", "100.64.0.2", 4999, 0, 0},
  {17, "100.64.0.30", "100.64.0.2", 5000, 0, 0},
  {17, "100.64.0.30", "100.64.0.2", 5999, 0, 0},
  {17, "100.64.0.30", "100.64.0.2", 65535, 0, 0},
  {132, "100.64.0.30", "100.64.0.2", 0, 0, 0},
  {132, "100.64.0.30", "100.64.0.2", 1, 0, 0},
  {132, "100.64.0.30", "100.64.0.2", 22, 0, 0},
  {132, "100.64.0.30", "100.64.0.2", 23, 0, 0},
  {132, "100.64.0.30", "100.64.0.2", 79, 0, 0},
  {132, "100.64.0.30", "100.64.0.2", 80, 0, 0},
  {132, "100.64.0.30", "100.64.0.2", 90, 0, 0},
  {132, "100.64.0.30", "100.64.0.2", 91, 0, 0},
  {132, "100.64.0.30", "100.64.0.2", 443, 0, 0},
  {132, "100.64.0.30", "100.64.0.2", 4999, 0, 0},
  {132, "100.64.0.30", "100.64.0.2", 5000, 0, 0},
  {132, "100.64.0.30", "100.64.0.2", 5999, 0, 0},
  {132, "100.64.0.30", "100.64.0.2", 65535, 0, 0},
  {1, "100.64.0.30", "100.64.0.2", 0, 0, 1},
  {47, "100.64.0.30", "100.64.0.2", 0, 0, 0},
  {50, "100.64.0.30", "100.64.0.2", 0, 0, 0},
  {6, "100.64.0.30", "100.64.0.3", 0, 1, 1},
  {6, "100.64.0.30", "100.64.0.3", 1, 0, 0},
  {6, "100.64.0.30", "100.64.0.3", 22, 0, 0},
  {6, "100.64.0.30", "100.64.0.3", 23, 0, 0},
  {6, "100.64.0.30", "100.64.0.3", 79, 0, 0},
  {6, "100.64.0.30", "100.64.0.3", 80, 0, 0},
  {6, "100.64.0.30", "100.64.0.3", 90, 0, 0},
  {6, "100.64.0.30", "100.64.0.3", 91, 0, 0},
  {6, "100.64.0.30", "100.64.0.3", 443, 0, 0},
  {6, "100.64.0.30", "100.64.0.3", 4999, 0, 0},
  {6, "100.64.0.30", "100.64.0.3", 5000, 0, 0},
  {6, "100.64.0.30", "100.64.0.3", 5999, 0, 0},
  {6, "100.64.0.30", "100.64.0.3", 65535, 0, 0},
  {17, "100.64.0.30", "100.64.0.3", 0, 1, 1},
  {17, "100.64.0.30", "100.64.0.3", 1, 0, 0},
  {17, "100.64.0.30", "100.64.0.3", 22, 0, 0},
  {17, "100.64.0.30", "100.64.0.3", 23, 0, 0},
  {17, "100.64.0.30", "100.64.0.3", 79, 0, 0},
  {17, "100.64.0.30", "100.64.0.3", 80, 0, 0},
  {17, "100.64.0.30", "100.64.0.3", 90, 0, 0},
  {17, "100.64.0.30", "100.64.0.3", 91, 0, 0},
  {17, "100.64.0.30", "100.64.0.3", 443, 0, 0},
  {17, "100.64.0.30", "100.64.0.3", 4999, 0, 0},
  {17, "100.64.0.30", "100.64.0.3", 5000, 0, 0},
  {17, "100.64.0.30", "100.64.0.3", 5999, 0, 0},
  {17, "100.64.0.30", "100.64.0.3", 65535, 0, 0},
  {132, "100.64.0.30", "100.64.0.3", 0, 0, 0},
  {132, "100.64.0.30", "100.64.0.3", 1, 0, 0},
  {132, "100.64.0.30", "100.64.0.3", 22, 0, 0},
  {132, "100.64.0.30", "100.64.0.3", 23, 0, 0},
  {132, "100.64.0.30", "100.64.0.3", 79, 0, 0},
  {132, "100.64.0.30", "100.64.0.3", 80, 0, 0},
  {132, "100.64.0.30", "100.64.0.3", 90, 0, 0},
  {132, "100.64.0.30", "100.64.0.3", 91, 0, 0},
  {132, "100.64.0.30", "100.64.0.3", 443, 0, 0},
  {132, "100.64.0.30", "100.64.0.3", 4999, 0, 0},
  {132, "100.64.0.30", "100.64.0.3", 5000, 0, 0},
  {132, "100.64.0.30", "100.64.0.3", 5999, 0, 0},
  {132, "100.64.0.30", "100.64.0.3", 65535, 0, 0},
  {1, "100.64.0.30", "100.64.0.3", 0, 0, 1},
  {47, "100.64.0.30", "100.64.0.3", 0, 0, 0},
  {50, "100.64.0.30", "100.64.0.3", 0, 0, 0},
  {6, "100.64.0.30", "100.64.0.4", 0, 0, 0},
  {6, "100.64.0.30", "100.64.0.4", 1, 0, 0},
  {6, "100.64.0.30", "100.64.0.4", 22, 0, 0},
  {6, "100.64.0.30", "100.64.0.4", 23, 0, 0},
  {6, "100.64.0.30", "100.64.0.4", 79, 0, 0},
  {6, "100.64.0.30", "100.64.0.4", 80, 0, 0},
  {6, "100.64.0.30", "100.64.0.4", 90, 0, 0},
  {6, "100.64.0.30", "100.64.0.4", 91, 0, 0},
  {6, "100.64.0.30", "100.64.0.4", 443, 0, 0},
  {6, "100.64.0.30", "100.64.0.4", 4999, 0, 0},
  {6, "100.64.0.30", "100.64.0.4", 5000, 0, 0},
  {6, "100.64.0.30", "100.64.0.4", 5999, 0, 0},
  {6, "100.64.0.30", "100.64.0.4", 65535, 0, 0},
  {17, "100.64.0.30", "100.64.0.4", 0, 0, 0},
  {17, "100.64.0.30", "100.64.0.4", 1, 0, 0},
  {17, "100.64.0.30", "100.64.0.4", 22, 0, 0},
  {17, "100.64.0.30", "100.64.0.4", 23, 0, 0},
  {17, "100.64.0.30", "100.64.0.4", 79, 0, 0},
  {17, "100.64.0.30", "100.64.0.4", 80, 0, 0},
  {17, "100.64.0.30", "100.64.0.4", 90, 0, 0},
  {17, "100.64.0.30", "100.64.0.4", 91, 0, 0},
  {17, "100.64.0.30", "100.64.0.4", 443, 0, 0},
  {17, "100.64.0.30", "100.64.0.4", 4999, 0, 0},
  {17, "100.64.0.30", "100.64.0.4", 5000, 0, 0},
  {17, "100.64.0.30", "100.64.0.4", 5999, 0, 0},
  {17, "100.64.0.30", "100.64.0.4", 65535, 0, 0},
  {132, "100.64.0.30", "100.64.0.4", 0, 0, 0},
  {132, "100.64.0.30", "100.64.0.4", 1, 0, 0},
  {132, "100.64.0.30", "100.64.0.4", 22, 0, 0},
  {132, "100.64.0.30", "100.64.0.4", 23, 0, 0},
  {132, "100.64.0.30", "100.64.0.4", 79, 0, 0},
  {132, "100.64.0.30", "100.64.0.4", 80, 0, 0},
  {132, "100.64.0.30", "100.64.0.4", 90, 0, 0},
  {132, "100.64.0.30", "100.64.0.4", 91, 0, 0},
  {132, "100.64.0.30", "100.64.0.4", 443, 0, 0},
  {132, "100.64.0.30", "100.64.0.4", 4999, 0, 0},
  {132, "100.64.0.30", "100.64.0.4", 5000, 0, 0},
  {132, "100.64.0.30", "100.64.0.4", 5999, 0, 0},
  {132, "100.64.0.30", "100.64.0.4", 65535, 0, 0},
  {1, "100.64.0.30", "100.64.0.4", 0, 0, 0},
  {47, "100.64.0.30", "100.64.0.4", 0, 0, 0},
  {50, "100.64.0.30", "100.64.0.4", 0, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 0, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 1, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 22, 1, 1},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 23, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 79, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 80, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 90, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 91, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 443, 1, 1},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 4999, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 5000, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 5999, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 65535, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 0, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 1, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 22, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 23, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 79, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 80, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 90, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 91, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 443, 1, 1},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 4999, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 5000, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 5999, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 65535, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 0, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 1, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 22, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 23, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 79, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 80, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 90, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 91, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 443, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 4999, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 5000, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 5999, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 65535, 0, 0},
  {58, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 0, 1, 1},
  {47, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 0, 0, 0},
  {50, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", 0, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 0, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 1, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 22, 1, 1},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 23, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 79, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 80, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 90, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 91, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 443, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 4999, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 5000, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 5999, 0, 0},
  {6, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 65535, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 0, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 1, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 22, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 23, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 79, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 80, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 90, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 91, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 443, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 4999, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 5000, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 5999, 0, 0},
  {17, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 65535, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 0, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 1, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 22, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 23, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 79, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 80, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 90, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 91, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 443, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 4999, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 5000, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 5999, 0, 0},
  {132, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 65535, 0, 0},
  {58, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 0, 0, 1},
  {47, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 0, 0, 0},
  {50, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::3", 0, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 0, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 1, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 22, 1, 1},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 23, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 79, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 80, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 90, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 91, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 443, 1, 1},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 4999, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 5000, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 5999, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 65535, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 0, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 1, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 22, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 23, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 79, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 80, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 90, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 91, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 443, 1, 1},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 4999, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 5000, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 5999, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 65535, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 0, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 1, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 22, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 23, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 79, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 80, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 90, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 91, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 443, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 4999, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 5000, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 5999, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 65535, 0, 0},
  {58, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 0, 1, 1},
  {47, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 0, 0, 0},
  {50, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::2", 0, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 0, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 1, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 22, 1, 1},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 23, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 79, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 80, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 90, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 91, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 443, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 4999, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 5000, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 5999, 0, 0},
  {6, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 65535, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 0, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 1, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 22, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 23, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 79, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 80, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 90, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 91, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 443, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 4999, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 5000, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 5999, 0, 0},
  {17, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 65535, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 0, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 1, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 22, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 23, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 79, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 80, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 90, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 91, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 443, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 4999, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 5000, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 5999, 0, 0},
  {132, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 65535, 0, 0},
  {58, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 0, 0, 1},
  {47, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 0, 0, 0},
  {50, "fd7a:115c:a1e0:ab::5", "fd7a:115c:a1e0::3", 0, 0, 0},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 0, 1, 1},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 1, 1, 1},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 22, 1, 1},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 23, 1, 1},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 79, 1, 1},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 80, 1, 1},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 90, 1, 1},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 91, 1, 1},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 443, 1, 1},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 4999, 1, 1},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 5000, 1, 1},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 5999, 1, 1},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 65535, 1, 1},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 0, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 1, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 22, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 23, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 79, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 80, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 90, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 91, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 443, 1, 1},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 4999, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 5000, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 5999, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 65535, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 0, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 1, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 22, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 23, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 79, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 80, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 90, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 91, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 443, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 4999, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 5000, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 5999, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 65535, 0, 0},
  {58, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 0, 1, 1},
  {47, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 0, 1, 1},
  {50, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::2", 0, 0, 0},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 0, 0, 0},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 1, 0, 0},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 22, 1, 1},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 23, 0, 0},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 79, 0, 0},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 80, 0, 0},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 90, 0, 0},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 91, 0, 0},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 443, 0, 0},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 4999, 0, 0},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 5000, 0, 0},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 5999, 0, 0},
  {6, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 65535, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 0, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 1, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 22, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 23, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 79, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 80, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 90, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 91, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 443, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 4999, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 5000, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 5999, 0, 0},
  {17, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 65535, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 0, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 1, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 22, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 23, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 79, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 80, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 90, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 91, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 443, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 4999, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 5000, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 5999, 0, 0},
  {132, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 65535, 0, 0},
  {58, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 0, 0, 1},
  {47, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 0, 0, 0},
  {50, "fd7a:115c:a1e0::9", "fd7a:115c:a1e0::3", 0, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::2", 0, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::2", 1, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::2", 22, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::2", 23, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::2", 79, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::2", 80, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::2", 90, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::2", 91, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::2", 443, 1, 1},
  {6, "2001:db8::1", "fd7a:115c:a1e0::2", 4999, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::2", 5000, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::2", 5999, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::2", 65535, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::2", 0, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::2", 1, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::2", 22, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::2", 23, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::2", 79, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::2", 80, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::2", 90, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::2", 91, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::2", 443, 1, 1},
  {17, "2001:db8::1", "fd7a:115c:a1e0::2", 4999, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::2", 5000, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::2", 5999, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::2", 65535, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::2", 0, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::2", 1, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::2", 22, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::2", 23, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::2", 79, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::2", 80, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::2", 90, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::2", 91, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::2", 443, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::2", 4999, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::2", 5000, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::2", 5999, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::2", 65535, 0, 0},
  {58, "2001:db8::1", "fd7a:115c:a1e0::2", 0, 1, 1},
  {47, "2001:db8::1", "fd7a:115c:a1e0::2", 0, 0, 0},
  {50, "2001:db8::1", "fd7a:115c:a1e0::2", 0, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::3", 0, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::3", 1, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::3", 22, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::3", 23, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::3", 79, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::3", 80, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::3", 90, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::3", 91, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::3", 443, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::3", 4999, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::3", 5000, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::3", 5999, 0, 0},
  {6, "2001:db8::1", "fd7a:115c:a1e0::3", 65535, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::3", 0, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::3", 1, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::3", 22, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::3", 23, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::3", 79, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::3", 80, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::3", 90, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::3", 91, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::3", 443, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::3", 4999, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::3", 5000, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::3", 5999, 0, 0},
  {17, "2001:db8::1", "fd7a:115c:a1e0::3", 65535, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::3", 0, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::3", 1, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::3", 22, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::3", 23, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::3", 79, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::3", 80, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::3", 90, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::3", 91, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::3", 443, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::3", 4999, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::3", 5000, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::3", 5999, 0, 0},
  {132, "2001:db8::1", "fd7a:115c:a1e0::3", 65535, 0, 0},
  {58, "2001:db8::1", "fd7a:115c:a1e0::3", 0, 0, 0},
  {47, "2001:db8::1", "fd7a:115c:a1e0::3", 0, 0, 0},
  {50, "2001:db8::1", "fd7a:115c:a1e0::3", 0, 0, 0},
};

static void test_cross_check_typescript(void) {
  ts_filter *f = mk(0);
  ts_filter_rule rules[sizeof XRULES / sizeof XRULES[0]];
  ts_filter_prefix srcs[sizeof XRULES / sizeof XRULES[0]][4];
  ts_filter_dst dsts[sizeof XRULES / sizeof XRULES[0]][4];
  size_t nr = sizeof XRULES / sizeof XRULES[0];
  for (size_t i = 0; i < nr; i++) {
    const xrule *x = &XRULES[i];
    for (size_t j = 0; j < x->ns; j++) {
      srcs[i][j] = pfx(x->srcs[j].ip, x->srcs[j].bits);
      CHECK_EQ_INT(srcs[i][j].family, x->srcs[j].fam);
    }
    for (size_t j = 0; j < x->nd; j++) {
      dsts[i][j] = dstp(x->dsts[j].net.ip, x->dsts[j].net.bits, x->dsts[j].first, x->dsts[j].last);
      CHECK_EQ_INT(dsts[i][j].net.family, x->dsts[j].net.fam);
    }
    rules[i] = (ts_filter_rule){x->protos, x->np, srcs[i], x->ns, dsts[i], x->nd};
  }
  CHECK_EQ_INT(ts_filter_set_rules(f, rules, nr), 0);
  ts_filter_prefix local[2] = {pfx("100.64.0.0", 10), pfx("fd7a:115c:a1e0::", 48)};
  CHECK_EQ_INT(ts_filter_set_local(f, local, 2), 0);
  size_t ncase = sizeof XCASES / sizeof XCASES[0], allowed = 0, differ = 0;
  for (size_t i = 0; i < ncase; i++) {
    const xcase *c = &XCASES[i];
    uint8_t s[16], d[16];
    int fam = fam_of(c->src);
    addr(c->src, s);
    addr(c->dst, d);
    int icmp = c->proto == 1 || c->proto == 58;
    if (!icmp && c->expect != c->ts_allows) CHECK(0); /* the table itself must agree outside ICMP */
    if (icmp && c->ts_allows && !c->expect) CHECK(0); /* ICMP here is a superset */
    differ += c->expect != c->ts_allows;
    int got = ts_filter_rule_allows(f, c->proto, fam, s, d, c->port);
    if (got != c->expect) {
      fprintf(stderr, "  case %zu: proto %u %s -> %s:%u got %d want %d\n", i, c->proto, c->src, c->dst, c->port,
              got, c->expect);
      CHECK(0);
    }
    allowed += (size_t)got;
    /* The same through the packet path: a new flow (TCP SYN, UDP without state, ICMP echo request, others). */
    uint8_t b[128];
    size_t n;
    if (c->proto == TCP) n = tcp_pkt(b, c->src, 40000, c->dst, c->port, SYN);
    else if (c->proto == UDP) n = udp_pkt(b, c->src, 40000, c->dst, c->port);
    else if (icmp) n = icmp_pkt(b, c->src, c->dst, fam == 4 ? 8 : 128, 0);
    else if (c->proto == 132) {
      uint8_t l4[12] = {0x9c, 0x40, (uint8_t)(c->port >> 8), (uint8_t)c->port};
      n = ip4(b, 132, c->src, c->dst, l4, 12, 0);
      if (fam == 6) n = ip6(b, 132, c->src, c->dst, NULL, 0, l4, 12);
    } else n = proto_pkt(b, c->proto, c->src, c->dst);
    ts_filter_reason r = IN(f, b, n, 0);
    CHECK_EQ_INT(r, c->expect ? TS_FILTER_OK_RULE : TS_FILTER_DROP_NO_RULE);
  }
  CHECK(allowed > 50 && allowed < ncase / 4); /* the table exercises both outcomes */
  CHECK(differ > 0 && differ < 20);
  ts_filter_free(f);
}

int main(void) {
  RUN(test_default_deny_before_rules);
  RUN(test_v4_rules);
  RUN(test_v6_rules);
  RUN(test_wildcard_and_multi_rules);
  RUN(test_other_protocols_and_tsmp);
  RUN(test_icmp);
  RUN(test_tcp_flows);
  RUN(test_tcp_rst_creates_no_flow);
  RUN(test_udp_flows_and_timeouts);
  RUN(test_flow_eviction_bounded);
  RUN(test_flow_table_matches_lru_model);
  RUN(test_fragments_v4);
  RUN(test_ipv6_extension_headers_and_fragments);
  RUN(test_multicast_link_local);
  RUN(test_malformed);
  RUN(test_set_rules_validation);
  RUN(test_counters_and_names);
  RUN(test_cross_check_typescript);
  TEST_MAIN_END();
}

/* The cross-check generator (see above).
GENERATOR-BEGIN
// Emits the C cross-check table for native/test/test_filter.c from lib/wire/filter.ts (dist build).
const { compileFilter, filterAllows } = require(process.argv[2] + '/dist/control/filter.js');
const { parseIP, prefixContains } = require(process.argv[2] + '/dist/control/ip.js');
// Tailscale's ICMP step: any rule whose source and any destination prefix match, protocols and ports ignored.
const ipsOnly = (f, src, dst) => f.matches.some((m) => m.srcs.some((p) => prefixContains(p, parseIP(src))) && m.dsts.some((d) => prefixContains(d.net, parseIP(dst))));
const rules = [
  { SrcIPs: ['100.64.0.1'], DstPorts: [{ IP: '100.64.0.2', Ports: { First: 80, Last: 90 } }] },
  { SrcIPs: ['100.64.1.0/24', 'fd7a:115c:a1e0::/48'], DstPorts: [{ IP: '*', Ports: { First: 22, Last: 22 } }], IPProto: [6] },
  { SrcIPs: ['100.64.0.10-100.64.0.13'], DstPorts: [{ IP: '100.64.0.2-100.64.0.3', Ports: { First: 5000, Last: 5999 } }], IPProto: [17, 132] },
  { SrcIPs: ['*'], DstPorts: [{ IP: 'fd7a:115c:a1e0::2', Ports: { First: 443, Last: 443 } }] },
  { SrcIPs: ['100.64.0.9', 'fd7a:115c:a1e0::9'], DstPorts: [{ IP: '100.64.0.2', Ports: { First: 0, Last: 65535 } }, { IP: 'fd7a:115c:a1e0::2', Ports: { First: 0, Last: 65535 } }], IPProto: [47, 6] },
  { SrcIPs: ['100.64.0.20'], DstPorts: [{ IP: '100.64.0.2', Ports: { First: 1, Last: 65535 } }], IPProto: [50] },
  { SrcIPs: ['100.64.0.30'], DstPorts: [{ IP: '100.64.0.0/30', Ports: { First: 0, Last: 0 } }], IPProto: [6, 17] },
];
const f = compileFilter(rules);
if (f.errors.length || f.rejected) throw new Error(JSON.stringify(f.errors));
const srcs = ['100.64.0.1', '100.64.0.3', '100.64.1.77', '100.64.0.11', '100.64.0.14', '100.64.0.9', '100.64.0.20', '100.64.0.30',
  'fd7a:115c:a1e0::1', 'fd7a:115c:a1e0:ab::5', 'fd7a:115c:a1e0::9', '2001:db8::1'];
const dsts4 = ['100.64.0.2', '100.64.0.3', '100.64.0.4'];
const dsts6 = ['fd7a:115c:a1e0::2', 'fd7a:115c:a1e0::3'];
const ports = [0, 1, 22, 23, 79, 80, 90, 91, 443, 4999, 5000, 5999, 65535];
const protos = [6, 17, 132, 1, 47, 50];
const lines = [];
const cstr = (s) => JSON.stringify(s);
for (const m of f.matches) {
  const pfx = (p) => `{${p.family}, ${p.bits}, ${cstr(p.text.split('/')[0])}}`;
  lines.push(`  {{${m.protocols.join(', ')}}, ${m.protocols.length}, {${m.srcs.map(pfx).join(', ')}}, ${m.srcs.length}, {${m.dsts.map((d) => `{${pfx(d.net)}, ${d.first}, ${d.last}}`).join(', ')}}, ${m.dsts.length}},`);
}
const cases = [];
let n = 0;
for (const src of srcs) {
  const v6 = src.includes(':');
  for (const dst of v6 ? dsts6 : dsts4)
    for (const proto of protos.map((p) => (p === 1 && v6 ? 58 : p)))
      for (const port of proto === 1 || proto === 58 || proto === 47 || proto === 50 ? [0] : ports) {
        const ok = filterAllows(f, { proto, src, dst, dstPort: port });
        const icmp = proto === 1 || proto === 58;
        const c = icmp ? ipsOnly(f, src, dst) : ok;
        cases.push(`  {${proto}, ${cstr(src)}, ${cstr(dst)}, ${port}, ${ok ? 1 : 0}, ${c ? 1 : 0}},`);
        n++;
      }
}
console.log('// generated: rules');
console.log(lines.join('\n'));
console.log('// generated: cases (' + n + ')');
console.log(cases.join('\n'));
GENERATOR-END
*/
