#include "engine/evq.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ts_evq_init(ts_evq *q, void (*notify)(void *ctx), void *ctx) {
  memset(q, 0, sizeof *q);
  q->notify = notify;
  q->notify_ctx = ctx;
  return uv_mutex_init(&q->mu);
}

void ts_evq_destroy(ts_evq *q) {
  for (size_t i = 0; i < q->count; i++) {
    ts_event *ev = &q->ring[(q->head + i) % q->cap];
    free(ev->ptr);
    if (ev->fd >= 0) close(ev->fd);
  }
  free(q->ring);
  uv_mutex_destroy(&q->mu);
}

void ts_evq_push(ts_evq *q, const ts_event *ev) {
  uv_mutex_lock(&q->mu);
  if (q->count == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 256;
    ts_event *n = malloc(cap * sizeof *n);
    if (!n) {
      q->dropped++;
      uv_mutex_unlock(&q->mu);
      free(ev->ptr);
      if (ev->fd >= 0) close(ev->fd);
      return;
    }
    for (size_t i = 0; i < q->count; i++) n[i] = q->ring[(q->head + i) % q->cap];
    free(q->ring);
    q->ring = n;
    q->head = 0;
    q->cap = cap;
  }
  q->ring[(q->head + q->count) % q->cap] = *ev;
  int was_empty = q->count++ == 0;
  uv_mutex_unlock(&q->mu);
  if (was_empty && q->notify) q->notify(q->notify_ctx);
}

size_t ts_evq_drain(ts_evq *q, ts_event *out, size_t cap) {
  uv_mutex_lock(&q->mu);
  size_t n = q->count < cap ? q->count : cap;
  for (size_t i = 0; i < n; i++) out[i] = q->ring[(q->head + i) % q->cap];
  if (n) {
    q->head = (q->head + n) % q->cap;
    q->count -= n;
  }
  uv_mutex_unlock(&q->mu);
  return n;
}
