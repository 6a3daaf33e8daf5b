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

/* Foreign destinations (stack/netif.c, patches/0020): packets to addresses a device serves without owning
 * them (service VIPs, advertised routes) are accepted on its netif, and their TCP SYNs go to its catch-all
 * listener instead of the listeners of its own addresses. */
struct netif;
struct tcp_pcb_listen;
int ts_lwip_accept_foreign(struct netif *inp, int family, const void *dst);
struct tcp_pcb_listen *ts_lwip_tcp_catch(struct netif *inp, const ip_addr_t *dst);
#define LWIP_HOOK_IP4_ACCEPT(inp, dst) ts_lwip_accept_foreign(inp, 4, &(dst)->addr)
#define LWIP_HOOK_IP6_ACCEPT(inp, dst) ts_lwip_accept_foreign(inp, 6, (dst)->addr)
struct tcp_pcb_listen *ts_lwip_tcp_unmatched(struct netif *inp);
#define LWIP_HOOK_TCP_CATCH(inp, dst) ts_lwip_tcp_catch(inp, dst)
/* ... and, when the device asks for it, the SYNs to its own addresses that no listener takes. */
#define LWIP_HOOK_TCP_UNMATCHED(inp) ts_lwip_tcp_unmatched(inp)

/* In-order data on a bridged connection is acknowledged once per link input batch (stack/tcp_bridge.c,
 * patches/0050) instead of every second segment. */
struct tcp_pcb;
int ts_lwip_tcp_ack_batched(struct tcp_pcb *pcb);
#define LWIP_HOOK_TCP_ACK_BATCHED(pcb) ts_lwip_tcp_ack_batched(pcb)

/* A relayed connection bounds what it has in flight (stack/tcp_relayed.h, patches/0060). */
int ts_lwip_tcp_output_more(struct tcp_pcb *pcb);
#define LWIP_HOOK_TCP_OUTPUT_MORE(pcb) ts_lwip_tcp_output_more(pcb)

#endif
