/* Tests for native/core/net/udp: real sockets over 127.0.0.1 and ::1 only. The EAGAIN test runs in a child
 * process inside a new network namespace whose loopback gets a rate-limiting queue (tc tbf): on a bare loopback
 * the kernel frees a datagram's send-buffer charge at once, so a send never sees EAGAIN. That test is skipped
 * (and says so) where namespaces or tc are not available. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/udp.h"
#include "test.h"

/* Built with -DTS_UDP_PORTABLE (udp.c and this file), the module takes the path of non-Linux systems: one
 * sendmsg/recvmsg per datagram, no GSO or GRO. The tests then check only what that path promises. */
#if defined(__linux__) && !defined(TS_UDP_PORTABLE)
#define TEST_GSO 1
#else
#define TEST_GSO 0
#endif

/* ---------------------------------------------------------------- helpers */

static uint8_t pattern_byte(uint32_t seq, uint32_t j) { return (uint8_t)(seq * 131u + j * 7u + (j >> 8) + 1u); }

static void fill(uint8_t *p, size_t len, uint32_t seq) {
  for (size_t j = 0; j < len; j++) p[j] = pattern_byte(seq, (uint32_t)j);
}

static int check_fill(const uint8_t *p, size_t len, uint32_t seq) {
  for (size_t j = 0; j < len; j++)
    if (p[j] != pattern_byte(seq, (uint32_t)j)) return 0;
  return 1;
}

static ts_addr loop_addr(int family, uint16_t port) {
  ts_addr a;
  ts_addr_parse(&a, family == TS_ADDR_V4 ? "127.0.0.1" : "::1", port);
  return a;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Receives until want datagrams arrived or timeout_ms passed; checks each against sizes[]/seq order. Returns the
 * count received; *bad counts datagrams that were out of order or corrupt. */
static int recv_expect(ts_udp *u, ts_udp_rxbatch *rx, const uint32_t *sizes, int want, const ts_addr *from,
                       int timeout_ms, int *bad) {
  int got = 0;
  long long deadline = now_ms() + timeout_ms;
  *bad = 0;
  while (got < want && now_ms() < deadline) {
    struct pollfd p = {.fd = u->fd, .events = POLLIN};
    int n;
    ts_udp_dgram d;
    if (poll(&p, 1, 50) <= 0) continue;
    n = ts_udp_recv_batch(u, rx);
    if (n < 0) {
      (*bad)++;
      continue;
    }
    while (ts_udp_rx_next(rx, &d)) {
      if (got >= want || d.len != sizes[got] || !check_fill(d.data, d.len, (uint32_t)got) ||
          (from && !ts_addr_equal(d.from, from))) {
        if (*bad < 5)
          fprintf(stderr, "  datagram %d: len %zu (want %u)%s\n", got, d.len, got < want ? sizes[got] : 0,
                  from && !ts_addr_equal(d.from, from) ? " wrong source" : "");
        (*bad)++;
      }
      got++;
    }
  }
  return got;
}

/* Queues count datagrams of sizes[i], contents fill(seq = first + i). Returns how many were queued. */
static int queue(ts_udp_txbatch *tx, const ts_addr *dst, const uint32_t *sizes, int first, int count) {
  int q = 0;
  for (int i = 0; i < count; i++) {
    uint8_t *p = ts_udp_tx_reserve(tx, dst, sizes[first + i]);
    if (!p) break;
    fill(p, sizes[first + i], (uint32_t)(first + i));
    q++;
  }
  return q;
}

typedef struct {
  ts_udp a, b;
  ts_udp_rxbatch rx;
  ts_udp_txbatch tx;
  ts_addr to_b;
} pair;

/* Two sockets on the loopback of the given family; b receives. */
static int pair_open(pair *p, int family, const ts_udp_opts *oa, const ts_udp_opts *ob) {
  const char *lo = family == TS_ADDR_V4 ? "127.0.0.1" : "::1";
  memset(p, 0, sizeof *p);
  if (ts_udp_open(&p->a, lo, 0, oa) != 0) return -1;
  if (ts_udp_open(&p->b, lo, 0, ob) != 0) return -1;
  if (ts_udp_rxbatch_init(&p->rx, 0, 0) != 0 || ts_udp_txbatch_init(&p->tx, 0, 0) != 0) return -1;
  p->to_b = loop_addr(family, p->b.local.port);
  return 0;
}

static void pair_close(pair *p) {
  ts_udp_close(&p->a);
  ts_udp_close(&p->b);
  ts_udp_rxbatch_free(&p->rx);
  ts_udp_txbatch_free(&p->tx);
}

/* Sizes for n datagrams: mostly random in [0, 1500], with runs of equal sizes (so GSO has work) and a few zeros. */
static void mixed_sizes(uint32_t *sizes, int n, uint32_t seed) {
  int i = 0;
  while (i < n) {
    seed = seed * 1103515245u + 12345u;
    uint32_t len = (seed >> 8) % 1501u;
    int run = (int)((seed >> 20) % 4u) == 0 ? 1 + (int)((seed >> 4) % 40u) : 1;
    if ((seed >> 12) % 50u == 0) len = 0;
    for (int k = 0; k < run && i < n; k++) sizes[i++] = (k == run - 1 && run > 2 && (seed & 1)) ? len / 2 : len;
  }
}

/* ---------------------------------------------------------------- tests */

static void addr_parse_format_normalize(void) {
  ts_addr a, b;
  char s[80];
  CHECK_EQ_INT(ts_addr_parse(&a, "127.0.0.1", 41641), 0);
  CHECK_EQ_INT(a.family, TS_ADDR_V4);
  ts_addr_format(&a, s, sizeof s);
  CHECK(strcmp(s, "127.0.0.1:41641") == 0);
  CHECK_EQ_INT(ts_addr_parse(&b, "::ffff:127.0.0.1", 41641), 0);
  CHECK_EQ_INT(b.family, TS_ADDR_V4);
  CHECK(ts_addr_equal(&a, &b));
  CHECK_EQ_INT(ts_addr_parse(&a, "::1", 7), 0);
  CHECK_EQ_INT(a.family, TS_ADDR_V6);
  ts_addr_format(&a, s, sizeof s);
  CHECK(strcmp(s, "[::1]:7") == 0);
  CHECK(!ts_addr_equal(&a, &b));
  CHECK_EQ_INT(ts_addr_parse(&a, "localhost", 1), -EINVAL);
  CHECK_EQ_INT(ts_addr_parse(&a, "1.2.3.4.5", 1), -EINVAL);
  /* ts_addr_set normalizes raw v4-mapped bytes too. */
  uint8_t raw[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
  ts_addr_set(&a, TS_ADDR_V6, raw, 9);
  ts_addr_parse(&b, "10.1.2.3", 9);
  CHECK(ts_addr_equal(&a, &b));
}

static void open_reports_port_and_features(void) {
  ts_udp u, w;
  CHECK_EQ_INT(ts_udp_open(&u, "127.0.0.1", 0, NULL), 0);
  CHECK(u.fd >= 0);
  CHECK(u.local.port != 0);
  CHECK_EQ_INT(u.family, TS_ADDR_V4);
  CHECK_EQ_INT(u.dualstack, 0);
  if (TEST_GSO) {
    CHECK(u.gso);
    CHECK(u.gro);
  }
  CHECK(u.rcvbuf >= (1 << 20)); /* several MiB asked for; even unprivileged (rmem_max) should give 1 MiB here */
  /* The same port again is taken. */
  CHECK_EQ_INT(ts_udp_open(&w, "127.0.0.1", u.local.port, NULL), -EADDRINUSE);
  CHECK_EQ_INT(w.fd, -1);
  ts_udp_close(&u);
  ts_udp_close(&u); /* idempotent */
  CHECK_EQ_INT(u.fd, -1);
  CHECK_EQ_INT(ts_udp_open(&u, "::", 0, NULL), 0);
  CHECK_EQ_INT(u.family, TS_ADDR_V6);
  CHECK_EQ_INT(u.dualstack, 1);
  ts_udp_close(&u);
  CHECK_EQ_INT(ts_udp_open(&u, "not an address", 0, NULL), -EINVAL);
  ts_udp_opts o = {.no_gso = 1, .no_gro = 1, .rcvbuf = -1, .sndbuf = -1};
  CHECK_EQ_INT(ts_udp_open(&u, "::1", 0, &o), 0);
  CHECK_EQ_INT(u.gso, 0);
  CHECK_EQ_INT(u.gro, 0);
  ts_udp_close(&u);
}

static void single_datagram(int family) {
  pair p;
  uint32_t sizes[1] = {100};
  int bad;
  ts_udp_dgram d;
  if (pair_open(&p, family, NULL, NULL) != 0) {
    CHECK(!"pair_open");
    return;
  }
  CHECK_EQ_INT(ts_udp_recv_batch(&p.b, &p.rx), 0); /* nothing yet: would block */
  CHECK_EQ_INT(ts_udp_rx_next(&p.rx, &d), 0);
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, 1), 1);
  CHECK_EQ_INT(ts_udp_tx_pending(&p.tx), 1);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(ts_udp_tx_pending(&p.tx), 0);
  ts_addr from = loop_addr(family, p.a.local.port);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, 1, &from, 2000, &bad), 1);
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(p.a.stats.tx_dgrams, 1);
  CHECK_EQ_INT(p.a.stats.tx_bytes, 100);
  CHECK_EQ_INT(p.a.stats.tx_syscalls, 1);
  CHECK_EQ_INT(p.b.stats.rx_dgrams, 1);
  CHECK_EQ_INT(p.b.stats.rx_bytes, 100);
  /* Flushing an empty batch does nothing. */
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(p.a.stats.tx_syscalls, 1);
  pair_close(&p);
}
static void single_datagram_v4(void) { single_datagram(TS_ADDR_V4); }
static void single_datagram_v6(void) { single_datagram(TS_ADDR_V6); }

static void batch_1000_mixed(int family, int gso) {
  enum { N = 1000 };
  static uint32_t sizes[N];
  pair p;
  int bad;
  ts_udp_opts oa = {.no_gso = (uint8_t)!gso};
  mixed_sizes(sizes, N, 0x5eed + (uint32_t)family + (uint32_t)gso);
  if (pair_open(&p, family, &oa, NULL) != 0) {
    CHECK(!"pair_open");
    return;
  }
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, N), N);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  ts_addr from = loop_addr(family, p.a.local.port);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, N, &from, 5000, &bad), N);
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(p.a.stats.tx_dgrams, N);
  CHECK_EQ_INT(p.a.stats.tx_errors, 0);
  CHECK_EQ_INT(p.b.stats.rx_dgrams, N);
  CHECK_EQ_INT(p.b.stats.rx_truncated, 0);
  uint64_t total = 0;
  for (int i = 0; i < N; i++) total += sizes[i];
  CHECK_EQ_INT(p.a.stats.tx_bytes, total);
  CHECK_EQ_INT(p.b.stats.rx_bytes, total);
  if (TEST_GSO) CHECK_EQ_INT(p.a.stats.tx_syscalls, 1); /* everything in one sendmmsg */
  if (gso && TEST_GSO) {
    CHECK(p.a.stats.tx_gso_sends > 0);
    CHECK(p.b.stats.rx_gro_bufs > 0);
  } else {
    CHECK_EQ_INT(p.a.stats.tx_gso_sends, 0);
  }
  CHECK_EQ_INT(p.a.stats.gso_fallbacks, 0);
  pair_close(&p);
}
static void batch_1000_mixed_v4_gso(void) { batch_1000_mixed(TS_ADDR_V4, 1); }
static void batch_1000_mixed_v6_gso(void) { batch_1000_mixed(TS_ADDR_V6, 1); }
static void batch_1000_mixed_v4_plain(void) { batch_1000_mixed(TS_ADDR_V4, 0); }
static void batch_1000_mixed_v6_plain(void) { batch_1000_mixed(TS_ADDR_V6, 0); }

/* 40 datagrams of 1000 bytes and one of 500 to one destination: one GSO message, one syscall; the receiver with
 * GRO gets them in one buffer and splits them at the right boundaries; without GRO the kernel splits them. */
static void gso_gro_boundaries(int family, int gro) {
  enum { N = 41 };
  uint32_t sizes[N];
  pair p;
  int bad;
  ts_udp_opts ob = {.no_gro = (uint8_t)!gro};
  for (int i = 0; i < N; i++) sizes[i] = i == N - 1 ? 500 : 1000;
  if (pair_open(&p, family, NULL, &ob) != 0) {
    CHECK(!"pair_open");
    return;
  }
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, N), N);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  if (TEST_GSO) {
    CHECK_EQ_INT(p.a.stats.tx_syscalls, 1);
    CHECK_EQ_INT(p.a.stats.tx_gso_sends, 1);
    CHECK_EQ_INT(p.a.stats.tx_gso_dgrams, N);
  }
  CHECK_EQ_INT(p.a.stats.tx_dgrams, N);
  ts_addr from = loop_addr(family, p.a.local.port);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, N, &from, 2000, &bad), N);
  CHECK_EQ_INT(bad, 0);
  if (gro && TEST_GSO) {
    CHECK_EQ_INT(p.b.stats.rx_gro_bufs, 1);
    CHECK_EQ_INT(p.b.stats.rx_gro_dgrams, N);
    CHECK_EQ_INT(p.b.stats.rx_syscalls, 1);
  } else {
    CHECK_EQ_INT(p.b.stats.rx_gro_bufs, 0);
  }
  CHECK_EQ_INT(p.b.stats.rx_dgrams, N);
  pair_close(&p);
}
static void gso_gro_boundaries_v4(void) { gso_gro_boundaries(TS_ADDR_V4, 1); }
static void gso_gro_boundaries_v6(void) { gso_gro_boundaries(TS_ADDR_V6, 1); }
static void gso_without_gro_v4(void) { gso_gro_boundaries(TS_ADDR_V4, 0); }

/* Control's offload switches at run time (docs/protocol/capver.md, 140 and 141). The equal-tail guard: 10 x 1000
 * bytes leave as one GSO message with a 1-byte sentinel as its shorter tail, so the receiver gets the 10 and then
 * the sentinel; a run that already ends shorter gets none. gso 0 sends one by one; gro 0 splits in the kernel. */
static void offload_switches(void) {
  enum { N = 10 };
  uint32_t sizes[N + 1];
  pair p;
  int bad;
  if (!TEST_GSO) return;
  if (pair_open(&p, TS_ADDR_V4, NULL, NULL) != 0) {
    CHECK(!"pair_open");
    return;
  }
  for (int i = 0; i < N; i++) sizes[i] = 1000;
  ts_udp_set_offload(&p.a, 1, 1, 1);
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, N), N);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(p.a.stats.tx_gso_sends, 1);
  CHECK_EQ_INT(p.a.stats.tx_gso_sentinels, 1);
  CHECK_EQ_INT(p.a.stats.tx_dgrams, N);
  CHECK_EQ_INT(p.a.stats.tx_bytes, N * 1000);
  { /* the ten arrive, then the sentinel */
    struct pollfd pf = {.fd = p.b.fd, .events = POLLIN};
    ts_udp_dgram d;
    int got = 0, sentinel_at = -1, wrong = 0;
    long long deadline = now_ms() + 2000;
    while (got < N + 1 && now_ms() < deadline) {
      if (poll(&pf, 1, 50) <= 0 || ts_udp_recv_batch(&p.b, &p.rx) <= 0) continue;
      while (ts_udp_rx_next(&p.rx, &d)) {
        if (ts_udp_is_gso_sentinel(d.data, d.len)) sentinel_at = got;
        else if (d.len != 1000 || !check_fill(d.data, d.len, (uint32_t)got)) wrong++;
        got++;
      }
    }
    CHECK_EQ_INT(got, N + 1);
    CHECK_EQ_INT(sentinel_at, N);
    CHECK_EQ_INT(wrong, 0);
  }
  /* A run with a shorter tail needs no sentinel. */
  memset(&p.a.stats, 0, sizeof p.a.stats);
  sizes[N - 1] = 600;
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, N), N);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(p.a.stats.tx_gso_sends, 1);
  CHECK_EQ_INT(p.a.stats.tx_gso_sentinels, 0);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, N, NULL, 2000, &bad), N);
  CHECK_EQ_INT(bad, 0);
  /* GSO off: the same datagrams leave one per message. */
  memset(&p.a.stats, 0, sizeof p.a.stats);
  ts_udp_set_offload(&p.a, 0, 1, 1);
  CHECK_EQ_INT(p.a.gso, 0);
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, N), N);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(p.a.stats.tx_gso_sends, 0);
  CHECK_EQ_INT(p.a.stats.tx_dgrams, N);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, N, NULL, 2000, &bad), N);
  /* GRO off on the receiver: a GSO message arrives as separate datagrams. */
  ts_udp_set_offload(&p.a, 1, 1, 0);
  CHECK_EQ_INT(p.a.gso, 1);
  ts_udp_set_offload(&p.b, 1, 0, 0);
  CHECK_EQ_INT(p.b.gro, 0);
  memset(&p.b.stats, 0, sizeof p.b.stats);
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, N), N);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, N, NULL, 2000, &bad), N);
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(p.b.stats.rx_gro_bufs, 0);
  ts_udp_set_offload(&p.b, 1, 1, 0);
  CHECK_EQ_INT(p.b.gro, 1);
  pair_close(&p);
}

/* Grouping limits: 200 x 1280 bytes make runs of 51 (51 x 1280 <= 65507 < 52 x 1280); 100 x 100 bytes make runs
 * of 64 segments; a change of destination or a longer datagram ends a run. */
static void gso_grouping_limits(void) {
  enum { N = 200 };
  uint32_t sizes[N];
  pair p;
  int bad;
  if (!TEST_GSO) return;
  if (pair_open(&p, TS_ADDR_V4, NULL, NULL) != 0) {
    CHECK(!"pair_open");
    return;
  }
  for (int i = 0; i < N; i++) sizes[i] = 1280;
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, N), N);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(p.a.stats.tx_gso_sends, 4); /* 51 + 51 + 51 + 47 */
  CHECK_EQ_INT(p.a.stats.tx_syscalls, 1);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, N, NULL, 2000, &bad), N);
  CHECK_EQ_INT(bad, 0);

  memset(&p.a.stats, 0, sizeof p.a.stats);
  for (int i = 0; i < 100; i++) sizes[i] = 100;
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, 100), 100);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(p.a.stats.tx_gso_sends, 2); /* 64 + 36 */
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, 100, NULL, 2000, &bad), 100);
  CHECK_EQ_INT(bad, 0);

  /* 300, 300, 400 (longer: new run), 400, 100 (shorter: ends the run), 100: runs {300,300} {400,400,100} {100}. */
  uint32_t s2[6] = {300, 300, 400, 400, 100, 100};
  memset(&p.a.stats, 0, sizeof p.a.stats);
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, s2, 0, 6), 6);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(p.a.stats.tx_gso_sends, 2);
  CHECK_EQ_INT(p.a.stats.tx_gso_dgrams, 5);
  CHECK_EQ_INT(p.a.stats.tx_dgrams, 6);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, s2, 6, NULL, 2000, &bad), 6);
  CHECK_EQ_INT(bad, 0);
  pair_close(&p);
}

/* Alternating destinations never coalesce; each receiver gets its own datagrams in order. */
static void two_destinations_interleaved(void) {
  enum { N = 100 };
  pair p;
  ts_udp c;
  ts_udp_rxbatch rxc;
  uint32_t sizes[N];
  int bad;
  if (pair_open(&p, TS_ADDR_V4, NULL, NULL) != 0 || ts_udp_open(&c, "127.0.0.1", 0, NULL) != 0 ||
      ts_udp_rxbatch_init(&rxc, 0, 0) != 0) {
    CHECK(!"open");
    return;
  }
  ts_addr to_c = loop_addr(TS_ADDR_V4, c.local.port);
  for (int i = 0; i < N; i++) sizes[i] = 700;
  /* Datagram seq i goes to b for even i, c for odd; each side sees seq 0..49 of its own. */
  for (int i = 0; i < N; i++) {
    uint8_t *q = ts_udp_tx_reserve(&p.tx, (i & 1) ? &to_c : &p.to_b, 700);
    CHECK(q != NULL);
    if (q) fill(q, 700, (uint32_t)(i / 2));
  }
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(p.a.stats.tx_gso_sends, 0);
  if (TEST_GSO) CHECK_EQ_INT(p.a.stats.tx_syscalls, 1);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, N / 2, NULL, 2000, &bad), N / 2);
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(recv_expect(&c, &rxc, sizes, N / 2, NULL, 2000, &bad), N / 2);
  CHECK_EQ_INT(bad, 0);
  ts_udp_close(&c);
  ts_udp_rxbatch_free(&rxc);
  pair_close(&p);
}

/* A dual-stack socket on "::": an IPv4 peer appears as plain IPv4, and replies to a plain IPv4 address (mapped
 * inside) reach it, GSO included. */
static void dualstack_v4_peer(void) {
  enum { N = 20 };
  ts_udp ds, v4;
  ts_udp_rxbatch rx;
  ts_udp_txbatch tx;
  uint32_t sizes[N];
  int bad;
  ts_udp_dgram d;
  if (ts_udp_open(&ds, "::", 0, NULL) != 0 || ts_udp_open(&v4, "127.0.0.1", 0, NULL) != 0 ||
      ts_udp_rxbatch_init(&rx, 0, 0) != 0 || ts_udp_txbatch_init(&tx, 0, 0) != 0) {
    CHECK(!"open");
    return;
  }
  CHECK_EQ_INT(ds.dualstack, 1);
  for (int i = 0; i < N; i++) sizes[i] = 1200;
  ts_addr to_ds = loop_addr(TS_ADDR_V4, ds.local.port), from_v4 = loop_addr(TS_ADDR_V4, v4.local.port);
  CHECK_EQ_INT(queue(&tx, &to_ds, sizes, 0, 1), 1);
  CHECK_EQ_INT(ts_udp_tx_flush(&v4, &tx), 0);
  CHECK_EQ_INT(recv_expect(&ds, &rx, sizes, 1, &from_v4, 2000, &bad), 1);
  CHECK_EQ_INT(bad, 0);
  /* The source as the caller sees it: family 4, 127.0.0.1. */
  CHECK_EQ_INT(rx.meta[0].from.family, TS_ADDR_V4);
  CHECK_MEM(rx.meta[0].from.ip, "\x7f\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 16);
  /* Reply with a burst (GSO on the dual-stack socket, IPv4 path). */
  ts_addr reply_to = rx.meta[0].from;
  CHECK_EQ_INT(queue(&tx, &reply_to, sizes, 0, N), N);
  CHECK_EQ_INT(ts_udp_tx_flush(&ds, &tx), 0);
  CHECK_EQ_INT(ds.stats.tx_errors, 0);
  CHECK_EQ_INT(ds.stats.gso_fallbacks, 0);
  if (TEST_GSO) CHECK_EQ_INT(ds.stats.tx_gso_sends, 1);
  ts_addr from_ds = loop_addr(TS_ADDR_V4, ds.local.port);
  CHECK_EQ_INT(recv_expect(&v4, &rx, sizes, N, &from_ds, 2000, &bad), N);
  CHECK_EQ_INT(bad, 0);
  /* A burst from the IPv4 peer arrives on the dual-stack socket through GRO, split and attributed to the peer. */
  CHECK_EQ_INT(queue(&tx, &to_ds, sizes, 0, N), N);
  CHECK_EQ_INT(ts_udp_tx_flush(&v4, &tx), 0);
  CHECK_EQ_INT(recv_expect(&ds, &rx, sizes, N, &from_v4, 2000, &bad), N);
  CHECK_EQ_INT(bad, 0);
  if (TEST_GSO) CHECK_EQ_INT(ds.stats.rx_gro_bufs, 1);
  /* v6 still works on the same socket. */
  ts_udp v6;
  CHECK_EQ_INT(ts_udp_open(&v6, "::1", 0, NULL), 0);
  ts_addr to_ds6 = loop_addr(TS_ADDR_V6, ds.local.port);
  CHECK_EQ_INT(queue(&tx, &to_ds6, sizes, 0, 1), 1);
  CHECK_EQ_INT(ts_udp_tx_flush(&v6, &tx), 0);
  ts_addr from_v6 = loop_addr(TS_ADDR_V6, v6.local.port);
  CHECK_EQ_INT(recv_expect(&ds, &rx, sizes, 1, &from_v6, 2000, &bad), 1);
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(ts_udp_rx_next(&rx, &d), 0);
  ts_udp_close(&v6);
  ts_udp_close(&ds);
  ts_udp_close(&v4);
  ts_udp_rxbatch_free(&rx);
  ts_udp_txbatch_free(&tx);
}

/* IPV6_V6ONLY on: an IPv4 destination is refused by the kernel (ENETUNREACH), counted, and the batch goes on. */
static void v6only_refuses_v4(void) {
  ts_udp s, r;
  ts_udp_txbatch tx;
  ts_udp_opts o = {.v6only = 1};
  if (ts_udp_open(&s, "::", 0, &o) != 0 || ts_udp_open(&r, "127.0.0.1", 0, NULL) != 0 ||
      ts_udp_txbatch_init(&tx, 0, 0) != 0) {
    CHECK(!"open");
    return;
  }
  CHECK_EQ_INT(s.dualstack, 0);
  ts_addr to = loop_addr(TS_ADDR_V4, r.local.port);
  /* Five equal datagrams: one GSO message, refused as a whole (not a GSO problem: no fallback, no retries). */
  for (int i = 0; i < 5; i++) CHECK(ts_udp_tx_reserve(&tx, &to, 10) != NULL);
  int rc = ts_udp_tx_flush(&s, &tx);
  CHECK(rc < 0 && rc != -EAGAIN);
  CHECK_EQ_INT(s.stats.tx_errors, 5);
  CHECK_EQ_INT(s.stats.gso_fallbacks, 0);
  if (TEST_GSO) {
    CHECK_EQ_INT(rc, -ENETUNREACH);
    CHECK_EQ_INT(s.stats.tx_syscalls, 1);
    CHECK_EQ_INT(s.gso, 1);
  }
  CHECK_EQ_INT(ts_udp_tx_pending(&tx), 0);
  ts_udp_close(&s);
  ts_udp_close(&r);
  ts_udp_txbatch_free(&tx);
}

static void zero_length_datagram(void) {
  pair p;
  uint32_t sizes[3] = {0, 5, 0};
  int bad;
  if (pair_open(&p, TS_ADDR_V6, NULL, NULL) != 0) {
    CHECK(!"pair_open");
    return;
  }
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, 3), 3);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, 3, NULL, 2000, &bad), 3);
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(p.a.stats.tx_gso_sends, 0);
  pair_close(&p);
}

/* 65507 bytes is the largest IPv4 payload and arrives whole; 65508 to an IPv4 peer is refused (EMSGSIZE), counted,
 * and the datagram behind it still goes out. IPv6 allows 65527. */
static void max_size_datagram(void) {
  pair p;
  uint32_t sizes[2] = {TS_UDP_MAX_DGRAM_V4, 17};
  int bad;
  if (pair_open(&p, TS_ADDR_V4, NULL, NULL) != 0) {
    CHECK(!"pair_open");
    return;
  }
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, 2), 2);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, 2, NULL, 2000, &bad), 2);
  CHECK_EQ_INT(bad, 0);

  uint8_t *q = ts_udp_tx_reserve(&p.tx, &p.to_b, TS_UDP_MAX_DGRAM_V4 + 1);
  CHECK(q != NULL);
  if (q) memset(q, 0xab, TS_UDP_MAX_DGRAM_V4 + 1);
  uint32_t s1[1] = {33};
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, s1, 0, 1), 1);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), -EMSGSIZE);
  CHECK_EQ_INT(p.a.stats.tx_errors, 1);
  CHECK_EQ_INT(p.a.last_tx_error, EMSGSIZE);
  CHECK_EQ_INT(ts_udp_tx_pending(&p.tx), 0);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, s1, 1, NULL, 2000, &bad), 1);
  CHECK_EQ_INT(bad, 0);
  pair_close(&p);

  if (pair_open(&p, TS_ADDR_V6, NULL, NULL) != 0) {
    CHECK(!"pair_open");
    return;
  }
  uint32_t s6[1] = {TS_UDP_MAX_DGRAM};
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, s6, 0, 1), 1);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, s6, 1, NULL, 2000, &bad), 1);
  CHECK_EQ_INT(bad, 0);
  /* Above the IPv6 limit reserve refuses. */
  CHECK(ts_udp_tx_reserve(&p.tx, &p.to_b, TS_UDP_MAX_DGRAM + 1) == NULL);
  CHECK_EQ_INT(p.tx.overflow, 1);
  pair_close(&p);
}

/* An IPv6 destination from an IPv4 socket: dropped with EAFNOSUPPORT and counted; the others go out. */
static void wrong_family_destination(void) {
  pair p;
  uint32_t sizes[1] = {40};
  int bad;
  if (pair_open(&p, TS_ADDR_V4, NULL, NULL) != 0) {
    CHECK(!"pair_open");
    return;
  }
  ts_addr v6 = loop_addr(TS_ADDR_V6, 9);
  CHECK(ts_udp_tx_reserve(&p.tx, &v6, 40) != NULL);
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, 1), 1);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), -EAFNOSUPPORT);
  CHECK_EQ_INT(p.a.stats.tx_errors, 1);
  CHECK_EQ_INT(p.a.stats.tx_dgrams, 1);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, 1, NULL, 2000, &bad), 1);
  CHECK_EQ_INT(bad, 0);
  pair_close(&p);
}

/* A batch refuses what does not fit (entries or bytes), counts it, and the count reaches the socket's stats. */
static void tx_overflow_and_trim(void) {
  ts_udp_txbatch tx;
  pair p;
  uint32_t sizes[4] = {10, 10, 10, 10};
  int bad;
  if (pair_open(&p, TS_ADDR_V4, NULL, NULL) != 0 || ts_udp_txbatch_init(&tx, 4, 1) != 0) {
    CHECK(!"open");
    return;
  }
  CHECK_EQ_INT(queue(&tx, &p.to_b, sizes, 0, 4), 4);
  CHECK(ts_udp_tx_reserve(&tx, &p.to_b, 10) == NULL);
  CHECK_EQ_INT(tx.overflow, 1);
  ts_addr none;
  memset(&none, 0, sizeof none);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &tx), 0);
  CHECK_EQ_INT(p.a.stats.tx_overflow, 1);
  CHECK_EQ_INT(tx.overflow, 0);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, 4, NULL, 2000, &bad), 4);
  CHECK_EQ_INT(bad, 0);
  CHECK(ts_udp_tx_reserve(&tx, &none, 10) == NULL); /* no family */
  /* The arena: 2 x 40000 bytes do not fit the minimum arena of 65527. */
  CHECK(ts_udp_tx_reserve(&tx, &p.to_b, 40000) != NULL);
  CHECK(ts_udp_tx_reserve(&tx, &p.to_b, 40000) == NULL);
  CHECK_EQ_INT(tx.overflow, 2);
  /* Trim the reserved datagram to 12 bytes: it is sent as 12 bytes, and the room comes back. */
  CHECK_EQ_INT(ts_udp_tx_trim(&tx, 40001), -EINVAL);
  CHECK_EQ_INT(ts_udp_tx_trim(&tx, 12), 0);
  CHECK_EQ_INT(tx.used, 12);
  fill(tx.buf, 12, 0);
  CHECK(ts_udp_tx_reserve(&tx, &p.to_b, 40000) != NULL);
  CHECK_EQ_INT(ts_udp_tx_trim(&tx, 10), 0);
  fill(tx.buf + 12, 10, 1);
  uint32_t s2[2] = {12, 10};
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &tx), 0);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, s2, 2, NULL, 2000, &bad), 2);
  CHECK_EQ_INT(bad, 0);
  ts_udp_txbatch_free(&tx);
  pair_close(&p);
}

/* More datagrams than receive slots: several receive calls, order kept. Without GRO on the receiver so each
 * datagram takes a slot. */
static void more_than_rx_slots(void) {
  enum { N = 300 };
  uint32_t sizes[N];
  pair p;
  int bad;
  ts_udp_opts ob = {.no_gro = 1};
  if (pair_open(&p, TS_ADDR_V4, NULL, &ob) != 0) {
    CHECK(!"pair_open");
    return;
  }
  ts_udp_rxbatch_free(&p.rx);
  CHECK_EQ_INT(ts_udp_rxbatch_init(&p.rx, 16, 2048), 0);
  for (int i = 0; i < N; i++) sizes[i] = 64 + (uint32_t)(i % 7) * 100;
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, N), N);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, N, NULL, 2000, &bad), N);
  CHECK_EQ_INT(bad, 0);
  CHECK(p.b.stats.rx_syscalls >= N / 16);
  pair_close(&p);
}

/* A datagram larger than the receive slot is dropped and counted; the next one is delivered. */
static void rx_truncation_counted(void) {
  pair p;
  ts_udp_opts ob = {.no_gro = 1};
  uint32_t sizes[2] = {1000, 100};
  if (pair_open(&p, TS_ADDR_V4, NULL, &ob) != 0) {
    CHECK(!"pair_open");
    return;
  }
  ts_udp_rxbatch_free(&p.rx);
  CHECK_EQ_INT(ts_udp_rxbatch_init(&p.rx, 4, 256), 0);
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, 2), 2);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  /* Expect only the second; it carries seq 1, so check it by hand. */
  long long deadline = now_ms() + 2000;
  int got = 0;
  while (got == 0 && now_ms() < deadline) {
    struct pollfd pf = {.fd = p.b.fd, .events = POLLIN};
    ts_udp_dgram d;
    if (poll(&pf, 1, 50) <= 0) continue;
    if (ts_udp_recv_batch(&p.b, &p.rx) < 0) break;
    while (ts_udp_rx_next(&p.rx, &d)) {
      got++;
      CHECK_EQ_INT(d.len, 100);
      CHECK(check_fill(d.data, d.len, 1));
    }
  }
  CHECK_EQ_INT(got, 1);
  CHECK_EQ_INT(p.b.stats.rx_truncated, 1);
  pair_close(&p);
}

/* A GRO buffer larger than the slot: the whole segments that fit are delivered, the rest is lost and counted. */
static void rx_gro_truncation_keeps_whole_segments(void) {
  enum { N = 10 };
  uint32_t sizes[N];
  pair p;
  int bad;
  if (!TEST_GSO) return;
  for (int i = 0; i < N; i++) sizes[i] = 1000;
  if (pair_open(&p, TS_ADDR_V4, NULL, NULL) != 0) {
    CHECK(!"pair_open");
    return;
  }
  ts_udp_rxbatch_free(&p.rx);
  CHECK_EQ_INT(ts_udp_rxbatch_init(&p.rx, 4, 4500), 0);
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, N), N);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(p.a.stats.tx_gso_sends, 1);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, 4, NULL, 2000, &bad), 4);
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(p.b.stats.rx_truncated, 1);
  CHECK_EQ_INT(p.b.stats.rx_dgrams, 4);
  pair_close(&p);
}

/* ---------------------------------------------------------------- EAGAIN (child in its own network namespace) */

static int eagain_body(int gso) {
  enum { N = 1000, EXTRA = 50 };
  static uint32_t sizes[N + EXTRA];
  pair p;
  int bad = 0, eagains = 0, extra_queued = 0, rc, got = 0, rxbad = 0;
  ts_udp_opts oa = {.sndbuf = 4096, .no_gso = (uint8_t)!gso};
  ts_udp_dgram d;
  for (int i = 0; i < N + EXTRA; i++) sizes[i] = 1200;
  if (pair_open(&p, TS_ADDR_V4, &oa, NULL) != 0) return 100;
  if (queue(&p.tx, &p.to_b, sizes, 0, N) != N) return 101;
  long long deadline = now_ms() + 20000;
  while ((rc = ts_udp_tx_flush(&p.a, &p.tx)) == -EAGAIN && now_ms() < deadline) {
    eagains++;
    if (ts_udp_tx_pending(&p.tx) == 0) bad++;
    /* Reserving more while datagrams wait is fine: they go out after the waiting ones. */
    if (!extra_queued) extra_queued = queue(&p.tx, &p.to_b, sizes, N, EXTRA);
    struct pollfd pf[2] = {{.fd = p.a.fd, .events = POLLOUT}, {.fd = p.b.fd, .events = POLLIN}};
    poll(pf, 2, 100);
    /* Drain the receiver meanwhile and check the order. */
    while (ts_udp_recv_batch(&p.b, &p.rx) > 0)
      while (ts_udp_rx_next(&p.rx, &d)) {
        if (d.len != 1200 || !check_fill(d.data, d.len, (uint32_t)got)) rxbad++;
        got++;
      }
  }
  if (rc != 0) return 102;
  if (eagains == 0) return 103; /* the setup did not produce EAGAIN: the test proves nothing */
  if (extra_queued != EXTRA) return 104;
  if (p.a.stats.tx_eagain != (uint64_t)eagains) return 105;
  if (p.a.stats.tx_dgrams != N + EXTRA || p.a.stats.tx_errors != 0) return 106;
  deadline = now_ms() + 10000;
  while (got < N + EXTRA && now_ms() < deadline) {
    struct pollfd pf = {.fd = p.b.fd, .events = POLLIN};
    if (poll(&pf, 1, 100) <= 0) continue;
    while (ts_udp_recv_batch(&p.b, &p.rx) > 0)
      while (ts_udp_rx_next(&p.rx, &d)) {
        if (d.len != 1200 || !check_fill(d.data, d.len, (uint32_t)got)) rxbad++;
        got++;
      }
  }
  if (got != N + EXTRA) {
    fprintf(stderr, "  eagain(gso=%d): received %d of %d\n", gso, got, N + EXTRA);
    return 107;
  }
  if (rxbad || bad) return 108;
  printf("# eagain(gso=%d): %d EAGAINs, %llu send calls, %llu GSO sends\n", gso, eagains,
         (unsigned long long)p.a.stats.tx_syscalls, (unsigned long long)p.a.stats.tx_gso_sends);
  pair_close(&p);
  return 0;
}

#if TEST_GSO
/* A GSO segment above the route's MTU is refused (EMSGSIZE on Linux 6.x): those datagrams go out one by one
 * (fragmented, as a plain send of that size would be), the socket stops coalescing datagrams that large, and
 * smaller ones still use GSO. Runs where lo has a 1280-byte MTU. */
static int gso_mtu_body(int unused) {
  enum { N = 20 };
  uint32_t sizes[N];
  pair p;
  int bad, rc;
  (void)unused;
  for (int i = 0; i < N; i++) sizes[i] = 1400;
  if (pair_open(&p, TS_ADDR_V4, NULL, NULL) != 0) return 100;
  if (!p.a.gso) return 101;
  if (queue(&p.tx, &p.to_b, sizes, 0, N) != N) return 102;
  if ((rc = ts_udp_tx_flush(&p.a, &p.tx)) != 0) {
    fprintf(stderr, "  gso_mtu: flush %d\n", rc);
    return 103;
  }
  printf("# gso_mtu: gso %d, gso_seg_max %u, fallbacks %llu, send calls %llu, last error %d\n", p.a.gso,
         p.a.gso_seg_max, (unsigned long long)p.a.stats.gso_fallbacks, (unsigned long long)p.a.stats.tx_syscalls,
         p.a.last_tx_error);
  if (p.a.stats.gso_fallbacks != 1 || p.a.stats.tx_gso_sends != 0) return 104;
  if (p.a.stats.tx_dgrams != N || p.a.stats.tx_errors != 0) return 105;
  if (recv_expect(&p.b, &p.rx, sizes, N, NULL, 2000, &bad) != N || bad) return 106;
  /* Later flushes of that size do not try GSO again: one call. */
  memset(&p.a.stats, 0, sizeof p.a.stats);
  if (queue(&p.tx, &p.to_b, sizes, 0, N) != N || ts_udp_tx_flush(&p.a, &p.tx) != 0) return 107;
  if (p.a.stats.gso_fallbacks != 0 || p.a.stats.tx_gso_sends != 0 || p.a.stats.tx_syscalls != 1) return 108;
  if (recv_expect(&p.b, &p.rx, sizes, N, NULL, 2000, &bad) != N || bad) return 109;
  /* Smaller datagrams still coalesce. */
  for (int i = 0; i < N; i++) sizes[i] = 1000;
  if (queue(&p.tx, &p.to_b, sizes, 0, N) != N || ts_udp_tx_flush(&p.a, &p.tx) != 0) return 110;
  if (p.a.stats.tx_gso_sends != 1 || p.a.stats.gso_fallbacks != 0 || !p.a.gso) return 111;
  if (recv_expect(&p.b, &p.rx, sizes, N, NULL, 2000, &bad) != N || bad) return 112;
  pair_close(&p);
  return 0;
}
#endif

/* Runs body(arg) in a child process inside a new network namespace prepared by the shell command setup (which
 * applies to that namespace only). Returns 0 if it ran and passed, 1 if it failed, -1 if it was skipped. */
static int in_netns(const char *setup, int (*body)(int), int arg) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    char cmd[512];
    if (unshare(CLONE_NEWNET) != 0) _exit(200);
    snprintf(cmd, sizeof cmd, "PATH=$PATH:/usr/sbin:/sbin; ip link set lo up && %s", setup);
    if (system(cmd) != 0) _exit(201);
    int code = body(arg);
    fflush(stdout);
    fflush(stderr);
    _exit(code);
  }
  int st = 0;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return 1;
  int code = WEXITSTATUS(st);
  if (code == 200 || code == 201) {
    printf("# skip: needs a network namespace, ip and tc (exit %d)\n", code);
    return -1;
  }
  if (code != 0) fprintf(stderr, "  child exit %d\n", code);
  return code == 0 ? 0 : 1;
}

/* The loopback holds packets in a rate-limited queue, so they stay charged to the sender's (tiny) send buffer. */
#define TBF_SETUP "tc qdisc add dev lo root tbf rate 200mbit burst 80kb limit 8mb"

static void eagain_keeps_remainder_queued(void) {
  int r1 = in_netns(TBF_SETUP, eagain_body, 0), r2;
  CHECK(r1 <= 0);
  if (r1 < 0) return;
  r2 = in_netns(TBF_SETUP, eagain_body, 1);
  CHECK(r2 <= 0);
}

static void gso_segment_above_mtu(void) {
#if TEST_GSO
  CHECK(in_netns("ip link set lo mtu 1280", gso_mtu_body, 0) <= 0);
#endif
}

/* GSO refused with EINVAL (here because the socket sends without UDP checksums, SO_NO_CHECK, which GSO does not
 * support): the datagrams go out one by one and GSO is off for this socket from then on. */
static void gso_einval_switches_gso_off(void) {
#if TEST_GSO && defined(SO_NO_CHECK)
  enum { N = 30 };
  uint32_t sizes[N];
  pair p;
  int bad, one = 1;
  for (int i = 0; i < N; i++) sizes[i] = 800;
  if (pair_open(&p, TS_ADDR_V4, NULL, NULL) != 0) {
    CHECK(!"pair_open");
    return;
  }
  CHECK_EQ_INT(setsockopt(p.a.fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof one), 0);
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, N), N);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(p.a.gso, 0);
  CHECK_EQ_INT(p.a.stats.gso_fallbacks, 1);
  CHECK_EQ_INT(p.a.stats.tx_gso_sends, 0);
  CHECK_EQ_INT(p.a.stats.tx_dgrams, N);
  CHECK_EQ_INT(p.a.stats.tx_errors, 0);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, N, NULL, 2000, &bad), N);
  CHECK_EQ_INT(bad, 0);
  memset(&p.a.stats, 0, sizeof p.a.stats);
  CHECK_EQ_INT(queue(&p.tx, &p.to_b, sizes, 0, N), N);
  CHECK_EQ_INT(ts_udp_tx_flush(&p.a, &p.tx), 0);
  CHECK_EQ_INT(p.a.stats.tx_syscalls, 1);
  CHECK_EQ_INT(p.a.stats.gso_fallbacks, 0);
  CHECK_EQ_INT(recv_expect(&p.b, &p.rx, sizes, N, NULL, 2000, &bad), N);
  CHECK_EQ_INT(bad, 0);
  pair_close(&p);
#endif
}

int main(void) {
  RUN(addr_parse_format_normalize);
  RUN(open_reports_port_and_features);
  RUN(single_datagram_v4);
  RUN(single_datagram_v6);
  RUN(batch_1000_mixed_v4_gso);
  RUN(batch_1000_mixed_v6_gso);
  RUN(batch_1000_mixed_v4_plain);
  RUN(batch_1000_mixed_v6_plain);
  RUN(gso_gro_boundaries_v4);
  RUN(gso_gro_boundaries_v6);
  RUN(gso_without_gro_v4);
  RUN(gso_grouping_limits);
  RUN(two_destinations_interleaved);
  RUN(dualstack_v4_peer);
  RUN(v6only_refuses_v4);
  RUN(zero_length_datagram);
  RUN(max_size_datagram);
  RUN(wrong_family_destination);
  RUN(tx_overflow_and_trim);
  RUN(more_than_rx_slots);
  RUN(rx_truncation_counted);
  RUN(rx_gro_truncation_keeps_whole_segments);
  RUN(eagain_keeps_remainder_queued);
  RUN(gso_segment_above_mtu);
  RUN(gso_einval_switches_gso_off);
  RUN(offload_switches);
  TEST_MAIN_END();
}
