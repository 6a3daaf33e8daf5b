/* TCP between lwIP and JavaScript, in one of two transports chosen per connection:
 *  - fd: each connection is a socketpair(2). The engine pumps bytes between its end and the lwIP pcb;
 *    JavaScript wraps the other end as a real net.Socket, so every Node API works unchanged. Bytes lwIP
 *    received are acknowledged to the peer (tcp_recved) only once they are in the socketpair, so a reader that
 *    stops reading closes the TCP window; the engine reads from its end only while lwIP has send-buffer space.
 *  - stream: no descriptor. Received bytes leave as TS_EV_TCP_DATA events (one per connection per loop turn),
 *    at most TS_TCP_STREAM_CREDIT of them not yet taken by JavaScript (ts_tcp_stream_read gives credit back),
 *    and are acknowledged to the peer as they leave; JavaScript's writes arrive by ts_tcp_stream_write and
 *    are reported taken by lwIP with TS_EV_TCP_WRITTEN. For runtimes that cannot adopt a socketpair (Bun,
 *    Windows) and for connection counts beyond the descriptor limit.
 * Engine thread only. docs/architecture.md, "The bridge to JavaScript", says why. */
#ifndef TS_TCP_BRIDGE_H
#define TS_TCP_BRIDGE_H

#include <stdint.h>

#include "engine/engine.h"
#include "engine/evq.h"
#include "events.h"
#include "stack/netif.h"

/* Send-side memory limits (docs/architecture.md, "TCP memory"): a connection gives lwIP at most twice its
 * window in flight and at least TS_TCP_SND_MIN; a device's connections together at most TS_TCP_SND_DEVICE,
 * except that each may always have TS_TCP_SND_FLOOR. */
#define TS_TCP_SND_MIN (256u * 1024u)
#define TS_TCP_SND_DEVICE (16u * 1024u * 1024u)
#define TS_TCP_SND_FLOOR (64u * 1024u)
/* Half-open connections a listener holds (SYN received, handshake not complete) before it drops SYNs. */
#define TS_TCP_SYN_BACKLOG 4096
/* Stream transport: received bytes handed to JavaScript and not yet consumed there, per connection (the
 * socketpair's buffer plays this part in the fd transport). JavaScript holds its write callbacks while more
 * than this many written bytes are not yet reported taken (lib/net/socket.ts, WRITE_CREDIT), so reports
 * of at least half of it are enough to keep it going, and a request/response exchange costs no report. */
#define TS_TCP_STREAM_CREDIT (512u * 1024u)

typedef struct ts_tcp_listener ts_tcp_listener;
typedef struct ts_tcpconn ts_tcpconn;

typedef struct ts_tcp_host {
  ts_engine *engine;
  ts_evq *evq;
  ts_netif *netif;
  uint32_t device_id;
  uint64_t *next_id; /* connection ids, unique per device */
  ts_tcpconn *conns; /* all live connections of the device (for close and stats) */
  ts_tcp_listener *listeners;
  /* Optional: 0 if no route leads to dst (the dial fails with EHOSTUNREACH). */
  int (*route_ok)(void *ctx, const ts_addr *dst);
  void *route_ctx;
  ts_tcpconn *acks;      /* connections that received data since the last ts_tcp_input_done */
  /* The packet lwIP is taking in came over a DERP relay (the link sets it per packet; stack/tcp_relayed.h). */
  uint8_t rx_relayed;
  /* Send-side memory (tcp_bridge.c, "socketpair -> lwIP"): bytes in lwIP's send queues, and the connections
   * waiting for their turn to add more, oldest first. */
  size_t snd_queued;
  ts_tcpconn *waiters;
  size_t nwaiters;
  ts_engine_deferred serve; /* serves the waiters at the end of the loop turn */
  /* Connections by id (a chained hash): stream calls name a connection per write. */
  ts_tcpconn **idx;
  size_t idx_cap, nconns;
} ts_tcp_host;

/* Listens on port (0 = any) of the netif's addresses; family 0 = both, 4 or 6. Returns a listener or NULL
 * with *err set (UV_EADDRINUSE, UV_ENOMEM). Accepted connections are announced with TS_EV_TCP_ACCEPT,
 * carrying a socketpair end, or no descriptor (fd -1) if stream is set. */
ts_tcp_listener *ts_tcp_listen(ts_tcp_host *h, uint64_t id, int family, uint16_t port, int backlog, int stream,
                               int *err);
void ts_tcp_listener_close(ts_tcp_listener *l);
/* The bound port (useful after listening on port 0). */
uint16_t ts_tcp_listener_port(const ts_tcp_listener *l);
/* Makes l the device's catch-all listener: it also gets the connections to the netif's foreign destinations
 * (ts_netif_set_foreign), whatever their port, announced with their real local address. Closing l ends it. */
void ts_tcp_listener_catch(ts_tcp_listener *l);

/* Starts a connection to dst. fd is the engine's end of a socketpair the caller created (the caller gives
 * the other end to JavaScript at once: bytes written before the handshake completes wait in the kernel), or
 * -1 for the stream transport. Outcome: TS_EV_TCP_CONNECTED or TS_EV_TCP_ERROR. Returns 0 or a negative uv
 * error (fd then not owned). */
int ts_tcp_dial(ts_tcp_host *h, uint64_t id, int fd, const ts_addr *dst);

/* Stream transport, by connection id (ignored if gone, or not a stream connection). */
/* Queues bytes JavaScript wrote; takes data (malloc'd) in every case. They go to lwIP in order as its send
 * budget allows; TS_EV_TCP_WRITTEN reports how many it took. */
void ts_tcp_stream_write(ts_tcp_host *h, uint64_t id, uint8_t *data, size_t len);
/* JavaScript ended its writes: FIN once the queued bytes are in lwIP. */
void ts_tcp_stream_end(ts_tcp_host *h, uint64_t id);
/* JavaScript consumed n delivered bytes: more may be delivered. */
void ts_tcp_stream_read(ts_tcp_host *h, uint64_t id, size_t n);
/* JavaScript destroyed its socket: queued bytes still go out, then FIN; a reset instead if received bytes
 * were left undelivered, as a kernel does on close. */
void ts_tcp_stream_close(ts_tcp_host *h, uint64_t id);

/* Options on a live connection, by id (ignored if gone). */
void ts_tcp_set_nodelay(ts_tcp_host *h, uint64_t id, int on);
void ts_tcp_set_keepalive(ts_tcp_host *h, uint64_t id, int on, uint32_t idle_ms);
/* Aborts with RST (socket.resetAndDestroy()). */
void ts_tcp_reset(ts_tcp_host *h, uint64_t id);
/* Called after each batch of input packets. lwIP ACKs every second full segment at once and delays a lone
 * one until its TCP timer (TCP_TMR_INTERVAL). This sends those delayed ACKs now, except on connections
 * that answer what they receive (request/response): there the answer carries the ACK, so a message costs
 * one packet instead of two and wakes the peer once (docs/performance.md, "Round trip"). As in Linux's
 * "pingpong" mode, a connection leaves that mode when the peer sends again before we answered. */
void ts_tcp_input_done(ts_tcp_host *h);

/* Closes every connection and listener (device shutdown). */
void ts_tcp_host_close(ts_tcp_host *h);

#endif
