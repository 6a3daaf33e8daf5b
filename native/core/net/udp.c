/* Batched UDP: see udp.h. Facts this relies on (Linux man pages and the kernel's UDP GSO/GRO patches):
 *   - UDP_SEGMENT (SOL_UDP) as a cmsg carries a uint16_t segment size for one send; the payload is cut into
 *     datagrams of that size, the last one may be shorter; at most UDP_MAX_SEGMENTS (64, 128 since 6.11) segments.
 *     It needs checksum offload on the route's device and fails with EIO without it; a segment larger than the
 *     path MTU fails with EINVAL.
 *   - UDP_GRO (SOL_UDP), set to 1, lets the kernel hand over coalesced datagrams of one flow; each such buffer comes
 *     with a cmsg SOL_UDP/UDP_GRO holding an int: the segment size. All segments have it except the last, which may
 *     be shorter. Over loopback this is what a GSO send turns into.
 *   - sendmmsg returns how many messages went out; an error after the first message is not reported, the next call
 *     (starting at the failed message) reports it.
 *   - loopback frees a datagram's send-buffer charge as soon as it is transmitted, so EAGAIN on send needs a
 *     queueing discipline or a real device in between. */
#include "net/udp.h"
#include "mem/pages.h"

#include "port/sock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TS_UDP_PORTABLE builds the path other systems take (no mmsg, GSO or GRO) on Linux too, to test it. */
#if defined(__linux__) && !defined(TS_UDP_PORTABLE)
#include <netinet/udp.h>
#define TS_UDP_HAVE_MMSG 1
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
/* Values from the kernel's include/uapi/linux/udp.h, for C libraries that do not define them yet. */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#define TS_UDP_HAVE_GSO 1
#endif

#define DEFAULT_RCVBUF (8 << 20)
#define DEFAULT_SNDBUF (4 << 20)
#define SEND_MAX_MSGS 1024u /* UIO_MAXIOV: sendmmsg's vlen limit */

/* ---------------------------------------------------------------- multi-message calls */

/* Both count the system calls they make into *calls. */
#if TS_UDP_HAVE_MMSG
typedef struct mmsghdr ts_mmsg;
static int send_many(int fd, ts_mmsg *m, unsigned n, uint64_t *calls) {
  ++*calls;
  return sendmmsg(fd, m, n, 0);
}
static int recv_many(int fd, ts_mmsg *m, unsigned n, uint64_t *calls) {
  ++*calls;
  return recvmmsg(fd, m, n, MSG_DONTWAIT, NULL);
}
#else
typedef struct {
  struct msghdr msg_hdr;
  unsigned int msg_len;
} ts_mmsg;
/* Same contract as sendmmsg/recvmmsg: the count done, or -1 with errno when the first one fails. */
static int send_many(int fd, ts_mmsg *m, unsigned n, uint64_t *calls) {
  unsigned i;
  for (i = 0; i < n; i++) {
    ssize_t r = sendmsg(fd, &m[i].msg_hdr, 0);
    ++*calls;
    if (r < 0) return i > 0 ? (int)i : -1;
    m[i].msg_len = (unsigned)r;
  }
  return (int)n;
}
static int recv_many(int fd, ts_mmsg *m, unsigned n, uint64_t *calls) {
  unsigned i;
  for (i = 0; i < n; i++) {
    ssize_t r = recvmsg(fd, &m[i].msg_hdr, MSG_DONTWAIT);
    ++*calls;
    if (r < 0) return i > 0 ? (int)i : -1;
    m[i].msg_len = (unsigned)r;
  }
  return (int)n;
}
#endif

/* ---------------------------------------------------------------- addresses */

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void addr_from_sockaddr(ts_addr *a, const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
    ts_addr_set(a, TS_ADDR_V4, (const uint8_t *)&s4->sin_addr, ntohs(s4->sin_port));
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
    ts_addr_set(a, TS_ADDR_V6, (const uint8_t *)&s6->sin6_addr, ntohs(s6->sin6_port));
    if (a->family == TS_ADDR_V6) a->scope_id = s6->sin6_scope_id;
  } else {
    memset(a, 0, sizeof *a);
  }
}

/* The socket address for sending to a from a socket of the given family: IPv4 destinations are written as
 * ::ffff:a.b.c.d for an IPv6 socket. Returns the length, or 0 when the socket cannot reach that family. */
static socklen_t addr_to_sockaddr(uint8_t sock_family, const ts_addr *a, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(struct sockaddr_in6));
  if (sock_family == TS_ADDR_V4) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    if (a->family != TS_ADDR_V4) return 0;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(a->port);
    memcpy(&s4->sin_addr, a->ip, 4);
#ifdef __APPLE__
    s4->sin_len = sizeof *s4;
#endif
    return sizeof *s4;
  } else {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(a->port);
    if (a->family == TS_ADDR_V4) {
      memcpy(&s6->sin6_addr, v4mapped_prefix, 12);
      memcpy((uint8_t *)&s6->sin6_addr + 12, a->ip, 4);
    } else if (a->family == TS_ADDR_V6) {
      memcpy(&s6->sin6_addr, a->ip, 16);
      s6->sin6_scope_id = a->scope_id;
    } else {
      return 0;
    }
#ifdef __APPLE__
    s6->sin6_len = sizeof *s6;
#endif
    return sizeof *s6;
  }
}

/* ---------------------------------------------------------------- socket */

/* Asks for want bytes of buffer: the privileged option first (ignores the sysctl cap), then the ordinary one;
 * neither failing is an error. Returns what the kernel reports afterwards. */
static int set_buffer(int fd, int opt, int force_opt, int want) {
  int v = 0;
  socklen_t len = sizeof v;
  if (want > 0) {
    int done = 0;
    if (force_opt >= 0) done = setsockopt(fd, SOL_SOCKET, force_opt, &want, sizeof want) == 0;
    if (!done) (void)setsockopt(fd, SOL_SOCKET, opt, &want, sizeof want);
  }
  if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) != 0) v = 0;
  return v;
}

int ts_udp_open(ts_udp *u, const char *bind_addr, uint16_t port, const ts_udp_opts *opts) {
  ts_udp_opts o;
  ts_addr a;
  struct sockaddr_storage ss;
  socklen_t sl;
  int fd, one = 1, err, want;
  memset(u, 0, sizeof *u);
  u->fd = -1;
  if (opts) o = *opts;
  else memset(&o, 0, sizeof o);
  if (ts_addr_parse(&a, bind_addr ? bind_addr : "::", port) != 0) return -EINVAL;
  /* "::ffff:1.2.3.4" parses as IPv4 and gets an IPv4 socket: the same thing, without the mapping. */
  u->family = a.family;

#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
  fd = socket(a.family == TS_ADDR_V4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) return -errno;
#else
  fd = socket(a.family == TS_ADDR_V4 ? AF_INET : AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
  if (fd < 0) return -errno;
  if (ts_sock_nonblock(fd) != 0) {
    err = errno;
    ts_sock_close(fd);
    return -err;
  }
#endif
  ts_sock_udp_setup(fd);
  if (a.family == TS_ADDR_V6) {
    int v6only = o.v6only ? 1 : 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0 && !v6only) {
      err = errno;
      ts_sock_close(fd);
      return -err;
    }
    u->dualstack = !v6only;
  }
#ifdef SO_NOSIGPIPE
  (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  (void)one;

  want = o.rcvbuf == 0 ? DEFAULT_RCVBUF : o.rcvbuf;
#ifdef SO_RCVBUFFORCE
  u->rcvbuf = set_buffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, want);
#else
  u->rcvbuf = set_buffer(fd, SO_RCVBUF, -1, want);
#endif
  want = o.sndbuf == 0 ? DEFAULT_SNDBUF : o.sndbuf;
#ifdef SO_SNDBUFFORCE
  u->sndbuf = set_buffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, want);
#else
  u->sndbuf = set_buffer(fd, SO_SNDBUF, -1, want);
#endif

  sl = addr_to_sockaddr(a.family, &a, &ss);
  if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
    err = errno;
    ts_sock_close(fd);
    return -err;
  }
  sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
    err = errno;
    ts_sock_close(fd);
    return -err;
  }
  addr_from_sockaddr(&u->local, &ss);

  u->gso_seg_max = UINT16_MAX;
#if TS_UDP_HAVE_GSO
  if (!o.no_gso) {
    int seg = 0;
    socklen_t l = sizeof seg;
    u->gso = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, &l) == 0;
  }
  if (!o.no_gro) {
    int on = 1;
    u->gro = setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
  }
#endif
  u->gso_ok = u->gso;
  u->gro_ok = u->gro;
  u->fd = fd;
  return 0;
}

void ts_udp_close(ts_udp *u) {
  if (u->fd >= 0) ts_sock_close(u->fd);
  u->fd = -1;
}

void ts_udp_set_offload(ts_udp *u, int gso, int gro, int equal_tail_guard) {
  u->gso = gso && u->gso_ok;
  u->equal_tail_guard = equal_tail_guard != 0;
#if TS_UDP_HAVE_GSO
  if (u->fd >= 0 && u->gro_ok && (gro != 0) != (u->gro != 0)) {
    int on = gro != 0;
    if (setsockopt(u->fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0) u->gro = (uint8_t)on;
  }
#else
  (void)gro;
#endif
}

/* ---------------------------------------------------------------- receive */

typedef struct {
  _Alignas(struct cmsghdr) char buf[64];
} rx_control;

typedef struct {
  ts_mmsg *msgs;
  struct iovec *iov;
  struct sockaddr_storage *names;
  rx_control *ctl;
} rx_sys;

int ts_udp_rxbatch_init(ts_udp_rxbatch *b, unsigned slots, size_t slot_size) {
  rx_sys *s;
  memset(b, 0, sizeof *b);
  if (slots == 0) slots = TS_UDP_RX_SLOTS_DEFAULT;
  if (slot_size == 0) slot_size = TS_UDP_RX_SLOT_DEFAULT;
  if (slots > SEND_MAX_MSGS) slots = SEND_MAX_MSGS;
  b->slots = slots;
  b->slot_size = slot_size;
  b->buf = ts_pages_alloc(slots * slot_size);
  /* Written per received datagram only (by us or the kernel): kernel pages, resident as far as a batch
   * reaches, where an idle socket's batches are one datagram (mem/pages.h). */
  b->meta = ts_pages_alloc(slots * sizeof *b->meta);
  s = calloc(1, sizeof *s);
  b->sys = s;
  if (!b->buf || !b->meta || !s) goto fail;
  s->msgs = calloc(slots, sizeof *s->msgs);
  s->iov = calloc(slots, sizeof *s->iov);
  s->names = ts_pages_alloc(slots * sizeof *s->names);
  s->ctl = ts_pages_alloc(slots * sizeof *s->ctl);
  if (!s->msgs || !s->iov || !s->names || !s->ctl) goto fail;
  for (unsigned i = 0; i < slots; i++) {
    s->iov[i].iov_base = b->buf + (size_t)i * slot_size;
    s->iov[i].iov_len = slot_size;
    s->msgs[i].msg_hdr.msg_iov = &s->iov[i];
    s->msgs[i].msg_hdr.msg_iovlen = 1;
    s->msgs[i].msg_hdr.msg_name = &s->names[i];
  }
  return 0;
fail:
  ts_udp_rxbatch_free(b);
  return -ENOMEM;
}

void ts_udp_rxbatch_free(ts_udp_rxbatch *b) {
  rx_sys *s = b->sys;
  if (s) {
    free(s->msgs);
    free(s->iov);
    ts_pages_free(s->names, b->slots * sizeof *s->names);
    ts_pages_free(s->ctl, b->slots * sizeof *s->ctl);
    free(s);
  }
  ts_pages_free(b->buf, b->slots * b->slot_size);
  ts_pages_free(b->meta, b->slots * sizeof *b->meta);
  memset(b, 0, sizeof *b);
}

/* The GRO segment size from a received message's control data, or 0. */
static uint32_t gro_size(const struct msghdr *h) {
#if TS_UDP_HAVE_GSO
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR((struct msghdr *)h, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      if (c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        int v;
        memcpy(&v, CMSG_DATA(c), sizeof v);
        return v > 0 ? (uint32_t)v : 0;
      }
      if (c->cmsg_len >= CMSG_LEN(sizeof(uint16_t))) {
        uint16_t v;
        memcpy(&v, CMSG_DATA(c), sizeof v);
        return v;
      }
    }
  }
#else
  (void)h;
#endif
  return 0;
}

int ts_udp_recv_batch(ts_udp *u, ts_udp_rxbatch *b) {
  rx_sys *s = b->sys;
  int r, total = 0;
  b->nmsgs = 0;
  b->it_msg = 0;
  b->it_off = 0;
  if (u->fd < 0) return -EBADF;
  for (unsigned i = 0; i < b->slots; i++) {
    struct msghdr *h = &s->msgs[i].msg_hdr;
    h->msg_namelen = sizeof s->names[i];
    h->msg_control = u->gro ? s->ctl[i].buf : NULL;
    h->msg_controllen = u->gro ? sizeof s->ctl[i].buf : 0;
    h->msg_flags = 0;
  }
  do {
    r = recv_many(u->fd, s->msgs, b->slots, &u->stats.rx_syscalls);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return 0;
    u->stats.rx_errors++;
    u->last_rx_error = err;
    return -err;
  }
  for (int i = 0; i < r; i++) {
    const struct msghdr *h = &s->msgs[i].msg_hdr;
    ts_udp_rxmeta *m = &b->meta[i];
    uint32_t len = s->msgs[i].msg_len, seg;
    addr_from_sockaddr(&m->from, &s->names[i]);
    m->skip = 0;
    seg = gro_size(h);
    if (h->msg_flags & MSG_TRUNC) {
      /* Did not fit the slot. A coalesced buffer keeps the whole segments that did fit; the rest is lost. */
      u->stats.rx_truncated++;
      if (seg == 0 || len < seg) {
        m->skip = 1;
        m->len = 0;
        m->seg = 0;
        continue;
      }
      len -= len % seg;
    }
    m->len = len;
    if (seg && seg < len) {
      uint32_t n = (len + seg - 1) / seg;
      m->seg = seg;
      total += (int)n;
      u->stats.rx_gro_bufs++;
      u->stats.rx_gro_dgrams += n;
    } else {
      m->seg = 0;
      total++;
    }
    u->stats.rx_bytes += len;
  }
  u->stats.rx_dgrams += (uint64_t)total;
  b->nmsgs = (unsigned)r;
  return total;
}

int ts_udp_rx_next(ts_udp_rxbatch *b, ts_udp_dgram *d) {
  while (b->it_msg < b->nmsgs) {
    ts_udp_rxmeta *m = &b->meta[b->it_msg];
    uint8_t *base = b->buf + (size_t)b->it_msg * b->slot_size;
    if (m->skip) {
      b->it_msg++;
      continue;
    }
    d->from = &m->from;
    if (m->seg == 0) {
      d->data = base;
      d->len = m->len;
      b->it_msg++;
      return 1;
    }
    d->data = base + b->it_off;
    d->len = m->len - b->it_off < m->seg ? m->len - b->it_off : m->seg;
    b->it_off += (uint32_t)d->len;
    if (b->it_off >= m->len) {
      b->it_msg++;
      b->it_off = 0;
    }
    return 1;
  }
  return 0;
}

/* ---------------------------------------------------------------- send */

typedef struct {
  struct sockaddr_storage name;
#if TS_UDP_HAVE_GSO
  struct {
    /* >= CMSG_SPACE(sizeof(uint16_t)), 24 on LP64 Linux; aligned as a cmsghdr (a union with one would not do:
     * glibc gives cmsghdr a flexible array member) */
    _Alignas(struct cmsghdr) char buf[32];
  } ctl;
#endif
  struct iovec iov[2]; /* the run's datagrams; [1] the equal-tail sentinel when there is one */
  unsigned first, n; /* the entries this message carries */
} tx_aux;

#if TS_UDP_HAVE_GSO
static const uint8_t gso_sentinel[1] = {TS_UDP_GSO_SENTINEL};
#endif

typedef struct {
  ts_mmsg *msgs;
  tx_aux *aux;
} tx_sys;

int ts_udp_txbatch_init(ts_udp_txbatch *b, unsigned max, size_t arena_bytes) {
  tx_sys *s;
  unsigned nmsg;
  memset(b, 0, sizeof *b);
  if (max == 0) max = TS_UDP_TX_MAX_DEFAULT;
  if (arena_bytes == 0) arena_bytes = TS_UDP_TX_ARENA_DEFAULT;
  if (arena_bytes < TS_UDP_MAX_DGRAM) arena_bytes = TS_UDP_MAX_DGRAM;
  if (arena_bytes > UINT32_MAX) arena_bytes = UINT32_MAX;
  nmsg = max < SEND_MAX_MSGS ? max : SEND_MAX_MSGS;
  b->max = max;
  b->cap = arena_bytes;
  /* The batch's arrays are sized for its largest burst and mostly untouched: kernel pages (mem/pages.h). */
  b->buf = ts_pages_alloc(arena_bytes);
  b->ent = ts_pages_alloc(max * sizeof *b->ent);
  s = calloc(1, sizeof *s);
  b->sys = s;
  if (!b->buf || !b->ent || !s) goto fail;
  s->msgs = ts_pages_alloc(nmsg * sizeof *s->msgs);
  s->aux = ts_pages_alloc(nmsg * sizeof *s->aux);
  if (!s->msgs || !s->aux) goto fail;
  return 0;
fail:
  ts_udp_txbatch_free(b);
  return -ENOMEM;
}

void ts_udp_txbatch_free(ts_udp_txbatch *b) {
  tx_sys *s = b->sys;
  unsigned nmsg = b->max < SEND_MAX_MSGS ? b->max : SEND_MAX_MSGS;
  if (s) {
    ts_pages_free(s->msgs, nmsg * sizeof *s->msgs);
    ts_pages_free(s->aux, nmsg * sizeof *s->aux);
    free(s);
  }
  ts_pages_free(b->buf, b->cap);
  ts_pages_free(b->ent, b->max * sizeof *b->ent);
  memset(b, 0, sizeof *b);
}

uint8_t *ts_udp_tx_reserve(ts_udp_txbatch *b, const ts_addr *dst, size_t len) {
  ts_udp_txent *e;
  if (b->count >= b->max || len > TS_UDP_MAX_DGRAM || len > b->cap - b->used ||
      (dst->family != TS_ADDR_V4 && dst->family != TS_ADDR_V6)) {
    b->overflow++;
    return NULL;
  }
  e = &b->ent[b->count++];
  e->off = (uint32_t)b->used;
  e->len = (uint32_t)len;
  ts_addr_set(&e->dst, dst->family, dst->ip, dst->port);
  if (e->dst.family == TS_ADDR_V6) e->dst.scope_id = dst->scope_id;
  b->used += len;
  return b->buf + e->off;
}

int ts_udp_tx_trim(ts_udp_txbatch *b, size_t len) {
  ts_udp_txent *e;
  if (b->count <= b->head) return -EINVAL;
  e = &b->ent[b->count - 1];
  if (len > e->len) return -EINVAL;
  b->used -= e->len - len;
  e->len = (uint32_t)len;
  return 0;
}

int ts_udp_tx_cancel(ts_udp_txbatch *b) {
  if (b->count <= b->head) return -EINVAL;
  b->count--;
  b->used -= b->ent[b->count].len;
  return 0;
}

int ts_udp_tx_set_dst(ts_udp_txbatch *b, const ts_addr *dst) {
  ts_udp_txent *e;
  if (b->count <= b->head || (dst->family != TS_ADDR_V4 && dst->family != TS_ADDR_V6)) return -EINVAL;
  e = &b->ent[b->count - 1];
  ts_addr_set(&e->dst, dst->family, dst->ip, dst->port);
  if (e->dst.family == TS_ADDR_V6) e->dst.scope_id = dst->scope_id;
  return 0;
}

unsigned ts_udp_tx_pending(const ts_udp_txbatch *b) { return b->count - b->head; }

/* Moves the queued entries [head, count) and their bytes to the front of the batch. */
static void tx_compact(ts_udp_txbatch *b) {
  uint32_t off0;
  unsigned n;
  if (b->head == 0) return;
  if (b->head >= b->count) {
    b->head = b->count = 0;
    b->used = 0;
    return;
  }
  off0 = b->ent[b->head].off;
  n = b->count - b->head;
  memmove(b->buf, b->buf + off0, b->used - off0);
  memmove(b->ent, b->ent + b->head, n * sizeof *b->ent);
  for (unsigned i = 0; i < n; i++) b->ent[i].off -= off0;
  b->used -= off0;
  b->head = 0;
  b->count = n;
}

static void tx_drop(ts_udp *u, unsigned n, int err, int *first_err) {
  u->stats.tx_errors += n;
  u->last_tx_error = err;
  if (!*first_err) *first_err = err;
}

int ts_udp_tx_flush(ts_udp *u, ts_udp_txbatch *b) {
  tx_sys *s = b->sys;
  int first_err = 0;
  unsigned nogso_end = 0; /* entries below this index go one per message (after a GSO failure) */
#if !TS_UDP_HAVE_GSO
  (void)nogso_end;
#endif
  u->stats.tx_overflow += b->overflow;
  b->overflow = 0;
  if (b->head >= b->count) {
    b->head = b->count = 0;
    b->used = 0;
    return 0;
  }
  if (u->fd < 0) return -EBADF;

  while (b->head < b->count) {
    unsigned i = b->head, nm = 0, k = 0, restart = 0;
    /* Build up to SEND_MAX_MSGS messages from the queue. */
    while (i < b->count && nm < SEND_MAX_MSGS) {
      ts_udp_txent *e = &b->ent[i];
      tx_aux *a = &s->aux[nm];
      struct msghdr *h = &s->msgs[nm].msg_hdr;
      unsigned n = 1;
      size_t total = e->len;
      socklen_t nl;
      if (e->dst.family == 0) { /* dropped by an earlier flush that then stopped on EAGAIN */
        i++;
        continue;
      }
      nl = addr_to_sockaddr(u->family, &e->dst, &a->name);
      if (nl == 0) {
        tx_drop(u, 1, EAFNOSUPPORT, &first_err);
        e->dst.family = 0;
        i++;
        continue;
      }
#if TS_UDP_HAVE_GSO
      int sentinel = 0;
      /* Under the equal-tail guard 1-byte datagrams never coalesce: no shorter tail could follow them. */
      if (u->gso && i >= nogso_end && e->len > (u->equal_tail_guard ? 1u : 0u) && e->len <= u->gso_seg_max) {
        /* With the equal-tail guard a run leaves room for the 1-byte tail it may need. */
        unsigned max_segs = TS_UDP_GSO_MAX_SEGS - (u->equal_tail_guard ? 1u : 0u);
        size_t max_total = TS_UDP_MAX_DGRAM_V4 - (u->equal_tail_guard ? 1u : 0u);
        while (i + n < b->count && n < max_segs) {
          const ts_udp_txent *f = &b->ent[i + n];
          if (f->len == 0 || f->len > e->len || total + f->len > max_total || !ts_addr_equal(&f->dst, &e->dst))
            break;
          total += f->len;
          n++;
          if (f->len < e->len) break; /* a shorter datagram ends the run */
        }
        sentinel = u->equal_tail_guard && n > 1 && b->ent[i + n - 1].len == e->len;
      }
#endif
      a->iov[0].iov_base = b->buf + e->off;
      a->iov[0].iov_len = total;
      a->first = i;
      a->n = n;
      memset(h, 0, sizeof *h);
      h->msg_name = &a->name;
      h->msg_namelen = nl;
      h->msg_iov = a->iov;
      h->msg_iovlen = 1;
#if TS_UDP_HAVE_GSO
      if (sentinel) {
        a->iov[1].iov_base = (void *)gso_sentinel;
        a->iov[1].iov_len = sizeof gso_sentinel;
        h->msg_iovlen = 2;
      }
      if (n > 1) {
        struct cmsghdr *c;
        uint16_t seg = (uint16_t)e->len;
        memset(&a->ctl, 0, sizeof a->ctl);
        h->msg_control = a->ctl.buf;
        h->msg_controllen = CMSG_SPACE(sizeof seg);
        c = CMSG_FIRSTHDR(h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof seg);
        memcpy(CMSG_DATA(c), &seg, sizeof seg);
      }
#endif
      nm++;
      i += n;
    }

    /* Send them: as many per call as the kernel takes. */
    while (k < nm) {
      int r = send_many(u->fd, s->msgs + k, nm - k, &u->stats.tx_syscalls), err;
      if (r > 0) {
        for (unsigned j = k; j < k + (unsigned)r; j++) {
          u->stats.tx_dgrams += s->aux[j].n;
          u->stats.tx_bytes += s->aux[j].iov[0].iov_len;
          if (s->msgs[j].msg_hdr.msg_iovlen > 1) u->stats.tx_gso_sentinels++;
          if (s->aux[j].n > 1) {
            u->stats.tx_gso_sends++;
            u->stats.tx_gso_dgrams += s->aux[j].n;
          }
        }
        k += (unsigned)r;
        continue;
      }
      err = r < 0 ? errno : EAGAIN;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        b->head = s->aux[k].first;
        u->stats.tx_eagain++;
        tx_compact(b);
        return -EAGAIN;
      }
      if (s->aux[k].n > 1 && (err == EIO || err == EINVAL || err == EMSGSIZE)) {
        /* The kernel cannot do GSO here: send the run's datagrams one by one, and stop coalescing on this socket
         * (EIO, EINVAL) or stop coalescing datagrams this large (EMSGSIZE: segment above the route's MTU). */
        uint32_t seg = b->ent[s->aux[k].first].len;
        if (err == EMSGSIZE) {
          if (seg - 1 < u->gso_seg_max) u->gso_seg_max = (uint16_t)(seg - 1);
        } else {
          u->gso = 0;
        }
        u->stats.gso_fallbacks++;
        nogso_end = s->aux[k].first + s->aux[k].n;
        b->head = s->aux[k].first;
        restart = 1;
        break;
      }
      /* Refused for its destination (unreachable, filtered, wrong family...): drop the message, every datagram
       * of it (a run shares one destination). */
      tx_drop(u, s->aux[k].n, err, &first_err);
      for (unsigned j = 0; j < s->aux[k].n; j++) b->ent[s->aux[k].first + j].dst.family = 0;
      k++;
    }
    if (!restart) b->head = i;
  }
  b->head = b->count = 0;
  b->used = 0;
  return first_err ? -first_err : 0;
}
