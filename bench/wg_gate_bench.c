/* Microbenchmark of the WireGuard core's handshake gate (not a test): the time ts_wg_receive takes per
 * flood initiation (valid mac1, random body, zero mac2) on a device under load, from one source address
 * (past its cookie-reply budget: the mac1 check only) and from a different address each time (a cookie reply
 * each, to a sink that only counts), and on a device not under load, where each costs the Noise computation
 * (a DH), so that mode runs for a few messages only.
 *
 * Build: cmake -S . -B build-bench -DTS_BENCH=ON -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench --target wg_gate_bench
 * Run:   ./build-bench/wg_gate_bench [messages under load (2000000)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "wg/wg.h"

#define DISTINCT 256

static void count_sink(void *ctx, ts_wg_peer *p, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  (void)p, (void)ep, (void)buf, (void)len;
  ++*(unsigned long *)ctx;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Average µs per initiation over n messages; *replies counts what the device sent. */
static double run(int under_load, int spoofed, unsigned threshold, int n, unsigned long *replies) {
  uint8_t priv[32], pub[32], label[40], key[32];
  ts_random(priv, sizeof priv);
  ts_wg_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.sink.send = count_sink;
  cfg.sink.ctx = replies;
  cfg.under_load_threshold = threshold;
  ts_wg_device *d = ts_wg_device_new(priv, &cfg);
  if (!d) abort();
  ts_wg_device_force_under_load(d, under_load);
  ts_wg_device_public_key(d, pub);
  memcpy(label, "mac1----", 8);
  memcpy(label + 8, pub, 32);
  ts_blake2s(key, 32, label, sizeof label, NULL, 0);
  static uint8_t msgs[DISTINCT][148];
  for (int i = 0; i < DISTINCT; i++) {
    ts_random(msgs[i], 148);
    msgs[i][0] = 1, msgs[i][1] = msgs[i][2] = msgs[i][3] = 0;
    ts_blake2s(msgs[i] + 116, 16, msgs[i], 116, key, 32);
    memset(msgs[i] + 132, 0, 16);
  }
  ts_wg_endpoint ep = {.len = 23, .host_len = 17, .data = {4, 127, 0, 0, 1}};
  uint8_t buf[148];
  ts_wg_rx rx;
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    memcpy(buf, msgs[i % DISTINCT], sizeof buf);
    if (spoofed) memcpy(ep.data + 1, &i, sizeof i); /* another IPv4 address each time */
    ts_wg_receive(d, (uint64_t)i * 1000, 0, buf, sizeof buf, &ep, &rx);
  }
  double us = (now_s() - t0) / n * 1e6;
  ts_wg_device_free(d);
  return us;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 2000000;
  if (n <= 0 || ts_crypto_init()) return 2;
  unsigned long r1 = 0, r2 = 0, r3 = 0;
  double one = run(1, 0, 0, n, &r1);
  double many = run(1, 1, 0, n, &r2);
  double normal = run(0, 0, 1000000, 2000, &r3);
  printf("under load, one source:      %.3f us per initiation (%lu cookie replies for %d)\n", one, r1, n);
  printf("under load, a source each:   %.3f us per initiation (%lu cookie replies for %d)\n", many, r2, n);
  printf("not under load:              %.3f us per initiation (Noise computation each, %lu replies for 2000)\n", normal, r3);
  return 0;
}
