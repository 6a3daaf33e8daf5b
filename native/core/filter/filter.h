/* Inbound packet filter (ACLs from the netmap, docs/protocol/filter.md §1): a sans-I/O module (no globals, threads,
 * clocks or I/O). The engine calls ts_filter_check_in for every decrypted inbound IP packet before it
 * reaches the stack, and ts_filter_note_out for every packet the stack sends (that feeds the flow table).
 * Neither call allocates; only ts_filter_set_rules / ts_filter_set_local allocate (control path). `now` is
 * a monotonic clock in ns (any origin, never decreasing), as in wg.h. One thread (the engine's) drives a
 * filter; a rule swap is therefore just a pointer swap between packets.
 *
 * Rules (built by the addon from lib/wire/filter.ts CompiledFilter.matches): each rule only allows.
 * A rule matches a packet when its protocol is in `protos`, its source address is in one of `srcs`, and
 * its destination address is in one of `dsts` with the destination port inside that entry's range.
 *   - `cap:` sources: the caller expands them into the addresses of the nodes holding the capability (and
 *     sets the rules again when peers change); the filter only sees prefixes.
 *   - "*" is two prefixes, 0.0.0.0/0 and ::/0. A prefix only ever matches addresses of its own family.
 *   - protos must be the effective list: the compiler already turned an empty IPProto into 6,17,1,58.
 *
 * Verdict for an inbound packet, in order (first that applies):
 *   1. No rules set yet                        -> DROP_NO_FILTER (nothing gets in before the first netmap
 *                                                 filter; netmap.ts packetFilterKnown).
 *   2. Not parseable (short or empty, bad header or length, truncated transport header, IPv6 extension
 *      chain too long or cut, a first fragment too short to hold its transport header, IPv6 jumbogram)
 *      -> DROP_MALFORMED. (A WireGuard keepalive is not a packet: the engine never passes one here.)
 *   3. Destination multicast -> DROP_MULTICAST; link-local (169.254/16 but 169.254.169.254, fe80::/10)
 *      -> DROP_LINK_LOCAL.
 *   4. Destination not in the local set (ts_filter_set_local: own addresses, VIP service addresses,
 *      advertised routes) -> DROP_NOT_LOCAL.
 *   5. Non-first fragment: offset below 80 bytes -> DROP_FRAGMENT (it could overlap the transport header
 *      we judged: RFC 1858 overlap attack); otherwise OK_FRAGMENT. Stateless like Tailscale: the stack
 *      reassembles, and a datagram whose first fragment was dropped never completes.
 *   6. By protocol (IPv6: the protocol after hop-by-hop, routing, destination-options, fragment and AH
 *      headers):
 *      ICMP (1 in IPv4, 58 in IPv6): echo reply and errors (v4 unreachable/time exceeded/parameter problem;
 *        v6 unreachable/too big/time exceeded/parameter problem) -> OK_ICMP_REPLY. Anything else (echo
 *        request...) -> OK_RULE if any rule's source matches and any of its destination prefixes contains
 *        the destination, ignoring protocols and ports (Tailscale: ping works wherever any port is open).
 *      TCP SYN without ACK: a rule match -> OK_RULE, else DROP_NO_RULE. The flow table is not consulted,
 *        so a remembered flow never lets a peer open a new connection.
 *      TCP other: the flow table (a flow we sent on) -> OK_FLOW; else a rule match for the same 5-tuple
 *        -> OK_RULE (a peer allowed to open the flow may continue it, even after its entry was evicted);
 *        else DROP_NO_FLOW. Stricter than Tailscale, which accepts every non-SYN segment.
 *      UDP (17), SCTP (132): flow table -> OK_FLOW; else rule -> OK_RULE; else DROP_NO_RULE.
 *      TSMP (99) -> OK_TSMP.
 *      Other protocols: a rule listing the protocol with a destination entry covering all ports 0-65535
 *        -> OK_RULE, else DROP_NO_RULE.
 *
 * Flow table (connection tracking): a fixed-capacity hash table allocated once at creation; memory never
 * grows. ts_filter_note_out records the reverse of each outbound TCP/UDP/SCTP 5-tuple (a RST creates no
 * new entry); hits in either direction refresh an entry's idle deadline and LRU position. An entry expires
 * after tcp_timeout / udp_timeout idle. When full, the least recently used entry goes, taken first from
 * expired flows of our own, then from flows the rules would admit anyway (losing those costs nothing: the
 * rule fallback above still accepts them); such a flow is not recorded at all rather than push out a live
 * flow of our own, so a peer that makes us answer many allowed flows cannot evict our outbound flows. The
 * class is decided when the entry is created and kept across rule changes (existing flows outlive a rule
 * change, as in Tailscale, until idle or evicted). Buckets are keyed with SipHash so peers cannot aim
 * collisions at one chain; pass a random hash_key. An expired or evicted flow of our own comes back with
 * the next packet we send on it; until then the peer's packets on it are dropped, so size flow_capacity
 * for the outbound flows the node keeps open at once (76 bytes per entry with its bucket).
 *
 * Cost: flow lookups are O(1) (one SipHash of 40 bytes); rule matching scans the rules linearly and runs
 * only for new flows, for ICMP requests and other protocols, and for traffic not in the flow table
 * (about 1 us for a SYN against 200 single-address rules on a 2020s x86 core; ~100 ns for an inbound
 * plus an outbound packet of a tracked flow). */
#ifndef TS_FILTER_H
#define TS_FILTER_H

#include <stddef.h>
#include <stdint.h>

#define TS_FILTER_NS_PER_SEC 1000000000ULL
#define TS_FILTER_DEFAULT_FLOWS 4096
#define TS_FILTER_MAX_FLOWS (1u << 24)
#define TS_FILTER_DEFAULT_TCP_TIMEOUT (24ULL * 3600 * TS_FILTER_NS_PER_SEC) /* idle established flow */
#define TS_FILTER_DEFAULT_UDP_TIMEOUT (180ULL * TS_FILTER_NS_PER_SEC)
#define TS_FILTER_MIN_FRAG_OFFSET 80 /* bytes; lower non-first fragment offsets are dropped */

#define TS_FILTER_PROTO_ICMP4 1
#define TS_FILTER_PROTO_TCP 6
#define TS_FILTER_PROTO_UDP 17
#define TS_FILTER_PROTO_ICMP6 58
#define TS_FILTER_PROTO_TSMP 99
#define TS_FILTER_PROTO_SCTP 132

/* An address prefix. addr is in network order: 4 bytes used for family 4, 16 for family 6. Host bits
 * beyond `bits` are ignored. */
typedef struct ts_filter_prefix {
  uint8_t family; /* 4 or 6 */
  uint8_t bits;   /* 0..32 or 0..128 */
  uint8_t addr[16];
} ts_filter_prefix;

/* A destination: prefix plus inclusive port range (0-65535 = any port). */
typedef struct ts_filter_dst {
  ts_filter_prefix net;
  uint16_t first, last;
} ts_filter_dst;

/* One allow rule; the arrays are copied by ts_filter_set_rules. A rule with no protos, srcs or dsts
 * matches nothing. */
typedef struct ts_filter_rule {
  const uint8_t *protos;
  size_t n_protos;
  const ts_filter_prefix *srcs;
  size_t n_srcs;
  const ts_filter_dst *dsts;
  size_t n_dsts;
} ts_filter_rule;

/* Why a packet was accepted or dropped; one counter per value. Accept reasons come first. */
typedef enum ts_filter_reason {
  TS_FILTER_OK_RULE = 0,     /* a rule allows it */
  TS_FILTER_OK_FLOW,         /* reply on a flow we sent on (flow table) */
  TS_FILTER_OK_ICMP_REPLY,   /* ICMP echo reply or error */
  TS_FILTER_OK_TSMP,         /* Tailscale message protocol (99) */
  TS_FILTER_OK_FRAGMENT,     /* non-first fragment (see 5. above) */
  TS_FILTER_DROP_NO_FILTER,  /* no rules set yet */
  TS_FILTER_DROP_MALFORMED,  /* not a parseable IPv4/IPv6 packet */
  TS_FILTER_DROP_MULTICAST,  /* multicast destination */
  TS_FILTER_DROP_LINK_LOCAL, /* link-local destination */
  TS_FILTER_DROP_NOT_LOCAL,  /* destination is not one of ours */
  TS_FILTER_DROP_FRAGMENT,   /* non-first fragment at a suspiciously low offset */
  TS_FILTER_DROP_NO_RULE,    /* no rule allows this new flow */
  TS_FILTER_DROP_NO_FLOW,    /* TCP non-SYN for a flow neither tracked nor allowed by a rule */
  TS_FILTER_REASON_COUNT
} ts_filter_reason;

#define TS_FILTER_FIRST_DROP TS_FILTER_DROP_NO_FILTER

typedef struct ts_filter_config {
  uint32_t flow_capacity;  /* flow table entries, fixed for the filter's life; 0 = default */
  uint64_t tcp_timeout_ns; /* idle time before a TCP flow entry expires; 0 = default */
  uint64_t udp_timeout_ns; /* same for UDP and SCTP; 0 = default */
  uint8_t hash_key[16];    /* SipHash key for the flow table; fill with random bytes */
} ts_filter_config;

typedef struct ts_filter ts_filter;

/* cfg NULL: defaults with a zero hash key. Returns NULL on bad config (capacity > TS_FILTER_MAX_FLOWS) or
 * out of memory. The new filter has no rules (drops everything) and no local addresses. */
ts_filter *ts_filter_new(const ts_filter_config *cfg);
void ts_filter_free(ts_filter *f);

/* Replaces all rules at once (n 0: an empty rule set, i.e. only flows, ICMP replies, TSMP and fragments
 * get in). Returns 0, or -1 for a bad argument (family not 4/6, bits too large, first > last, NULL array
 * with a nonzero count) or out of memory; then the previous rules stay. The flow table is kept. */
int ts_filter_set_rules(ts_filter *f, const ts_filter_rule *rules, size_t n);

/* Replaces the set of local destination prefixes (own addresses as /32 and /128, service VIPs, routes).
 * Same return convention as ts_filter_set_rules. */
int ts_filter_set_local(ts_filter *f, const ts_filter_prefix *local, size_t n);

/* The verdict for one inbound IP packet (pkt[0..len), IPv4 or IPv6, no link header). Never writes pkt. */
ts_filter_reason ts_filter_check_in(ts_filter *f, const uint8_t *pkt, size_t len, uint64_t now);

static inline int ts_filter_accepted(ts_filter_reason r) { return r < TS_FILTER_FIRST_DROP; }

/* Records an outbound packet's flow so its replies pass. Returns 1 if a flow entry was created or
 * refreshed, 0 if the packet creates no state (other protocols, fragments, malformed, a RST for an unknown
 * flow, or a rule-admitted flow while the table is full of live flows of our own). */
int ts_filter_note_out(ts_filter *f, const uint8_t *pkt, size_t len, uint64_t now);

/* The rule-match step alone for a new inbound flow, as lib/wire/filter.ts filterAllows (except ICMP,
 * which ignores rule protocols here, see above): proto, src and dst addresses of `family` (4 or 16
 * bytes), destination port (ignored for ICMP). 1 allowed, 0 not. No local-address or flow checks. */
int ts_filter_rule_allows(const ts_filter *f, uint8_t proto, int family, const uint8_t *src,
                          const uint8_t *dst, uint16_t dport);

/* Counters: out[r] = number of check_in verdicts with reason r since creation. */
void ts_filter_counters(const ts_filter *f, uint64_t out[TS_FILTER_REASON_COUNT]);
const char *ts_filter_reason_name(ts_filter_reason r);

/* Flow table introspection and reset (e.g. when the node's addresses change). */
size_t ts_filter_flow_count(const ts_filter *f);
size_t ts_filter_flow_capacity(const ts_filter *f);
void ts_filter_flush_flows(ts_filter *f);

#endif
