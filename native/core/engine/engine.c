#include "engine/engine.h"

#include <stdlib.h>
#include <string.h>

#include "port/clock.h"

typedef struct call {
  ts_engine_fn fn;
  void *arg;
  struct call *next;
} call;

struct ts_engine {
  uv_loop_t loop;
  uv_async_t wake;
  uv_thread_t thread;
  int started;
  int inline_mode;     /* driven by the embedder's loop on `owner` (ts_engine_start_inline) */
  uv_thread_t owner;
  void (*kick)(void *ctx); /* inline: asks the embedder for a turn soon (ts_engine_set_kick); owner only */
  void *kick_ctx;
  ts_engine_config cfg;

  uv_mutex_t mu; /* guards everything below */
  call *calls_head, *calls_tail;
  int stopping;

  ts_engine_hook *hooks; /* engine thread only */
  ts_engine_deferred *deferred; /* engine thread only; runs from both handles below */
  uv_idle_t defer_idle;
  uv_check_t defer_check;
};

/* The held readings (ts_engine_clock_hold): per thread, so a call from another thread reads the clock. The
 * wall clock is read on first use within a hold (most stretches never need it). */
static _Thread_local struct {
  unsigned depth;
  uint64_t ns, wall_ns;
} held_clock;

uint64_t ts_engine_now_ns(void) { return held_clock.depth ? held_clock.ns : ts_port_mono_ns(); }

uint64_t ts_engine_wall_ns(void) {
  if (!held_clock.depth) return ts_port_wall_ns();
  if (!held_clock.wall_ns) held_clock.wall_ns = ts_port_wall_ns();
  return held_clock.wall_ns;
}

void ts_engine_clock_hold(void) {
  if (held_clock.depth++ == 0) {
    held_clock.ns = ts_port_mono_ns();
    held_clock.wall_ns = 0;
  }
}

void ts_engine_clock_release(void) {
  if (held_clock.depth) held_clock.depth--;
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Runs the queued calls, and those they queue, in order. Returns whether the engine is stopping. */
static int run_queued(ts_engine *e) {
  for (;;) {
    uv_mutex_lock(&e->mu);
    call *c = e->calls_head;
    e->calls_head = NULL;
    e->calls_tail = NULL;
    int stopping = e->stopping;
    uv_mutex_unlock(&e->mu);
    if (!c) return stopping;
    while (c) {
      call *next = c->next;
      c->fn(e, c->arg);
      free(c);
      c = next;
    }
  }
}

static void run_calls(uv_async_t *a) {
  ts_engine *e = a->data;
  if (!run_queued(e)) return;
  for (ts_engine_hook *h = e->hooks; h;) {
    ts_engine_hook *next = h->next; /* a hook may free itself */
    h->fn(e, h);
    h = next;
  }
  e->hooks = NULL;
  uv_walk(&e->loop, close_any, NULL);
}

static void run_deferred(ts_engine *e) {
  uv_idle_stop(&e->defer_idle);
  uv_check_stop(&e->defer_check);
  ts_engine_deferred *d = e->deferred;
  e->deferred = NULL;
  while (d) { /* fn may defer again (itself or another): that goes on the fresh list */
    ts_engine_deferred *next = d->next;
    d->queued = 0;
    d->next = NULL;
    d->fn(d);
    d = next;
  }
}

static void on_defer_idle(uv_idle_t *h) { run_deferred(h->data); }
static void on_defer_check(uv_check_t *h) { run_deferred(h->data); }

void ts_engine_defer(ts_engine *e, ts_engine_deferred *d) {
  if (d->queued) return;
  d->queued = 1;
  d->next = e->deferred;
  e->deferred = d;
  if (!uv_is_active((uv_handle_t *)&e->defer_idle)) {
    uv_idle_start(&e->defer_idle, on_defer_idle);
    uv_check_start(&e->defer_check, on_defer_check);
  }
}

void ts_engine_defer_cancel(ts_engine *e, ts_engine_deferred *d) {
  if (!d->queued) return;
  for (ts_engine_deferred **pp = &e->deferred; *pp; pp = &(*pp)->next) {
    if (*pp == d) {
      *pp = d->next;
      break;
    }
  }
  d->queued = 0;
  d->next = NULL;
}

static void thread_main(void *arg) {
  ts_engine *e = arg;
  uv_run(&e->loop, UV_RUN_DEFAULT);
}

ts_engine *ts_engine_new(const ts_engine_config *cfg) {
  ts_engine *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  if (cfg) e->cfg = *cfg;
  if (uv_loop_init(&e->loop) != 0) {
    free(e);
    return NULL;
  }
  if (uv_mutex_init(&e->mu) != 0 || uv_async_init(&e->loop, &e->wake, run_calls) != 0) {
    uv_loop_close(&e->loop);
    free(e);
    return NULL;
  }
  e->wake.data = e;
  e->loop.data = e;
  uv_idle_init(&e->loop, &e->defer_idle);
  uv_check_init(&e->loop, &e->defer_check);
  e->defer_idle.data = e;
  e->defer_check.data = e;
  return e;
}

int ts_engine_start(ts_engine *e) {
  int r = uv_thread_create(&e->thread, thread_main, e);
  if (r == 0) e->started = 1;
  return r;
}

int ts_engine_start_inline(ts_engine *e) {
  e->inline_mode = 1;
  e->owner = uv_thread_self();
  return 0;
}

static int on_owner(ts_engine *e) {
  uv_thread_t self = uv_thread_self();
  return e->inline_mode && uv_thread_equal(&e->owner, &self);
}

int ts_engine_backend_fd(ts_engine *e) { return uv_backend_fd(&e->loop); }

static int calls_pending(ts_engine *e) {
  uv_mutex_lock(&e->mu);
  int n = e->calls_head != NULL && !e->stopping;
  uv_mutex_unlock(&e->mu);
  return n;
}

int ts_engine_run_inline(ts_engine *e) {
  /* A zero timeout means work is due now (an idle handle such as a send flush, pending callbacks, calls
   * queued through the kick): go round again, a few times at most, and let the embedder come back at once
   * for the rest. */
  for (int i = 0; i < 8; i++) {
    if (e->kick) run_queued(e); /* stopping is ts_engine_free's, after the driver has gone */
    uv_run(&e->loop, UV_RUN_NOWAIT);
    int t = uv_backend_timeout(&e->loop);
    if (t != 0 && !(e->kick && calls_pending(e))) return t;
  }
  return 0;
}

int ts_engine_run_kicked(ts_engine *e) {
  /* Only calls were asked for: run them and send what they queued without polling our descriptors (the
   * embedder polls the backend fd itself; a packet waiting there drives a full turn). Timers due, or other
   * work uv_run would do at once, take the full turn. */
  run_queued(e);
  if (e->deferred) run_deferred(e);
  uv_update_time(&e->loop);
  int t = uv_backend_timeout(&e->loop);
  return t == 0 || calls_pending(e) ? ts_engine_run_inline(e) : t;
}

void ts_engine_set_kick(ts_engine *e, void (*kick)(void *ctx), void *ctx) {
  e->kick = kick;
  e->kick_ctx = ctx;
}

/* After queueing on the owner thread, inline: the embedder's timer runs the calls and the turn that sends
 * what they queued at the end of its current loop iteration, instead of a wake-up through the async
 * handle's eventfd (a write, a poll of the embedder's loop, one of ours and a read; docs/performance.md,
 * "Round trip: the tail and the hops"). */
static void wake(ts_engine *e) {
  if (e->kick && on_owner(e)) e->kick(e->kick_ctx);
  else uv_async_send(&e->wake);
}

uv_loop_t *ts_engine_loop(ts_engine *e) { return &e->loop; }

int ts_engine_call(ts_engine *e, ts_engine_fn fn, void *arg) {
  call *c = malloc(sizeof *c);
  if (!c) return UV_ENOMEM;
  c->fn = fn;
  c->arg = arg;
  c->next = NULL;
  uv_mutex_lock(&e->mu);
  if (e->stopping) {
    uv_mutex_unlock(&e->mu);
    free(c);
    return UV_ECANCELED;
  }
  if (e->calls_tail) e->calls_tail->next = c;
  else e->calls_head = c;
  e->calls_tail = c;
  uv_mutex_unlock(&e->mu);
  wake(e);
  return 0;
}

typedef struct {
  ts_engine_fn fn;
  void *arg;
  uv_mutex_t mu;
  uv_cond_t cond;
  int done;
} sync_call;

static void run_sync(ts_engine *e, void *arg) {
  sync_call *s = arg;
  s->fn(e, s->arg);
  uv_mutex_lock(&s->mu);
  s->done = 1;
  uv_cond_signal(&s->cond);
  uv_mutex_unlock(&s->mu);
}

int ts_engine_call_sync(ts_engine *e, ts_engine_fn fn, void *arg) {
  if (on_owner(e)) {
    /* Inline, on the driving thread: run queued calls first (order), then fn; the wake-up makes the
     * embedder drive the loop, which sends what fn queued. */
    run_calls(&e->wake);
    fn(e, arg);
    wake(e);
    return 0;
  }
  sync_call s = {.fn = fn, .arg = arg};
  uv_mutex_init(&s.mu);
  uv_cond_init(&s.cond);
  int r = ts_engine_call(e, run_sync, &s);
  if (r == 0) {
    uv_mutex_lock(&s.mu);
    while (!s.done) uv_cond_wait(&s.cond, &s.mu);
    uv_mutex_unlock(&s.mu);
  }
  uv_cond_destroy(&s.cond);
  uv_mutex_destroy(&s.mu);
  return r;
}

void ts_engine_on_stop(ts_engine *e, ts_engine_hook *h) {
  h->next = e->hooks;
  e->hooks = h;
}

void ts_engine_free(ts_engine *e) {
  if (!e) return;
  uv_mutex_lock(&e->mu);
  e->stopping = 1;
  uv_mutex_unlock(&e->mu);
  if (e->started) {
    uv_async_send(&e->wake);
    uv_thread_join(&e->thread);
  } else if (e->inline_mode) {
    run_calls(&e->wake); /* runs what is queued, the stop hooks, and closes every handle */
    uv_run(&e->loop, UV_RUN_DEFAULT);
  } else {
    uv_close((uv_handle_t *)&e->wake, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&e->loop);
  uv_mutex_destroy(&e->mu);
  free(e);
}
