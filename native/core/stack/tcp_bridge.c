#include "stack/tcp_bridge.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "port/sock.h"

#include "lwip/tcp.h"
#include "lwip/priv/tcp_priv.h" /* tcp_input_pcb */
#include "lwip_hooks.h" /* ts_lwip_tcp_ack_batched */
#include "stack/tcp_relayed.h"

/* The stream transport sends its FIN only once lwIP has sent every queued segment, and closes with a reset at
 * once when received bytes were never delivered (test_tcp_stream: a FIN riding on an unsent segment under a
 * closed window reached the peer ahead of its data). Under Wine that rule makes connections end in resets
 * (test/windows.test.ts, the compat tests' gzip pipeline), for a reason not found yet (docs/status.md,
 * "Prebuilds"): Windows keeps lwIP's own close (FIN on the last queued segment) until it is. */
#ifdef _WIN32
#define FIN_AFTER_UNSENT 0
#else
#define FIN_AFTER_UNSENT 1
#endif
#define RXQ_MIN 64 /* received pbuf chains waiting for the socketpair; the ring grows, bounded by the window */
#define READ_CHUNK 65536
#define SOCKPAIR_BUF (1024 * 1024) /* SO_SNDBUF of each end of a connection's socketpair (make_pair) */
/* Data we send within this long after receiving counts as an answer (Linux uses its ACK timeout, >= 40 ms,
 * the same way to enter its "pingpong" mode). */
#define PINGPONG_NS ((uint64_t)TCP_TMR_INTERVAL * 1000000u)
/* In-order segments acknowledged together at the end of an input batch (patches/0050): at most this many
 * before an ACK goes out anyway, so a batch of GRO'd datagrams (up to 16 x 64 messages) cannot hold back
 * the sender's window; about what one 64 KiB GRO buffer carries. */
#define ACK_EVERY 32

struct ts_tcp_listener {
  ts_tcp_host *h;
  uint64_t id;
  int stream; /* accepted connections use the stream transport */
  struct tcp_pcb *pcb;
  ts_tcp_listener *next;
};

/* Stream transport: bytes JavaScript wrote, waiting for lwIP's send budget. */
typedef struct txchunk {
  struct txchunk *next;
  size_t len, off;
  uint8_t *data;
} txchunk;

struct ts_tcpconn {
  ts_tcp_host *h;
  uint64_t id;
  struct tcp_pcb *pcb; /* NULL once lwIP freed it */
  int fd;              /* engine's end of the socketpair, -1 once closed (always -1 for a stream) */
  union {
    uv_poll_t poll; /* fd: the socketpair */
    uv_idle_t idle; /* stream: never started; its close callback frees the connection as poll's does */
  } u;
  int poll_events;
  int polling;
  /* Received from lwIP, not yet written to fd. rxq[rx_head] is written from offset rx_off. Its length is
   * bounded by the receive window, since only bytes written to fd are acknowledged (tcp_recved). */
  struct pbuf **rxq;
  unsigned rx_head, rx_count, rx_cap;
  uint16_t rx_off;
  /* Read from fd, not yet accepted by tcp_write (lwIP ran out of segments). */
  uint8_t *stage;
  size_t stage_len, stage_off;
  unsigned connecting : 1, peer_fin : 1, fd_wr_shut : 1, fd_eof : 1, failed : 1, freed : 1;
  /* Delayed ACKs (ts_tcp_input_done): listed on h->acks after receiving; pingpong once we answer data
   * quickly (request/response: the answer carries the ACK); held while an ACK waits for that answer. */
  unsigned ack_listed : 1, pingpong : 1, held : 1;
  uint8_t acks_held; /* in-order segments whose ACK waits for ts_tcp_input_done (ACK_EVERY) */
  /* Data received inside tcp_input, written to the socketpair by ts_tcp_input_done: one writev per input
   * batch instead of one per segment (docs/performance.md, "The direct path per byte"). */
  unsigned rx_later : 1;
  unsigned waiting : 1; /* on h->waiters */
  /* Stream transport. fd_eof then means "JavaScript will write no more and all it wrote is in lwIP" and
   * fd_wr_shut "TS_EV_TCP_END was sent". */
  unsigned stream : 1, js_end : 1, js_closed : 1;
  txchunk *txq, *txq_tail;
  uint8_t *acc; /* the next TS_EV_TCP_DATA payload: received bytes taken from lwIP (and acknowledged) */
  size_t acc_len, acc_cap;
  size_t js_unread;  /* delivered in events, not yet consumed by JavaScript */
  uint64_t written;  /* taken by lwIP since the last TS_EV_TCP_WRITTEN */
  ts_engine_deferred out; /* emits the turn's events once, at its end */
  size_t snd_acct;      /* this connection's share of h->snd_queued */
  uint64_t last_rx_ns;
  ts_tcp_relayed relayed; /* the peer's segments come over a DERP relay: what it has in flight is bounded */
  ts_tcpconn *next, *prev;
  ts_tcpconn *ack_next; /* on h->acks */
  ts_tcpconn *wait_next; /* on h->waiters */
  ts_tcpconn *idx_next;  /* in h->idx */
};

static void update_poll(ts_tcpconn *c, int my_turn);
static void conn_update_poll(ts_tcpconn *c) { update_poll(c, 0); }
static void conn_maybe_free(ts_tcpconn *c);
static void account(ts_tcpconn *c);
static void want_serve(ts_tcp_host *h);
static err_t on_lwip_poll(void *arg, struct tcp_pcb *pcb);
static int stream_pump(ts_tcpconn *c, int my_turn);
static void stream_take(ts_tcpconn *c);
static void want_out(ts_tcpconn *c);
static void stream_out(ts_engine_deferred *d);
static void stream_emit(ts_tcpconn *c);
static void conn_release(ts_tcpconn *c);
static ts_tcpconn *conn_find(ts_tcp_host *h, uint64_t id);

/* Opens the receive window by n bytes that left for JavaScript (tcp_recved takes at most 16 bits a call). */
static void recved(ts_tcpconn *c, size_t n) {
  while (n && c->pcb) {
    u16_t k = (u16_t)(n > 0xFFFF ? 0xFFFF : n);
    tcp_recved(c->pcb, k);
    n -= k;
  }
}

/* ---- connections by id ---- */
static size_t idx_slot(uint64_t id, size_t cap) { return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1); }

static int idx_add(ts_tcp_host *h, ts_tcpconn *c) {
  if (h->nconns + 1 > h->idx_cap) { /* load factor at most 1: rehash into twice the buckets */
    size_t cap = h->idx_cap ? h->idx_cap * 2 : 64;
    ts_tcpconn **n = calloc(cap, sizeof *n);
    if (n) {
      for (size_t i = 0; i < h->idx_cap; i++) {
        for (ts_tcpconn *x = h->idx[i], *next; x; x = next) {
          next = x->idx_next;
          size_t k = idx_slot(x->id, cap);
          x->idx_next = n[k];
          n[k] = x;
        }
      }
      free(h->idx);
      h->idx = n;
      h->idx_cap = cap;
    } else if (!h->idx) {
      return -1;
    } /* else: longer chains, still correct */
  }
  size_t k = idx_slot(c->id, h->idx_cap);
  c->idx_next = h->idx[k];
  h->idx[k] = c;
  h->nconns++;
  return 0;
}

static void idx_del(ts_tcp_host *h, ts_tcpconn *c) {
  if (!h->idx) return;
  for (ts_tcpconn **pp = &h->idx[idx_slot(c->id, h->idx_cap)]; *pp; pp = &(*pp)->idx_next) {
    if (*pp == c) {
      *pp = c->idx_next;
      h->nconns--;
      return;
    }
  }
}

/* Resets the connection (RST) and forgets the pcb, which lwIP frees; no callback reaches us afterwards.
 * The connection counts as failed: undelivered data is dropped once JavaScript has closed its end. */
static void conn_abort(ts_tcpconn *c) {
  struct tcp_pcb *p = c->pcb;
  c->failed = 1;
  if (!p) return;
  c->pcb = NULL;
  account(c);
  want_serve(c->h);
  tcp_arg(p, NULL);
  tcp_abort(p);
}

/* ---- events (their payloads: native/core/events.h) ---- */
static void emit(ts_tcpconn *c, uint32_t type, int32_t status, int fd) {
  ts_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = type;
  ev.device = c->h->device_id;
  ev.id = c->id;
  ev.status = status;
  ev.fd = fd;
  if (type == TS_EV_TCP_CONNECTED && c->pcb) {
    ts_ev_connected p;
    memset(&p, 0, sizeof p);
    ts_addr_from_lwip(&p.local, &c->pcb->local_ip, c->pcb->local_port);
    ts_addr_from_lwip(&p.remote, &c->pcb->remote_ip, c->pcb->remote_port);
    ts_event_put(&ev, &p);
  }
  ts_evq_push(c->h->evq, &ev);
}

static int32_t map_err(const ts_tcpconn *c, err_t err) {
  switch (err) {
    case ERR_RST: return c->connecting ? UV_ECONNREFUSED : UV_ECONNRESET;
    case ERR_ABRT: return UV_ETIMEDOUT; /* lwIP aborts a pcb itself only when retransmissions ran out */
    case ERR_CLSD: return UV_EOF;
    case ERR_MEM: return UV_ENOBUFS;
    default: return UV_ECONNABORTED;
  }
}

/* ---- socketpair -> lwIP ---- */
/* Send-side memory (docs/architecture.md, "TCP memory"). A connection hands lwIP at most twice what its
 * congestion and peer windows let it have in flight (at least TS_TCP_SND_MIN): the rest waits in the
 * socketpair, where the kernel bounds it, and lwIP's unsent queue (whose tail tcp_write walks on every call)
 * stays short. A device's connections together hold at most TS_TCP_SND_DEVICE in lwIP; beyond that they take
 * turns in arrival order on h->waiters, so that no connection starves. A waiter's own on_sent may never come
 * (nothing of it in flight), so every on_sent of the device serves the waiters first, and lwIP's poll timer
 * retries as a last resort. */
static size_t snd_queued(const ts_tcpconn *c) { return c->pcb ? (size_t)(TCP_SND_BUF - c->pcb->snd_buf) : 0; }

/* Keeps h->snd_queued, the device's bytes in lwIP's send queues, in step with this connection's. */
static void account(ts_tcpconn *c) {
  size_t q = snd_queued(c);
  c->h->snd_queued = c->h->snd_queued - c->snd_acct + q;
  c->snd_acct = q;
}

static size_t device_room(const ts_tcp_host *h) {
  return h->snd_queued >= TS_TCP_SND_DEVICE ? 0 : TS_TCP_SND_DEVICE - h->snd_queued;
}

/* How many more bytes this connection may give lwIP now. my_turn: it was taken off h->waiters to be served;
 * otherwise it may not pass connections that are waiting. */
static size_t own_space(const ts_tcpconn *c) {
  if (!c->pcb) return 0;
  size_t win = c->pcb->cwnd < c->pcb->snd_wnd ? c->pcb->cwnd : c->pcb->snd_wnd;
  size_t allow = 2 * win;
  if (allow < TS_TCP_SND_MIN) allow = TS_TCP_SND_MIN;
  if (allow > TCP_SND_BUF) allow = TCP_SND_BUF;
  size_t q = snd_queued(c);
  /* What the peer SACKed is delivered, not in flight: counting it would starve recovery of new data to send
   * while a hole is repaired (docs/tcp.md). */
  size_t sacked = c->pcb->sack_bytes;
  q -= q < sacked ? q : sacked;
  return q >= allow ? 0 : allow - q;
}

static size_t send_space(const ts_tcpconn *c, int my_turn) {
  size_t n = own_space(c);
  size_t room = (c->h->waiters && !my_turn) ? 0 : device_room(c->h);
  /* Up to TS_TCP_SND_FLOOR of its own, a connection is never held back by the others: connections whose
   * peers stopped reading keep their queued bytes in the budget, and enough of them must not stop the rest. */
  size_t q = snd_queued(c);
  if (q < TS_TCP_SND_FLOOR && room < TS_TCP_SND_FLOOR - q) room = TS_TCP_SND_FLOOR - q;
  return n < room ? n : room;
}

static void wait_turn(ts_tcpconn *c) {
  if (c->waiting) return;
  c->waiting = 1;
  c->wait_next = NULL;
  ts_tcpconn **pp = &c->h->waiters;
  while (*pp) pp = &(*pp)->wait_next;
  *pp = c;
  c->h->nwaiters++;
  if (c->pcb) tcp_poll(c->pcb, on_lwip_poll, 1); /* the last resort, only while it waits */
}

static void unwait(ts_tcpconn *c) {
  if (!c->waiting) return;
  for (ts_tcpconn **pp = &c->h->waiters; *pp; pp = &(*pp)->wait_next) {
    if (*pp == c) {
      *pp = c->wait_next;
      break;
    }
  }
  c->h->nwaiters--;
  c->waiting = 0;
  c->wait_next = NULL;
  if (c->pcb) tcp_poll(c->pcb, NULL, 0);
}

/* Hands staged bytes (read from the socketpair, refused by lwIP for want of memory) to lwIP. 0 once the stage
 * is empty or the connection gone; -1 if lwIP still refuses (the connection then waits its turn). */
static int push_stage(ts_tcpconn *c) {
  int pushed = 0;
  while (c->stage && c->pcb) {
    size_t n = c->stage_len - c->stage_off;
    size_t space = tcp_sndbuf(c->pcb);
    if (space > 0xFFFF) space = 0xFFFF;
    if (n > space) n = space;
    if (n == 0) break; /* its own send buffer is full: its on_sent comes */
    if (tcp_write(c->pcb, c->stage + c->stage_off, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK) {
      wait_turn(c);
      break;
    }
    pushed = 1;
    c->stage_off += n;
    if (c->stage_off == c->stage_len) {
      free(c->stage);
      c->stage = NULL;
      c->stage_len = c->stage_off = 0;
    }
  }
  if (pushed && c->pcb) {
    account(c);
    tcp_output(c->pcb);
  }
  return c->stage && c->pcb ? -1 : 0;
}

/* Reads what JavaScript wrote (at most what send_space allows) and gives it to lwIP. Returns 1 if it read
 * anything. */
static int pump_out(ts_tcpconn *c, int my_turn) {
  if (c->stream) return stream_pump(c, my_turn);
  uint8_t buf[READ_CHUNK];
  if (!c->pcb) { /* connection failed or reset: drain until JavaScript closes its end, then free */
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      c->fd_eof = 1;
      conn_maybe_free(c);
    }
    return 0;
  }
  if (c->stage || c->fd_eof) return 0;
  size_t space = send_space(c, my_turn);
  if (space == 0) return 0;
  ssize_t n = read(c->fd, buf, space < sizeof buf ? space : sizeof buf);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return 0;
    /* JavaScript destroyed its socket with data unread: the kernel's answer is a reset. */
    conn_abort(c);
    c->fd_eof = 1;
    conn_maybe_free(c);
    return 1;
  }
  if (n == 0) {
    c->fd_eof = 1;
    tcp_shutdown(c->pcb, 0, 1); /* FIN: the JavaScript side ended its writes */
    tcp_output(c->pcb);
    conn_maybe_free(c);
    return 1;
  }
  size_t off = 0;
  while (off < (size_t)n) {
    size_t chunk = (size_t)n - off;
    if (chunk > 0xFFFF) chunk = 0xFFFF;
    u8_t flags = TCP_WRITE_FLAG_COPY | (off + chunk < (size_t)n ? TCP_WRITE_FLAG_MORE : 0);
    if (tcp_write(c->pcb, buf + off, (u16_t)chunk, flags) != ERR_OK) break;
    off += chunk;
  }
  if (off < (size_t)n) { /* lwIP is out of memory: keep the rest until it takes it */
    c->stage_len = (size_t)n - off;
    c->stage = malloc(c->stage_len);
    if (!c->stage) {
      conn_abort(c);
      emit(c, TS_EV_TCP_ERROR, UV_ENOMEM, -1);
      return 1;
    }
    memcpy(c->stage, buf + off, c->stage_len);
    c->stage_off = 0;
    wait_turn(c);
  }
  account(c);
  if (off) { /* data going out: a quick answer to received data makes this a request/response connection */
    c->held = 0;
    if (ts_engine_now_ns() - c->last_rx_ns < PINGPONG_NS) c->pingpong = 1;
  }
  tcp_output(c->pcb);
  return 1;
}

/* Memory was freed: serve the waiters in order while the device has room. Runs once per loop turn
 * (ts_engine_defer), outside lwIP's callbacks. */
static void serve_waiters(ts_tcp_host *h) {
  /* One pass: a served connection that wants more goes to the end of the line, and so does one that may not
   * send yet (the device is full and it has its floor in lwIP already). */
  for (size_t k = h->nwaiters; k && h->waiters; k--) {
    ts_tcpconn *c = h->waiters;
    unwait(c);
    if (!c->stage && send_space(c, 1) == 0) {
      wait_turn(c);
      continue;
    }
    if (c->stage) {
      if (push_stage(c) != 0) return; /* lwIP itself is out of memory: c waits again, at the end */
      if (!c->freed) update_poll(c, 0);
    } else {
      int moved = pump_out(c, 1);
      /* Nothing to read now: it polls its socketpair again (and queues up when data comes while others
       * wait); after a read it goes to the end of the line if it wants more. */
      if (!c->freed) update_poll(c, !moved);
    }
  }
}

static void on_serve(ts_engine_deferred *d) {
  ts_tcp_host *h = (ts_tcp_host *)((char *)d - offsetof(ts_tcp_host, serve));
  ts_engine_clock_hold();
  serve_waiters(h);
  ts_engine_clock_release();
}

static void want_serve(ts_tcp_host *h) {
  if (!h->waiters) return;
  h->serve.fn = on_serve;
  ts_engine_defer(h->engine, &h->serve);
}

static void on_fd_readable(ts_tcpconn *c) {
  pump_out(c, 0);
  if (!c->freed) conn_update_poll(c);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len) {
  (void)pcb;
  (void)len;
  ts_tcpconn *c = arg;
  if (!c) return ERR_OK;
  c->relayed.on = c->h->rx_relayed; /* an ACK: which way the peer's segments come now */
  account(c);
  if (c->stage) push_stage(c);
  if (c->stream) stream_pump(c, 0);
  conn_update_poll(c);
  want_serve(c->h);
  return ERR_OK;
}

/* lwIP's coarse timer (every 2 * TCP_TMR_INTERVAL): the last resort for a waiting connection. */
static err_t on_lwip_poll(void *arg, struct tcp_pcb *pcb) {
  (void)pcb;
  ts_tcpconn *c = arg;
  if (!c || !c->waiting) return ERR_OK;
  want_serve(c->h); /* not here: lwIP is walking its pcb list */
  return ERR_OK;
}

/* ---- lwIP -> socketpair ---- */
static void flush_rx(ts_tcpconn *c) {
  if (c->stream) {
    stream_take(c);
    want_out(c);
    return;
  }
  size_t total = 0;
  while (c->rx_count && c->fd >= 0) {
    struct iovec iov[64];
    int n = 0;
    unsigned idx = c->rx_head;
    uint16_t off = c->rx_off;
    size_t want = 0;
    for (unsigned k = 0; k < c->rx_count && n < 64; k++, idx = (idx + 1) % c->rx_cap) {
      for (struct pbuf *q = c->rxq[idx]; q && n < 64; q = q->next) {
        if (off >= q->len) {
          off -= q->len;
          continue;
        }
        iov[n].iov_base = (uint8_t *)q->payload + off;
        iov[n].iov_len = q->len - off;
        want += iov[n].iov_len;
        off = 0;
        n++;
      }
    }
    ssize_t w = writev(c->fd, iov, n);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      /* JavaScript closed its end: nothing can be delivered any more, so reset like a kernel would. */
      conn_abort(c);
      c->fd_eof = 1;
      break;
    }
    total += (size_t)w;
    size_t left = (size_t)w;
    while (left && c->rx_count) { /* drop what was written */
      struct pbuf *chain = c->rxq[c->rx_head];
      size_t rem = chain->tot_len - c->rx_off;
      if (left >= rem) {
        left -= rem;
        pbuf_free(chain);
        c->rxq[c->rx_head] = NULL;
        c->rx_head = (c->rx_head + 1) % c->rx_cap;
        c->rx_count--;
        c->rx_off = 0;
      } else {
        c->rx_off = (uint16_t)(c->rx_off + left);
        left = 0;
      }
    }
    if ((size_t)w < want) break; /* the socketpair is full: wait for POLLOUT */
  }
  /* Acknowledge to the peer only what reached JavaScript's socket: this is the flow control. */
  recved(c, total);
  if (!c->rx_count && c->peer_fin && !c->fd_wr_shut && c->fd >= 0) {
    shutdown(c->fd, SHUT_WR);
    c->fd_wr_shut = 1;
  }
  conn_update_poll(c);
  conn_maybe_free(c);
}

/* Data the socketpair could not take yet (JavaScript reads slowly, or not at all) may wait up to a window's
 * worth per connection. Arriving packets live in lwIP's pbuf pool, which every device of the process shares:
 * a few paused readers would hold all of it and no packet could arrive for anyone. So what must wait is
 * copied to the heap and its pool buffers are freed at once (docs/architecture.md, "TCP memory"). */
static void keep_rx_at(ts_tcpconn *c, unsigned slot) {
  struct pbuf *p = c->rxq[slot];
  int pooled = 0;
  for (struct pbuf *q = p; q; q = q->next)
    if (pbuf_get_allocsrc(q) == PBUF_TYPE_ALLOC_SRC_MASK_STD_MEMP_PBUF_POOL) pooled = 1;
  if (!pooled) return;
  struct pbuf *copy = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
  if (!copy) return; /* out of memory: keep the pool buffers */
  c->rxq[slot] = copy;
  pbuf_free(p);
}

static void keep_rx(ts_tcpconn *c, struct pbuf *p) {
  (void)p;
  keep_rx_at(c, (c->rx_head + c->rx_count - 1) % c->rx_cap);
}

/* After a batch's deferred flush: whatever the socketpair did not take leaves the pool. The head may be
 * partly written (rx_off); a clone keeps the same bytes, so the offset stays valid. */
static void keep_rx_all(ts_tcpconn *c) {
  for (unsigned i = 0; i < c->rx_count; i++) keep_rx_at(c, (c->rx_head + i) % c->rx_cap);
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
  (void)err;
  ts_tcpconn *c = arg;
  if (!c) {
    if (p) pbuf_free(p);
    return ERR_OK;
  }
  if (c->js_closed && p) { /* nobody reads any more: reset, as a kernel does for data to a closed socket */
    pbuf_free(p);
    conn_abort(c);
    conn_release(c);
    return ERR_ABRT;
  }
  c->relayed.on = c->h->rx_relayed;
  if (!c->ack_listed) { /* its ACK may be delayed: ts_tcp_input_done looks here */
    c->ack_listed = 1;
    c->ack_next = c->h->acks;
    c->h->acks = c;
  }
  if (p) c->last_rx_ns = ts_engine_now_ns();
  if (!p) {
    c->peer_fin = 1;
  } else {
    if (c->rx_count == c->rx_cap) {
      unsigned cap = c->rx_cap ? c->rx_cap * 2 : RXQ_MIN;
      struct pbuf **q = malloc(cap * sizeof *q);
      if (!q) return ERR_MEM; /* lwIP keeps the data and offers it again later */
      for (unsigned i = 0; i < c->rx_count; i++) q[i] = c->rxq[(c->rx_head + i) % c->rx_cap];
      free(c->rxq);
      c->rxq = q;
      c->rx_head = 0;
      c->rx_cap = cap;
    }
    c->rxq[(c->rx_head + c->rx_count) % c->rx_cap] = p;
    c->rx_count++;
    /* Inside tcp_input (its caller, the link, ends every batch with ts_tcp_input_done): write later, once
     * for the whole batch. Data lwIP offers again from a timer (refused earlier) is written at once. */
    if (!c->stream && pcb == tcp_input_pcb) {
      c->rx_later = 1;
      return ERR_OK;
    }
  }
  flush_rx(c);
  if (p && c->rx_count && c->rxq[(c->rx_head + c->rx_count - 1) % c->rx_cap] == p) keep_rx(c, p);
  return ERR_OK;
}

static void on_err(void *arg, err_t err) {
  ts_tcpconn *c = arg;
  if (!c) return;
  c->pcb = NULL; /* lwIP has freed it */
  account(c);
  want_serve(c->h);
  if (err == ERR_CLSD) { /* both FINs exchanged after we shut down only our sending side: a clean end */
    flush_rx(c);
    return;
  }
  int32_t status = map_err(c, err);
  c->connecting = 0;
  c->failed = 1;
  if (c->stream) { /* what was received goes first; what JavaScript wrote cannot go anywhere now */
    stream_emit(c);
    c->fd_eof = 1;
  }
  emit(c, TS_EV_TCP_ERROR, status, -1);
  conn_update_poll(c);
  conn_maybe_free(c);
}

/* ---- the stream transport (no descriptor) ----
 * Received bytes are copied out of lwIP's pbufs into the connection's next event payload (acc) as they
 * arrive, while the connection's credit lasts, and acknowledged to the peer then; the payload leaves once
 * per loop turn. Past the credit they stay in rxq, unacknowledged, and the window closes as in the fd
 * transport. JavaScript's writes wait in txq for the same send budget as bytes read from a socketpair. */
static void want_out(ts_tcpconn *c) {
  c->out.fn = stream_out;
  ts_engine_defer(c->h->engine, &c->out);
}

static void stream_take(ts_tcpconn *c) {
  if (c->js_closed) return;
  size_t used = c->js_unread + c->acc_len;
  size_t room = used >= TS_TCP_STREAM_CREDIT ? 0 : TS_TCP_STREAM_CREDIT - used;
  size_t total = 0;
  while (room && c->rx_count) {
    struct pbuf *chain = c->rxq[c->rx_head];
    size_t n = chain->tot_len - c->rx_off;
    if (n > room) n = room;
    if (c->acc_len + n > c->acc_cap) {
      size_t cap = c->acc_cap ? c->acc_cap : 16384;
      while (cap < c->acc_len + n) cap *= 2;
      uint8_t *a = realloc(c->acc, cap);
      if (!a) break; /* out of memory: it stays in lwIP's buffers until the next try */
      c->acc = a;
      c->acc_cap = cap;
    }
    pbuf_copy_partial(chain, c->acc + c->acc_len, (u16_t)n, c->rx_off);
    c->acc_len += n;
    room -= n;
    total += n;
    if (c->rx_off + n == chain->tot_len) {
      pbuf_free(chain);
      c->rxq[c->rx_head] = NULL;
      c->rx_head = (c->rx_head + 1) % c->rx_cap;
      c->rx_count--;
      c->rx_off = 0;
    } else {
      c->rx_off = (uint16_t)(c->rx_off + n);
    }
  }
  recved(c, total);
}

/* The turn's events: received bytes, the count lwIP took, and the end of the peer's data. */
static void stream_emit(ts_tcpconn *c) {
  if (c->freed) return;
  ts_event ev;
  memset(&ev, 0, sizeof ev);
  ev.device = c->h->device_id;
  ev.id = c->id;
  ev.fd = -1;
  if (c->acc_len && !c->js_closed) {
    ev.type = TS_EV_TCP_DATA;
    ev.ptr = c->acc;
    ev.ptr_len = c->acc_len;
    c->js_unread += c->acc_len;
    c->acc = NULL;
    c->acc_len = c->acc_cap = 0;
    ts_evq_push(c->h->evq, &ev);
    ev.ptr = NULL;
    ev.ptr_len = 0;
  }
  /* JavaScript waits only while more than the credit is unreported: when it does, everything it wrote is
   * here or on its way, so reports in steps of half the credit free it (tcp_bridge.h). */
  if (c->written >= TS_TCP_STREAM_CREDIT / 2) {
    ts_ev_written w = {.bytes = c->written};
    ev.type = TS_EV_TCP_WRITTEN;
    ts_event_put(&ev, &w);
    c->written = 0;
    ts_evq_push(c->h->evq, &ev);
  }
  if (c->peer_fin && !c->rx_count && !c->acc_len && !c->fd_wr_shut && !c->js_closed) {
    c->fd_wr_shut = 1;
    ev.type = TS_EV_TCP_END;
    ts_evq_push(c->h->evq, &ev);
  }
}

static void stream_out(ts_engine_deferred *d) {
  ts_tcpconn *c = (ts_tcpconn *)((char *)d - offsetof(ts_tcpconn, out));
  stream_take(c);
  stream_emit(c);
  conn_maybe_free(c);
}

/* Hands queued bytes to lwIP as far as the send budget allows. Returns 1 if it moved any. */
static int stream_pump(ts_tcpconn *c, int my_turn) {
  if (!c->pcb || c->connecting || c->freed) return 0;
  int moved = 0;
  while (c->txq) {
    size_t space = send_space(c, my_turn);
    if (space == 0) {
      if (own_space(c) > 0) wait_turn(c); /* the device is at its limit, or others wait before it */
      break;
    }
    txchunk *k = c->txq;
    size_t n = k->len - k->off, sb = tcp_sndbuf(c->pcb);
    if (n > space) n = space;
    if (n > sb) n = sb;
    if (n > 0xFFFF) n = 0xFFFF;
    if (n == 0) break; /* its own send buffer is full: its on_sent comes */
    u8_t flags = TCP_WRITE_FLAG_COPY | (n < k->len - k->off || k->next ? TCP_WRITE_FLAG_MORE : 0);
    if (tcp_write(c->pcb, k->data + k->off, (u16_t)n, flags) != ERR_OK) {
      wait_turn(c); /* lwIP is out of memory */
      break;
    }
    moved = 1;
    k->off += n;
    c->written += n;
    if (k->off == k->len) {
      c->txq = k->next;
      if (!c->txq) c->txq_tail = NULL;
      free(k->data);
      free(k);
    }
  }
  if (moved) {
    account(c);
    c->held = 0; /* as in pump_out: a quick answer makes this a request/response connection */
    if (ts_engine_now_ns() - c->last_rx_ns < PINGPONG_NS) c->pingpong = 1;
    tcp_output(c->pcb);
    want_out(c);
  }
  /* FIN only once lwIP has sent everything queued (on_sent brings us back): a FIN riding on an unsent segment
   * while the peer's window is closed reached the peer ahead of the data in front of it (lwIP splitting
   * and probing that segment), which then ended in a timeout and a reset (test_tcp_stream, trickle). */
  if (!c->txq && c->js_end && !c->fd_eof && c->pcb && (!FIN_AFTER_UNSENT || !c->pcb->unsent)) {
    c->fd_eof = 1;
    tcp_shutdown(c->pcb, 0, 1); /* FIN */
    tcp_output(c->pcb);
#if FIN_AFTER_UNSENT
    /* The release (tcp_close, which may free the pcb) waits for the end of the turn: this may run inside
     * one of the pcb's own lwIP callbacks (on_sent, on_connected). */
    want_out(c);
#else
    conn_maybe_free(c);
#endif
  }
  return moved;
}

static ts_tcpconn *stream_find(ts_tcp_host *h, uint64_t id) {
  ts_tcpconn *c = conn_find(h, id);
  return c && c->stream && !c->freed ? c : NULL;
}

void ts_tcp_stream_write(ts_tcp_host *h, uint64_t id, uint8_t *data, size_t len) {
  ts_tcpconn *c = stream_find(h, id);
  txchunk *k = c && c->pcb && !c->js_end && len ? malloc(sizeof *k) : NULL;
  if (!k) {
    free(data);
    if (c && c->pcb && !c->js_end && len) { /* out of memory: the bytes are lost, so is the connection */
      conn_abort(c);
      emit(c, TS_EV_TCP_ERROR, UV_ENOMEM, -1);
    }
    return;
  }
  k->next = NULL;
  k->len = len;
  k->off = 0;
  k->data = data;
  if (c->txq_tail) c->txq_tail->next = k;
  else c->txq = k;
  c->txq_tail = k;
  if (!c->waiting) {
    ts_engine_clock_hold();
    stream_pump(c, 0);
    ts_engine_clock_release();
  }
}

void ts_tcp_stream_end(ts_tcp_host *h, uint64_t id) {
  ts_tcpconn *c = stream_find(h, id);
  if (!c || c->js_end) return;
  c->js_end = 1;
  if (!c->pcb) {
    c->fd_eof = 1;
    conn_maybe_free(c);
    return;
  }
  stream_pump(c, 0);
}

void ts_tcp_stream_read(ts_tcp_host *h, uint64_t id, size_t n) {
  ts_tcpconn *c = stream_find(h, id);
  if (!c) return;
  c->js_unread -= n < c->js_unread ? n : c->js_unread;
  if (c->rx_count) want_out(c);
}

void ts_tcp_stream_close(ts_tcp_host *h, uint64_t id) {
  ts_tcpconn *c = stream_find(h, id);
  if (!c) return;
  c->js_closed = 1;
  c->js_end = 1;
  if (c->pcb && (c->acc_len || (FIN_AFTER_UNSENT && c->rx_count))) { /* received, never delivered: a reset */
    conn_abort(c);
    c->fd_eof = 1;
    conn_release(c);
    return;
  }
  if (!c->pcb || (!c->txq && (!FIN_AFTER_UNSENT || !c->pcb->unsent))) { /* tcp_close (conn_release): FIN */
    c->fd_eof = 1;
    conn_release(c);
    return;
  }
  stream_pump(c, 0); /* the rest goes out as the budget allows; FIN (stream_pump) and release follow */
}

/* ---- lifetime ---- */
static void on_poll(uv_poll_t *h, int status, int events) {
  ts_tcpconn *c = h->data;
  if (status < 0) events = UV_READABLE; /* let read() report the error */
  ts_engine_clock_hold(); /* one reading for the segments this read makes */
  if (events & UV_WRITABLE) flush_rx(c);
  if (!c->freed && events & UV_READABLE && !c->connecting) on_fd_readable(c);
  ts_engine_clock_release();
}

static void update_poll(ts_tcpconn *c, int my_turn) {
  if (c->fd < 0 || c->freed) return;
  int want = 0;
  if (c->connecting) want = 0;
  else if (!c->pcb) want = c->fd_eof ? 0 : UV_READABLE; /* wait for JavaScript to close its end */
  else if (!c->fd_eof && !c->stage && !c->waiting && own_space(c) > 0) {
    if (send_space(c, my_turn) > 0) want |= UV_READABLE;
    else wait_turn(c); /* the device is at its limit, or others wait before it */
  }
  if (c->rx_count) want |= UV_WRITABLE;
  if (want == c->poll_events && c->polling) return;
  c->poll_events = want;
  if (want) {
    uv_poll_start(&c->u.poll, want, on_poll);
    c->polling = 1;
  } else if (c->polling) {
    uv_poll_stop(&c->u.poll);
    c->polling = 0;
  }
}

static void conn_free_cb(uv_handle_t *h) { free(h->data); }

static void conn_release(ts_tcpconn *c) {
  if (c->freed) return;
  c->freed = 1;
  if (c->pcb) {
    tcp_arg(c->pcb, NULL);
    tcp_recv(c->pcb, NULL);
    tcp_sent(c->pcb, NULL);
    tcp_err(c->pcb, NULL);
    tcp_poll(c->pcb, NULL, 0);
    if (tcp_close(c->pcb) != ERR_OK) tcp_abort(c->pcb);
    c->pcb = NULL;
    account(c);
    want_serve(c->h);
  }
  for (unsigned i = 0; i < c->rx_count; i++) pbuf_free(c->rxq[(c->rx_head + i) % c->rx_cap]);
  c->rx_count = 0;
  free(c->rxq);
  c->rxq = NULL;
  free(c->stage);
  c->stage = NULL;
  unwait(c);
  if (c->ack_listed) {
    for (ts_tcpconn **pp = &c->h->acks; *pp; pp = &(*pp)->ack_next) {
      if (*pp == c) {
        *pp = c->ack_next;
        break;
      }
    }
    c->ack_listed = 0;
  }
  if (c->prev) c->prev->next = c->next;
  else c->h->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  idx_del(c->h, c);
  if (c->stream) {
    ts_engine_defer_cancel(c->h->engine, &c->out);
    while (c->txq) {
      txchunk *k = c->txq;
      c->txq = k->next;
      free(k->data);
      free(k);
    }
    free(c->acc);
    c->acc = NULL;
    uv_close((uv_handle_t *)&c->u.idle, conn_free_cb);
    return;
  }
  uv_poll_stop(&c->u.poll);
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  uv_close((uv_handle_t *)&c->u.poll, conn_free_cb);
}

/* A connection is done when JavaScript has closed or ended its side and either lwIP is finished with it or
 * everything the peer sent has been handed over. */
static void conn_maybe_free(ts_tcpconn *c) {
  if (c->freed || !c->fd_eof) return;
  if (c->stream) {
    int drained = !c->rx_count && !c->acc_len;
    if (c->js_closed || c->failed || (c->peer_fin && drained && c->fd_wr_shut) || (!c->pcb && drained)) conn_release(c);
    return;
  }
  if (c->failed || (c->peer_fin && !c->rx_count && c->fd_wr_shut) || (!c->pcb && !c->rx_count)) conn_release(c);
}

static ts_tcpconn *conn_new(ts_tcp_host *h, uint64_t id, struct tcp_pcb *pcb, int fd) {
  ts_tcpconn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->h = h;
  c->id = id;
  c->pcb = pcb;
  c->fd = fd;
  c->stream = fd < 0;
  if (idx_add(h, c) != 0) {
    free(c);
    return NULL;
  }
  int r = c->stream ? uv_idle_init(ts_engine_loop(h->engine), &c->u.idle)
                    : uv_poll_init(ts_engine_loop(h->engine), &c->u.poll, fd);
  if (r != 0) {
    idx_del(h, c);
    free(c);
    return NULL;
  }
  c->u.poll.data = c; /* data is the first field of every handle */
  tcp_arg(pcb, c);
  tcp_recv(pcb, on_recv);
  tcp_sent(pcb, on_sent);
  tcp_err(pcb, on_err);
  c->next = h->conns;
  if (h->conns) h->conns->prev = c;
  h->conns = c;
  return c;
}

static ts_tcpconn *conn_find(ts_tcp_host *h, uint64_t id) {
  if (!h->idx) return NULL;
  for (ts_tcpconn *c = h->idx[idx_slot(id, h->idx_cap)]; c; c = c->idx_next)
    if (c->id == id) return c;
  return NULL;
}

static int make_pair(int fds[2]) {
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return -errno;
  int fl = fcntl(fds[0], F_GETFL);
  fcntl(fds[0], F_SETFL, fl | O_NONBLOCK);
  /* A unix stream socket's sending side bounds what waits in the kernel for the reader. The default
   * (net.core.wmem_default, 208 KiB) is a 20th of the TCP window: a batch that does not fit is cloned out of
   * lwIP's pool and written later (flush_rx), and JavaScript's writes stop sooner. A bigger bound, as far as
   * net.core.wmem_max allows, costs memory only while a reader lags. */
  int sb = SOCKPAIR_BUF;
  setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
  setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
  return 0;
}

/* ---- listen / accept ---- */
static err_t on_accept(void *arg, struct tcp_pcb *newpcb, err_t err) {
  ts_tcp_listener *l = arg;
  if (err != ERR_OK || !newpcb || !l) return ERR_VAL;
  int fds[2] = {-1, -1};
  int perr = l->stream ? 0 : make_pair(fds);
  if (perr != 0) {
    /* Out of descriptors (EMFILE, ENFILE): the connection is reset, and the listener hears why, as a
     * net.Server's 'error' with syscall accept. */
    ts_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = TS_EV_LISTEN_ERROR;
    ev.device = l->h->device_id;
    ev.id = l->id;
    ev.fd = -1;
    ev.status = perr; /* -errno, which is libuv's code on Unix (the only place the fd transport runs) */
    ts_evq_push(l->h->evq, &ev);
    tcp_abort(newpcb);
    return ERR_ABRT;
  }
  uint64_t id = (*l->h->next_id)++;
  ts_tcpconn *c = conn_new(l->h, id, newpcb, fds[0]);
  if (!c) {
    if (fds[0] >= 0) close(fds[0]), close(fds[1]);
    tcp_abort(newpcb);
    return ERR_ABRT;
  }
  ts_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = TS_EV_TCP_ACCEPT;
  ev.device = l->h->device_id;
  ev.id = id;
  ev.fd = fds[1];
  ts_ev_accept p;
  memset(&p, 0, sizeof p);
  p.listener = l->id;
  ts_addr_from_lwip(&p.local, &newpcb->local_ip, newpcb->local_port);
  ts_addr_from_lwip(&p.remote, &newpcb->remote_ip, newpcb->remote_port);
  ts_event_put(&ev, &p);
  ts_evq_push(l->h->evq, &ev);
  conn_update_poll(c);
  return ERR_OK;
}

ts_tcp_listener *ts_tcp_listen(ts_tcp_host *h, uint64_t id, int family, uint16_t port, int backlog, int stream,
                               int *err) {
  u8_t type = family == 4 ? IPADDR_TYPE_V4 : family == 6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_ANY;
  struct tcp_pcb *pcb = tcp_new_ip_type(type);
  if (!pcb) {
    *err = UV_ENOMEM;
    return NULL;
  }
  tcp_bind_netif(pcb, &h->netif->nif); /* only this device's packets reach this listener */
  const ip_addr_t *any = family == 4 ? IP4_ADDR_ANY : family == 6 ? IP6_ADDR_ANY : IP_ANY_TYPE;
  if (tcp_bind(pcb, any, port) != ERR_OK) {
    tcp_abort(pcb);
    *err = UV_EADDRINUSE;
    return NULL;
  }
  /* Node's backlog counts connections not yet accepted; ours are accepted the moment they are established,
   * so lwIP's backlog only bounds half-open ones, which a burst of dials needs plenty of. */
  int half_open = backlog > TS_TCP_SYN_BACKLOG ? backlog : TS_TCP_SYN_BACKLOG;
  struct tcp_pcb *lp = tcp_listen_with_backlog(pcb, (u16_t)(half_open < 0xFFFF ? half_open : 0xFFFF));
  if (!lp) {
    tcp_abort(pcb);
    *err = UV_ENOMEM;
    return NULL;
  }
  ts_tcp_listener *l = calloc(1, sizeof *l);
  if (!l) {
    tcp_close(lp);
    *err = UV_ENOMEM;
    return NULL;
  }
  l->h = h;
  l->id = id;
  l->stream = stream != 0;
  l->pcb = lp;
  tcp_arg(lp, l);
  tcp_accept(lp, on_accept);
  l->next = h->listeners;
  h->listeners = l;
  *err = 0;
  return l;
}

uint16_t ts_tcp_listener_port(const ts_tcp_listener *l) { return l->pcb ? l->pcb->local_port : 0; }

void ts_tcp_listener_catch(ts_tcp_listener *l) {
  if (l->pcb) l->h->netif->catch_pcb = (struct tcp_pcb_listen *)l->pcb;
}

void ts_tcp_listener_close(ts_tcp_listener *l) {
  ts_tcp_host *h = l->h;
  for (ts_tcp_listener **pp = &h->listeners; *pp; pp = &(*pp)->next) {
    if (*pp == l) {
      *pp = l->next;
      break;
    }
  }
  if (l->pcb && h->netif->catch_pcb == (struct tcp_pcb_listen *)l->pcb) h->netif->catch_pcb = NULL, h->netif->catch_unmatched = 0;
  if (l->pcb) {
    tcp_arg(l->pcb, NULL);
    tcp_close(l->pcb);
  }
  free(l);
}

/* ---- dial ---- */
static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err) {
  (void)pcb;
  ts_tcpconn *c = arg;
  if (!c) return ERR_OK;
  c->connecting = 0;
  if (err != ERR_OK) return err;
  emit(c, TS_EV_TCP_CONNECTED, 0, -1);
  if (c->stream) stream_pump(c, 0); /* what JavaScript wrote meanwhile */
  conn_update_poll(c); /* start reading what JavaScript wrote meanwhile */
  return ERR_OK;
}

int ts_tcp_dial(ts_tcp_host *h, uint64_t id, int fd, const ts_addr *dst) {
  ip_addr_t a;
  if (ts_addr_to_lwip(&a, dst) != 0) return UV_EINVAL;
  if (!ts_netif_can_reach(h->netif, dst->family)) return UV_EADDRNOTAVAIL;
  if (h->route_ok && !h->route_ok(h->route_ctx, dst)) return UV_EHOSTUNREACH;
  struct tcp_pcb *pcb = tcp_new_ip_type(dst->family == 6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
  if (!pcb) return UV_ENOMEM;
  tcp_bind_netif(pcb, &h->netif->nif);
  if (fd >= 0) {
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  }
  ts_tcpconn *c = conn_new(h, id, pcb, fd);
  if (!c) {
    tcp_abort(pcb);
    return UV_ENOMEM;
  }
  c->connecting = 1;
  err_t e = tcp_connect(pcb, &a, dst->port, on_connected);
  if (e != ERR_OK) {
    c->fd = -1; /* the caller keeps fd on failure */
    tcp_arg(pcb, NULL);
    tcp_abort(pcb);
    c->pcb = NULL;
    c->fd_eof = 1;
    conn_release(c);
    return e == ERR_RTE ? UV_EHOSTUNREACH : e == ERR_USE ? UV_EADDRINUSE : UV_ENOMEM;
  }
  return 0;
}

/* ---- options ---- */
void ts_tcp_set_nodelay(ts_tcp_host *h, uint64_t id, int on) {
  ts_tcpconn *c = conn_find(h, id);
  if (!c || !c->pcb) return;
  if (on) tcp_nagle_disable(c->pcb);
  else tcp_nagle_enable(c->pcb);
}

void ts_tcp_set_keepalive(ts_tcp_host *h, uint64_t id, int on, uint32_t idle_ms) {
  ts_tcpconn *c = conn_find(h, id);
  if (!c || !c->pcb) return;
  if (on) {
    ip_set_option(c->pcb, SOF_KEEPALIVE);
    if (idle_ms) c->pcb->keep_idle = idle_ms;
  } else {
    ip_reset_option(c->pcb, SOF_KEEPALIVE);
  }
}

void ts_tcp_reset(ts_tcp_host *h, uint64_t id) {
  ts_tcpconn *c = conn_find(h, id);
  if (!c) return;
  conn_abort(c);
  c->fd_eof = 1;
  conn_release(c);
}

/* lwIP's in-order data path (patches/0050): may this segment's ACK wait for the batch's end? Only for our
 * connections (on_recv lists them for ts_tcp_input_done, which the link calls after every batch), inside
 * tcp_input, and for at most ACK_EVERY segments. Otherwise lwIP's rule: an ACK every second segment. */
int ts_lwip_tcp_ack_batched(struct tcp_pcb *pcb) {
  ts_tcpconn *c = pcb->callback_arg;
  if (pcb->recv != on_recv || !c || c->js_closed || pcb != tcp_input_pcb) return 0;
  if (++c->acks_held >= ACK_EVERY) {
    c->acks_held = 0;
    return 0;
  }
  return 1;
}

/* tcp_output, before each segment (patches/0060): may a relayed connection put one more in flight? */
int ts_lwip_tcp_output_more(struct tcp_pcb *pcb) {
  ts_tcpconn *c = pcb->callback_arg;
  if (pcb->recv != on_recv || !c) return 1;
  return ts_tcp_relayed_may_send(&c->relayed, pcb, ts_engine_now_ns());
}

void ts_tcp_input_done(ts_tcp_host *h) {
  ts_tcpconn *c = h->acks;
  h->acks = NULL;
  while (c) {
    ts_tcpconn *next = c->ack_next;
    c->ack_listed = 0;
    c->ack_next = NULL;
    if (c->rx_later) {
      c->rx_later = 0;
      if (!c->freed) flush_rx(c);
      if (!c->freed) keep_rx_all(c);
    }
    c->acks_held = 0;
    if (c->pcb) {
      /* An ACK held for a reply that never came, and the peer sent again: not request/response (any more). */
      if (c->pingpong && c->held) c->pingpong = 0;
      c->held = 0;
      if (c->pcb->flags & TF_ACK_DELAY) {
        if (c->pingpong) {
          c->held = 1; /* the reply carries it, or lwIP's timer sends it within TCP_TMR_INTERVAL */
        } else {
          tcp_set_flags(c->pcb, TF_ACK_NOW);
          tcp_output(c->pcb);
        }
      }
    }
    c = next;
  }
}

void ts_tcp_host_close(ts_tcp_host *h) {
  while (h->listeners) ts_tcp_listener_close(h->listeners);
  while (h->conns) {
    ts_tcpconn *c = h->conns;
    conn_abort(c);
    c->fd_eof = 1;
    conn_release(c);
  }
  ts_engine_defer_cancel(h->engine, &h->serve);
  free(h->idx);
  h->idx = NULL;
  h->idx_cap = h->nconns = 0;
}
