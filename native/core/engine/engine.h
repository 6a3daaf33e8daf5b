/* The engine: its own libuv loop, hosting every device of the process (lwIP, WireGuard, UDP and the socket
 * bridges all live on it, so none of them needs locks). One thread runs that loop: the engine's own
 * (ts_engine_start), or the embedder's, which drives it inline (ts_engine_start_inline); "engine thread"
 * below means whichever it is.
 *
 * Two narrow channels cross threads:
 *   calls in:   ts_engine_call() queues a function to run on the engine thread, in order;
 *   events out: an event queue (evq.h) per embedder (one per Node environment: main thread or worker).
 * TCP payload flows through a socketpair per connection, or, with the stream transport (stack/tcp_bridge.h),
 * through these channels: the event queue out, engine calls in. */
#ifndef TS_ENGINE_H
#define TS_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct ts_engine ts_engine;
typedef void (*ts_engine_fn)(ts_engine *e, void *arg);

typedef struct ts_engine_config {
  int reserved;
} ts_engine_config;

ts_engine *ts_engine_new(const ts_engine_config *cfg);
/* Starts the engine thread. 0 or a negative uv error. */
int ts_engine_start(ts_engine *e);
/* Inline mode: no thread; the calling thread's own loop drives the engine's. The embedder watches
 * ts_engine_backend_fd() for readability and calls ts_engine_run_inline() then, and again after the timeout
 * it returns (milliseconds; -1 none, 0 at once). Only that thread may drive. */
int ts_engine_start_inline(ts_engine *e);
int ts_engine_backend_fd(ts_engine *e);
int ts_engine_run_inline(ts_engine *e);
/* Inline: kick(ctx) asks the embedder to call ts_engine_run_inline() soon, without a wake-up through a
 * descriptor; calls queued on the driving thread then use it. NULL turns it off (before the driver goes). */
void ts_engine_set_kick(ts_engine *e, void (*kick)(void *ctx), void *ctx);
/* What the embedder calls for a kick: the queued calls and the sends they queued, then, only if due,
 * a full turn (ts_engine_run_inline). Returns the same timeout. */
int ts_engine_run_kicked(ts_engine *e);
/* Queues fn(e, arg) to run on the engine thread. Any thread. 0, or UV_ECANCELED once stopping. */
int ts_engine_call(ts_engine *e, ts_engine_fn fn, void *arg);
/* Runs fn on the engine thread and waits for it to return. Inline, called on the driving thread, it runs
 * fn at once (after the queued calls). Never call it from inside an engine callback. */
int ts_engine_call_sync(ts_engine *e, ts_engine_fn fn, void *arg);
/* Stops the loop after running the calls queued so far, joins the thread, frees everything. */
void ts_engine_free(ts_engine *e);

/* Engine thread only. */
uv_loop_t *ts_engine_loop(ts_engine *e);
/* Registers a hook that runs when the engine is about to stop (devices close themselves). */
typedef struct ts_engine_hook {
  void (*fn)(ts_engine *e, struct ts_engine_hook *h);
  struct ts_engine_hook *next;
} ts_engine_hook;
void ts_engine_on_stop(ts_engine *e, ts_engine_hook *h);
/* Work that must run before the loop next blocks, once however often it is asked for (sending what a
 * turn queued, in one batch). Engine thread only. Deferred work runs right after the I/O callbacks of the
 * current turn (a check handle) or, if queued by a timer, before the poll (an idle handle): both matter in
 * inline mode, where a turn is a single uv_run(UV_RUN_NOWAIT). */
typedef struct ts_engine_deferred {
  void (*fn)(struct ts_engine_deferred *d);
  struct ts_engine_deferred *next;
  int queued;
} ts_engine_deferred;
void ts_engine_defer(ts_engine *e, ts_engine_deferred *d);
/* Forgets d if queued (before freeing it). */
void ts_engine_defer_cancel(ts_engine *e, ts_engine_deferred *d);

/* Monotonic time in nanoseconds (the clock every protocol state machine is fed with). */
uint64_t ts_engine_now_ns(void);
/* Wall-clock nanoseconds since the Unix epoch (WireGuard's handshake timestamps). */
uint64_t ts_engine_wall_ns(void);
/* One clock reading for a stretch of per-packet work (a batch of datagrams, a socket read and what lwIP sends
 * for it): between hold and release, ts_engine_now_ns() (and lwIP's sys_now/sys_now_us, which use it)
 * and ts_engine_wall_ns() return the instant of the outermost hold instead of reading the clock per segment
 * (docs/performance.md, "The direct path: fewer ACKs, one clock reading"). Pairs nest; per thread. */
void ts_engine_clock_hold(void);
void ts_engine_clock_release(void);

#endif
