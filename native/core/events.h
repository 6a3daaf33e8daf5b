/* Every event the engine sends to its embedder, in one place: the type numbers and, for each type that
 * carries data, the struct stored in ts_event.data (written with ts_event_put, read with ts_event_get; the
 * addon decodes them in native/addon/context.cc). docs/architecture.md, "The native Device". */
#ifndef TS_EVENTS_H
#define TS_EVENTS_H

#include <stdint.h>
#include <string.h>

#include "engine/evq.h"
#include "net/addr.h"

enum {
  TS_EV_TCP_ACCEPT = 1,    /* id = new connection; ts_ev_accept; fd = JavaScript's end of the socketpair */
  TS_EV_TCP_CONNECTED = 2, /* id = connection; ts_ev_connected */
  TS_EV_TCP_ERROR = 3,     /* id = connection; status = negative uv error (UV_ECONNRESET, UV_ECONNREFUSED...) */
  TS_EV_TCP_CLOSED = 4,    /* id = connection; both directions finished and the native side is gone */
  TS_EV_LISTEN_ERROR = 5,  /* id = listener; status: an accepted connection was reset for want of descriptors */
  /* The stream transport (stack/tcp_bridge.h), in order per connection: */
  TS_EV_TCP_DATA = 6,      /* id = connection; ptr/ptr_len = received bytes (the consumer frees them) */
  TS_EV_TCP_WRITTEN = 7,   /* id = connection; ts_ev_written: bytes lwIP took since the last one */
  TS_EV_TCP_END = 8,       /* id = connection; the peer's FIN, after its last TS_EV_TCP_DATA */
  TS_EV_UDP_MESSAGE = 16,  /* id = socket; ts_ev_message; ptr/ptr_len = payload (the consumer frees it) */
  TS_EV_UDP_ERROR = 17,    /* id = socket; status = why a queued send failed */
  TS_EV_DERP_WANT = 32,    /* id = region: a packet needs this relay and it has no connection */
  TS_EV_DERP_STATE = 33,   /* id = region; ts_ev_derp_state; status = why it closed (0: clean) */
  TS_EV_STUN = 34,         /* id = region; ts_ev_stun: our address as the region's STUN server saw it */
  TS_EV_DERP_DATA = 35,    /* id = relay stream (bind/derp_conn.h); ptr/ptr_len = bytes for the relay */
  TS_EV_DERP_END = 36,     /* id = relay stream; the engine closed it */
  TS_EV_PATH = 37,         /* ts_ev_path: a peer's chosen path changed (direct address, or a relay) */
  TS_EV_HANDSHAKE = 38,    /* ts_ev_handshake: a WireGuard handshake with a peer completed */
  TS_EV_TSMP_PONG = 39,    /* ts_ev_tsmp_pong: a peer answered one of our TSMP pings */
  TS_EV_DISCO_PONG = 41,   /* id = the ping's tag; ts_ev_disco_pong: a peer answered a disco ping on demand */
  TS_EV_CAPTURE = 40,      /* id = capture; ts_ev_capture; ptr/ptr_len = an IP packet (the consumer frees it) */
};

typedef struct ts_ev_accept {
  uint64_t listener;
  ts_addr local, remote;
} ts_ev_accept;

typedef struct ts_ev_connected {
  ts_addr local, remote;
} ts_ev_connected;

typedef struct ts_ev_written {
  uint64_t bytes;
} ts_ev_written;

typedef struct ts_ev_message {
  ts_addr from;
} ts_ev_message;

typedef struct ts_ev_derp_state {
  uint8_t connected; /* 1 logged in, 0 closed */
} ts_ev_derp_state;

typedef struct ts_ev_path {
  uint8_t node_key[32];
  ts_addr direct;  /* family 0: no trusted direct address; packets go through relay `region` */
  uint32_t region; /* the peer's relay region (0: none known) */
} ts_ev_path; /* ts_event.id: 0, or 1 << 32 | VNI when packets go through a peer relay; `direct` is then the
                 relay server's address (docs/protocol/peer-relay.md) */

typedef struct ts_ev_handshake {
  uint8_t public_key[32]; /* the peer's static key (its node key in Tailscale mode) */
} ts_ev_handshake;

typedef struct ts_ev_tsmp_pong {
  uint8_t public_key[32]; /* the answering peer's node key */
  uint8_t data[8];        /* what our ping carried */
} ts_ev_tsmp_pong;

typedef struct ts_ev_disco_pong {
  uint8_t node_key[32];
  ts_addr direct;      /* family 0: the pong came through relay `region` */
  uint32_t region;
  uint32_t latency_us;
} ts_ev_disco_pong;

typedef struct ts_ev_capture {
  int64_t sec;      /* wall-clock time the engine saw the packet */
  int32_t usec;
  uint8_t inbound;  /* 1 from the tailnet to this node, 0 from this node */
} ts_ev_capture;

typedef struct ts_ev_stun {
  ts_addr mapped;
  uint64_t rtt_ns;
} ts_ev_stun;

/* Copies (not casts: ts_event.data has no alignment guarantee) a payload in and out of an event. */
#define ts_event_put(ev, payload) ts_event_copy_((ev)->data, (payload), sizeof *(payload))
#define ts_event_get(ev, payload) ts_event_copy_((payload), (ev)->data, sizeof *(payload))
static inline void ts_event_copy_(void *dst, const void *src, size_t len) { memcpy(dst, src, len); }

#ifdef __cplusplus
#define TS_EV_FITS(t) static_assert(sizeof(t) <= sizeof(((ts_event *)0)->data), #t " fits ts_event.data")
#else
#define TS_EV_FITS(t) _Static_assert(sizeof(t) <= sizeof(((ts_event *)0)->data), #t " fits ts_event.data")
#endif
TS_EV_FITS(ts_ev_accept);
TS_EV_FITS(ts_ev_connected);
TS_EV_FITS(ts_ev_stun);
TS_EV_FITS(ts_ev_path);
TS_EV_FITS(ts_ev_handshake);
TS_EV_FITS(ts_ev_tsmp_pong);
TS_EV_FITS(ts_ev_capture);
TS_EV_FITS(ts_ev_disco_pong);

#endif
