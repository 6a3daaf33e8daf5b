/* What lwIP needs from the system under NO_SYS: a millisecond clock for its timers, randomness
 * (LWIP_RAND, arch/cc.h) and the initial-sequence-number hook (lwip_hooks.h). */
#include <sodium.h>
#include <string.h>

#include "engine/engine.h"
#include "port/clock.h"

#include "lwip/sys.h"
#include "lwip_hooks.h"

/* Beside lwIP's own process-wide state: the ISN key, set once by ts_lwip_port_init before lwip_init. */
static uint8_t isn_key[crypto_shorthash_KEYBYTES];

void ts_lwip_port_init(void) { randombytes_buf(isn_key, sizeof isn_key); }

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
  crypto_shorthash(h, in, sizeof in, isn_key);
  uint32_t f = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
  uint32_t m = (uint32_t)(ts_port_mono_ns() / 4000u);
  return m + f;
}

/* Microseconds for RACK loss detection in TCP (patches 0010+, docs/tcp.md); wraps every 71 minutes, which
 * the signed differences it is used in tolerate. Both clocks are the engine's, so one reading serves a
 * whole batch of segments (ts_engine_clock_hold). */
u32_t sys_now_us(void) { return (u32_t)(ts_engine_now_ns() / 1000u); }

u32_t sys_now(void) { return (u32_t)(ts_engine_now_ns() / 1000000u); }
