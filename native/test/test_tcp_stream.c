/* The TCP bridge's stream transport (stack/tcp_bridge.h): two devices on the memory link, an inline engine,
 * and the events JavaScript would see read straight from the queue. Bytes arrive intact and in order; a
 * reader that gives no credit back holds at most TS_TCP_STREAM_CREDIT delivered; 'written' reports add up
 * to what lwIP took; end gives FIN, close with undelivered bytes gives RST, and nothing leaks (test-c.sh
 * runs this under ASan). */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device.h"
#include "engine/engine.h"
#include "events.h"
#include "stack/chksum.h"
#include "lwip/tcp.h"
#include "stack/stack.h"
#include "stack/tcp_relayed.h"
#include "test.h"

#define LISTENER 1000
#define DIALED 2000

typedef struct {
  ts_engine *e;
  ts_stack *stack;
  ts_evq q;
  ts_device *a, *b;
  ts_addr addr_b;
  uint64_t accepted; /* id of b's connection */
  ts_ev_accept acc;  /* its listener and addresses */
  int b_fd;          /* fd transport: JavaScript's end of b's socketpair */
  int connected, a_end, b_end, a_err, b_err;
  int auto_read; /* b gives credit back as it receives */
  size_t a_written, b_got, b_unread;
  uint8_t *b_data;
  size_t b_cap;
} world;

static void handle(world *w, const ts_event *ev) {
  int on_b = ev->device == 2;
  switch (ev->type) {
    case TS_EV_TCP_ACCEPT:
      CHECK(on_b);
      w->b_fd = ev->fd; /* -1 with the stream transport */
      w->accepted = ev->id;
      ts_event_get(ev, &w->acc);
      break;
    case TS_EV_TCP_CONNECTED:
      CHECK(!on_b && ev->id >= DIALED);
      w->connected = 1;
      break;
    case TS_EV_TCP_DATA:
      CHECK(on_b);
      if (w->b_got + ev->ptr_len <= w->b_cap) memcpy(w->b_data + w->b_got, ev->ptr, ev->ptr_len);
      w->b_got += ev->ptr_len;
      w->b_unread += ev->ptr_len;
      break;
    case TS_EV_TCP_WRITTEN: {
      ts_ev_written wr;
      ts_event_get(ev, &wr);
      CHECK(!on_b);
      w->a_written += wr.bytes;
      break;
    }
    case TS_EV_TCP_END:
      if (on_b) w->b_end = 1;
      else w->a_end = 1;
      break;
    case TS_EV_TCP_ERROR:
      if (on_b) w->b_err = ev->status;
      else w->a_err = ev->status;
      break;
    default:
      break;
  }
  free(ev->ptr);
}

/* Runs the engine until done(w) holds, or it has made no progress for 200 turns (then the caller checks
 * what it has). Returns done(w). */
static int run_until(world *w, int (*done)(world *)) {
  int idle = 0;
  uint64_t end = ts_engine_now_ns() + 10000000000ULL;
  while (!done(w) && idle < 200 && ts_engine_now_ns() < end) {
    int t = ts_engine_run_inline(w->e);
    ts_event evs[64];
    size_t n = ts_evq_drain(&w->q, evs, 64);
    for (size_t i = 0; i < n; i++) handle(w, &evs[i]);
    if (w->auto_read && w->b_unread) {
      ts_tcp_stream_read(ts_device_tcp(w->b), w->accepted, w->b_unread);
      w->b_unread = 0;
    }
    idle = n ? 0 : idle + 1;
    if (!n && t != 0) {
      struct pollfd p = {.fd = ts_engine_backend_fd(w->e), .events = POLLIN};
      poll(&p, 1, t < 0 || t > 5 ? 5 : t);
    }
  }
  return done(w);
}

static void world_new(world *w) {
  memset(w, 0, sizeof *w);
  w->e = ts_engine_new(NULL);
  ts_engine_start_inline(w->e);
  w->stack = ts_stack_start(w->e);
  ts_evq_init(&w->q, NULL, NULL);
  w->a = ts_device_new(w->e, &w->q, 1);
  w->b = ts_device_new(w->e, &w->q, 2);
  ts_addr ia;
  ts_addr_parse(&ia, "100.64.0.1", 0);
  ts_addr_parse(&w->addr_b, "100.64.0.2", 80);
  CHECK_EQ_INT(ts_device_add_addr(w->a, TS_ADDR_V4, ia.ip), 0);
  CHECK_EQ_INT(ts_device_add_addr(w->b, TS_ADDR_V4, w->addr_b.ip), 0);
  CHECK_EQ_INT(ts_device_link_memory(w->a, w->b), 0);
  w->b_cap = 8u << 20;
  w->b_data = malloc(w->b_cap);
}

static void world_free(world *w) {
  ts_device_free(w->a);
  ts_device_free(w->b);
  ts_stack_stop(w->stack);
  ts_engine_free(w->e);
  ts_event evs[64];
  size_t n;
  while ((n = ts_evq_drain(&w->q, evs, 64)) > 0)
    for (size_t i = 0; i < n; i++) free(evs[i].ptr);
  ts_evq_destroy(&w->q);
  free(w->b_data);
}

static int is_connected(world *w) { return w->connected && w->accepted; }
static int b_ended(world *w) { return w->b_end; }
static int a_ended(world *w) { return w->a_end; }
static int a_failed(world *w) { return w->a_err != 0; }

/* A connected pair: a dialed DIALED, b accepted w->accepted; both stream transport. */
static void connect_pair(world *w) {
  int err = 0;
  ts_tcp_listener *l = ts_tcp_listen(ts_device_tcp(w->b), LISTENER, 4, 80, 16, 1, &err);
  CHECK(l != NULL);
  CHECK_EQ_INT(ts_tcp_dial(ts_device_tcp(w->a), DIALED, -1, &w->addr_b), 0);
  CHECK(run_until(w, is_connected));
  CHECK_EQ_INT(w->b_fd, -1);
}

static uint8_t pattern(size_t i) { return (uint8_t)(i * 2654435761u >> 13); }

/* A writes total bytes of pattern() in chunks (the stream takes each buffer) and ends its side. */
static void write_pattern(ts_tcp_host *ha, size_t total, size_t chunk) {
  for (size_t off = 0; off < total; off += chunk) {
    size_t n = total - off < chunk ? total - off : chunk;
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++) p[i] = pattern(off + i);
    ts_tcp_stream_write(ha, DIALED, p, n); /* takes p */
  }
  ts_tcp_stream_end(ha, DIALED);
}

/* B reads as it receives until A's FIN: 1 when all total bytes arrived, in order. */
static int b_got_pattern(world *w, size_t total) {
  w->auto_read = 1;
  if (!run_until(w, b_ended) || w->b_got != total) return 0;
  for (size_t i = 0; i < total; i++)
    if (w->b_data[i] != pattern(i)) return 0;
  return 1;
}

static void test_bytes_credit_and_fin(void) {
  world w;
  world_new(&w);
  connect_pair(&w);
  ts_tcp_host *ha = ts_device_tcp(w.a), *hb = ts_device_tcp(w.b);
  const size_t total = 6u << 20, chunk = 100000;
  write_pattern(ha, total, chunk);
  /* b gives no credit back: delivery stops at the credit, the rest waits in lwIP (window closing). */
  run_until(&w, b_ended);
  CHECK(!w.b_end);
  CHECK(w.b_got > 0);
  CHECK(w.b_got <= TS_TCP_STREAM_CREDIT);
  /* Now b consumes as it receives: everything arrives, in order, then the FIN. */
  w.auto_read = 1;
  ts_tcp_stream_read(hb, w.accepted, w.b_unread);
  w.b_unread = 0;
  run_until(&w, b_ended);
  CHECK(w.b_end);
  CHECK_EQ_INT(w.b_err, 0);
  CHECK_EQ_INT(w.a_err, 0);
  CHECK_EQ_INT(w.b_got, total);
  int same = w.b_got == total;
  for (size_t i = 0; same && i < total; i++) same = w.b_data[i] == pattern(i);
  CHECK(same);
  /* Reports come in steps of half the credit, never more than was taken. */
  CHECK(w.a_written <= total);
  CHECK(w.a_written + TS_TCP_STREAM_CREDIT / 2 > total);
  /* b answers and ends; a sees the data end, then both close. */
  ts_tcp_stream_end(hb, w.accepted);
  CHECK(run_until(&w, a_ended));
  ts_tcp_stream_close(ha, DIALED);
  ts_tcp_stream_close(hb, w.accepted);
  world_free(&w);
}

/* b closes with bytes it never took from the engine: the peer is reset, as by a kernel closing a socket
 * with unread data; a's next write is not lost silently but fails with ECONNRESET. */
static void test_close_unread_resets(void) {
  world w;
  world_new(&w);
  connect_pair(&w);
  ts_tcp_host *ha = ts_device_tcp(w.a), *hb = ts_device_tcp(w.b);
  size_t n = 2u << 20;
  ts_tcp_stream_write(ha, DIALED, calloc(1, n), n);
  run_until(&w, b_ended); /* until the credit is used up */
  CHECK(w.b_got > 0 && w.b_got < n);
  ts_tcp_stream_close(hb, w.accepted);
  CHECK(run_until(&w, a_failed));
  CHECK_EQ_INT(w.a_err, UV_ECONNRESET);
  ts_tcp_stream_write(ha, DIALED, malloc(10), 10); /* to a failed connection: dropped, freed */
  ts_tcp_stream_close(ha, DIALED);
  ts_tcp_stream_close(ha, 424242); /* unknown ids are ignored */
  ts_tcp_stream_read(hb, 424242, 1);
  world_free(&w);
}

/* A dial to a port nobody listens on fails with ECONNREFUSED; bytes written meanwhile are dropped. */
static void test_refused(void) {
  world w;
  world_new(&w);
  ts_addr dst = w.addr_b;
  dst.port = 9;
  CHECK_EQ_INT(ts_tcp_dial(ts_device_tcp(w.a), DIALED, -1, &dst), 0);
  ts_tcp_stream_write(ts_device_tcp(w.a), DIALED, malloc(100), 100);
  CHECK(run_until(&w, a_failed));
  CHECK_EQ_INT(w.a_err, UV_ECONNREFUSED);
  ts_tcp_stream_close(ts_device_tcp(w.a), DIALED);
  world_free(&w);
}

/* A reader that takes its credit's worth once per second while the writer has ended: the window opens and
 * closes again and again with the FIN queued behind megabytes; everything arrives, then the FIN. */
static int never(world *w) { (void)w; return 0; }
static void test_trickle_then_fin(void) {
  world w;
  world_new(&w);
  connect_pair(&w);
  ts_tcp_host *ha = ts_device_tcp(w.a), *hb = ts_device_tcp(w.b);
  const size_t total = 6u << 20;
  uint8_t *p = malloc(total);
  for (size_t i = 0; i < total; i++) p[i] = pattern(i);
  ts_tcp_stream_write(ha, DIALED, p, total);
  ts_tcp_stream_end(ha, DIALED);
  for (int step = 0; step < 40 && !w.b_end && !w.b_err && !w.a_err; step++) {
    run_until(&w, never);
    ts_tcp_stream_read(hb, w.accepted, w.b_unread);
    w.b_unread = 0;
  }
  CHECK_EQ_INT(w.a_err, 0);
  CHECK_EQ_INT(w.b_err, 0);
  CHECK(w.b_end);
  CHECK_EQ_INT(w.b_got, total);
  int same = w.b_got == total;
  for (size_t i = 0; same && i < total; i++) same = w.b_data[i] == pattern(i);
  CHECK(same);
  world_free(&w);
}

/* The same trickling reader over the fd transport: JavaScript's ends of the socketpairs written and read
 * here directly. The writer shuts its end once everything is in the socketpair. */
static void test_fd_trickle_then_fin(void) {
  world w;
  world_new(&w);
  int err = 0, fds[2];
  CHECK(ts_tcp_listen(ts_device_tcp(w.b), LISTENER, 4, 80, 16, 0, &err) != NULL);
  CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  CHECK_EQ_INT(ts_tcp_dial(ts_device_tcp(w.a), DIALED, fds[0], &w.addr_b), 0);
  CHECK(run_until(&w, is_connected));
  CHECK(w.b_fd >= 0);
  fcntl(fds[1], F_SETFL, O_NONBLOCK);
  fcntl(w.b_fd, F_SETFL, O_NONBLOCK);
  const size_t total = 6u << 20;
  uint8_t *src = malloc(total);
  for (size_t i = 0; i < total; i++) src[i] = pattern(i);
  size_t sent = 0, got = 0;
  int eof = 0;
  size_t budget = 0;
  uint64_t next_read = 0, end = ts_engine_now_ns() + 60000000000ULL;
  while (!eof && !w.a_err && ts_engine_now_ns() < end) {
    int t = ts_engine_run_inline(w.e);
    ts_event evs[64];
    size_t n = ts_evq_drain(&w.q, evs, 64);
    for (size_t i = 0; i < n; i++) handle(&w, &evs[i]);
    if (sent < total) {
      ssize_t k = write(fds[1], src + sent, total - sent);
      if (k > 0 && (sent += (size_t)k) == total) shutdown(fds[1], SHUT_WR);
    }
    uint64_t now = ts_engine_now_ns();
    if (now >= next_read) { /* 512 KiB a second */
      budget = 512 * 1024;
      next_read = now + 1000000000ULL;
    }
    while (budget) {
      ssize_t k = read(w.b_fd, w.b_data + got, budget);
      if (k == 0) eof = 1;
      if (k <= 0) break;
      got += (size_t)k;
      budget -= (size_t)k;
    }
    struct pollfd p = {.fd = ts_engine_backend_fd(w.e), .events = POLLIN};
    poll(&p, 1, t < 0 || t > 5 ? 5 : t);
  }
  CHECK_EQ_INT(w.a_err, 0);
  CHECK_EQ_INT(w.b_err, 0);
  CHECK(eof);
  CHECK_EQ_INT(got, total);
  CHECK(memcmp(w.b_data, src, total) == 0);
  free(src);
  close(fds[1]);
  close(w.b_fd);
  world_free(&w);
}

/* Foreign destinations (stack/netif.h, patches/0020): b serves 10.99.0.0/24 without owning it. A dial to
 * 10.99.0.5:80 reaches b's catch-all listener with its real local address, not b's listener of port 80; b's
 * own address still reaches that one. Without a catch-all listener such packets are dropped, not accepted.
 * With catch_unmatched, an own port without a listener reaches the catch-all listener instead of a RST. */
static void test_foreign_catch(void) {
  world w;
  world_new(&w);
  ts_netif *nb = ts_device_netif(w.b);
  ts_netif_prefix px = {.family = 4, .bits = 24, .addr = {10, 99, 0, 77}};
  CHECK_EQ_INT(ts_netif_set_foreign(nb, &px, 1), 0);
  ts_addr dst;
  ts_addr_parse(&dst, "10.99.0.5", 80);
  CHECK_EQ_INT(ts_netif_is_foreign(nb, 4, dst.ip), 1);
  CHECK_EQ_INT(ts_netif_is_foreign(nb, 4, w.addr_b.ip), 0);
  ts_netif_prefix bad = {.family = 4, .bits = 33};
  CHECK_EQ_INT(ts_netif_set_foreign(nb, &bad, 1), -1);
  int err = 0;
  CHECK(ts_tcp_listen(ts_device_tcp(w.b), LISTENER, 4, 80, 16, 1, &err) != NULL);
  /* no catch-all listener yet: the SYN is dropped as not ours */
  uint64_t dropped = nb->rx_dropped_not_ours;
  CHECK_EQ_INT(ts_tcp_dial(ts_device_tcp(w.a), DIALED, -1, &dst), 0);
  CHECK(!run_until(&w, is_connected));
  CHECK(nb->rx_dropped_not_ours > dropped);
  ts_tcp_reset(ts_device_tcp(w.a), DIALED);
  ts_tcp_listener *c = ts_tcp_listen(ts_device_tcp(w.b), LISTENER + 1, 0, 0, 16, 1, &err);
  CHECK(c != NULL);
  ts_tcp_listener_catch(c);
  CHECK_EQ_INT(ts_tcp_dial(ts_device_tcp(w.a), DIALED + 1, -1, &dst), 0);
  CHECK(run_until(&w, is_connected));
  CHECK_EQ_INT((int)w.acc.listener, LISTENER + 1);
  CHECK_EQ_INT(w.acc.local.port, 80);
  CHECK(memcmp(w.acc.local.ip, dst.ip, 4) == 0);
  /* the own address on the same port still goes to the port's listener */
  w.connected = 0, w.accepted = 0;
  CHECK_EQ_INT(ts_tcp_dial(ts_device_tcp(w.a), DIALED + 2, -1, &w.addr_b), 0);
  CHECK(run_until(&w, is_connected));
  CHECK_EQ_INT((int)w.acc.listener, LISTENER);
  /* an own port nobody listens on: refused, unless the device asks for unmatched flows */
  ts_addr closed_port = w.addr_b;
  closed_port.port = 81;
  w.a_err = 0;
  CHECK_EQ_INT(ts_tcp_dial(ts_device_tcp(w.a), DIALED + 3, -1, &closed_port), 0);
  CHECK(run_until(&w, a_failed));
  CHECK_EQ_INT(w.a_err, UV_ECONNREFUSED);
  nb->catch_unmatched = 1;
  w.connected = 0, w.accepted = 0;
  CHECK_EQ_INT(ts_tcp_dial(ts_device_tcp(w.a), DIALED + 4, -1, &closed_port), 0);
  CHECK(run_until(&w, is_connected));
  CHECK_EQ_INT((int)w.acc.listener, LISTENER + 1);
  CHECK_EQ_INT(w.acc.local.port, 81);
  ts_tcp_listener_close(c);
  CHECK(nb->catch_pcb == NULL && !nb->catch_unmatched);
  CHECK_EQ_INT(ts_netif_set_foreign(nb, NULL, 0), 0);
  world_free(&w);
}

/* Counts what crosses a's netif: data segments a sends (and those whose IP or TCP checksum is wrong: our
 * receivers no longer check them, lwipopts.h, but peers do), pure ACKs it receives. */
typedef struct {
  size_t data_out, acks_in, bad_sums;
} wire_count;

/* Whether an IPv4 TCP packet's header and TCP checksums are right: the ones' complement sum over a correct
 * header, or over the pseudo-header and the segment, is 0xFFFF (ts_chksum returns the sum uncomplemented). */
static int sums_ok(const uint8_t *b, size_t len) {
  size_t ihl = (size_t)(b[0] & 15) * 4, tl = len - ihl;
  if (ts_chksum(b, (int)ihl) != 0xFFFF) return 0;
  uint8_t buf[12 + 1600];
  if (tl > 1600) return 0;
  memcpy(buf, b + 12, 8); /* source and destination */
  buf[8] = 0;
  buf[9] = 6;
  buf[10] = (uint8_t)(tl >> 8);
  buf[11] = (uint8_t)tl;
  memcpy(buf + 12, b + ihl, tl);
  return ts_chksum(buf, (int)(12 + tl)) == 0xFFFF;
}

/* TCP payload length and flags of an IPv4 packet's first bytes, or -1 if it is not TCP. */
static int tcp_payload(const uint8_t *b, size_t n, size_t total, uint8_t *flags) {
  if (n < 40 || b[0] >> 4 != 4 || b[9] != 6) return -1;
  size_t ihl = (size_t)(b[0] & 15) * 4, doff = (size_t)(b[ihl + 12] >> 4) * 4;
  *flags = b[ihl + 13];
  return (int)(total - ihl - doff);
}

static void count_tap(void *ctx, int inbound, struct pbuf *p, const uint8_t *bytes, size_t len) {
  wire_count *c = ctx;
  uint8_t pkt[1600], flags = 0;
  if (len > sizeof pkt) return;
  size_t n = inbound ? len : pbuf_copy_partial(p, pkt, (u16_t)len, 0);
  if (inbound) memcpy(pkt, bytes, n);
  int payload = tcp_payload(pkt, n, len, &flags);
  if (payload > 0 && !inbound) {
    c->data_out++;
    if (!sums_ok(pkt, n)) c->bad_sums++;
  }
  if (payload == 0 && inbound && flags == 0x10) c->acks_in++; /* ACK alone */
}

/* The receiver acknowledges once per input batch (patches/0050, ts_lwip_tcp_ack_batched), at most every
 * ACK_EVERY segments, instead of lwIP's every second segment: a one-way transfer gets far fewer ACKs than
 * half its segments, and every byte still arrives in order. Every data segment sent carries right checksums. */
static void test_acks_per_batch(void) {
  world w;
  world_new(&w);
  connect_pair(&w);
  wire_count wc = {0};
  ts_netif *na = ts_device_netif(w.a);
  na->tap = count_tap;
  na->tap_ctx = &wc;
  ts_tcp_host *ha = ts_device_tcp(w.a);
  const size_t total = 4u << 20, chunk = 65536;
  write_pattern(ha, total, chunk);
  CHECK(b_got_pattern(&w, total));
  CHECK(wc.data_out >= total / TCP_MSS);
  CHECK_EQ_INT(wc.bad_sums, 0);
  /* lwIP alone: about data_out / 2. */
  CHECK(wc.acks_in * 8 < wc.data_out);
  CHECK(wc.acks_in > 0);
  na->tap = NULL;
  ts_tcp_stream_close(ha, DIALED);
  ts_tcp_stream_close(ts_device_tcp(w.b), w.accepted);
  world_free(&w);
}

/* The most the sender had in flight: highest sequence end sent less highest ACK received, on a's netif. */
typedef struct {
  uint32_t sent_end, acked;
  int have_sent, have_ack;
  size_t max_flight;
} flight_tap;

static uint32_t be32(const uint8_t *b) { return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]; }

static void flight_tap_fn(void *ctx, int inbound, struct pbuf *p, const uint8_t *bytes, size_t len) {
  flight_tap *f = ctx;
  uint8_t pkt[1600], flags = 0;
  if (len > sizeof pkt) return;
  size_t n = inbound ? len : pbuf_copy_partial(p, pkt, (u16_t)len, 0);
  if (inbound) memcpy(pkt, bytes, n);
  int payload = tcp_payload(pkt, n, len, &flags);
  if (payload < 0) return;
  size_t ihl = (size_t)(pkt[0] & 15) * 4;
  if (!inbound && payload > 0) {
    uint32_t end = be32(pkt + ihl + 4) + (uint32_t)payload;
    if (!f->have_sent || (int32_t)(end - f->sent_end) > 0) f->sent_end = end;
    f->have_sent = 1;
  }
  if (inbound && (flags & 0x10)) {
    uint32_t ack = be32(pkt + ihl + 8);
    if (!f->have_ack || (int32_t)(ack - f->acked) > 0) f->acked = ack;
    f->have_ack = 1;
  }
  if (f->have_sent && f->have_ack && (int32_t)(f->sent_end - f->acked) > 0 && f->sent_end - f->acked > f->max_flight)
    f->max_flight = f->sent_end - f->acked;
}

/* Streams 4 MiB from a to b, every packet of both marked as having come over a DERP relay or none; returns
 * the most a had in flight. */
static size_t stream_flight(int relayed, size_t total) {
  world w;
  world_new(&w);
  connect_pair(&w);
  flight_tap ft = {0};
  ts_netif *na = ts_device_netif(w.a);
  na->tap = flight_tap_fn;
  na->tap_ctx = &ft;
  ts_tcp_host *ha = ts_device_tcp(w.a);
  /* what the link sets per packet (link_wg.c); the memory link leaves it as it is */
  ha->rx_relayed = (uint8_t)relayed;
  ts_device_tcp(w.b)->rx_relayed = (uint8_t)relayed;
  const size_t chunk = 65536;
  write_pattern(ha, total, chunk);
  CHECK(b_got_pattern(&w, total));
  na->tap = NULL;
  ts_tcp_stream_close(ha, DIALED);
  ts_tcp_stream_close(ts_device_tcp(w.b), w.accepted);
  world_free(&w);
  return ft.max_flight;
}

/* Through a relay (stack/tcp_relayed.h, patches/0060) a connection on a short path starts with at most
 * derper's queue (32 segments) in flight: 256 KiB end before the cap's first probe. The same stream unmarked
 * has far more out at once; both arrive intact. */
static void test_relayed_inflight(void) {
  size_t direct = stream_flight(0, 256u << 10), relayed = stream_flight(1, 256u << 10);
  CHECK(direct > 2 * TS_TCP_RELAYED_QUEUE * TCP_MSS);
  CHECK(relayed <= TS_TCP_RELAYED_QUEUE * TCP_MSS);
  CHECK(relayed >= (TS_TCP_RELAYED_QUEUE / 2) * TCP_MSS);
  /* longer, without loss on the memory link, the cap probes upward */
  CHECK(stream_flight(1, 4u << 20) > TS_TCP_RELAYED_QUEUE * TCP_MSS);
}

/* The limit itself: nothing held when not relayed or nothing is in flight; 32 segments on a short path, cwnd
 * kept within twice that; across a long path, the queue plus twice the delivery rate (four times in slow
 * start) times the path's round trip above TS_TCP_RELAYED_LOCAL_US; the cap's probes. */
static void test_relayed_limit(void) {
  struct tcp_pcb pcb;
  memset(&pcb, 0, sizeof pcb);
  int seg_dummy = 0;
  ts_tcp_relayed r;
  memset(&r, 0, sizeof r);
  pcb.mss = 1000;
  pcb.cwnd = 1u << 20;
  pcb.lastack = 5000;
  pcb.snd_nxt = 5000 + 40 * 1000;
  pcb.rack_min_rtt_us = 300;
  uint64_t t = 1000000000ULL;
  CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 1); /* not relayed */
  r.on = 1;
  CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 1); /* nothing on the unacked queue */
  pcb.unacked = (struct tcp_seg *)(void *)&seg_dummy;    /* never read */
  CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 0); /* 40 in flight */
  CHECK_EQ_INT((int)r.held, 1);
  CHECK_EQ_INT((int)pcb.cwnd, 2 * TS_TCP_RELAYED_QUEUE * 1000);
  pcb.snd_nxt = 5000 + (TS_TCP_RELAYED_QUEUE - 1) * 1000;
  CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 1); /* the 32nd */
  pcb.snd_nxt += 1000;
  CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 0);
  /* 51 ms minimum round trip, 10 MB/s delivered: 32 segments + 2 x 10 kB/ms x 50 ms = 1.032 MB */
  memset(&r, 0, sizeof r);
  r.on = 1;
  pcb.rack_min_rtt_us = 51000;
  pcb.cwnd = 4u << 20;
  pcb.snd_nxt = pcb.lastack + 600 * 1000;
  CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 0); /* no rate yet: 32 segments */
  t += 51000000ULL;
  pcb.lastack += 510000; /* 10 kB per ms over the window */
  pcb.snd_nxt = pcb.lastack + 1000 * 1000;
  CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 1);
  CHECK_EQ_INT((int)r.bw, 10000);
  pcb.snd_nxt = pcb.lastack + 1031 * 1000;
  CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 1);
  pcb.snd_nxt = pcb.lastack + 1032 * 1000;
  CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 0);
  /* in slow start the rate is a doubling behind: four times it */
  pcb.ssthresh = 8u << 20;
  pcb.snd_nxt = pcb.lastack + 2031 * 1000;
  CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 1);
  pcb.snd_nxt = pcb.lastack + 2032 * 1000;
  CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 0);
  pcb.ssthresh = 0;
  /* probing: after TS_TCP_RELAYED_PROBE_MIN round trips the cap limited without loss, a quarter more; a loss
   * then returns it to 32 and the next probe waits twice as long */
  memset(&r, 0, sizeof r);
  r.on = 1;
  pcb.rack_min_rtt_us = 300;
  pcb.flags = 0;
  pcb.snd_nxt = pcb.lastack + 40 * 1000;
  for (int i = 0; i < TS_TCP_RELAYED_PROBE_MIN; i++) {
    CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 0);
    CHECK_EQ_INT(r.cap, TS_TCP_RELAYED_QUEUE);
    pcb.lastack = pcb.snd_nxt; /* the round trip's ACK */
    pcb.snd_nxt = pcb.lastack + 40 * 1000;
  }
  CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 0);
  CHECK_EQ_INT(r.cap, TS_TCP_RELAYED_QUEUE + TS_TCP_RELAYED_QUEUE / 4);
  pcb.snd_nxt = pcb.lastack + 39 * 1000;
  CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 1);
  pcb.flags |= TF_INFR; /* lwIP entered fast recovery */
  CHECK_EQ_INT(ts_tcp_relayed_may_send(&r, &pcb, t), 0);
  CHECK_EQ_INT(r.cap, TS_TCP_RELAYED_QUEUE);
  CHECK_EQ_INT(r.probe_rounds, 2 * TS_TCP_RELAYED_PROBE_MIN);
}

int main(void) {
  RUN(test_bytes_credit_and_fin);
  RUN(test_trickle_then_fin);
  RUN(test_fd_trickle_then_fin);
  RUN(test_close_unread_resets);
  RUN(test_refused);
  RUN(test_foreign_catch);
  RUN(test_acks_per_batch);
  RUN(test_relayed_inflight);
  RUN(test_relayed_limit);
  TEST_MAIN_END();
}
