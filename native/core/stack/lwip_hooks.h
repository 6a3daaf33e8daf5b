/* Our port's functions for lwIP (sys_arch.c): randomness from a CSPRNG (ephemeral ports, and anything else
 * lwIP randomises; arch/cc.h names it) and RFC 6528 initial sequence numbers (lwipopts.h names the hook). */
#ifndef TS_LWIP_HOOKS_H
#define TS_LWIP_HOOKS_H

#include <stdint.h>

#include "lwip/ip_addr.h"

/* Keys the ISN hash; once per process, before lwip_init. */
void ts_lwip_port_init(void);
uint32_t ts_stack_rand(void);
uint32_t ts_stack_tcp_isn(const ip_addr_t *local_ip, uint16_t local_port, const ip_addr_t *remote_ip,
                          uint16_t remote_port);

#endif
