/* The process's lwIP instance. lwIP keeps its state in globals (pcb lists, pools, netif list); the engine
 * thread is its only user, which is why a process has exactly one engine. ts_stack_start() initialises lwIP
 * once and drives its timers from the engine loop. Engine thread only. */
#ifndef TS_STACK_H
#define TS_STACK_H

#include "engine/engine.h"

typedef struct ts_stack ts_stack;
ts_stack *ts_stack_start(ts_engine *e);
void ts_stack_stop(ts_stack *s);

/* The process's TCP loss recovery counters (docs/tcp.md): retransmission timeouts, segments resent by RACK,
 * tail loss probes, SACK reneging seen. Any thread: relaxed reads of counters only the engine thread increments. */
typedef struct {
  uint32_t rto, rack_rexmit, tlp, reneged;
} ts_tcp_recovery_stats;
void ts_stack_tcp_recovery_stats(ts_tcp_recovery_stats *out);

#endif
