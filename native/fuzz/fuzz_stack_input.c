/* libFuzzer target: untrusted IP packets into a device's TCP/IP stack, the bytes a peer can put inside an
 * authenticated WireGuard packet. One lwIP instance with a device netif (IPv4 and IPv6 addresses), a TCP
 * listener that accepts, reads and answers, and a UDP socket bridged to an event queue, as the engine has
 * them. The input is a script: [len:2][packet] records fed to ts_netif_input, with lwIP's timers run
 * between records; a crafted header byte makes the fuzzer reach TCP and UDP parsing past the IP checks.
 * Length bit 0x4000 marks a TCP record whose sequence, acknowledgment and SACK numbers are offsets from
 * the connection's state, so mutations reach established-connection code such as SACK loss recovery
 * (docs/tcp.md) without guessing lwIP's initial sequence number.
 * Any crash or sanitizer report is a bug; malformed packets must be dropped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/evq.h"
#include "lwip/init.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "stack/netif.h"
#include "stack/udp_bridge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t ADDR4[4] = {100, 64, 0, 1};
static const uint8_t ADDR6[16] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

typedef struct {
  int ready;
  ts_netif nif;
  ts_evq q;
  ts_udpb *udp;
  struct tcp_pcb *listener;
  uint64_t out_packets;
} world;

static world *W;

static void on_output(void *ctx, struct pbuf *p) {
  (void)ctx;
  (void)p;
  W->out_packets++;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
  (void)arg, (void)err;
  if (!p) {
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    if (tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
    return ERR_OK;
  }
  tcp_recved(pcb, p->tot_len);
  if (p->tot_len && tcp_sndbuf(pcb) > 16) tcp_write(pcb, "ok\n", 3, TCP_WRITE_FLAG_COPY);
  pbuf_free(p);
  return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err) {
  (void)arg;
  if (err != ERR_OK || !pcb) return ERR_VAL;
  tcp_recv(pcb, on_recv);
  return ERR_OK;
}

static void setup(void) {
  W = calloc(1, sizeof *W);
  lwip_init();
  ts_netif_init(&W->nif, on_output, NULL);
  ts_netif_add_addr(&W->nif, 4, ADDR4);
  ts_netif_add_addr(&W->nif, 6, ADDR6);
  ts_evq_init(&W->q, NULL, NULL);
  int err;
  W->udp = ts_udpb_open(&W->q, &W->nif, 1, 1, 0, 53, &err);
  struct tcp_pcb *l = tcp_new_ip_type(IPADDR_TYPE_ANY);
  tcp_bind_netif(l, &W->nif.nif);
  tcp_bind(l, IP_ANY_TYPE, 80);
  W->listener = tcp_listen(l);
  tcp_accept(W->listener, on_accept);
  W->ready = 1;
}

static uint32_t sum16(uint32_t acc, const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += (uint32_t)p[i] << 8 | p[i + 1];
  if (n & 1) acc += (uint32_t)p[n - 1] << 8;
  return acc;
}

static uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)~acc;
}

/* Offset of the checksum field for TCP (6), UDP (17), ICMP (1) and ICMPv6 (58), or -1. */
static int csum_at(int proto) { return proto == 6 ? 16 : proto == 17 ? 6 : proto == 1 || proto == 58 ? 2 : -1; }

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* A relative TCP record (0x4000): numbers become offsets from the listener's connection with that port. */
static void steer_tcp(uint8_t *t, size_t tl) {
  if (tl < 20) return;
  uint16_t sport = (uint16_t)(t[0] << 8 | t[1]);
  struct tcp_pcb *pcb = tcp_active_pcbs;
  while (pcb && !(pcb->remote_port == sport && pcb->local_port == 80)) pcb = pcb->next;
  if (!pcb) return;
  put32(t + 4, pcb->rcv_nxt + get32(t + 4));
  put32(t + 8, pcb->lastack + get32(t + 8));
  size_t hl = (size_t)(t[12] >> 4) * 4;
  if (hl < 20 || hl > tl) return;
  for (size_t i = 20; i < hl && t[i] != 0;) {
    if (t[i] == 1) {
      i++;
      continue;
    }
    if (i + 1 >= hl || t[i + 1] < 2 || i + t[i + 1] > hl) break;
    if (t[i] == 5) /* SACK blocks */
      for (size_t j = i + 2; j + 4 <= i + t[i + 1]; j += 4) put32(t + j, pcb->lastack + get32(t + j));
    i += t[i + 1];
  }
}

/* Gives the fuzzer a head start: a record that looks like IPv4 or IPv6 gets our address as destination, a
 * consistent length and valid checksums, so mutations explore the transport layers instead of dying at the
 * address, length or checksum checks (the "raw" records exercise those). */
static void steer(uint8_t *p, size_t len, int rel) {
  if (len >= 20 && (p[0] >> 4) == 4) {
    size_t hl = (size_t)(p[0] & 15) * 4;
    if (hl < 20 || hl > len) return;
    if (rel && p[9] == 6) steer_tcp(p + hl, len - hl);
    memcpy(p + 16, ADDR4, 4);
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    p[6] &= 0x40; /* no fragments: reach the transport layer */
    p[7] = 0;
    p[10] = p[11] = 0;
    uint16_t c = fold(sum16(0, p, hl));
    p[10] = (uint8_t)(c >> 8);
    p[11] = (uint8_t)c;
    int at = csum_at(p[9]);
    size_t tl = len - hl;
    if (at < 0 || tl < (size_t)at + 2) return;
    uint8_t *t = p + hl;
    t[at] = t[at + 1] = 0;
    uint32_t acc = p[9] == 1 ? 0 : sum16(sum16(0, p + 12, 8), (const uint8_t[]){0, p[9], (uint8_t)(tl >> 8), (uint8_t)tl}, 4);
    c = fold(sum16(acc, t, tl));
    if (p[9] == 17 && c == 0) c = 0xffff;
    t[at] = (uint8_t)(c >> 8);
    t[at + 1] = (uint8_t)c;
  } else if (len >= 40 && (p[0] >> 4) == 6) {
    memcpy(p + 24, ADDR6, 16);
    size_t pl = len - 40;
    if (rel && p[6] == 6) steer_tcp(p + 40, pl);
    p[4] = (uint8_t)(pl >> 8);
    p[5] = (uint8_t)pl;
    int at = csum_at(p[6]);
    if (at < 0 || pl < (size_t)at + 2) return;
    uint8_t *t = p + 40;
    t[at] = t[at + 1] = 0;
    uint8_t ph[8] = {(uint8_t)(pl >> 24), (uint8_t)(pl >> 16), (uint8_t)(pl >> 8), (uint8_t)pl, 0, 0, 0, p[6]};
    uint16_t c = fold(sum16(sum16(sum16(0, p + 8, 32), ph, 8), t, pl));
    if (p[6] == 17 && c == 0) c = 0xffff;
    t[at] = (uint8_t)(c >> 8);
    t[at + 1] = (uint8_t)c;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!W) setup();
  uint8_t pkt[2048];
  while (size >= 3) {
    size_t len = (size_t)data[0] << 8 | data[1];
    int raw = (len & 0x8000) != 0; /* high bit: feed as is, no steering */
    int rel = (len & 0x4000) != 0;  /* TCP numbers relative to the connection */
    len &= 0x7ff;
    data += 2;
    size -= 2;
    if (len > size) len = size;
    memcpy(pkt, data, len);
    if (!raw) steer(pkt, len, rel);
    ts_netif_input(&W->nif, pkt, len);
    data += len;
    size -= len;
    sys_check_timeouts();
    tcp_tlp_tmr(); /* as the stack's tick does (native/core/stack/stack.c) */
  }
  /* Drain what the UDP socket delivered, as JavaScript would. */
  ts_event ev[64];
  size_t n;
  while ((n = ts_evq_drain(&W->q, ev, 64)) > 0)
    for (size_t i = 0; i < n; i++) free(ev[i].ptr);
  return 0;
}
