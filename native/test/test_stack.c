/* lwIP as configured by native/core/stack/lwipopts.h: two netifs joined by an in-memory "wire" carry a TCP
 * transfer over IPv4 and over IPv6 intact, with window scaling in effect. This proves the build and the
 * options; the engine's own glue gets its tests with the engine. */
#include <stdlib.h>
#include <string.h>

#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/timeouts.h"
#include "test.h"

#define WIRE_CAP 65536
typedef struct {
  uint8_t *pkt[WIRE_CAP];
  uint16_t len[WIRE_CAP];
  size_t head, tail;
  size_t max_len;
  uint64_t packets;
} wire_t;

typedef struct {
  wire_t wire;
  struct netif a, b;
  struct tcp_pcb *client, *server;
  size_t to_send, sent_queued, received;
  uint32_t rx_hash, tx_hash;
  int established, closed;
  /* tcp_timestamp_echo: drops the server's packets and notes timestamps (0 when unused) */
  int drop_from_b;
  uint32_t first_seq, first_tsval, rexmit_tsval, echo_after_rexmit;
  int first_seen, rexmitted, echoed;
} world_t;

static world_t *W;

static uint32_t fnv(uint32_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static uint32_t be32(const uint8_t *b) { return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]; }

/* IPv4 + TCP: finds the timestamp option (kind 8, length 10); 1 with its values, else 0. */
static int tcp_ts(const uint8_t *b, size_t n, uint32_t *seq, size_t *payload, uint32_t *tsval, uint32_t *tsecr) {
  if (n < 40 || (b[0] >> 4) != 4 || b[9] != 6) return 0;
  size_t ihl = (size_t)(b[0] & 15) * 4, off = ihl + (size_t)(b[ihl + 12] >> 4) * 4;
  if (off > n) return 0;
  *seq = be32(b + ihl + 4);
  *payload = n - off;
  for (size_t i = ihl + 20; i + 1 < off;) {
    if (b[i] == 0) break;
    if (b[i] == 1) { i++; continue; }
    if (b[i] == 8 && b[i + 1] == 10 && i + 10 <= off) {
      *tsval = be32(b + i + 2);
      *tsecr = be32(b + i + 6);
      return 1;
    }
    if (b[i + 1] < 2) break;
    i += b[i + 1];
  }
  return 0;
}

/* For tcp_timestamp_echo: the client's data segments (the first one, then its resend) and the server's ACKs
 * after the resend, which it drops. */
static int wire_filter(struct pbuf *p) {
  uint8_t b[128];
  size_t n = pbuf_copy_partial(p, b, sizeof b, 0), payload;
  uint32_t seq, tsval, tsecr;
  if (!W->drop_from_b || !tcp_ts(b, n, &seq, &payload, &tsval, &tsecr)) return 0;
  payload = p->tot_len - (n - payload); /* the option walk saw only the first bytes */
  size_t ihl = (size_t)(b[0] & 15) * 4;
  int from_b = b[ihl] == 0 && b[ihl + 1] == 80; /* from the listener's port 80 (both ends share one address) */
  if (!from_b && payload > 0) {
    if (!W->first_seen) {
      W->first_seen = 1;
      W->first_seq = seq;
      W->first_tsval = tsval;
    } else if (seq == W->first_seq && !W->rexmitted) {
      W->rexmitted = 1;
      W->rexmit_tsval = tsval;
    }
  }
  if (from_b && W->rexmitted && !W->echoed) {
    W->echoed = 1;
    W->echo_after_rexmit = tsecr;
  }
  return from_b;
}

static err_t wire_put(struct pbuf *p) {
  wire_t *w = &W->wire;
  if (wire_filter(p)) return ERR_OK; /* dropped on the wire */
  if (w->tail - w->head >= WIRE_CAP) return ERR_MEM;
  uint8_t *b = malloc(p->tot_len);
  pbuf_copy_partial(p, b, p->tot_len, 0);
  w->pkt[w->tail % WIRE_CAP] = b;
  w->len[w->tail % WIRE_CAP] = p->tot_len;
  if (p->tot_len > w->max_len) w->max_len = p->tot_len;
  w->tail++;
  w->packets++;
  return ERR_OK;
}
static err_t out4(struct netif *n, struct pbuf *p, const ip4_addr_t *a) { (void)n; (void)a; return wire_put(p); }
static err_t out6(struct netif *n, struct pbuf *p, const ip6_addr_t *a) { (void)n; (void)a; return wire_put(p); }

static void wire_run(void) {
  wire_t *w = &W->wire;
  while (w->head != w->tail) {
    size_t i = w->head++ % WIRE_CAP;
    struct pbuf *p = pbuf_alloc(PBUF_RAW, w->len[i], PBUF_POOL);
    if (p) {
      pbuf_take(p, w->pkt[i], w->len[i]);
      /* Any netif accepts packets for another netif's address (lwIP walks all netifs): input on a. */
      if (W->a.input(p, &W->a) != ERR_OK) pbuf_free(p);
    }
    free(w->pkt[i]);
  }
}

static err_t nif_init(struct netif *n) {
  n->mtu = 1280;
  n->output = out4;
  n->output_ip6 = out6;
  n->flags = NETIF_FLAG_UP | NETIF_FLAG_LINK_UP;
  return ERR_OK;
}

static void pump_send(void) {
  while (W->sent_queued < W->to_send) {
    uint8_t chunk[8192];
    size_t n = W->to_send - W->sent_queued;
    if (n > sizeof chunk) n = sizeof chunk;
    if (n > tcp_sndbuf(W->client)) n = tcp_sndbuf(W->client);
    if (n == 0) break;
    for (size_t i = 0; i < n; i++) chunk[i] = (uint8_t)((W->sent_queued + i) * 2654435761u >> 13);
    if (tcp_write(W->client, chunk, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK) break;
    W->tx_hash = fnv(W->tx_hash, chunk, n);
    W->sent_queued += n;
  }
  tcp_output(W->client);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len) { (void)arg; (void)pcb; (void)len; pump_send(); return ERR_OK; }
static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
  (void)arg; (void)err;
  if (!p) { W->closed = 1; tcp_close(pcb); return ERR_OK; }
  for (struct pbuf *q = p; q; q = q->next) W->rx_hash = fnv(W->rx_hash, q->payload, q->len);
  W->received += p->tot_len;
  tcp_recved(pcb, p->tot_len);
  pbuf_free(p);
  return ERR_OK;
}
static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err) {
  (void)arg; (void)err;
  W->server = pcb;
  tcp_recv(pcb, on_recv);
  return ERR_OK;
}
static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err) {
  (void)arg; (void)pcb; (void)err;
  W->established = 1;
  pump_send();
  return ERR_OK;
}

/* A fresh world: netifs a (100.64.0.1) and b (100.64.0.2), not yet up. Returns b's IPv4 address. */
static ip4_addr_t world_new(void) {
  W = calloc(1, sizeof *W);
  W->rx_hash = W->tx_hash = 2166136261u;
  ip4_addr_t a4, b4, mask;
  IP4_ADDR(&a4, 100, 64, 0, 1);
  IP4_ADDR(&b4, 100, 64, 0, 2);
  IP4_ADDR(&mask, 255, 255, 255, 255);
  netif_add(&W->a, &a4, &mask, IP4_ADDR_ANY4, NULL, nif_init, ip_input);
  netif_add(&W->b, &b4, &mask, IP4_ADDR_ANY4, NULL, nif_init, ip_input);
  return b4;
}

static void transfer(int v6) {
  ip4_addr_t b4 = world_new();
  ip_addr_t a6, b6;
  ipaddr_aton("fd7a:115c:a1e0::1", &a6);
  ipaddr_aton("fd7a:115c:a1e0::2", &b6);
  s8_t ia = -1, ib = -1; /* lwIP keeps slot 0 for a link-local address */
  CHECK_EQ_INT(netif_add_ip6_address(&W->a, ip_2_ip6(&a6), &ia), ERR_OK);
  CHECK_EQ_INT(netif_add_ip6_address(&W->b, ip_2_ip6(&b6), &ib), ERR_OK);
  netif_ip6_addr_set_state(&W->a, ia, IP6_ADDR_PREFERRED);
  netif_ip6_addr_set_state(&W->b, ib, IP6_ADDR_PREFERRED);
  netif_set_up(&W->a);
  netif_set_up(&W->b);

  struct tcp_pcb *l = tcp_new_ip_type(IPADDR_TYPE_ANY);
  CHECK(l != NULL);
  CHECK_EQ_INT(tcp_bind(l, IP_ANY_TYPE, 80), ERR_OK);
  l = tcp_listen(l);
  tcp_accept(l, on_accept);

  W->to_send = 16 * 1024 * 1024;
  W->client = tcp_new_ip_type(v6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
  tcp_sent(W->client, on_sent);
  ip_addr_t dst;
  if (v6) ip_addr_copy(dst, b6);
  else ip_addr_copy_from_ip4(dst, b4);
  CHECK_EQ_INT(tcp_connect(W->client, &dst, 80, on_connected), ERR_OK);
  /* Bounded by lwIP's own clock: a delayed ACK may hold the last segment for one 250 ms timer tick. */
  u32_t start = sys_now();
  while (W->received < W->to_send && sys_now() - start < 10000) {
    wire_run();
    pump_send();
    if (W->wire.head == W->wire.tail) sys_check_timeouts();
  }
  CHECK(W->established);
  CHECK_EQ_INT(W->received, W->to_send);
  CHECK_EQ_INT(W->rx_hash, W->tx_hash);
  /* 1280-byte MTU: no packet on the wire is larger. */
  CHECK(W->wire.max_len <= 1280);
  /* Window scaling in effect: the receiver advertised more than 64 KiB. */
  CHECK(W->server != NULL && W->server->rcv_wnd > 0xFFFF);
  CHECK_EQ_INT(W->client->mss, (v6 ? 1220 : 1240));
  tcp_close(W->client);
  wire_run();
  tcp_close(l);
  netif_remove(&W->a);
  netif_remove(&W->b);
  wire_run();
  free(W);
}

static void tcp_ipv4_transfer(void) { transfer(0); }
static void tcp_ipv6_transfer(void) { transfer(1); }

/* patches/0002 with the RFC 6528 ISN hook: a SYN reusing a 4-tuple that the server holds in TIME-WAIT, with a
 * sequence number beyond the old connection's, opens a new connection (lwIP answered RST). */
static int tw_errs;
static void on_err_count(void *arg, err_t err) { (void)arg; (void)err; tw_errs++; }
static err_t on_recv_close(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
  (void)arg; (void)err;
  if (p) { tcp_recved(pcb, p->tot_len); pbuf_free(p); return ERR_OK; }
  tcp_close(pcb);
  return ERR_OK;
}
static void run_until(int *flag) {
  u32_t start = sys_now();
  while (!*flag && sys_now() - start < 5000) {
    wire_run();
    if (W->wire.head == W->wire.tail) sys_check_timeouts();
  }
}

static void tcp_timewait_takeover(void) {
  ip4_addr_t b4 = world_new();
  netif_set_up(&W->a);
  netif_set_up(&W->b);
  struct tcp_pcb *l = tcp_new_ip_type(IPADDR_TYPE_V4);
  CHECK_EQ_INT(tcp_bind(l, IP_ANY_TYPE, 80), ERR_OK);
  l = tcp_listen(l);
  tcp_accept(l, on_accept);
  ip_addr_t dst;
  ip_addr_copy_from_ip4(dst, b4);

  /* First connection; the server closes first, so the server ends in TIME-WAIT. */
  W->client = tcp_new_ip_type(IPADDR_TYPE_V4);
  tcp_recv(W->client, on_recv_close);
  CHECK_EQ_INT(tcp_connect(W->client, &dst, 80, on_connected), ERR_OK);
  run_until(&W->established);
  CHECK(W->established && W->server);
  u16_t port = W->client->local_port;
  CHECK(port >= 0xc000);
  tcp_close(W->server);
  int tw = 0;
  u32_t start = sys_now();
  while (!tw && sys_now() - start < 5000) {
    wire_run();
    for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next)
      if (p->remote_port == port && p->local_port == 80) tw = 1;
  }
  CHECK(tw);
  /* Let the ISN clock move on (4 us per step) past the old connection's sequence numbers. */
  start = sys_now();
  while (sys_now() - start < 2) {
  }

  /* Same 4-tuple again: accepted, and the TIME-WAIT pcb is gone. */
  W->established = 0;
  W->server = NULL;
  tw_errs = 0;
  struct tcp_pcb *c2 = tcp_new_ip_type(IPADDR_TYPE_V4);
  tcp_err(c2, on_err_count);
  CHECK_EQ_INT(tcp_bind(c2, IP_ANY_TYPE, port), ERR_OK);
  CHECK_EQ_INT(tcp_connect(c2, &dst, 80, on_connected), ERR_OK);
  run_until(&W->established);
  CHECK(W->established);
  CHECK_EQ_INT(tw_errs, 0);
  CHECK(W->server != NULL && W->server->remote_port == port);
  for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next) CHECK(!(p->remote_port == port && p->local_port == 80));
  tcp_abort(c2);
  tcp_abort(W->server);
  tcp_close(l);
  netif_remove(&W->a);
  netif_remove(&W->b);
  wire_run();
  free(W);
}

/* Timestamps (docs/tcp.md, "Timestamps"): the receiver's ACKs are lost, so the sender resends its first
 * segment, which the receiver already has (it lies wholly below the last ACK sent). The receiver's answer
 * must echo the resend's timestamp (RFC 7323 appendix D), not the one from before the loss: a Tailscale
 * (gVisor) sender takes the echo for its round trip. */
static void tcp_timestamp_echo(void) {
  ip4_addr_t b4 = world_new();
  netif_set_up(&W->a);
  netif_set_up(&W->b);
  struct tcp_pcb *l = tcp_new_ip_type(IPADDR_TYPE_V4);
  CHECK_EQ_INT(tcp_bind(l, IP_ANY_TYPE, 80), ERR_OK);
  l = tcp_listen(l);
  tcp_accept(l, on_accept);
  ip_addr_t dst;
  ip_addr_copy_from_ip4(dst, b4);
  W->client = tcp_new_ip_type(IPADDR_TYPE_V4);
  tcp_recv(W->client, on_recv_close);
  CHECK_EQ_INT(tcp_connect(W->client, &dst, 80, on_connected), ERR_OK);
  run_until(&W->established);
  CHECK(W->established && W->server);
  CHECK(W->client->flags & TF_TIMESTAMP);
  CHECK(W->server->flags & TF_TIMESTAMP);
  W->drop_from_b = 1;
  W->to_send = 3 * TCP_MSS; /* the resent first segment then ends below the last ACK sent */
  pump_send();
  u32_t start = sys_now();
  while (!W->echoed && sys_now() - start < 5000) {
    wire_run();
    if (W->wire.head == W->wire.tail) sys_check_timeouts();
  }
  CHECK(W->first_seen && W->rexmitted && W->echoed);
  CHECK(W->received > TCP_MSS); /* more than the resent segment had arrived: it lay below the last ACK */
  CHECK(W->rexmit_tsval != W->first_tsval); /* the RTO is at least 100 ms; timestamps count milliseconds */
  CHECK_EQ_INT((long long)W->echo_after_rexmit, (long long)W->rexmit_tsval);
  tcp_abort(W->client);
  tcp_abort(W->server);
  tcp_close(l);
  netif_remove(&W->a);
  netif_remove(&W->b);
  wire_run();
  free(W);
}

int main(void) {
  lwip_init();
  RUN(tcp_ipv4_transfer);
  RUN(tcp_ipv6_transfer);
  RUN(tcp_timewait_takeover);
  RUN(tcp_timestamp_echo);
  TEST_MAIN_END();
}
