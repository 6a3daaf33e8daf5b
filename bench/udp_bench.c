/* Microbenchmark for native/core/net/udp over loopback (not a test): one sender thread and one receiver thread,
 * fixed-size datagrams (1280 bytes by default, the tunnel's packet size), for each mode:
 *   send1     one datagram per flush (one sendmmsg of one message), receiver recvmmsg without GRO
 *   plain     sendmmsg batches, no GSO; recvmmsg without GRO
 *   gso       sendmmsg batches with UDP_SEGMENT; receiver without GRO (the kernel splits before the socket)
 *   gso+gro   UDP_SEGMENT on send, UDP_GRO on receive (coalesced buffers split in user space)
 * It prints what the sender handed to the kernel and what the receiver got (loopback drops what the receiver
 * cannot keep up with), in datagrams/s and Gbit/s of UDP payload.
 *
 * Build: cmake -S . -B build-bench -DTS_BENCH=ON -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench --target udp_bench
 * Run:   ./build-bench/udp_bench [seconds per mode (2)] [datagram size (1280)] [datagrams per flush (512)] [v4|v6] */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/udp.h"

typedef struct {
  ts_udp *u;
  atomic_int stop;
  uint64_t dgrams, bytes, bad;
  double cpu; /* receiver thread CPU seconds */
} rx_ctx;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *rx_main(void *arg) {
  rx_ctx *c = arg;
  ts_udp_rxbatch rx;
  ts_udp_dgram d;
  if (ts_udp_rxbatch_init(&rx, 0, 0) != 0) return NULL;
  double c0 = thread_cpu_s();
  while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
    struct pollfd p = {.fd = c->u->fd, .events = POLLIN};
    if (poll(&p, 1, 20) <= 0) continue;
    while (ts_udp_recv_batch(c->u, &rx) > 0)
      while (ts_udp_rx_next(&rx, &d)) {
        c->dgrams++;
        c->bytes += d.len;
        if (d.len >= 1 && d.data[0] != 0x5a) c->bad++; /* touch the payload, as a decrypting reader would */
      }
  }
  c->cpu = thread_cpu_s() - c0;
  ts_udp_rxbatch_free(&rx);
  return NULL;
}

static void run(const char *name, int v6, int gso, int gro, unsigned per_flush, size_t size, double secs) {
  ts_udp a, b;
  ts_udp_txbatch tx;
  ts_udp_opts oa = {.no_gso = (uint8_t)!gso, .no_gro = 1}, ob = {.no_gso = 1, .no_gro = (uint8_t)!gro};
  rx_ctx c;
  pthread_t th;
  const char *lo = v6 ? "::1" : "127.0.0.1";
  if (ts_udp_open(&a, lo, 0, &oa) != 0 || ts_udp_open(&b, lo, 0, &ob) != 0 ||
      ts_udp_txbatch_init(&tx, per_flush, per_flush * size + 65536) != 0) {
    fprintf(stderr, "%s: setup failed\n", name);
    exit(1);
  }
  ts_addr dst;
  ts_addr_parse(&dst, lo, b.local.port);
  memset(&c, 0, sizeof c);
  c.u = &b;
  pthread_create(&th, NULL, rx_main, &c);

  double t0 = now_s(), t1, c0 = thread_cpu_s(), tx_cpu;
  uint64_t seq = 0;
  do {
    for (unsigned i = 0; i < per_flush; i++) {
      uint8_t *p = ts_udp_tx_reserve(&tx, &dst, size);
      if (!p) break;
      p[0] = 0x5a;
      if (size >= 9) memcpy(p + 1, &seq, 8);
      seq++;
    }
    while (ts_udp_tx_flush(&a, &tx) == -EAGAIN) {
      struct pollfd p = {.fd = a.fd, .events = POLLOUT};
      poll(&p, 1, 100);
    }
    t1 = now_s();
  } while (t1 - t0 < secs);
  tx_cpu = thread_cpu_s() - c0;
  /* Let the receiver finish what is queued. */
  struct timespec ms50 = {0, 50 * 1000 * 1000};
  nanosleep(&ms50, NULL);
  atomic_store(&c.stop, 1);
  pthread_join(th, NULL);

  double el = t1 - t0;
  double tx_pps = (double)a.stats.tx_dgrams / el, rx_pps = (double)c.dgrams / el;
  /* CPU per datagram: the sender's thread also pays for loopback delivery (softirq runs in its context). */
  printf("%-8s %-2s %5zu B %4u/flush | tx %8.0f dgram/s %6.2f Gbit/s %5.0f ns/dgram %5.1f dgram/call | rx %8.0f "
         "dgram/s %6.2f Gbit/s %5.0f ns/dgram %5.1f dgram/call | loss %4.1f%%%s\n",
         name, v6 ? "v6" : "v4", size, per_flush, tx_pps, (double)a.stats.tx_bytes * 8 / el / 1e9,
         a.stats.tx_dgrams ? tx_cpu * 1e9 / (double)a.stats.tx_dgrams : 0.0,
         (double)a.stats.tx_dgrams / (double)(a.stats.tx_syscalls ? a.stats.tx_syscalls : 1), rx_pps,
         (double)c.bytes * 8 / el / 1e9, c.dgrams ? c.cpu * 1e9 / (double)c.dgrams : 0.0,
         (double)c.dgrams / (double)(b.stats.rx_syscalls ? b.stats.rx_syscalls : 1),
         a.stats.tx_dgrams ? 100.0 * (1.0 - (double)c.dgrams / (double)a.stats.tx_dgrams) : 0.0,
         c.bad ? " (corrupt!)" : "");
  if (gso && a.stats.tx_gso_sends == 0) printf("         (no GSO sends happened)\n");
  if (gro && b.stats.rx_gro_bufs == 0) printf("         (no GRO buffers arrived)\n");
  ts_udp_txbatch_free(&tx);
  ts_udp_close(&a);
  ts_udp_close(&b);
}

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 2.0;
  size_t size = argc > 2 ? (size_t)atol(argv[2]) : 1280;
  unsigned per_flush = argc > 3 ? (unsigned)atoi(argv[3]) : 512;
  int v6 = argc > 4 && strcmp(argv[4], "v6") == 0;
  if (secs <= 0 || size > TS_UDP_MAX_DGRAM || per_flush == 0 || per_flush > 1024) {
    fprintf(stderr, "usage: udp_bench [seconds] [size] [per_flush<=1024] [v4|v6]\n");
    return 2;
  }
  run("send1", v6, 0, 0, 1, size, secs);
  run("plain", v6, 0, 0, per_flush, size, secs);
  run("gso", v6, 1, 0, per_flush, size, secs);
  run("gso+gro", v6, 1, 1, per_flush, size, secs);
  return 0;
}
