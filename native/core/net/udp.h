/* Batched UDP for the engine thread: one non-blocking socket, datagrams in and out in batches.
 *
 * No libuv in here: the engine polls ts_udp.fd (uv_poll) and calls ts_udp_recv_batch when it is readable and
 * ts_udp_tx_flush when it has queued datagrams (or, after -EAGAIN, when the fd turns writable). Nothing is
 * allocated per datagram: a batch allocates its buffers once, at init. There is no global state; a socket and its
 * batches belong to one thread.
 *
 * Linux uses recvmmsg/sendmmsg, UDP GSO (UDP_SEGMENT) and UDP GRO (UDP_GRO) when the kernel has them (4.18 and
 * 5.0 on); other POSIX systems (macOS) fall back to one recvmsg/sendmsg per datagram behind the same interface
 * (build udp.c with -DTS_UDP_PORTABLE to run that path on Linux). Windows takes the same path through
 * port/sock.h (sendto/recvfrom on Winsock; fd is the SOCKET's value).
 *
 * Receive:
 *     ts_udp_rxbatch rx;  ts_udp_rxbatch_init(&rx, 0, 0);          // 64 slots x 64 KiB
 *     int n = ts_udp_recv_batch(&u, &rx);                          // n datagrams, 0 = would block, <0 = -errno
 *     ts_udp_dgram d;
 *     while (ts_udp_rx_next(&rx, &d)) handle(d.data, d.len, d.from);   // GRO buffers already split
 * Send:
 *     ts_udp_txbatch tx;  ts_udp_txbatch_init(&tx, 0, 0);
 *     uint8_t *p = ts_udp_tx_reserve(&tx, &dst, len);  if (p) encrypt_into(p, len);   // NULL = batch full
 *     int r = ts_udp_tx_flush(&u, &tx);                            // 0, -EAGAIN (rest still queued), or -errno
 */
#ifndef TS_NET_UDP_H
#define TS_NET_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- socket */

/* Largest UDP payload over IPv4 (65535 - 20 - 8). IPv6 allows 65527; ts_udp_tx_reserve accepts up to that and
 * the kernel rejects what does not fit the destination's family (counted as a send error). */
#define TS_UDP_MAX_DGRAM_V4 65507
#define TS_UDP_MAX_DGRAM 65527
/* Most datagrams coalesced into one GSO send (the kernel's limit is 64 before Linux 6.11, 128 after). */
#define TS_UDP_GSO_MAX_SEGS 64

typedef struct ts_udp_opts {
  int32_t rcvbuf;  /* bytes to ask for; 0 = default (8 MiB), < 0 = keep the kernel's default */
  int32_t sndbuf;  /* likewise; 0 = default (4 MiB) */
  uint8_t v6only;  /* IPv6 sockets: 1 = IPv6 only; default 0 = dual stack (IPv4 peers work too) */
  uint8_t no_gso;  /* 1 = never use UDP_SEGMENT */
  uint8_t no_gro;  /* 1 = do not enable UDP_GRO */
} ts_udp_opts;

typedef struct ts_udp_stats {
  uint64_t tx_dgrams, tx_bytes;   /* datagrams (GSO segments counted one by one) and payload bytes handed over */
  uint64_t tx_syscalls;           /* sendmmsg/sendmsg calls, including ones that failed */
  uint64_t tx_gso_sends;          /* messages sent with UDP_SEGMENT */
  uint64_t tx_gso_dgrams;         /* datagrams that went out inside those */
  uint64_t tx_eagain;             /* flushes that stopped on a full socket buffer */
  uint64_t tx_errors;             /* datagrams dropped because the kernel refused them (see last_tx_error) */
  uint64_t tx_overflow;           /* datagrams refused by ts_udp_tx_reserve (batch full), moved here on flush */
  uint64_t tx_gso_sentinels;      /* 1-byte tails added to GSO messages whose segments were all one length */
  uint64_t gso_fallbacks;         /* GSO messages the kernel refused (EIO/EINVAL: GSO switched off for this socket;
                                     EMSGSIZE: gso_seg_max lowered); their datagrams were resent one by one */
  uint64_t rx_dgrams, rx_bytes;   /* datagrams after GRO splitting, payload bytes */
  uint64_t rx_syscalls;           /* recvmmsg/recvmsg calls, including ones that found nothing */
  uint64_t rx_gro_bufs;           /* received buffers that held more than one datagram */
  uint64_t rx_gro_dgrams;         /* datagrams split out of those */
  uint64_t rx_truncated;          /* buffers that did not fit a slot: a datagram dropped, or a GRO buffer cut
                                     to the whole segments that fit (the rest lost) */
  uint64_t rx_errors;             /* receive calls that failed with something other than EAGAIN/EINTR */
} ts_udp_stats;

typedef struct ts_udp {
  int fd;            /* -1 when closed; poll it for readability (and writability after -EAGAIN) */
  uint8_t family;    /* TS_ADDR_V4 or TS_ADDR_V6 (the socket's own family) */
  uint8_t dualstack; /* IPv6 socket that also carries IPv4 */
  uint8_t gso;       /* UDP_SEGMENT in use (cleared at run time if the kernel refuses it) */
  uint8_t gro;       /* UDP_GRO enabled */
  uint16_t gso_seg_max; /* coalesce only datagrams up to this size; lowered below a segment size that failed with
                           EMSGSIZE (segment above the route's MTU; the datagrams then go out alone) */
  uint8_t gso_ok, gro_ok; /* the kernel offered UDP_SEGMENT / took UDP_GRO at open (and opts allowed them) */
  uint8_t equal_tail_guard; /* control's never-gso-equal-tail: no GSO message whose segments are all one length */
  ts_addr local; /* bound address and port (the kernel's choice for port 0) */
  int rcvbuf, sndbuf; /* effective sizes as getsockopt reports them (Linux reports twice the request) */
  int last_tx_error, last_rx_error; /* positive errno of the latest hard failure, 0 if none */
  ts_udp_stats stats;
} ts_udp;

/* Opens one non-blocking, close-on-exec UDP socket bound to bind_addr (numeric; NULL means "::") and port (0 =
 * ephemeral; the result is in u->local.port). An IPv6 socket is dual-stack unless opts->v6only. opts may be NULL.
 * Socket buffers: SO_RCVBUFFORCE/SO_SNDBUFFORCE are tried first (they work with CAP_NET_ADMIN), then
 * SO_RCVBUF/SO_SNDBUF (capped by net.core.rmem_max/wmem_max); failures there are not errors. Returns 0, or
 * -errno (u->fd is -1 then). */
int ts_udp_open(ts_udp *u, const char *bind_addr, uint16_t port, const ts_udp_opts *opts);
/* Closes the socket (idempotent). Batches are separate: free them with their own functions. */
void ts_udp_close(ts_udp *u);

/* Control's switches for kernel offloads (docs/protocol/capver.md, 140 and 141), applied at run time:
 *   gso 0: no UDP_SEGMENT from now on; 1: use it again if the kernel offered it at open;
 *   gro 0: UDP_GRO switched off on the socket; 1: on again if it was taken at open;
 *   equal_tail_guard 1: a GSO message whose segments would all have one length gets a 1-byte datagram (0x07)
 *   appended as a shorter last segment, so a kernel that mangles equal-length GSO batches never sees one. A
 *   WireGuard receiver drops it as too short (ts_udp_is_gso_sentinel names it). */
void ts_udp_set_offload(ts_udp *u, int gso, int gro, int equal_tail_guard);
/* The 1-byte tail equal_tail_guard sends (and a Tailscale peer with that switch sends us). */
#define TS_UDP_GSO_SENTINEL 0x07
static inline int ts_udp_is_gso_sentinel(const uint8_t *data, size_t len) {
  return len == 1 && data[0] == TS_UDP_GSO_SENTINEL;
}

/* ---------------------------------------------------------------- receive */

typedef struct ts_udp_dgram {
  uint8_t *data;              /* inside the batch's buffer: writable (decrypt in place), valid until the next recv */
  size_t len;
  const ts_addr *from;    /* normalized source */
} ts_udp_dgram;

typedef struct ts_udp_rxmeta {
  uint32_t len;      /* bytes in the slot */
  uint32_t seg;      /* GRO segment size; 0 = one datagram */
  ts_addr from;
  uint8_t skip;      /* truncated: not handed out */
} ts_udp_rxmeta;

typedef struct ts_udp_rxbatch {
  uint8_t *buf;        /* slots * slot_size bytes */
  size_t slot_size;
  unsigned slots;
  unsigned nmsgs;      /* buffers filled by the last ts_udp_recv_batch */
  ts_udp_rxmeta *meta; /* one per slot */
  void *sys;           /* platform message headers, preallocated */
  unsigned it_msg;     /* iterator: current buffer and offset in it */
  uint32_t it_off;
} ts_udp_rxbatch;

/* Default slot size: a whole GRO buffer (up to 64 KiB) must fit one slot, or the kernel truncates it. */
#define TS_UDP_RX_SLOT_DEFAULT 65536u
#define TS_UDP_RX_SLOTS_DEFAULT 64u

/* Allocates slots buffers of slot_size bytes (0, 0 = 64 x 64 KiB) and their headers. With GRO on, slot_size
 * should stay 65536: a smaller slot cuts coalesced buffers to the whole segments that fit, losing the rest
 * (counted in rx_truncated). Returns 0 or -ENOMEM. */
int ts_udp_rxbatch_init(ts_udp_rxbatch *b, unsigned slots, size_t slot_size);
void ts_udp_rxbatch_free(ts_udp_rxbatch *b);

/* One receive call: fills up to b->slots buffers with what the socket holds, without blocking. Returns the number
 * of datagrams now ready for ts_udp_rx_next (GRO buffers count as the datagrams they hold), 0 when nothing was
 * waiting, or -errno (for example a pending ICMP error such as -ECONNREFUSED; the socket stays usable). When it
 * filled every slot (b->nmsgs == b->slots) more may be waiting: call again after handling these (a call
 * invalidates the previous call's datagrams). */
int ts_udp_recv_batch(ts_udp *u, ts_udp_rxbatch *b);
/* Iterates the datagrams of the last receive in arrival order. Returns 1 and fills d, or 0 at the end. */
int ts_udp_rx_next(ts_udp_rxbatch *b, ts_udp_dgram *d);

/* ---------------------------------------------------------------- send */

typedef struct ts_udp_txent {
  uint32_t off, len;   /* in the arena */
  ts_addr dst;     /* normalized */
} ts_udp_txent;

typedef struct ts_udp_txbatch {
  uint8_t *buf;          /* arena: datagrams are packed back to back, in order */
  size_t cap, used;
  ts_udp_txent *ent;
  unsigned max, head, count; /* entries [head, count) are queued */
  uint64_t overflow;     /* reservations refused since the last flush */
  void *sys;             /* platform message headers, preallocated (one per entry) */
} ts_udp_txbatch;

#define TS_UDP_TX_MAX_DEFAULT 1024u          /* sendmmsg takes at most 1024 messages a call */
#define TS_UDP_TX_ARENA_DEFAULT (2u << 20)   /* 2 MiB */

/* Allocates room for max datagrams and arena_bytes of payload (0, 0 = 1024 and 2 MiB). arena_bytes is raised to
 * at least TS_UDP_MAX_DGRAM so any single datagram fits. Returns 0 or -ENOMEM. */
int ts_udp_txbatch_init(ts_udp_txbatch *b, unsigned max, size_t arena_bytes);
void ts_udp_txbatch_free(ts_udp_txbatch *b);

/* Queues a datagram of len bytes to dst and returns where to write it (the caller fills all len bytes before the
 * next flush). Returns NULL, and counts an overflow, when the batch has no room left (flush and retry) or len is
 * above TS_UDP_MAX_DGRAM or dst has no family. The bytes are not aligned. */
uint8_t *ts_udp_tx_reserve(ts_udp_txbatch *b, const ts_addr *dst, size_t len);
/* Shrinks the datagram reserved last to len bytes (len <= its reserved length); returns 0 or -EINVAL. */
int ts_udp_tx_trim(ts_udp_txbatch *b, size_t len);
/* Drops the datagram reserved last (nothing of it is sent); returns 0 or -EINVAL if there is none. */
int ts_udp_tx_cancel(ts_udp_txbatch *b);
/* Changes the destination of the datagram reserved last (a caller that learns it only after writing the
 * datagram in place); returns 0 or -EINVAL. */
int ts_udp_tx_set_dst(ts_udp_txbatch *b, const ts_addr *dst);
/* Datagrams queued and not yet handed to the kernel. */
unsigned ts_udp_tx_pending(const ts_udp_txbatch *b);

/* Hands every queued datagram to the kernel with as few calls as it can: runs of datagrams to one destination
 * with one size (the last of a run may be shorter) become one UDP_SEGMENT message (up to TS_UDP_GSO_MAX_SEGS
 * datagrams, TS_UDP_MAX_DGRAM_V4 bytes), and all messages go in one sendmmsg (more if over 1024).
 * Returns:
 *   0        everything was sent; the batch is empty.
 *   -EAGAIN  the socket buffer is full; datagrams not yet sent stay queued, in order (ts_udp_tx_pending). Wait
 *            for the fd to be writable and flush again (reserving more in between is fine).
 *   -errno   everything else was sent, but the kernel refused some datagrams with this error (the first one
 *            seen): those are dropped and counted in stats.tx_errors; the batch is empty.
 * If a GSO message fails with EIO or EINVAL (no GSO for this route) GSO is switched off for this socket
 * (u->gso = 0); with EMSGSIZE (Linux 6.x says so when a segment exceeds the route's MTU) u->gso_seg_max drops
 * below that segment size. Either way its datagrams are sent again one by one, and gso_fallbacks counts it. Any
 * other error drops the whole message (all its datagrams share a destination). Overflows counted by reserve move into
 * stats.tx_overflow. */
int ts_udp_tx_flush(ts_udp *u, ts_udp_txbatch *b);

#ifdef __cplusplus
}
#endif

#endif /* TS_NET_UDP_H */
