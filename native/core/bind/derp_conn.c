#include "bind/derp_conn.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "port/sock.h"
#ifndef _WIN32
#include <netinet/tcp.h>
#endif

#include "crypto/crypto.h"
#include "derp/derp.h"
#include "derp/tls_record.h"
#include "mem/pages.h"
#include "events.h"

#define RX_CHUNK 65536
#define OUT_CAP (1u << 20) /* one relay's send queue: enough for a TCP window's burst at DERP rates */
/* Engine TLS (docs/architecture.md, "DERP relays"): received bytes wait here for whole records; sealed records
 * wait here for the socket (eight full records per fill); the handshake's records are copied for the takeover's
 * sync, within these bounds. */
#define TLS_IN_CAP (RX_CHUNK + TS_TLS_MAX_RECORD)
#define TLS_OUT_CAP (8u * (TS_TLS_MAX_PLAIN + TS_TLS_OVERHEAD))
#define TLS_COPY_CAP 65536u
#define TLS_COPY_RECORDS 64u

enum tls_phase { TLS_CONNECTING, TLS_HANDSHAKE, TLS_PENDING, TLS_RECORDS };

/* The handshake's records in one direction, whole, in order (only application_data-typed ones: the others
 * are plaintext and cannot be in the application epoch). */
struct tls_copies {
  uint8_t *buf;
  size_t len;
  unsigned n;
  int overflow;
};

struct tls_state {
  enum tls_phase phase;
  ts_tls_rl rl;
  uint8_t *in; /* server bytes not yet handled */
  size_t in_len;
  uint8_t *out; /* bytes for the socket: JavaScript's handshake records, then sealed records */
  size_t out_off, out_len;
  struct tls_copies srv, cli;
  uint8_t crec[TS_TLS_MAX_RECORD]; /* JavaScript's record being split out of its writes */
  size_t crec_len;
  unsigned cli_protected; /* application_data-typed records from JavaScript (the Finished among them) */
  uint8_t node_priv[32];
  uint8_t secrets[64]; /* client, server: held while TLS_PENDING */
  uint8_t server_key[32];
  int has_server_key;
  int preferred; /* -1: not told yet */
  char host[256];
};

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
  struct tls_state *tls; /* engine TLS; NULL otherwise */
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

/* The DERP client over whichever transport: with the relay's key from its certificate it starts at once
 * (fast start), else it first reads the HTTP upgrade's answer. The config's copy of the key is wiped. */
static ts_derp_client *client_new(ts_derp_conn *c, const uint8_t node_priv[32], const uint8_t *server_key) {
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
  ts_derp_client *client = ts_derp_client_new(&cfg, ts_engine_now_ns());
  ts_wipe(&cfg, sizeof cfg);
  return client;
}

/* ---- engine TLS (docs/architecture.md, "DERP relays": the engine's TLS record layer) ---- */

static void on_poll(uv_poll_t *h, int status, int events);

static void copies_add(struct tls_copies *k, const uint8_t *rec, size_t n) {
  if (rec[0] != TS_TLS_CT_APPDATA || k->overflow) return;
  if (k->n >= TLS_COPY_RECORDS || k->len + n > TLS_COPY_CAP || (!k->buf && !(k->buf = malloc(TLS_COPY_CAP)))) {
    k->overflow = 1; /* the takeover will fail: the connection ends and is redialled */
    return;
  }
  memcpy(k->buf + k->len, rec, n);
  k->len += n;
  k->n++;
}

static void copies_free(struct tls_copies *k) {
  if (k->buf) {
    ts_wipe(k->buf, k->len);
    free(k->buf);
  }
  memset(k, 0, sizeof *k);
}

/* Makes room at the end of the output buffer by moving what is left of it to the front. */
static void tls_compact(struct tls_state *t) {
  if (t->out_off == 0) return;
  memmove(t->out, t->out + t->out_off, t->out_len - t->out_off);
  t->out_len -= t->out_off;
  t->out_off = 0;
}

/* Handshake: whole server records go to JavaScript (within its credit), copied for the takeover. */
static int tls_forward(ts_derp_conn *c) {
  struct tls_state *t = c->tls;
  size_t off = 0;
  while (off < t->in_len) {
    long n = ts_tls_record_len(t->in + off, t->in_len - off);
    if (n < 0) return UV_EPROTO;
    if (n == 0 || c->js_unacked + off + (size_t)n > TS_DERP_STREAM_CREDIT) break;
    copies_add(&t->srv, t->in + off, (size_t)n);
    off += (size_t)n;
  }
  if (off == 0) return 0;
  int r = stream_push(c, TS_EV_DERP_DATA, t->in, off);
  if (r) return r;
  memmove(t->in, t->in + off, t->in_len - off);
  t->in_len -= off;
  return 0;
}

/* After the takeover: opens whole records in place and feeds their application data to the DERP client.
 * 0, 1 (close_notify), or a negative code. */
static int tls_records(ts_derp_conn *c) {
  struct tls_state *t = c->tls;
  size_t off = 0;
  int ret = 0;
  uint64_t now = ts_engine_now_ns(); /* one clock read per batch of records */
  while (off < t->in_len && !c->dead) {
    long n = ts_tls_record_len(t->in + off, t->in_len - off);
    if (n <= 0) {
      if (n < 0) ret = UV_EPROTO;
      break;
    }
    uint8_t *d;
    size_t dl;
    int r = ts_tls_rl_read(&t->rl, t->in + off, (size_t)n, &d, &dl);
    off += (size_t)n;
    if (r == TS_TLS_DATA && dl && ts_derp_client_input(c->client, d, dl, now) < 0) {
      ret = ts_derp_client_error(c->client);
      break;
    }
    if (r == TS_TLS_CLOSE || r < 0) {
      ret = r == TS_TLS_CLOSE ? 1 : UV_EPROTO;
      break;
    }
  }
  memmove(t->in, t->in + off, t->in_len - off);
  t->in_len -= off;
  return ret;
}

/* Seals the DERP client's output into records and writes them until the socket is full. */
static int tls_flush(ts_derp_conn *c) {
  struct tls_state *t = c->tls;
  if (t->phase == TLS_CONNECTING) return 0;
  for (;;) {
    if (t->out_off == t->out_len) {
      t->out_off = t->out_len = 0;
      if (t->phase != TLS_RECORDS) return 0;
      /* One fill: as many records as the buffer holds (a pending KeyUpdate first). */
      for (int first = 1;; first = 0) {
        size_t n, used;
        const uint8_t *p = ts_derp_client_output(c->client, &n);
        if (!n && !(first && t->rl.send_key_update)) break;
        size_t w = ts_tls_rl_write(&t->rl, t->out + t->out_len, TLS_OUT_CAP - t->out_len, p, n, TS_TLS_MAX_PLAIN,
                                   &used);
        t->out_len += w;
        ts_derp_client_output_consumed(c->client, used);
        if (used < n || !n) break;
      }
      if (t->out_len == 0) return 0;
    }
    ssize_t w = send(c->fd, t->out + t->out_off, t->out_len - t->out_off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == EINTR) continue;
      return -errno;
    }
    t->out_off += (size_t)w;
  }
}

/* Both sides' handshake records are in: find where the application epoch starts, start the DERP client and
 * write its HTTP upgrade as the first application record (after the Finished still queued, if any). */
static void tls_complete(ts_derp_conn *c) {
  struct tls_state *t = c->tls;
  ts_tls_rl_init(&t->rl, t->secrets, t->secrets + 32);
  ts_wipe(t->secrets, sizeof t->secrets);
  uint8_t *scratch = malloc(TS_TLS_MAX_RECORD);
  int r = !scratch ? UV_ENOMEM : t->srv.overflow || t->cli.overflow ? UV_EPROTO : 0;
  if (r == 0 && ts_tls_rl_sync_write(&t->rl, t->cli.buf, t->cli.len, scratch) != 0) r = UV_EPROTO;
  if (r == 0 && ts_tls_rl_sync_read(&t->rl, t->srv.buf, t->srv.len, scratch) != 0) r = UV_EPROTO;
  if (scratch) ts_wipe(scratch, TS_TLS_MAX_RECORD);
  free(scratch);
  copies_free(&t->srv);
  copies_free(&t->cli);
  t->phase = TLS_RECORDS;
  if (r == 0) {
    c->client = client_new(c, t->node_priv, t->has_server_key ? t->server_key : NULL);
    ts_wipe(t->node_priv, sizeof t->node_priv);
    if (!c->client) r = UV_ENOMEM;
  }
  if (r == 0) {
    char req[1024];
    long reqlen = ts_derp_http_request(req, sizeof req, t->host, NULL, NULL, t->has_server_key);
    size_t used = 0;
    tls_compact(t);
    if (reqlen > 0)
      t->out_len += ts_tls_rl_write(&t->rl, t->out + t->out_len, TLS_OUT_CAP - t->out_len, (const uint8_t *)req,
                                    (size_t)reqlen, TS_TLS_MAX_PLAIN, &used);
    if (reqlen <= 0 || used != (size_t)reqlen) r = UV_EINVAL;
  }
  if (r == 0 && t->preferred >= 0) ts_derp_client_note_preferred(c->client, t->preferred);
  if (r == 0) r = tls_records(c); /* what arrived after the handshake's records */
  if (r != 0) {
    finish(c, r == 1 ? 0 : r);
    return;
  }
  update(c);
}

/* Handshake records from JavaScript's tls: queued for the socket and split into records for the takeover. */
static void tls_from_js(ts_derp_conn *c, const uint8_t *p, size_t n) {
  struct tls_state *t = c->tls;
  if (t->phase == TLS_RECORDS) return; /* JavaScript's TLS socket is discarded: it writes nothing more */
  tls_compact(t);
  if (TLS_OUT_CAP - t->out_len < n) {
    finish(c, UV_ENOBUFS);
    return;
  }
  memcpy(t->out + t->out_len, p, n);
  t->out_len += n;
  while (n) {
    size_t want = TS_TLS_HDR;
    if (t->crec_len >= TS_TLS_HDR) {
      long l = ts_tls_record_len(t->crec, TS_TLS_HDR);
      size_t body = (size_t)t->crec[3] << 8 | t->crec[4];
      if (l < 0 || body > TS_TLS_MAX_CIPHER) {
        finish(c, UV_EPROTO);
        return;
      }
      want = TS_TLS_HDR + body;
    }
    size_t take = want - t->crec_len < n ? want - t->crec_len : n;
    memcpy(t->crec + t->crec_len, p, take);
    t->crec_len += take;
    p += take;
    n -= take;
    if (t->crec_len == want && want > TS_TLS_HDR) {
      copies_add(&t->cli, t->crec, t->crec_len);
      if (t->crec[0] == TS_TLS_CT_APPDATA) t->cli_protected++;
      t->crec_len = 0;
    }
  }
  if (t->phase == TLS_PENDING && t->cli_protected) tls_complete(c);
  else update(c);
}

/* One read: the byte count, 0 when nothing is there now, or -1 once the connection is over (finish ran:
 * EOF or an error). */
static ssize_t read_some(ts_derp_conn *c, uint8_t *buf, size_t cap) {
  for (;;) {
    ssize_t r = recv(c->fd, buf, cap, 0);
    if (r > 0) return r;
    if (r == 0) {
      finish(c, 0);
      return -1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    finish(c, -errno);
    return -1;
  }
}

static void tls_readable(ts_derp_conn *c) {
  struct tls_state *t = c->tls;
  for (int round = 0; round < 16 && t->in_len < TLS_IN_CAP; round++) { /* bounded, as for the socketpair */
    size_t room = TLS_IN_CAP - t->in_len;
    ssize_t r = read_some(c, t->in + t->in_len, room);
    if (r < 0) return;
    if (r == 0) break;
    t->in_len += (size_t)r;
    int e = t->phase == TLS_HANDSHAKE ? tls_forward(c) : t->phase == TLS_RECORDS ? tls_records(c) : 0;
    if (e != 0) {
      finish(c, e == 1 ? 0 : e);
      return;
    }
    if (c->dead || (size_t)r < room) return;
  }
}

static void tls_update(ts_derp_conn *c) {
  struct tls_state *t = c->tls;
  int r = t->phase == TLS_HANDSHAKE && t->in_len ? tls_forward(c) : 0;
  if (r == 0) r = tls_flush(c);
  if (r < 0) {
    finish(c, r);
    return;
  }
  int want = UV_WRITABLE;
  if (t->phase != TLS_CONNECTING) {
    int out = t->out_off < t->out_len || (c->client && ts_derp_client_output_pending(c->client));
    want = (t->in_len < TLS_IN_CAP ? UV_READABLE : 0) | (out ? UV_WRITABLE : 0);
  }
  if (want != c->poll_events) {
    c->poll_events = want;
    if (want) uv_poll_start(&c->poll, want, on_poll);
    else uv_poll_stop(&c->poll);
  }
}

static void tls_poll(ts_derp_conn *c, int events) {
  struct tls_state *t = c->tls;
  if (t->phase == TLS_CONNECTING) {
    int e = 0;
    socklen_t l = sizeof e;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l) != 0) e = errno;
    if (e != 0) {
      finish(c, -e);
      return;
    }
    t->phase = TLS_HANDSHAKE;
  } else if (events & UV_READABLE) {
    tls_readable(c);
  }
}

/* A non-blocking TCP connect to the relay. 0 or a negative errno. */
static int tls_connect(ts_derp_conn *c, const ts_addr *a) {
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  if (a->family == TS_ADDR_V4) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(a->port);
    memcpy(&s4->sin_addr, a->ip, 4);
    sl = sizeof *s4;
  } else {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(a->port);
    s6->sin6_scope_id = a->scope_id;
    memcpy(&s6->sin6_addr, a->ip, 16);
    sl = sizeof *s6;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM, 0);
  if (fd < 0) return -errno;
  int one = 1;
  if (ts_sock_nonblock(fd) != 0) {
    int e = -errno;
    ts_sock_close(fd);
    return e;
  }
  /* As the JavaScript dial did (lib/magicsock/derp-dial.ts): relayed packets are latency-bound. */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef SO_NOSIGPIPE
  setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one); /* macOS: EPIPE, not SIGPIPE (port/darwin.h) */
#endif
  if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS && errno != EAGAIN &&
      errno != EWOULDBLOCK) {
    int e = -errno;
    ts_sock_close(fd);
    return e;
  }
  c->fd = fd;
  return 0;
}

static void tls_free(struct tls_state *t) {
  if (!t) return;
  copies_free(&t->srv);
  copies_free(&t->cli);
  ts_pages_free(t->in, TLS_IN_CAP);
  ts_pages_free(t->out, TLS_OUT_CAP);
  ts_wipe(t, sizeof *t);
  free(t);
}

static void on_poll(uv_poll_t *h, int status, int events);

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
  if (c->dead || !c->client) return;
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
  if (c->tls) {
    tls_poll(c, events);
  } else if (events & UV_READABLE) {
    for (int round = 0; round < 16; round++) { /* bounded, so one relay cannot starve the loop */
      ssize_t r = read_some(c, c->rx, RX_CHUNK);
      if (r < 0) return;
      if (r == 0) break;
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
  if (c->tls) {
    tls_update(c);
    if (c->dead || !c->client) return;
  } else {
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

/* Engine TLS: the connection starts with a TCP connect; the DERP client waits for the takeover. */
static ts_derp_conn *tls_conn_new(ts_engine *e, uint32_t region, const uint8_t node_priv[32], const char *host,
                                  const ts_derp_conn_cb *cb, const ts_derp_stream *stream, int *err) {
  ts_derp_conn *c = calloc(1, sizeof *c);
  struct tls_state *t = calloc(1, sizeof *t);
  size_t hl = strlen(host);
  int r = !c || !t ? UV_ENOMEM : hl >= sizeof t->host ? UV_EINVAL : 0;
  if (r == 0) {
    t->in = ts_pages_alloc(TLS_IN_CAP);
    t->out = ts_pages_alloc(TLS_OUT_CAP);
    c->scratch = ts_pages_alloc(TS_DERP_MAX_PACKET);
    if (!t->in || !t->out || !c->scratch) r = UV_ENOMEM;
  }
  if (r == 0) {
    c->tls = t;
    c->fd = -1;
    r = tls_connect(c, &stream->tls);
  }
  if (r != 0) {
    if (t) {
      ts_pages_free(t->in, TLS_IN_CAP);
      ts_pages_free(t->out, TLS_OUT_CAP);
      free(t);
    }
    if (c) ts_pages_free(c->scratch, TS_DERP_MAX_PACKET);
    free(c);
    *err = r;
    return NULL;
  }
  memcpy(t->node_priv, node_priv, 32);
  memcpy(t->host, host, hl + 1);
  t->preferred = -1;
  t->phase = TLS_CONNECTING;
  c->engine = e;
  c->region = region;
  c->cb = *cb;
  c->armed = UINT64_MAX;
  c->is_stream = 1;
  c->stream = *stream;
  uv_loop_t *loop = ts_engine_loop(e);
  uv_poll_init_socket(loop, &c->poll, (uv_os_sock_t)c->fd);
  c->poll.data = c;
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  c->flush.fn = on_flush;
  update(c);
  *err = 0;
  return c;
}

ts_derp_conn *ts_derp_conn_new(ts_engine *e, uint32_t region, const uint8_t node_priv[32], const char *host,
                               const uint8_t *server_key, const ts_derp_conn_cb *cb, const ts_derp_stream *stream,
                               int *js_fd, int *err) {
  *js_fd = -1;
  if (stream && stream->tls.family) return tls_conn_new(e, region, node_priv, host, cb, stream, err);
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
  c->client = c->rx && c->scratch ? client_new(c, node_priv, server_key) : NULL;
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
  if (c->fd >= 0) ts_sock_close(c->fd);
  tls_free(c->tls);
  ts_derp_client_free(c->client);
  ts_pages_free(c->rx, RX_CHUNK);
  ts_pages_free(c->scratch, TS_DERP_MAX_PACKET);
  free(c);
}

void ts_derp_conn_free(ts_derp_conn *c) {
  if (!c) return;
  c->dead = 1;
  ts_engine_defer_cancel(c->engine, &c->flush);
  c->closing = c->is_stream && !c->tls ? 1 : 2;
  if (c->is_stream) stream_push(c, TS_EV_DERP_END, NULL, 0); /* JavaScript's "EOF" */
  if (!c->is_stream || c->tls) uv_close((uv_handle_t *)&c->poll, closed_handle);
  uv_close((uv_handle_t *)&c->timer, closed_handle);
}

uint64_t ts_derp_conn_stream_id(const ts_derp_conn *c) { return c->is_stream ? c->stream.id : 0; }

void ts_derp_conn_stream_input(ts_derp_conn *c, const uint8_t *data, size_t len) {
  if (c->dead || !c->is_stream) return;
  if (c->tls) {
    tls_from_js(c, data, len);
    return;
  }
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
  return !c->dead && c->client && ts_derp_client_state(c->client) == TS_DERP_ST_CONNECTED;
}

int ts_derp_conn_send(ts_derp_conn *c, const uint8_t dst[32], const uint8_t *pkt, size_t len) {
  if (c->dead || !c->client) return UV_ENOTCONN;
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
  if (!c->client) {
    if (c->tls) c->tls->preferred = home != 0; /* told after the takeover */
    return;
  }
  ts_derp_client_note_preferred(c->client, home);
  update(c);
}

int ts_derp_conn_tls_takeover(ts_derp_conn *c, const uint8_t *server_key, uint8_t client_secret[32],
                              uint8_t server_secret[32]) {
  struct tls_state *t = c->tls;
  int ok = t && !c->dead && t->phase == TLS_HANDSHAKE;
  if (ok) {
    memcpy(t->secrets, client_secret, 32);
    memcpy(t->secrets + 32, server_secret, 32);
    if (server_key) memcpy(t->server_key, server_key, 32);
    t->has_server_key = server_key != NULL;
    t->phase = TLS_PENDING; /* server records wait in t->in from now on */
  }
  ts_wipe(client_secret, 32);
  ts_wipe(server_secret, 32);
  if (!ok) return UV_EINVAL;
  if (t->cli_protected) tls_complete(c); /* else when JavaScript's Finished arrives (tls_from_js) */
  return 0;
}

void ts_derp_conn_stats_get(const ts_derp_conn *c, ts_derp_conn_stats *out) { *out = c->st; }
