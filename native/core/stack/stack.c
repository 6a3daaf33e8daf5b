#include "stack/stack.h"

#include <stdlib.h>

#include "lwip/init.h"
#include "lwip/timeouts.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip_hooks.h"

struct ts_stack {
  uv_timer_t timer;
};

/* lwIP's state is process-global (docs/architecture.md); it is initialised once, on the engine thread. */
static int lwip_ready;

static void on_tick(uv_timer_t *t) {
  (void)t;
  sys_check_timeouts();
  /* Tail loss probes for TCP (docs/tcp.md): at this tick's granularity, well under the 100 ms minimum RTO. */
  tcp_tlp_tmr();
}

ts_stack *ts_stack_start(ts_engine *e) {
  ts_stack *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  if (!lwip_ready) {
    ts_lwip_port_init();
    lwip_init();
    lwip_ready = 1;
  }
  uv_timer_init(ts_engine_loop(e), &s->timer);
  s->timer.data = s;
  /* lwIP's finest timer is TCP's (TCP_TMR_INTERVAL); ACKs and window updates do not wait for it
   * (ts_tcp_input_done). */
  uv_timer_start(&s->timer, on_tick, TCP_TMR_INTERVAL, TCP_TMR_INTERVAL);
  return s;
}

static void free_cb(uv_handle_t *h) { free(h->data); }

void ts_stack_tcp_recovery_stats(ts_tcp_recovery_stats *out) {
  out->rto = __atomic_load_n(&tcp_recovery_stats.rto, __ATOMIC_RELAXED);
  out->rack_rexmit = __atomic_load_n(&tcp_recovery_stats.rack_rexmit, __ATOMIC_RELAXED);
  out->tlp = __atomic_load_n(&tcp_recovery_stats.tlp, __ATOMIC_RELAXED);
  out->reneged = __atomic_load_n(&tcp_recovery_stats.reneged, __ATOMIC_RELAXED);
}

void ts_stack_stop(ts_stack *s) {
  uv_timer_stop(&s->timer);
  uv_close((uv_handle_t *)&s->timer, free_cb);
}
