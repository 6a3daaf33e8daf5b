/* TCP through a DERP relay (docs/performance.md, "Losses at derper's queue"). Tailscale's derper queues at
 * most 32 packets per receiving client and drops from the head when full; its reader takes in everything
 * that has arrived before its writer runs, so what a sender has in flight meets in that queue at once. A
 * bridged connection whose peer's segments come over a relay therefore keeps at most `cap` segments in
 * flight beyond what the path itself holds (twice the delivery rate times the part of the minimum round
 * trip above TS_TCP_RELAYED_LOCAL_US: none on this machine or a LAN, about the bandwidth-delay product
 * across a WAN). cap starts at derper's queue and probes upward by a quarter after a number of round trips
 * it limited without loss; a loss during a probe returns it to the last cap that held, and the next probe
 * waits twice as long (a relay with a deeper queue, such as the devnet's, lets it grow). patches/0060 asks
 * before each segment tcp_output sends; what waits stays in lwIP's unsent queue until the next ACK. Engine
 * thread only. */
#ifndef TS_TCP_RELAYED_H
#define TS_TCP_RELAYED_H

#include <stdint.h>

struct tcp_pcb;

/* derper's per-client send queue (defaultPerClientSendQueueDepth in Tailscale's derpserver). */
#define TS_TCP_RELAYED_QUEUE 32
/* The part of a round trip spent in processing, not on a wire (event loops, TLS, the relay): a minimum
 * round trip through a derper on loopback is 0.25-0.4 ms with these nodes. */
#define TS_TCP_RELAYED_LOCAL_US 1000
/* Round trips a cap must limit without loss before the next probe: at first, and at most. */
#define TS_TCP_RELAYED_PROBE_MIN 8
#define TS_TCP_RELAYED_PROBE_MAX 512

typedef struct ts_tcp_relayed {
  uint64_t win_ns;       /* start of the current delivery-rate window (0: none yet) */
  uint32_t win_ack;      /* the connection's lastack then */
  uint32_t bw;           /* delivered bytes per millisecond: the largest recent window, decaying by 1/8 */
  uint32_t round_end;    /* snd_nxt when the current round trip began */
  uint32_t held;         /* times a segment waited for an ACK (tests, docs) */
  uint16_t cap, safe;    /* segments allowed in flight; the largest that limited probe rounds without loss */
  uint16_t rounds;       /* round trips the cap limited without loss since the last step */
  uint16_t probe_rounds; /* how many it takes (doubles after a failed probe) */
  uint8_t on;            /* the peer's last segment came over a relay */
  uint8_t in_recovery;   /* lwIP's fast recovery, as last seen */
  uint8_t limited;       /* the cap held a segment back in this round trip */
} ts_tcp_relayed;

/* May pcb send one more segment at time now_ns? Yes when not relayed and when nothing is in flight (no ACK
 * would come to send it later). While it says no, cwnd stays within twice the limit: lwIP would otherwise
 * grow it on every ACK, unused, and send all of it at once should the path turn direct. r starts zeroed. */
int ts_tcp_relayed_may_send(ts_tcp_relayed *r, struct tcp_pcb *pcb, uint64_t now_ns);

#endif
