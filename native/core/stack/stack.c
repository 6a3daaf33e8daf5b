#include "stack/stack.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwip/init.h"
#include "lwip/timeouts.h"
#include "stack/lwip_hooks.h"

struct ts_stack {
  uv_timer_t timer;
};

/* lwIP keeps its state in process globals (docs/architecture.md); what its hooks need sits beside it, set
 * once by the first ts_stack_start on the engine thread, before lwip_init. */
static struct {
  int ready;
  uint8_t isn_key[crypto_shorthash_KEYBYTES];
} lwip_process;

uint32_t ts_stack_rand(void) { return randombytes_random(); }

/* RFC 6528: ISN = M + F(4-tuple, secret), M a clock ticking every 4 us, F a keyed hash (SipHash-2-4). A new
 * connection's numbers cannot be guessed from another's, and on one 4-tuple they keep rising across
 * connections, so a SYN reusing a 4-tuple in TIME-WAIT is recognised as new (patches/0002). */
uint32_t ts_stack_tcp_isn(const ip_addr_t *local_ip, uint16_t local_port, const ip_addr_t *remote_ip,
                          uint16_t remote_port) {
  uint8_t in[2 * 16 + 4], h[crypto_shorthash_BYTES];
  memset(in, 0, sizeof in);
  if (IP_IS_V6(local_ip)) {
    memcpy(in, ip_2_ip6(local_ip)->addr, 16);
    memcpy(in + 16, ip_2_ip6(remote_ip)->addr, 16);
  } else {
    memcpy(in, &ip_2_ip4(local_ip)->addr, 4);
    memcpy(in + 16, &ip_2_ip4(remote_ip)->addr, 4);
  }
  in[32] = (uint8_t)(local_port >> 8);
  in[33] = (uint8_t)local_port;
  in[34] = (uint8_t)(remote_port >> 8);
  in[35] = (uint8_t)remote_port;
  crypto_shorthash(h, in, sizeof in, lwip_process.isn_key);
  uint32_t f = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint32_t m = (uint32_t)(((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) / 4000u);
  return m + f;
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  sys_check_timeouts();
}

ts_stack *ts_stack_start(ts_engine *e) {
  ts_stack *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  if (!lwip_process.ready) {
    randombytes_buf(lwip_process.isn_key, sizeof lwip_process.isn_key);
    lwip_init();
    lwip_process.ready = 1;
  }
  uv_timer_init(ts_engine_loop(e), &s->timer);
  s->timer.data = s;
  /* lwIP's finest timer is TCP's (TCP_TMR_INTERVAL); ACKs and window updates do not wait for it
   * (ts_tcp_input_done). */
  uv_timer_start(&s->timer, on_tick, TCP_TMR_INTERVAL, TCP_TMR_INTERVAL);
  return s;
}

static void free_cb(uv_handle_t *h) { free(h->data); }

void ts_stack_stop(ts_stack *s) {
  uv_timer_stop(&s->timer);
  uv_close((uv_handle_t *)&s->timer, free_cb);
}
