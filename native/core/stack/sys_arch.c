/* The one function lwIP needs from the system under NO_SYS: a millisecond clock for its timers. */
#include <time.h>

#include "lwip/sys.h"

/* Microseconds for RACK loss detection in TCP (patches 0010+, docs/tcp.md); wraps every 71 minutes, which
 * the signed differences it is used in tolerate. */
u32_t sys_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (u32_t)((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

u32_t sys_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (u32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}
