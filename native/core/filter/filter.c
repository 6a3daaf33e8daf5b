/* Inbound packet filter: rule matching and the flow table (semantics in filter.h). */
#include "filter/filter.h"

#include <stdlib.h>
#include <string.h>

#include "filter/filter_pkt.h"
#include "mem/pages.h"

#define NIL UINT32_MAX
#define KEY_LEN 40

enum { CLS_OWN = 0, CLS_RULED = 1 }; /* flow entry classes, see "Flow table" in filter.h */

typedef struct irule {
  uint8_t protos[32]; /* bitmap of IP protocol numbers */
  uint32_t src0, nsrc, dst0, ndst;
} irule;

/* One allocation: header, rules, destinations, sources (in decreasing alignment). */
typedef struct ruleset {
  size_t n;
  irule *rules;
  ts_filter_dst *dsts;
  ts_filter_prefix *srcs;
} ruleset;

typedef struct flow {
  uint8_t key[KEY_LEN]; /* proto, family, local port, remote port, pad, local addr, remote addr */
  uint64_t expires;
  uint32_t hnext;      /* bucket chain, or free list */
  uint32_t prev, next; /* LRU list of its class; head = most recent */
  uint32_t bucket;
  uint8_t cls, used;
} flow;

struct ts_filter {
  ruleset *rules; /* NULL until the first ts_filter_set_rules */
  ts_filter_prefix *local;
  size_t n_local;
  uint64_t tcp_timeout, udp_timeout;
  uint64_t k0, k1; /* SipHash key */
  flow *flows;
  uint32_t *buckets; /* chain heads, one-based: 0 is an empty bucket, so untouched pages are empty buckets */
  uint32_t cap, nbuckets, count, free_head;
  /* Entries [0, carved) have been handed out since the last flush; the rest are untouched. They are taken in
   * order once the free list is empty, so an idle node's table costs no resident memory (docs/performance.md,
   * "Memory (issue 17, part 4)"), as lwIP's pools do with patch 0040. */
  uint32_t carved;
  uint32_t head[2], tail[2];
  uint64_t counters[TS_FILTER_REASON_COUNT];
};

/* ---- prefixes ---- */

static int prefix_valid(const ts_filter_prefix *p) {
  return (p->family == 4 && p->bits <= 32) || (p->family == 6 && p->bits <= 128);
}

/* Copies p with host bits cleared, so matching compares whole bytes plus one masked byte. */
static void prefix_canon(ts_filter_prefix *out, const ts_filter_prefix *p) {
  memset(out, 0, sizeof *out);
  out->family = p->family;
  out->bits = p->bits;
  size_t alen = p->family == 4 ? 4 : 16;
  for (size_t i = 0; i < alen; i++) {
    unsigned keep = p->bits >= (i + 1) * 8 ? 8 : p->bits > i * 8 ? p->bits - (unsigned)i * 8 : 0;
    out->addr[i] = (uint8_t)(p->addr[i] & (0xff00u >> keep));
  }
}

static int prefix_contains(const ts_filter_prefix *p, int family, const uint8_t *a) {
  if (p->family != family) return 0;
  unsigned full = p->bits / 8, rem = p->bits % 8;
  if (memcmp(p->addr, a, full) != 0) return 0;
  return rem == 0 || (a[full] & (uint8_t)(0xff00u >> rem)) == p->addr[full];
}

/* ---- rules ---- */

enum { MATCH_PORT, MATCH_IPS_ONLY, MATCH_ALL_PORTS };

static int src_matches(const ruleset *rs, const irule *r, int family, const uint8_t *src) {
  for (uint32_t i = 0; i < r->nsrc; i++)
    if (prefix_contains(&rs->srcs[r->src0 + i], family, src)) return 1;
  return 0;
}

static int rules_match(const ruleset *rs, uint8_t proto, int family, const uint8_t *src, const uint8_t *dst,
                       uint16_t dport, int mode) {
  if (!rs) return 0;
  for (size_t i = 0; i < rs->n; i++) {
    const irule *r = &rs->rules[i];
    if (mode != MATCH_IPS_ONLY && !(r->protos[proto >> 3] & (1u << (proto & 7)))) continue;
    if (!src_matches(rs, r, family, src)) continue;
    for (uint32_t j = 0; j < r->ndst; j++) {
      const ts_filter_dst *d = &rs->dsts[r->dst0 + j];
      if (!prefix_contains(&d->net, family, dst)) continue;
      if (mode == MATCH_IPS_ONLY) return 1;
      if (mode == MATCH_PORT && dport >= d->first && dport <= d->last) return 1;
      if (mode == MATCH_ALL_PORTS && d->first == 0 && d->last == 65535) return 1;
    }
  }
  return 0;
}

static int is_icmp(int family, uint8_t proto) {
  return (family == 4 && proto == TS_FILTER_PROTO_ICMP4) || (family == 6 && proto == TS_FILTER_PROTO_ICMP6);
}

static int has_ports(uint8_t proto) {
  return proto == TS_FILTER_PROTO_TCP || proto == TS_FILTER_PROTO_UDP || proto == TS_FILTER_PROTO_SCTP;
}

static int match_mode(int family, uint8_t proto) {
  return is_icmp(family, proto) ? MATCH_IPS_ONLY : has_ports(proto) ? MATCH_PORT : MATCH_ALL_PORTS;
}

int ts_filter_rule_allows(const ts_filter *f, uint8_t proto, int family, const uint8_t *src,
                          const uint8_t *dst, uint16_t dport) {
  if (!f || (family != 4 && family != 6) || !src || !dst) return 0;
  return rules_match(f->rules, proto, family, src, dst, dport, match_mode(family, proto));
}

int ts_filter_set_rules(ts_filter *f, const ts_filter_rule *rules, size_t n) {
  if (!f || (n && !rules) || n > UINT32_MAX) return -1;
  size_t nsrc = 0, ndst = 0;
  for (size_t i = 0; i < n; i++) {
    const ts_filter_rule *r = &rules[i];
    if ((r->n_protos && !r->protos) || (r->n_srcs && !r->srcs) || (r->n_dsts && !r->dsts)) return -1;
    if (r->n_srcs > UINT32_MAX || r->n_dsts > UINT32_MAX) return -1;
    for (size_t j = 0; j < r->n_srcs; j++)
      if (!prefix_valid(&r->srcs[j])) return -1;
    for (size_t j = 0; j < r->n_dsts; j++)
      if (!prefix_valid(&r->dsts[j].net) || r->dsts[j].first > r->dsts[j].last) return -1;
    nsrc += r->n_srcs;
    ndst += r->n_dsts;
    if (nsrc > UINT32_MAX || ndst > UINT32_MAX) return -1;
  }
  /* Sizes are caller-controlled: refuse anything whose byte count would wrap (32-bit builds). */
  size_t room = SIZE_MAX - sizeof(ruleset);
  if (n > room / sizeof(irule)) return -1;
  room -= n * sizeof(irule);
  if (ndst > room / sizeof(ts_filter_dst)) return -1;
  room -= ndst * sizeof(ts_filter_dst);
  if (nsrc > room / sizeof(ts_filter_prefix)) return -1;
  size_t off_rules = sizeof(ruleset);
  size_t off_dsts = off_rules + n * sizeof(irule);
  size_t off_srcs = off_dsts + ndst * sizeof(ts_filter_dst);
  size_t total = off_srcs + nsrc * sizeof(ts_filter_prefix);
  uint8_t *mem = calloc(1, total);
  if (!mem) return -1;
  ruleset *rs = (ruleset *)mem;
  rs->n = n;
  rs->rules = (irule *)(mem + off_rules);
  rs->dsts = (ts_filter_dst *)(mem + off_dsts);
  rs->srcs = (ts_filter_prefix *)(mem + off_srcs);
  uint32_t si = 0, di = 0;
  for (size_t i = 0; i < n; i++) {
    const ts_filter_rule *r = &rules[i];
    irule *ir = &rs->rules[i];
    for (size_t j = 0; j < r->n_protos; j++) ir->protos[r->protos[j] >> 3] |= (uint8_t)(1u << (r->protos[j] & 7));
    ir->src0 = si;
    ir->nsrc = (uint32_t)r->n_srcs;
    for (size_t j = 0; j < r->n_srcs; j++) prefix_canon(&rs->srcs[si++], &r->srcs[j]);
    ir->dst0 = di;
    ir->ndst = (uint32_t)r->n_dsts;
    for (size_t j = 0; j < r->n_dsts; j++, di++) {
      prefix_canon(&rs->dsts[di].net, &r->dsts[j].net);
      rs->dsts[di].first = r->dsts[j].first;
      rs->dsts[di].last = r->dsts[j].last;
    }
  }
  free(f->rules);
  f->rules = rs;
  return 0;
}

int ts_filter_set_local(ts_filter *f, const ts_filter_prefix *local, size_t n) {
  if (!f || (n && !local) || n > SIZE_MAX / sizeof(ts_filter_prefix)) return -1;
  for (size_t i = 0; i < n; i++)
    if (!prefix_valid(&local[i])) return -1;
  ts_filter_prefix *copy = NULL;
  if (n) {
    copy = malloc(n * sizeof *copy);
    if (!copy) return -1;
    for (size_t i = 0; i < n; i++) prefix_canon(&copy[i], &local[i]);
  }
  free(f->local);
  f->local = copy;
  f->n_local = n;
  return 0;
}

static int is_local(const ts_filter *f, int family, const uint8_t *a) {
  for (size_t i = 0; i < f->n_local; i++)
    if (prefix_contains(&f->local[i], family, a)) return 1;
  return 0;
}

/* ---- SipHash-2-4 (Aumasson & Bernstein), keyed per filter so bucket placement is unpredictable ---- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                        \
  do {                                                                                                  \
    v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                                           \
    v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                                              \
    v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                                              \
    v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                                           \
  } while (0)

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* Input length is always KEY_LEN (a multiple of 8), which keeps the finalization simple. */
static uint64_t siphash_key(uint64_t k0, uint64_t k1, const uint8_t *in) {
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
  for (int i = 0; i < KEY_LEN; i += 8) {
    uint64_t m = le64(in + i);
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  uint64_t b = (uint64_t)KEY_LEN << 56;
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- flow table ---- */

static void make_key(uint8_t key[KEY_LEN], uint8_t proto, int family, const uint8_t *laddr, uint16_t lport,
                     const uint8_t *raddr, uint16_t rport) {
  size_t alen = family == 4 ? 4 : 16;
  memset(key, 0, KEY_LEN);
  key[0] = proto;
  key[1] = (uint8_t)family;
  key[2] = (uint8_t)(lport >> 8);
  key[3] = (uint8_t)lport;
  key[4] = (uint8_t)(rport >> 8);
  key[5] = (uint8_t)rport;
  memcpy(key + 8, laddr, alen);
  memcpy(key + 24, raddr, alen);
}

static void lru_unlink(ts_filter *f, uint32_t i) {
  flow *e = &f->flows[i];
  if (e->prev != NIL) f->flows[e->prev].next = e->next;
  else f->head[e->cls] = e->next;
  if (e->next != NIL) f->flows[e->next].prev = e->prev;
  else f->tail[e->cls] = e->prev;
  e->prev = e->next = NIL;
}

static void lru_push_front(ts_filter *f, uint32_t i) {
  flow *e = &f->flows[i];
  e->prev = NIL;
  e->next = f->head[e->cls];
  if (e->next != NIL) f->flows[e->next].prev = i;
  else f->tail[e->cls] = i;
  f->head[e->cls] = i;
}

static void flow_remove(ts_filter *f, uint32_t i) {
  flow *e = &f->flows[i];
  uint32_t j = f->buckets[e->bucket] - 1;
  if (j == i) {
    f->buckets[e->bucket] = e->hnext + 1;
  } else {
    while (f->flows[j].hnext != i) j = f->flows[j].hnext;
    f->flows[j].hnext = e->hnext;
  }
  lru_unlink(f, i);
  e->used = 0;
  e->hnext = f->free_head;
  f->free_head = i;
  f->count--;
}

static uint64_t timeout_for(const ts_filter *f, uint8_t proto) {
  return proto == TS_FILTER_PROTO_TCP ? f->tcp_timeout : f->udp_timeout;
}

/* Finds a live entry; an expired one is removed on the way so it cannot match. */
static uint32_t flow_find(ts_filter *f, const uint8_t key[KEY_LEN], uint32_t bucket, uint64_t now) {
  for (uint32_t i = f->buckets[bucket] - 1; i != NIL; i = f->flows[i].hnext) {
    if (memcmp(f->flows[i].key, key, KEY_LEN) != 0) continue;
    if (f->flows[i].expires <= now) {
      flow_remove(f, i);
      return NIL;
    }
    return i;
  }
  return NIL;
}

static void flow_touch(ts_filter *f, uint32_t i, uint64_t now) {
  flow *e = &f->flows[i];
  uint64_t t = timeout_for(f, e->key[0]);
  e->expires = now > UINT64_MAX - t ? UINT64_MAX : now + t;
  lru_unlink(f, i);
  lru_push_front(f, i);
}

static uint32_t pick_victim(const ts_filter *f, uint64_t now) {
  uint32_t own = f->tail[CLS_OWN], ruled = f->tail[CLS_RULED];
  if (own != NIL && f->flows[own].expires <= now) return own;
  return ruled != NIL ? ruled : own;
}

static uint32_t bucket_of(const ts_filter *f, const uint8_t key[KEY_LEN]) {
  return (uint32_t)(siphash_key(f->k0, f->k1, key) & (f->nbuckets - 1));
}

/* Returns 0 when the table is full and the entry is not worth a victim: a flow the rules admit anyway
 * never pushes out a live flow of our own. */
static int flow_insert(ts_filter *f, const uint8_t key[KEY_LEN], uint32_t bucket, uint8_t cls, uint64_t now) {
  uint32_t i;
  if (f->free_head == NIL && f->carved < f->cap) {
    i = f->carved++;
  } else {
    if (f->free_head == NIL) {
      uint32_t v = pick_victim(f, now);
      if (cls == CLS_RULED && f->flows[v].cls == CLS_OWN && f->flows[v].expires > now) return 0;
      flow_remove(f, v);
    }
    i = f->free_head;
    f->free_head = f->flows[i].hnext;
  }
  flow *e = &f->flows[i];
  memcpy(e->key, key, KEY_LEN);
  e->bucket = bucket;
  e->cls = cls;
  e->used = 1;
  e->hnext = f->buckets[bucket] - 1;
  f->buckets[bucket] = i + 1;
  e->prev = e->next = NIL;
  lru_push_front(f, i);
  f->count++;
  flow_touch(f, i, now);
  return 1;
}

void ts_filter_flush_flows(ts_filter *f) {
  if (!f) return;
  /* Only the buckets that hold an entry are written: the rest of the array stays untouched (zero). */
  for (uint32_t i = 0; i < f->carved; i++) {
    if (f->flows[i].used) f->buckets[f->flows[i].bucket] = 0;
    f->flows[i].used = 0;
  }
  f->carved = 0;
  f->free_head = NIL;
  f->count = 0;
  f->head[0] = f->head[1] = f->tail[0] = f->tail[1] = NIL;
}

size_t ts_filter_flow_count(const ts_filter *f) { return f ? f->count : 0; }
size_t ts_filter_flow_capacity(const ts_filter *f) { return f ? f->cap : 0; }

/* ---- lifecycle ---- */

ts_filter *ts_filter_new(const ts_filter_config *cfg) {
  ts_filter_config def;
  memset(&def, 0, sizeof def);
  if (!cfg) cfg = &def;
  uint32_t cap = cfg->flow_capacity ? cfg->flow_capacity : TS_FILTER_DEFAULT_FLOWS;
  if (cap > TS_FILTER_MAX_FLOWS) return NULL;
  ts_filter *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->tcp_timeout = cfg->tcp_timeout_ns ? cfg->tcp_timeout_ns : TS_FILTER_DEFAULT_TCP_TIMEOUT;
  f->udp_timeout = cfg->udp_timeout_ns ? cfg->udp_timeout_ns : TS_FILTER_DEFAULT_UDP_TIMEOUT;
  f->k0 = le64(cfg->hash_key);
  f->k1 = le64(cfg->hash_key + 8);
  f->cap = cap;
  f->nbuckets = 1;
  while (f->nbuckets < cap) f->nbuckets <<= 1; /* load factor <= 1 */
  /* From the kernel, not malloc: untouched entries stay non-resident even where malloc would hand out a reused,
   * dirty chunk (mem/pages.h). */
  f->flows = ts_pages_alloc((size_t)cap * sizeof *f->flows);
  f->buckets = ts_pages_alloc((size_t)f->nbuckets * sizeof *f->buckets);
  if (!f->flows || !f->buckets) {
    ts_filter_free(f);
    return NULL;
  }
  ts_filter_flush_flows(f);
  return f;
}

void ts_filter_free(ts_filter *f) {
  if (!f) return;
  free(f->rules);
  free(f->local);
  ts_pages_free(f->flows, (size_t)f->cap * sizeof *f->flows);
  ts_pages_free(f->buckets, (size_t)f->nbuckets * sizeof *f->buckets);
  free(f);
}

/* ---- packet path ---- */

static int is_multicast(int family, const uint8_t *a) {
  return family == 4 ? (a[0] & 0xf0) == 0xe0 : a[0] == 0xff;
}

static int is_link_local(int family, const uint8_t *a) {
  if (family == 4) return a[0] == 169 && a[1] == 254 && !(a[2] == 169 && a[3] == 254);
  return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static int icmp_is_reply(const ts_fpkt *q) {
  if (q->family == 4)
    return (q->icmp_type == 0 && q->icmp_code == 0) || q->icmp_type == 3 || q->icmp_type == 11 ||
           q->icmp_type == 12;
  return (q->icmp_type == 129 && q->icmp_code == 0) || (q->icmp_type >= 1 && q->icmp_type <= 4);
}

/* An inbound packet's flow entry (its key reversed to our point of view), refreshed on a hit. */
static int flow_hit_in(ts_filter *f, const ts_fpkt *q, uint64_t now) {
  uint8_t key[KEY_LEN];
  make_key(key, q->proto, q->family, q->dst, q->dport, q->src, q->sport);
  uint32_t i = flow_find(f, key, bucket_of(f, key), now);
  if (i == NIL) return 0;
  flow_touch(f, i, now);
  return 1;
}

static ts_filter_reason judge(ts_filter *f, const uint8_t *pkt, size_t len, uint64_t now) {
  if (!f->rules) return TS_FILTER_DROP_NO_FILTER;
  ts_fpkt q;
  ts_fpkt_status st = ts_fpkt_parse(pkt, len, &q);
  if (st == TS_FPKT_MALFORMED) return TS_FILTER_DROP_MALFORMED;
  if (is_multicast(q.family, q.dst)) return TS_FILTER_DROP_MULTICAST;
  if (is_link_local(q.family, q.dst)) return TS_FILTER_DROP_LINK_LOCAL;
  if (!is_local(f, q.family, q.dst)) return TS_FILTER_DROP_NOT_LOCAL;
  if (st == TS_FPKT_FRAGMENT)
    return q.frag_offset < TS_FILTER_MIN_FRAG_OFFSET ? TS_FILTER_DROP_FRAGMENT : TS_FILTER_OK_FRAGMENT;

  if (is_icmp(q.family, q.proto)) {
    if (icmp_is_reply(&q)) return TS_FILTER_OK_ICMP_REPLY;
    return rules_match(f->rules, q.proto, q.family, q.src, q.dst, 0, MATCH_IPS_ONLY) ? TS_FILTER_OK_RULE
                                                                                     : TS_FILTER_DROP_NO_RULE;
  }
  switch (q.proto) {
  case TS_FILTER_PROTO_TCP: {
    int syn = (q.tcp_flags & (TS_FPKT_TCP_SYN | TS_FPKT_TCP_ACK)) == TS_FPKT_TCP_SYN;
    if (!syn && flow_hit_in(f, &q, now)) return TS_FILTER_OK_FLOW;
    if (rules_match(f->rules, q.proto, q.family, q.src, q.dst, q.dport, MATCH_PORT)) return TS_FILTER_OK_RULE;
    return syn ? TS_FILTER_DROP_NO_RULE : TS_FILTER_DROP_NO_FLOW;
  }
  case TS_FILTER_PROTO_UDP:
  case TS_FILTER_PROTO_SCTP:
    if (flow_hit_in(f, &q, now)) return TS_FILTER_OK_FLOW;
    return rules_match(f->rules, q.proto, q.family, q.src, q.dst, q.dport, MATCH_PORT) ? TS_FILTER_OK_RULE
                                                                                       : TS_FILTER_DROP_NO_RULE;
  case TS_FILTER_PROTO_TSMP:
    return TS_FILTER_OK_TSMP;
  default:
    return rules_match(f->rules, q.proto, q.family, q.src, q.dst, 0, MATCH_ALL_PORTS) ? TS_FILTER_OK_RULE
                                                                                      : TS_FILTER_DROP_NO_RULE;
  }
}

ts_filter_reason ts_filter_check_in(ts_filter *f, const uint8_t *pkt, size_t len, uint64_t now) {
  if (!f) return TS_FILTER_DROP_NO_FILTER;
  ts_filter_reason r = judge(f, pkt, len, now);
  f->counters[r]++;
  return r;
}

int ts_filter_note_out(ts_filter *f, const uint8_t *pkt, size_t len, uint64_t now) {
  if (!f || f->cap == 0) return 0;
  ts_fpkt q;
  if (ts_fpkt_parse(pkt, len, &q) != TS_FPKT_OK || !has_ports(q.proto)) return 0;
  uint8_t key[KEY_LEN];
  make_key(key, q.proto, q.family, q.src, q.sport, q.dst, q.dport);
  uint32_t b = bucket_of(f, key);
  uint32_t i = flow_find(f, key, b, now);
  if (i != NIL) {
    flow_touch(f, i, now);
    return 1;
  }
  /* A RST ends a flow: remembering it would only let the peer's late segments through. */
  if (q.proto == TS_FILTER_PROTO_TCP && (q.tcp_flags & TS_FPKT_TCP_RST)) return 0;
  /* Would the rules admit the peer's side of this flow as new? Then the entry is only a cache. */
  int ruled = rules_match(f->rules, q.proto, q.family, q.dst, q.src, q.sport, MATCH_PORT);
  return flow_insert(f, key, b, ruled ? CLS_RULED : CLS_OWN, now);
}

void ts_filter_counters(const ts_filter *f, uint64_t out[TS_FILTER_REASON_COUNT]) {
  for (int i = 0; i < TS_FILTER_REASON_COUNT; i++) out[i] = f ? f->counters[i] : 0;
}

const char *ts_filter_reason_name(ts_filter_reason r) {
  static const char *const names[TS_FILTER_REASON_COUNT] = {
      "ok-rule",   "ok-flow",     "ok-icmp-reply", "ok-tsmp",   "ok-fragment", "drop-no-filter", "drop-malformed",
      "drop-multicast", "drop-link-local", "drop-not-local", "drop-fragment", "drop-no-rule", "drop-no-flow",
  };
  return (unsigned)r < TS_FILTER_REASON_COUNT ? names[r] : "unknown";
}
