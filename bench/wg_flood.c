/* Handshake-initiation flooder for bench/handshake-flood.mjs (not a test): sends WireGuard initiations
 * whose mac1 is valid for the target's public key (all an attacker needs) and whose body is random, as fast
 * as it can, to a loopback address only. It counts the cookie replies that come back. It stops after
 * `count` datagrams, `seconds` or SIGTERM, whichever comes first, and prints one JSON line.
 *
 * Build: cmake -S . -B build-bench -DTS_BENCH=ON -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench --target wg_flood
 * Run:   ./build-bench/wg_flood <port> <target public key, base64> <max datagrams> <max seconds> [pps limit, 0 none] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"

#define INIT_LEN 148
#define MAC1_OFF 116
#define BATCH 64
#define DISTINCT 256 /* distinct messages cycled through */

static volatile sig_atomic_t stop; /* SIGTERM/SIGINT: finish and print the counts */
static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int b64_key(const char *s, uint8_t out[32]) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (; *s && *s != '='; s++) {
    const char *p = strchr(tab, *s);
    if (!p) return -1;
    acc = acc << 6 | (uint32_t)(p - tab);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n == 32) return -1;
      out[n++] = (uint8_t)(acc >> bits);
    }
  }
  return n == 32 ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: wg_flood <port> <pubkey base64> <max datagrams> <max seconds> [pps]\n");
    return 2;
  }
  int port = atoi(argv[1]);
  uint8_t pub[32];
  unsigned long long max = strtoull(argv[3], NULL, 10);
  double secs = atof(argv[4]), pps = argc > 5 ? atof(argv[5]) : 0;
  if (port <= 0 || port > 65535 || b64_key(argv[2], pub) || ts_crypto_init()) {
    fprintf(stderr, "wg_flood: bad arguments\n");
    return 2;
  }
  /* mac1 key = HASH("mac1----" || responder public key); mac1 = MAC(key, message up to mac1). */
  uint8_t label[40], key[32];
  memcpy(label, "mac1----", 8);
  memcpy(label + 8, pub, 32);
  ts_blake2s(key, 32, label, sizeof label, NULL, 0);
  static uint8_t msgs[DISTINCT][INIT_LEN];
  for (int i = 0; i < DISTINCT; i++) {
    ts_random(msgs[i], INIT_LEN);
    msgs[i][0] = 1;
    msgs[i][1] = msgs[i][2] = msgs[i][3] = 0;
    ts_blake2s(msgs[i] + MAC1_OFF, 16, msgs[i], MAC1_OFF, key, 32);
    memset(msgs[i] + MAC1_OFF + 16, 0, 16); /* no cookie: mac2 zero */
  }

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only, by construction */
  if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof dst)) {
    perror("wg_flood: socket");
    return 1;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  struct mmsghdr mm[BATCH];
  struct iovec iov[BATCH];
  unsigned long long sent = 0, cookies = 0, other = 0, eagain = 0;
  unsigned next = 0;
  double t0 = now_s(), t = t0;
  uint8_t rbuf[2048];
  while (!stop && sent < max && (t = now_s()) - t0 < secs) {
    if (pps > 0 && (double)sent > (t - t0) * pps) { /* paced: wait for the schedule to catch up */
      struct timespec ts = {0, 200000};
      nanosleep(&ts, NULL);
    } else {
      unsigned n = BATCH;
      if (max - sent < n) n = (unsigned)(max - sent);
      for (unsigned i = 0; i < n; i++) {
        iov[i].iov_base = msgs[next++ % DISTINCT];
        iov[i].iov_len = INIT_LEN;
        memset(&mm[i], 0, sizeof mm[i]);
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
      }
      int r = sendmmsg(fd, mm, n, 0);
      if (r > 0) sent += (unsigned)r;
      else if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) eagain++;
      else if (r < 0 && errno != ECONNREFUSED) {
        perror("wg_flood: sendmmsg");
        break;
      }
    }
    for (;;) { /* drain replies: cookie replies are 64 bytes of type 3 */
      ssize_t k = recv(fd, rbuf, sizeof rbuf, 0);
      if (k < 0) break;
      if (k == 64 && rbuf[0] == 3) cookies++;
      else other++;
    }
  }
  printf("{\"sent\":%llu,\"seconds\":%.3f,\"cookieReplies\":%llu,\"otherReplies\":%llu,\"eagain\":%llu}\n", sent,
         t - t0, cookies, other, eagain);
  close(fd);
  return 0;
}
