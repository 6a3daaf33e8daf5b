/* Interop with the real wireguard-go: our device over a UDP socket in a private network namespace, against
 * wireguard-go on a TUN device there. Both roles: we initiate (no PSK) and ping through wireguard-go to
 * the kernel; wireguard-go initiates (with a PSK) when the kernel pings us. Small and 1200-byte packets.
 *
 * Runs only when TS_WG_INTEROP=1 (it needs root, `ip`, `wg` and `wireguard-go`); otherwise it skips, so it
 * stays compiled with the rest of the tests. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "test.h"
#include "wg/wg.h"

/* ---- inner role: runs inside the namespace ---- */

static int sock;
/* Our device's clock may run ahead of the real one (skew), to reach rekey times quickly. */
static uint64_t skew;
static uint64_t mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec + skew;
}
static uint64_t wall(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}
static void ep_from(ts_wg_endpoint *e, const struct sockaddr_in *a) {
  memset(e, 0, sizeof *e);
  e->len = sizeof *a;
  memcpy(e->data, a, sizeof *a);
}
static void send_to(const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  struct sockaddr_in a;
  if (ep->len != sizeof a) return;
  memcpy(&a, ep->data, sizeof a);
  sendto(sock, buf, len, 0, (struct sockaddr *)&a, sizeof a);
}
static int initiations_sent;
static void sink(void *ctx, ts_wg_peer *p, const ts_wg_endpoint *ep, const uint8_t *buf, size_t len) {
  (void)ctx, (void)p;
  initiations_sent += buf[0] == 1;
  send_to(ep, buf, len);
}
static uint16_t csum(const uint8_t *p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)p[i] << 8 | p[i + 1];
  if (n & 1) s += (uint32_t)p[n - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}
/* An ICMP echo (type 8) or echo reply (type 0) in IPv4. */
static size_t icmp(uint8_t *b, const uint8_t src[4], const uint8_t dst[4], uint8_t type, const uint8_t idseq[4],
                   const uint8_t *payload, size_t plen) {
  size_t len = 28 + plen;
  memset(b, 0, len);
  b[0] = 0x45, b[2] = (uint8_t)(len >> 8), b[3] = (uint8_t)len, b[8] = 64, b[9] = 1;
  memcpy(b + 12, src, 4);
  memcpy(b + 16, dst, 4);
  uint16_t c = csum(b, 20);
  b[10] = (uint8_t)(c >> 8), b[11] = (uint8_t)c;
  b[20] = type;
  memcpy(b + 24, idseq, 4);
  memcpy(b + 28, payload, plen);
  c = csum(b + 20, 8 + plen);
  b[22] = (uint8_t)(c >> 8), b[23] = (uint8_t)c;
  return len;
}

/* argv: priv_hex peer_pub_hex peer_port our_port ping|ping-rekey|respond|respond-load [psk_hex]. Exit 0 on
 * success. ping-rekey jumps our clock past REKEY_AFTER_TIME after four pings, then sets the send counter
 * past REKEY_AFTER_MESSAGES after six: both rekeys must complete with wireguard-go while pings flow.
 * respond-load keeps the device under load: wireguard-go's first initiation gets a cookie reply and its
 * retry must carry a valid mac2. */
static int inner(int argc, char **argv) {
  if (argc < 5 || ts_crypto_init()) return 2;
  uint8_t priv[32], peer[32], psk[32];
  ts_hex(priv, 32, argv[0]);
  ts_hex(peer, 32, argv[1]);
  if (argc > 5) ts_hex(psk, 32, argv[5]);
  int rekey = !strcmp(argv[4], "ping-rekey");
  int ping = rekey || !strcmp(argv[4], "ping"), load = !strcmp(argv[4], "respond-load");
  sock = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3])),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(sock, (struct sockaddr *)&me, sizeof me)) return 2;
  struct sockaddr_in pa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ts_wg_endpoint pep;
  ep_from(&pep, &pa);
  ts_wg_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.sink.send = sink;
  ts_wg_device *dev = ts_wg_device_new(priv, &cfg);
  ts_wg_device_force_under_load(dev, load);
  ts_wg_peer_config pc = {argc > 5 ? psk : NULL, 0, &pep};
  ts_wg_peer *p = ts_wg_peer_add(dev, peer, &pc);
  const uint8_t us[4] = {10, 9, 0, 2}, them[4] = {10, 9, 0, 1};
  ts_wg_peer_allow(dev, p, 4, them, 32);
  uint8_t out[2048], pkt[1500], rx[2048];
  int replies = 0, big = 0, requests = 0, sent = 0;
  uint64_t start = mono(), next_ping = start;
  while (mono() - start - skew < (load ? 12000000000ULL : 8000000000ULL) && !(ping && replies == 8)) {
    if (rekey && sent == 4 && replies == 4 && skew == 0) skew = 125 * 1000000000ULL, next_ping = mono();
    if (rekey && sent == 6 && replies == 6 && skew == 125 * 1000000000ULL) {
      skew += 6 * 1000000000ULL; /* past REKEY_TIMEOUT since the last initiation */
      next_ping = mono();
      ts_wg_test_set_send_counter(p, TS_WG_REKEY_AFTER_MESSAGES + 1);
    }
    uint64_t now = mono();
    if (ping && now >= next_ping && sent < 8) {
      uint8_t payload[1200], idseq[4] = {0x12, 0x34, 0, (uint8_t)sent};
      size_t plen = sent % 2 ? 1200 : 56;
      for (size_t i = 0; i < plen; i++) payload[i] = (uint8_t)(i * 7 + (size_t)sent);
      size_t n = icmp(pkt, us, them, 8, idseq, payload, plen);
      ts_wg_tx tx;
      if (ts_wg_send(dev, now, wall(), pkt, n, out, sizeof out, &tx) == TS_WG_TX_READY) send_to(tx.endpoint, out, tx.len);
      sent++;
      next_ping = now + 500000000ULL;
    }
    uint64_t dl = ts_wg_timers(dev, now, wall());
    int to = 50;
    if (dl != UINT64_MAX && dl > now && (dl - now) / 1000000 < (uint64_t)to) to = (int)((dl - now) / 1000000) + 1;
    struct pollfd pf = {sock, POLLIN, 0};
    if (poll(&pf, 1, to) <= 0) continue;
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t r = recvfrom(sock, rx, sizeof rx, 0, (struct sockaddr *)&from, &fl);
    if (r <= 0) continue;
    ts_wg_endpoint src;
    ep_from(&src, &from);
    ts_wg_rx res;
    ts_wg_rx_kind k = ts_wg_receive(dev, mono(), wall(), rx, (size_t)r, &src, &res);
    if (k == TS_WG_RX_DROP) fprintf(stderr, "  interop: dropped %s\n", ts_wg_drop_name(res.drop));
    if (k != TS_WG_RX_DATA || res.len < 28 || res.data[9] != 1) continue;
    uint8_t *ip = res.data;
    if (ip[20] == 0) { /* echo reply: check the payload came back intact */
      size_t plen = res.len - 28;
      int ok = 1;
      for (size_t i = 0; i < plen; i++) ok &= ip[28 + i] == (uint8_t)(i * 7 + ip[27]);
      replies += ok;
      big += ok && plen == 1200;
    } else if (ip[20] == 8) { /* echo request from the kernel: answer it */
      requests++;
      size_t n = icmp(pkt, ip + 16, ip + 12, 0, ip + 24, ip + 28, res.len - 28);
      ts_wg_tx tx;
      if (ts_wg_send(dev, mono(), wall(), pkt, n, out, sizeof out, &tx) == TS_WG_TX_READY) send_to(tx.endpoint, out, tx.len);
    }
  }
  ts_wg_peer_stats st;
  ts_wg_peer_stats_get(p, mono(), &st);
  uint64_t cookies = ts_wg_drops(dev, TS_WG_DROP_COOKIE_SENT);
  fprintf(stderr, "  interop %s: sent %d, replies %d (1200-byte %d), requests answered %d, cookie replies %d, handshake %s\n",
          argv[4], sent, replies, big, requests, (int)cookies, st.last_handshake_wall ? "yes" : "no");
  ts_wg_device_free(dev);
  close(sock);
  fprintf(stderr, "  interop %s: initiations sent %d\n", argv[4], initiations_sent);
  if (load) return !(requests >= 3 && cookies >= 1);
  if (rekey) return !(replies == 8 && initiations_sent == 3);
  return ping ? !(replies == 8 && big == 4) : !(requests >= 6);
}

/* ---- outer role: namespace, wireguard-go, and the two scenarios ---- */

static char self[512], ns[64], dir[128];
static uint8_t wg_priv[32], wg_pub[32], a_priv[32], a_pub[32], b_priv[32], b_pub[32], c_priv[32], c_pub[32], psk[32];

static void b64(char *out, const uint8_t in[32]) {
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  int o = 0;
  for (int i = 0; i < 32; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < 32 ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < 32 ? in[i + 2] : 0);
    out[o++] = t[v >> 18 & 63], out[o++] = t[v >> 12 & 63];
    out[o++] = i + 1 < 32 ? t[v >> 6 & 63] : '=';
    out[o++] = i + 2 < 32 ? t[v & 63] : '=';
  }
  out[o] = 0;
}
static void hexs(char *out, const uint8_t in[32]) {
  for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", in[i]);
}
static int sh(const char *fmt, ...) {
  char cmd[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  return system(cmd);
}

static void test_we_initiate(void) {
  char priv[65], pub[65];
  hexs(priv, a_priv), hexs(pub, wg_pub);
  CHECK_EQ_INT(sh("ip netns exec %s %s --inner %s %s 51820 51821 ping", ns, self, priv, pub), 0);
}

static void test_we_rekey(void) {
  char priv[65], pub[65];
  ts_x25519_keypair(a_priv, a_pub); /* wireguard-go knows this peer by the key set below */
  hexs(priv, a_priv), hexs(pub, wg_pub);
  char apub[64];
  b64(apub, a_pub);
  CHECK_EQ_INT(sh("ip netns exec %s wg set wgt0 peer '%s' allowed-ips 10.9.0.2/32 endpoint 127.0.0.1:51824", ns, apub), 0);
  CHECK_EQ_INT(sh("ip netns exec %s %s --inner %s %s 51820 51824 ping-rekey", ns, self, priv, pub), 0);
}

static void test_wireguard_go_initiates(void) {
  char priv[65], pub[65], k[65];
  hexs(priv, b_priv), hexs(pub, wg_pub), hexs(k, psk);
  CHECK_EQ_INT(sh("ip netns exec %s sh -c '%s --inner %s %s 51820 51822 respond %s & P=$!; sleep 0.5; "
                  "ping -q -c 4 -i 0.3 -W 2 10.9.0.3 >/dev/null; ping -q -c 2 -i 0.3 -s 1200 -W 2 10.9.0.3 >/dev/null; wait $P'",
                  ns, self, priv, pub, k),
               0);
}

static void test_cookie_with_wireguard_go(void) {
  char priv[65], pub[65];
  hexs(priv, c_priv), hexs(pub, wg_pub);
  CHECK_EQ_INT(sh("ip netns exec %s sh -c '%s --inner %s %s 51820 51823 respond-load & P=$!; sleep 0.5; "
                  "ping -q -c 18 -i 0.5 -W 1 10.9.0.4 >/dev/null; wait $P'",
                  ns, self, priv, pub),
               0);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--inner")) return inner(argc - 2, argv + 2);
  const char *on = getenv("TS_WG_INTEROP");
  if (!on || strcmp(on, "1") != 0) {
    printf("skipped: set TS_WG_INTEROP=1 (needs root, ip, wg and wireguard-go)\n");
    TEST_MAIN_END();
  }
  if (ts_crypto_init() || !realpath(argv[0], self)) return 1;
  ts_x25519_keypair(wg_priv, wg_pub);
  ts_x25519_keypair(a_priv, a_pub);
  ts_x25519_keypair(b_priv, b_pub);
  ts_x25519_keypair(c_priv, c_pub);
  ts_random(psk, 32);
  snprintf(ns, sizeof ns, "tswgi%d", (int)getpid());
  snprintf(dir, sizeof dir, "/tmp/%s", ns);
  char k[64];
  sh("mkdir -p %s && chmod 700 %s", dir, dir);
  b64(k, wg_priv);
  sh("echo '%s' > %s/wg.key", k, dir);
  b64(k, psk);
  sh("echo '%s' > %s/psk", k, dir);
  int ok = sh("ip netns add %s && ip netns exec %s ip link set lo up", ns, ns) == 0;
  /* wireguard-go in the foreground of a shell that records its pid, so we stop exactly that process. */
  ok = ok && sh("ip netns exec %s sh -c 'echo $$ > %s/pid; exec env WG_PROCESS_FOREGROUND=1 wireguard-go wgt0' "
                "> %s/wireguard-go.log 2>&1 &", ns, dir, dir) == 0;
  for (int i = 0; ok && i < 50 && sh("ip netns exec %s ip link show wgt0 >/dev/null 2>&1", ns) != 0; i++) usleep(100000);
  char apub[64], bpub[64], cpub[64];
  b64(apub, a_pub), b64(bpub, b_pub), b64(cpub, c_pub);
  ok = ok && sh("ip netns exec %s wg set wgt0 private-key %s/wg.key listen-port 51820 "
                "peer '%s' allowed-ips 10.9.0.2/32 endpoint 127.0.0.1:51821 "
                "peer '%s' allowed-ips 10.9.0.3/32 endpoint 127.0.0.1:51822 preshared-key %s/psk "
                "peer '%s' allowed-ips 10.9.0.4/32 endpoint 127.0.0.1:51823",
                ns, dir, apub, bpub, dir, cpub) == 0;
  ok = ok && sh("ip netns exec %s ip addr add 10.9.0.1/24 dev wgt0 && ip netns exec %s ip link set wgt0 up", ns, ns) == 0;
  if (ok) {
    RUN(test_we_initiate);
    RUN(test_wireguard_go_initiates);
    RUN(test_cookie_with_wireguard_go);
    RUN(test_we_rekey);
  } else {
    fprintf(stderr, "  setup failed (root, ip, wg, wireguard-go?)\n");
    ts_t.failed++;
  }
  sh("ip netns exec %s ip link del wgt0 2>/dev/null; kill $(cat %s/pid 2>/dev/null) 2>/dev/null; ip netns del %s 2>/dev/null; "
     "rm -rf %s", ns, dir, ns, dir);
  TEST_MAIN_END();
}
