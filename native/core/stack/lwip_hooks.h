/* Functions lwipopts.h names for lwIP's hooks: randomness from a CSPRNG (ephemeral ports, and anything else
 * lwIP randomises) and RFC 6528 initial sequence numbers. Defined in stack.c. */
#ifndef TS_LWIP_HOOKS_H
#define TS_LWIP_HOOKS_H

#include <stdint.h>

#include "lwip/ip_addr.h"

uint32_t ts_stack_rand(void);
uint32_t ts_stack_tcp_isn(const ip_addr_t *local_ip, uint16_t local_port, const ip_addr_t *remote_ip,
                          uint16_t remote_port);

#endif
