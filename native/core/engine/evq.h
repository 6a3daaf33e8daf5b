/* Events from the engine thread to one embedder (a Node environment). The engine appends; when the queue
 * goes from empty to non-empty it calls notify once, and the embedder drains everything in one batch, so a
 * burst of events costs one cross-thread wake-up. */
#ifndef TS_EVQ_H
#define TS_EVQ_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Fixed-size, so the queue needs no allocation per event. `data` carries what a type needs (addresses,
 * counters); `ptr` an optional heap payload the consumer frees; `fd` a descriptor the consumer owns. */
typedef struct ts_event {
  uint32_t type;
  uint32_t device; /* device id */
  uint64_t id;     /* connection, listener or request id */
  int32_t status;  /* 0 or a negative uv error code (UV_ECONNREFUSED, ...) */
  int32_t fd;      /* a socketpair end for JavaScript, or -1 */
  uint8_t data[64];
  void *ptr;
  size_t ptr_len;
} ts_event;

typedef struct ts_evq {
  uv_mutex_t mu;
  ts_event *ring;
  size_t head, count, cap;
  void (*notify)(void *ctx); /* called on the engine thread; must not block */
  void *notify_ctx;
  uint64_t dropped; /* events lost to memory exhaustion */
} ts_evq;

int ts_evq_init(ts_evq *q, void (*notify)(void *ctx), void *ctx);
/* Frees undrained payloads and closes undelivered descriptors. */
void ts_evq_destroy(ts_evq *q);
void ts_evq_push(ts_evq *q, const ts_event *ev);
size_t ts_evq_drain(ts_evq *q, ts_event *out, size_t cap);

#endif
