/* lwIP 2.1.3 configuration for tsnet: one raw-API (NO_SYS) instance owned by the engine thread, one netif per
 * device (WireGuard tunnel, MTU 1280, no link layer), TCP with window scaling for long fat paths.
 * Sizes are starting points; bench/ measures them (docs/performance.md, "Memory", has the numbers). */
#ifndef TS_LWIPOPTS_H
#define TS_LWIPOPTS_H

/* ---- threading: everything runs on the engine thread ---- */
#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_NETIF_API 0
#define LWIP_TIMERS 1

/* ---- protocols ---- */
#define LWIP_IPV4 1
#define LWIP_IPV6 1
#define LWIP_TCP 1
#define LWIP_UDP 1
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_ARP 0
#define LWIP_ETHERNET 0
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_DNS 0
#define LWIP_IPV6_MLD 0
#define LWIP_IPV6_AUTOCONFIG 0
#define LWIP_IPV6_DHCP6 0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
#define LWIP_ND6_QUEUEING 0
#define LWIP_IPV6_FRAG 1
#define IPV6_FRAG_COPYHEADER 1 /* required on 64-bit hosts (pointers do not fit the fragment header) */
#define LWIP_IPV6_REASS 1
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define IP_FORWARD 0
#define LWIP_SINGLE_NETIF 0
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_HAVE_LOOPIF 0
#define LWIP_NETIF_LOOPBACK 0

/* ---- memory (docs/architecture.md, "TCP memory") ---- */
/* The heap (PBUF_RAM: data queued to send, received data waiting for its socketpair) is malloc: lwIP's own
 * first-fit heap took seconds per allocation once nearly full and refused writes when full. Its fixed pools
 * (pcbs, segments, arriving packets) stay: O(1) free lists. The bridge bounds what the heap holds. */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 0
#define MEM_ALIGNMENT 8
#define MEMP_NUM_PBUF 4096
#define MEMP_NUM_UDP_PCB 1024
#define MEMP_NUM_TCP_PCB 16384 /* per process; static pools cost address space, not memory, until used: patch
                                 0040 carves their elements on demand instead of linking them all at start */
#define MEMP_NUM_TCP_PCB_LISTEN 1024
#define MEMP_NUM_REASSDATA 16
#define IP_REASS_MAX_PBUFS 256
#define MEMP_NUM_FRAG_PBUF 256
#define PBUF_POOL_SIZE 8192
#define PBUF_LINK_HLEN 0
#define PBUF_POOL_BUFSIZE LWIP_MEM_ALIGN_SIZE(1280 + 64)

/* ---- system headers: libuv's pull in <netinet/tcp.h> and <arpa/inet.h> before lwIP's ---- */
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS 1
#ifdef TCP_MSS
#undef TCP_MSS /* <netinet/tcp.h>'s socket option number, unrelated to lwIP's segment size */
#endif

/* ---- TCP ---- */
/* MSS for the 1280-byte tunnel MTU over IPv4 (1280-40); IPv6 connections get 1220 from the netif MTU. */
#define TCP_MSS 1240
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 7
#define TCP_WND (4 * 1024 * 1024)
#define TCP_SND_BUF (TCP_WND + 256 * 1024)
#define TCP_SND_QUEUELEN ((4 * TCP_SND_BUF) / TCP_MSS)
/* lwIP 2.1.3 keeps the low-water mark in 16 bits and requires it below 0xFFFF - 4*MSS. */
#define TCP_SNDLOWAT (0xFFFF - 4 * TCP_MSS - 1)
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 2)
#define MEMP_NUM_TCP_SEG (2 * TCP_SND_QUEUELEN)
#define TCP_QUEUE_OOSEQ 1
#define TCP_OOSEQ_MAX_BYTES TCP_WND
/* Timestamps (RFC 7323) on, for peers' RTT estimates: without them gVisor (Tailscale's netstack) times a
 * sequence number across a loss and, once a path change had cost seconds, took that for its round trip and
 * waited tens of seconds per retransmission timeout with ours receiving (docs/tcp.md, "Timestamps"). Costs 12
 * bytes of every segment's payload. patches/0011 makes lwIP echo the newest timestamp as RFC 7323 says. */
#define LWIP_TCP_TIMESTAMPS 1
#define LWIP_TCP_KEEPALIVE 1
/* lwIP counts retransmission timeouts in ticks of 2 * TCP_TMR_INTERVAL and cannot go below one; with its
 * default 250 ms a lost segment that fast retransmit cannot repair (lwIP has no SACK) stalls a connection for
 * at least 500 ms. The tunnel's round trips are sub-millisecond to tens of milliseconds, so the tick is 50 ms
 * (a minimum RTO of 100 ms, as Linux's 200 ms order of magnitude). Measured in docs/performance.md. */
#define TCP_TMR_INTERVAL 50
/* The bridge accepts every established connection at once, so the backlog bounds half-open ones only
 * (TS_TCP_SYN_BACKLOG in tcp_bridge.c; 16 bits with patches/0002). */
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 255 /* init.c still wants 8 bits here; the bridge always passes its own */
/* RFC 6298's 1 s for the first SYN, not lwIP's 3 s (patches/0002 makes it a knob). */
#define TCP_INITIAL_RTO_MS 1000
/* TIME-WAIT lasts 2 * TCP_MSL: 60 s as in Linux, not lwIP's 120 s. A SYN beyond the old connection's
 * sequence numbers takes over a 4-tuple in TIME-WAIT at once (patches/0002). */
#define TCP_MSL 30000UL
/* At most this many pcbs in TIME-WAIT, the newest (patches/0003; Linux's tcp_max_tw_buckets). lwIP finds a
 * segment's pcb and a free port by walking lists, so their length is the cost of every new connection. */
#define TCP_MAX_TIME_WAIT 4096
#define LWIP_CALLBACK_API 1
#define LWIP_EVENT_API 0
#define TCP_OVERSIZE TCP_MSS
#define LWIP_TCP_PCB_NUM_EXT_ARGS 0
#define LWIP_NETIF_TX_SINGLE_PBUF 0

/* ---- TCP loss recovery ---- */
/* SACK both ways (docs/tcp.md): lwIP sends SACK blocks as a receiver; patches 0010+ add the sender side
 * (scoreboard, RACK loss detection, pipe-limited retransmission) and NewReno partial ACKs. */
#define LWIP_TCP_SACK_OUT 1
#define LWIP_TCP_MAX_SACK_NUM 4
/* RACK's reordering window once the path has reordered (docs/tcp.md): a segment counts as lost when one
 * sent after it was delivered and it has been out for a round trip plus max(min RTT / 4, this). Reordering
 * shorter than this costs no resend and no cwnd halving; real losses are then found this much later, while
 * SACKed data keeps the pipe moving. 8 ms: 10% of packets held 5 ms no longer slows a stream
 * (docs/performance.md); 1 ms cost 2.7x there. Until the path reorders, the window is 0 in recovery. */
#define TCP_RACK_REO_WND_US 8000
/* ---- end TCP loss recovery ---- */

/* ---- hooks (lwip_hooks.h, defined in sys_arch.c) ---- */
/* RFC 6528 initial sequence numbers (lwIP's default is a counter); LWIP_RAND is in arch/cc.h. */
#define LWIP_HOOK_FILENAME "lwip_hooks.h"
#define LWIP_HOOK_TCP_ISN(lip, lport, rip, rport) ts_stack_tcp_isn(lip, lport, rip, rport)

/* ---- data-path speed (docs/performance.md, "The direct path per byte") ---- */
/* The Internet checksum summed 8 bytes per addition (stack/chksum.c) instead of lwIP's 2. */
#include "chksum.h"
#define LWIP_CHKSUM ts_chksum
/* ---- end data-path speed ---- */

/* ---- checks and statistics ---- */
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_UDP 1
/* Received checksums are not checked: every packet lwIP gets was authenticated by WireGuard's
 * ChaCha20-Poly1305 (or copied in memory between devices of one process), which covers the whole IP packet
 * the peer's stack built, checksums and all (docs/performance.md, "The direct path: fewer ACKs, one clock
 * reading"). Sent packets still carry them: peers check. */
#define CHECKSUM_CHECK_IP 0
#define CHECKSUM_CHECK_TCP 0
#define CHECKSUM_CHECK_UDP 0
#define LWIP_STATS 0
#define LWIP_DEBUG 0

#endif
