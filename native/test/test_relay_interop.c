/* The peer-relay client (disco/disco_relay.h, magicsock/relay_bind.h) against Tailscale's real relay server
 * (tailscale.com/net/udprelay v1.102.5, run by `tsinterop udprelay`, test/interop/go/udprelay.go), on loopback
 * only: the server allocates an endpoint for two clients (we decode its real AllocateUDPRelayEndpointResponse),
 * both clients run the Bind/Challenge/Answer handshake over UDP, then a disco Ping/Pong and a SHA-256-checked
 * WireGuard-framed transfer go from one client to the other through the relay. docs/protocol/peer-relay.md.
 *
 * Needs the interop program: TS_TSINTEROP names it (default build-interop/tsinterop, built by
 * scripts/interop.sh); without it the test says so and skips, so it stays compiled with the rest. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "disco/disco.h"
#include "disco/disco_relay.h"
#include "magicsock/relay_bind.h"
#include "test.h"

#define WAIT_MS 5000   /* the longest any one expected packet may take before the test fails */
#define RESEND_MS 300  /* UDP can drop: requests are resent until their reply arrives */

typedef struct {
  pid_t pid;
  FILE *in, *out;
} proc;

static int spawn(proc *p, const char *path) {
  int to[2], from[2];
  if (pipe(to) != 0 || pipe(from) != 0) return -1;
  p->pid = fork();
  if (p->pid < 0) return -1;
  if (p->pid == 0) {
    dup2(to[0], 0), dup2(from[1], 1);
    close(to[0]), close(to[1]), close(from[0]), close(from[1]);
    execl(path, path, "udprelay", "{}", (char *)NULL);
    _exit(127);
  }
  close(to[0]), close(from[1]);
  p->in = fdopen(to[1], "w"), p->out = fdopen(from[0], "r");
  return p->in && p->out ? 0 : -1;
}

/* One reply line (the program answers every command with exactly one). */
static int line(proc *p, char *buf, size_t cap) { return fgets(buf, (int)cap, p->out) ? 0 : -1; }
static int cmd(proc *p, const char *json, char *buf, size_t cap) {
  fprintf(p->in, "%s\n", json);
  fflush(p->in);
  return line(p, buf, cap);
}
/* The string value of "name" in a flat JSON line, or the number after it. */
static const char *field(const char *json, const char *name) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", name);
  const char *s = strstr(json, pat);
  if (!s) return NULL;
  s += strlen(pat);
  return *s == '"' ? s + 1 : s;
}
static void hex_of(char *out, const uint8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

typedef struct {
  int fd;
  uint8_t priv[32], pub[32];
  ts_addr addr;
  ts_relay_bind bind;
} client;

static int client_open(client *c) {
  ts_x25519_keypair(c->priv, c->pub);
  c->fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(c->fd, (struct sockaddr *)&a, &al) != 0)
    return -1;
  ts_addr_set(&c->addr, TS_ADDR_V4, (const uint8_t *)&a.sin_addr, ntohs(a.sin_port));
  return 0;
}
static void send_to(const client *c, const ts_addr *to, const uint8_t *b, size_t n) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(to->port)};
  memcpy(&a.sin_addr, to->ip, 4);
  CHECK(sendto(c->fd, b, n, 0, (struct sockaddr *)&a, sizeof a) == (ssize_t)n);
}
/* Next datagram within ms, from the relay only; -1 on timeout. */
static long recv_from_relay(const client *c, const ts_addr *relay, uint8_t *b, size_t cap, int ms) {
  struct pollfd pf = {.fd = c->fd, .events = POLLIN};
  while (poll(&pf, 1, ms) == 1) {
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    ssize_t n = recvfrom(c->fd, b, cap, 0, (struct sockaddr *)&a, &al);
    if (n >= 0 && ntohs(a.sin_port) == relay->port && memcmp(&a.sin_addr, relay->ip, 4) == 0) return n;
  }
  return -1;
}

/* Bind/Challenge/Answer with the real server; the Bind is resent until a Challenge comes. */
static void handshake(client *c, const ts_addr *relay) {
  uint8_t out[TS_RELAY_BIND_PKT_LEN], in[1500];
  for (int waited = 0; waited < WAIT_MS; waited += RESEND_MS) {
    long n = ts_relay_bind_request(&c->bind, out, sizeof out, NULL);
    CHECK_EQ_INT(n, TS_RELAY_BIND_PKT_LEN);
    send_to(c, relay, out, (size_t)n);
    long r = recv_from_relay(c, relay, in, sizeof in, RESEND_MS);
    if (r < 0) continue;
    n = ts_relay_bind_input(&c->bind, in, (size_t)r, out, sizeof out, NULL);
    CHECK_EQ_INT(n, TS_RELAY_BIND_PKT_LEN);
    if (n > 0) send_to(c, relay, out, (size_t)n);
    break;
  }
  CHECK_EQ_INT(c->bind.state, TS_RELAY_BIND_ANSWERED);
}

/* A disco message from `from` to the other client through the relay (Geneve data, not control). */
static long seal_via(const client *from, const uint8_t shared[32], const ts_disco_msg *m, uint8_t *out, size_t cap) {
  uint8_t pkt[256];
  long n = ts_disco_seal_msg(pkt, sizeof pkt, from->pub, shared, NULL, m);
  if (n < 0) return n;
  return ts_relay_encap(out, cap, from->bind.ep.vni, TS_GENEVE_PROTO_DISCO, pkt, (size_t)n);
}
/* Opens a relayed disco datagram for client `to`: Geneve data header with its VNI, then disco. */
static int open_via(const client *to, const uint8_t shared[32], const uint8_t *pkt, size_t n, ts_disco_msg *m) {
  int geneve;
  ts_geneve h;
  if (ts_udp_classify(pkt, n, &geneve) != TS_UDP_DISCO || !geneve) return -1;
  if (ts_geneve_decode(&h, pkt, n) != 0 || h.control || h.vni != to->bind.ep.vni) return -1;
  uint8_t clear[256];
  long cn = ts_disco_open(clear, sizeof clear, pkt + TS_GENEVE_LEN, n - TS_GENEVE_LEN, shared);
  return cn < 0 ? -1 : ts_disco_decode(m, clear, (size_t)cn);
}

static void test_relay_interop(void) {
  const char *path = getenv("TS_TSINTEROP");
  if (!path) path = "build-interop/tsinterop";
  if (access(path, X_OK) != 0) {
    printf("skipped: no %s (run scripts/interop.sh tsinterop, or set TS_TSINTEROP)\n", path);
    return;
  }
  proc p;
  CHECK_EQ_INT(spawn(&p, path), 0);
  char buf[4096];
  CHECK_EQ_INT(line(&p, buf, sizeof buf), 0);
  const char *ps = field(buf, "port"), *sd = field(buf, "serverDisco");
  /* an older build without the udprelay role answers {"error": "unknown role ..."} */
  if (!ps || !sd) fprintf(stderr, "  %s said: %s  (rebuild it: scripts/interop.sh tsinterop)\n", path, buf);
  CHECK(ps && sd);
  if (!ps || !sd) return;
  ts_addr relay;
  ts_addr_parse(&relay, "127.0.0.1", (uint16_t)atoi(ps));
  uint8_t server_disco[32];
  CHECK_EQ_INT(ts_hex(server_disco, 32, sd), 32);

  client a, b;
  CHECK_EQ_INT(client_open(&a), 0);
  CHECK_EQ_INT(client_open(&b), 0);

  /* 1. The server's allocation, as the real AllocateUDPRelayEndpointResponse bytes. */
  char ah[65], bh[65], req[256];
  hex_of(ah, a.pub, 32), hex_of(bh, b.pub, 32);
  snprintf(req, sizeof req, "{\"op\":\"allocate\",\"a\":\"%s\",\"b\":\"%s\",\"generation\":7}", ah, bh);
  CHECK_EQ_INT(cmd(&p, req, buf, sizeof buf), 0);
  const char *rh = field(buf, "response");
  CHECK(rh != NULL);
  if (!rh) return;
  uint8_t clear[1024];
  size_t cn = ts_hex(clear, sizeof clear, strtok((char *)rh, "\""));
  ts_disco_relay_msg resp;
  CHECK_EQ_INT(ts_disco_relay_decode(&resp, clear, cn), 0);
  CHECK_EQ_INT(resp.type, TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE);
  CHECK_EQ_INT(resp.generation, 7);
  CHECK_MEM(resp.ep.server_disco, server_disco, 32);
  CHECK(resp.ep.vni >= 1 && resp.ep.vni <= TS_DISCO_RELAY_VNI_MAX);
  CHECK(resp.ep.bind_lifetime_ns > 0 && resp.ep.steady_lifetime_ns > 0);
  CHECK_EQ_INT(resp.ep.n_addrs, 1);
  CHECK(ts_addr_equal(&resp.ep.addrs[0], &relay));
  /* the server sorts the pair; either order names both clients */
  CHECK(memcmp(resp.ep.client_disco[0], a.pub, 32) == 0 || memcmp(resp.ep.client_disco[1], a.pub, 32) == 0);
  CHECK(memcmp(resp.ep.client_disco[0], b.pub, 32) == 0 || memcmp(resp.ep.client_disco[1], b.pub, 32) == 0);

  /* 2. Both clients bind. */
  CHECK_EQ_INT(ts_relay_bind_init(&a.bind, &resp.ep, a.priv, a.pub, 0x1001), 0);
  CHECK_EQ_INT(ts_relay_bind_init(&b.bind, &resp.ep, b.priv, b.pub, 0x2002), 0);
  handshake(&a, &relay);
  handshake(&b, &relay);

  /* 3. A disco Ping from A reaches B through the relay, B's Pong comes back with A's address as seen there.
   * The relay forwards only once both have bound; the Ping is resent until it arrives. */
  uint8_t ab[32], ba[32], pkt[1600];
  CHECK_EQ_INT(ts_disco_shared_key(ab, b.pub, a.priv), 0);
  CHECK_EQ_INT(ts_disco_shared_key(ba, a.pub, b.priv), 0);
  ts_disco_msg ping = {.type = TS_DISCO_PING}, got = {0};
  ts_random(ping.tx_id, sizeof ping.tx_id);
  long n = seal_via(&a, ab, &ping, pkt, sizeof pkt);
  CHECK(n > 0);
  int pinged = 0;
  for (int waited = 0; waited < WAIT_MS && !pinged; waited += RESEND_MS) {
    send_to(&a, &relay, pkt, (size_t)n);
    long r = recv_from_relay(&b, &relay, pkt + 800, 800, RESEND_MS);
    pinged = r > 0 && open_via(&b, ba, pkt + 800, (size_t)r, &got) == 0 && got.type == TS_DISCO_PING &&
             memcmp(got.tx_id, ping.tx_id, 12) == 0;
  }
  CHECK(pinged);
  ts_disco_msg pong = {.type = TS_DISCO_PONG, .src = a.addr};
  memcpy(pong.tx_id, ping.tx_id, 12);
  n = seal_via(&b, ba, &pong, pkt, sizeof pkt);
  send_to(&b, &relay, pkt, (size_t)n);
  long r = recv_from_relay(&a, &relay, pkt, sizeof pkt, WAIT_MS);
  CHECK(r > 0 && open_via(&a, ab, pkt, (size_t)r, &got) == 0);
  CHECK_EQ_INT(got.type, TS_DISCO_PONG);
  CHECK_MEM(got.tx_id, ping.tx_id, 12);
  CHECK(ts_addr_equal(&got.src, &a.addr));

  /* 4. The server reports both clients bound at our sockets' addresses. */
  CHECK_EQ_INT(cmd(&p, "{\"op\":\"sessions\"}", buf, sizeof buf), 0);
  char want_a[64], want_b[64], vni_pat[32];
  ts_addr_format(&a.addr, want_a, sizeof want_a), ts_addr_format(&b.addr, want_b, sizeof want_b);
  snprintf(vni_pat, sizeof vni_pat, "\"vni\":%u,", (unsigned)resp.ep.vni);
  const char *sess = strstr(buf, vni_pat);
  CHECK(sess && strstr(sess, want_a) && strstr(sess, want_b));

  /* 5. 256 KiB from A to B as Geneve WireGuard frames through the relay, each acknowledged by B the same way
   * (resent until acknowledged), SHA-256 of what was sent and what arrived compared. */
  enum { CHUNK = 1024, CHUNKS = 256 };
  crypto_hash_sha256_state hs_sent, hs_recv;
  crypto_hash_sha256_init(&hs_sent), crypto_hash_sha256_init(&hs_recv);
  uint32_t next = 0; /* B: the next sequence number it takes */
  int ok = 1;
  for (uint32_t seq = 0; seq < CHUNKS && ok; seq++) {
    uint8_t frame[8 + CHUNK], enc[TS_GENEVE_LEN + 8 + CHUNK];
    frame[0] = 4, frame[1] = frame[2] = frame[3] = 0; /* shaped like WireGuard transport data */
    frame[4] = (uint8_t)(seq >> 24), frame[5] = (uint8_t)(seq >> 16), frame[6] = (uint8_t)(seq >> 8), frame[7] = (uint8_t)seq;
    ts_random(frame + 8, CHUNK);
    crypto_hash_sha256_update(&hs_sent, frame + 8, CHUNK);
    long en = ts_relay_encap(enc, sizeof enc, resp.ep.vni, TS_GENEVE_PROTO_WIREGUARD, frame, sizeof frame);
    int acked = 0;
    for (int waited = 0; waited < WAIT_MS && !acked; waited += RESEND_MS) {
      send_to(&a, &relay, enc, (size_t)en);
      /* B takes what arrives (in order; a resent duplicate is acknowledged again, not hashed twice) */
      long got_n = recv_from_relay(&b, &relay, pkt, sizeof pkt, RESEND_MS);
      int geneve;
      ts_geneve h;
      if (got_n == (long)en && ts_udp_classify(pkt, (size_t)got_n, &geneve) == TS_UDP_WIREGUARD && geneve &&
          ts_geneve_decode(&h, pkt, (size_t)got_n) == 0 && h.vni == resp.ep.vni) {
        const uint8_t *f = pkt + TS_GENEVE_LEN;
        uint32_t s = (uint32_t)f[4] << 24 | (uint32_t)f[5] << 16 | (uint32_t)f[6] << 8 | f[7];
        if (s == next) crypto_hash_sha256_update(&hs_recv, f + 8, CHUNK), next++;
        uint8_t ack[TS_GENEVE_LEN + 8];
        ts_relay_encap(ack, sizeof ack, resp.ep.vni, TS_GENEVE_PROTO_WIREGUARD, f, 8);
        send_to(&b, &relay, ack, sizeof ack);
      }
      long an = recv_from_relay(&a, &relay, pkt, sizeof pkt, RESEND_MS);
      acked = an == TS_GENEVE_LEN + 8 && memcmp(pkt + TS_GENEVE_LEN, frame, 8) == 0;
    }
    ok = acked;
  }
  CHECK(ok);
  CHECK_EQ_INT(next, CHUNKS);
  uint8_t d_sent[32], d_recv[32];
  crypto_hash_sha256_final(&hs_sent, d_sent), crypto_hash_sha256_final(&hs_recv, d_recv);
  CHECK_MEM(d_sent, d_recv, 32);

  /* 6. A client the endpoint was not allocated for cannot even start. */
  client c;
  CHECK_EQ_INT(client_open(&c), 0);
  CHECK_EQ_INT(ts_relay_bind_init(&c.bind, &resp.ep, c.priv, c.pub, 1), TS_DISCO_E_ARG);
  close(c.fd);

  CHECK_EQ_INT(cmd(&p, "{\"op\":\"exit\"}", buf, sizeof buf), 0);
  int status = 0;
  CHECK_EQ_INT(waitpid(p.pid, &status, 0), p.pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  fclose(p.in), fclose(p.out);
  ts_relay_bind_wipe(&a.bind), ts_relay_bind_wipe(&b.bind);
  ts_wipe(a.priv, 32), ts_wipe(b.priv, 32), ts_wipe(ab, 32), ts_wipe(ba, 32);
  close(a.fd), close(b.fd);
}

int main(void) {
  if (ts_crypto_init() != 0) return 1;
  signal(SIGPIPE, SIG_IGN);
  RUN(test_relay_interop);
  TEST_MAIN_END();
}
