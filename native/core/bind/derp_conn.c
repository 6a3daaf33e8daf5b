#include "bind/derp_conn.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "port/sock.h"

#include "derp/derp.h"
#include "mem/pages.h"
#include "events.h"

#define RX_CHUNK 65536
#define OUT_CAP (1u << 20) /* one relay's send queue: enough for a TCP window's burst at DERP rates */

struct ts_derp_conn {
  ts_engine *engine;
  uint32_t region;
  int fd;
  uv_poll_t poll;
  uv_timer_t timer;
  ts_engine_deferred flush; /* queued while sends wait for the end of the loop turn */
  int poll_events;
  uint64_t armed;   /* deadline the timer is set for (UINT64_MAX: none) */
  int dead;         /* the connection is over; waiting for the owner's free */
  int closing;      /* handles still closing */
  ts_derp_client *client;
  ts_derp_conn_cb cb;
  uint8_t *rx;      /* read chunk */
  uint8_t *scratch; /* a relayed packet, writable (WireGuard decrypts in place) */
  ts_derp_conn_stats st;
  int is_stream;        /* no socketpair: events out, ts_derp_conn_stream_input in */
  ts_derp_stream stream;
  size_t js_unacked;    /* stream: bytes in TS_EV_DERP_DATA events JavaScript has not acknowledged */
};

/* Stream transport: hands JavaScript a copy of len bytes (the consumer frees it). 0 or UV_ENOMEM. */
static int stream_push(ts_derp_conn *c, uint32_t type, const uint8_t *p, size_t len) {
  ts_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = type;
  ev.device = c->stream.device;
  ev.id = c->stream.id;
  ev.fd = -1;
  if (len) {
    ev.ptr = malloc(len);
    if (!ev.ptr) return UV_ENOMEM;
    memcpy(ev.ptr, p, len);
    ev.ptr_len = len;
    c->js_unacked += len;
  }
  ts_evq_push(c->stream.evq, &ev);
  return 0;
}

static void update(ts_derp_conn *c);

static void finish(ts_derp_conn *c, int err) {
  if (c->dead) return;
  c->dead = 1;
  if (c->poll_events) uv_poll_stop(&c->poll);
  c->poll_events = 0;
  uv_timer_stop(&c->timer);
  ts_engine_defer_cancel(c->engine, &c->flush);
  if (c->cb.closed) c->cb.closed(c->cb.ctx, c, err);
}

static void on_event(void *ctx, const ts_derp_event *ev) {
  ts_derp_conn *c = ctx;
  switch (ev->type) {
    case TS_DERP_EV_CONNECTED:
      if (c->cb.connected) c->cb.connected(c->cb.ctx, c);
      break;
    case TS_DERP_EV_RECV_PACKET:
      if (ev->len > TS_DERP_MAX_PACKET) break;
      c->st.rx_packets++;
      c->st.rx_bytes += ev->len;
      memcpy(c->scratch, ev->data, ev->len);
      if (c->cb.packet) c->cb.packet(c->cb.ctx, c, ev->key, c->scratch, ev->len);
      break;
    case TS_DERP_EV_PEER_GONE:
      if (c->cb.peer_gone) c->cb.peer_gone(c->cb.ctx, c, ev->key, ev->reason);
      break;
    default:
      break; /* health, restarting, pings: the client core answers what needs answering */
  }
}

/* Writes queued output until the socket is full. 0, or a negative errno. */
static int flush_out(ts_derp_conn *c) {
  while (c->is_stream && c->js_unacked < TS_DERP_STREAM_CREDIT) {
    size_t n;
    const uint8_t *p = ts_derp_client_output(c->client, &n);
    if (!n) return 0;
    if (n > TS_DERP_STREAM_CREDIT - c->js_unacked) n = TS_DERP_STREAM_CREDIT - c->js_unacked;
    int r = stream_push(c, TS_EV_DERP_DATA, p, n);
    if (r) return r;
    ts_derp_client_output_consumed(c->client, n);
  }
  if (c->is_stream) return 0; /* JavaScript holds its credit's worth: the rest waits in the client's queue */
  for (;;) {
    size_t n;
    const uint8_t *p = ts_derp_client_output(c->client, &n);
    if (!n) return 0;
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == EINTR) continue;
      return -errno;
    }
    ts_derp_client_output_consumed(c->client, (size_t)w);
  }
}

/* Packets sent during one loop turn leave in one write, just before the loop would block. */
static void on_flush(ts_engine_deferred *d) {
  ts_derp_conn *c = (ts_derp_conn *)((char *)d - offsetof(ts_derp_conn, flush));
  update(c);
}

static void on_timer(uv_timer_t *t) {
  ts_derp_conn *c = t->data;
  c->armed = UINT64_MAX;
  if (c->dead) return;
  if (ts_derp_client_tick(c->client, ts_engine_now_ns()) < 0) {
    finish(c, ts_derp_client_error(c->client));
    return;
  }
  update(c);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  ts_derp_conn *c = h->data;
  if (c->dead) return;
  if (status < 0) {
    finish(c, status);
    return;
  }
  if (events & UV_READABLE) {
    for (int round = 0; round < 16; round++) { /* bounded, so one relay cannot starve the loop */
      ssize_t r = recv(c->fd, c->rx, RX_CHUNK, 0);
      if (r == 0) {
        finish(c, 0);
        return;
      }
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        finish(c, -errno);
        return;
      }
      if (ts_derp_client_input(c->client, c->rx, (size_t)r, ts_engine_now_ns()) < 0) {
        finish(c, ts_derp_client_error(c->client));
        return;
      }
      if (c->dead) return; /* a callback ended it */
      if ((size_t)r < RX_CHUNK) break;
    }
  }
  update(c);
}

/* Flushes output, then polls for what is still needed and arms the timer for the client's deadline. */
static void update(ts_derp_conn *c) {
  if (c->dead) return;
  int r = flush_out(c);
  if (r < 0) {
    finish(c, r);
    return;
  }
  int want = UV_READABLE | (ts_derp_client_output_pending(c->client) ? UV_WRITABLE : 0);
  if (!c->is_stream && want != c->poll_events) {
    c->poll_events = want;
    uv_poll_start(&c->poll, want, on_poll);
  }
  uint64_t next = ts_derp_client_next_deadline(c->client);
  /* The read deadline moves with every byte; the timer only has to fire no later than it, and on_timer
   * re-arms, so it is re-set only when the deadline comes earlier. */
  if (next != UINT64_MAX && (c->armed == UINT64_MAX || next < c->armed)) {
    uint64_t now = ts_engine_now_ns();
    c->armed = next;
    uv_timer_start(&c->timer, on_timer, next > now ? (next - now + 999999) / 1000000 : 0, 0);
  }
}

ts_derp_conn *ts_derp_conn_new(ts_engine *e, uint32_t region, const uint8_t node_priv[32], const char *host,
                               const uint8_t *server_key, const ts_derp_conn_cb *cb, const ts_derp_stream *stream,
                               int *js_fd, int *err) {
  *js_fd = -1;
  ts_derp_conn *c = calloc(1, sizeof *c);
  if (!c) {
    *err = UV_ENOMEM;
    return NULL;
  }
  c->engine = e;
  c->region = region;
  c->cb = *cb;
  c->armed = UINT64_MAX;
  c->fd = -1;
  if (stream) {
    c->is_stream = 1;
    c->stream = *stream;
  }
  /* Sized for the largest frame, touched as far as frames reach: kernel pages (mem/pages.h). */
  c->rx = ts_pages_alloc(RX_CHUNK);
  c->scratch = ts_pages_alloc(TS_DERP_MAX_PACKET);
  ts_derp_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  memcpy(cfg.node_private, node_priv, 32);
  if (server_key) {
    memcpy(cfg.server_key, server_key, 32);
    cfg.has_server_key = 1;
    cfg.fast_start = 1;
  } else {
    cfg.expect_http = 1;
  }
  cfg.out_cap = OUT_CAP;
  cfg.on_event = on_event;
  cfg.ctx = c;
  uint64_t now = ts_engine_now_ns();
  c->client = c->rx && c->scratch ? ts_derp_client_new(&cfg, now) : NULL;
  memset(cfg.node_private, 0, sizeof cfg.node_private);
  char req[1024];
  long reqlen = c->client ? ts_derp_http_request(req, sizeof req, host, NULL, NULL, server_key != NULL) : -1;
  int fds[2] = {-1, -1};
  int r = !c->client ? UV_ENOMEM : reqlen < 0 ? UV_EINVAL : 0;
  if (r == 0 && stream) {
    r = stream_push(c, TS_EV_DERP_DATA, (const uint8_t *)req, (size_t)reqlen); /* the request goes first */
  } else if (r == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    r = -errno;
  }
  if (r == 0 && !stream) {
    int fl = fcntl(fds[0], F_GETFL);
    fcntl(fds[0], F_SETFL, fl | O_NONBLOCK);
    /* The request goes first, before anything the client core queued (ClientInfo under fast start). The
     * socketpair is empty, so this small write cannot block. */
    if (send(fds[0], req, (size_t)reqlen, MSG_NOSIGNAL) != reqlen) r = UV_EIO;
  }
  if (r != 0) {
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    ts_derp_client_free(c->client);
    ts_pages_free(c->rx, RX_CHUNK);
    ts_pages_free(c->scratch, TS_DERP_MAX_PACKET);
    free(c);
    *err = r;
    return NULL;
  }
  c->fd = fds[0];
  *js_fd = fds[1];
  uv_loop_t *loop = ts_engine_loop(e);
  if (!stream) {
    uv_poll_init(loop, &c->poll, c->fd);
    c->poll.data = c;
  }
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  c->flush.fn = on_flush;
  update(c);
  *err = 0;
  return c;
}

static void closed_handle(uv_handle_t *h) {
  ts_derp_conn *c = h->data;
  if (--c->closing > 0) return;
  if (c->fd >= 0) close(c->fd);
  ts_derp_client_free(c->client);
  ts_pages_free(c->rx, RX_CHUNK);
  ts_pages_free(c->scratch, TS_DERP_MAX_PACKET);
  free(c);
}

void ts_derp_conn_free(ts_derp_conn *c) {
  if (!c) return;
  c->dead = 1;
  ts_engine_defer_cancel(c->engine, &c->flush);
  c->closing = c->is_stream ? 1 : 2;
  if (c->is_stream) stream_push(c, TS_EV_DERP_END, NULL, 0); /* JavaScript's "EOF" */
  else uv_close((uv_handle_t *)&c->poll, closed_handle);
  uv_close((uv_handle_t *)&c->timer, closed_handle);
}

uint64_t ts_derp_conn_stream_id(const ts_derp_conn *c) { return c->is_stream ? c->stream.id : 0; }

void ts_derp_conn_stream_input(ts_derp_conn *c, const uint8_t *data, size_t len) {
  if (c->dead || !c->is_stream) return;
  if (ts_derp_client_input(c->client, data, len, ts_engine_now_ns()) < 0) {
    finish(c, ts_derp_client_error(c->client));
    return;
  }
  update(c); /* a no-op if a callback ended it */
}

void ts_derp_conn_stream_ack(ts_derp_conn *c, size_t n) {
  if (c->dead || !c->is_stream) return;
  c->js_unacked -= n < c->js_unacked ? n : c->js_unacked;
  update(c);
}

void ts_derp_conn_stream_close(ts_derp_conn *c) {
  if (c->is_stream) finish(c, 0);
}

uint32_t ts_derp_conn_region(const ts_derp_conn *c) { return c->region; }

int ts_derp_conn_connected(const ts_derp_conn *c) {
  return !c->dead && ts_derp_client_state(c->client) == TS_DERP_ST_CONNECTED;
}

int ts_derp_conn_send(ts_derp_conn *c, const uint8_t dst[32], const uint8_t *pkt, size_t len) {
  if (c->dead) return UV_ENOTCONN;
  int r = ts_derp_client_send_packet(c->client, dst, pkt, len);
  if (r != 0) {
    c->st.tx_dropped++;
    return r == TS_DERP_E_STATE ? UV_ENOTCONN : r == TS_DERP_E_AGAIN ? UV_ENOBUFS : UV_EMSGSIZE;
  }
  c->st.tx_packets++;
  c->st.tx_bytes += len;
  ts_engine_defer(c->engine, &c->flush);
  return 0;
}

void ts_derp_conn_note_preferred(ts_derp_conn *c, int home) {
  if (c->dead) return;
  ts_derp_client_note_preferred(c->client, home);
  update(c);
}

void ts_derp_conn_stats_get(const ts_derp_conn *c, ts_derp_conn_stats *out) { *out = c->st; }
