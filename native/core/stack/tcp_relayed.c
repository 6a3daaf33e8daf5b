/* The in-flight limit of relayed connections (tcp_relayed.h). */
#include "stack/tcp_relayed.h"

#include "lwip/tcp.h"

/* Bytes the path holds beyond the relay's queue: 2 x delivery rate x (min RTT - local part). */
static uint64_t path_bytes(ts_tcp_relayed *r, const struct tcp_pcb *pcb, uint64_t now_ns) {
  uint32_t min_us = pcb->rack_min_rtt_us; /* 0: no sample yet */
  if (min_us <= TS_TCP_RELAYED_LOCAL_US) return 0;
  if (!r->win_ns) {
    r->win_ns = now_ns;
    r->win_ack = pcb->lastack;
  } else if (now_ns - r->win_ns >= (uint64_t)min_us * 1000u) {
    uint64_t rate = (uint64_t)(uint32_t)(pcb->lastack - r->win_ack) * 1000000u / (now_ns - r->win_ns);
    uint32_t decayed = r->bw - r->bw / 8;
    r->bw = rate > decayed ? (rate > UINT32_MAX ? UINT32_MAX : (uint32_t)rate) : decayed;
    r->win_ns = now_ns;
    r->win_ack = pcb->lastack;
  }
  return 2u * (uint64_t)r->bw * (min_us - TS_TCP_RELAYED_LOCAL_US) / 1000u;
}

int ts_tcp_relayed_may_send(ts_tcp_relayed *r, struct tcp_pcb *pcb, uint64_t now_ns) {
  if (!r->on || !pcb->unacked) return 1;
  uint64_t limit = (uint64_t)TS_TCP_RELAYED_QUEUE * pcb->mss + path_bytes(r, pcb, now_ns);
  uint32_t flight = pcb->snd_nxt - pcb->lastack;
  if ((uint64_t)flight + pcb->mss <= limit) return 1;
  r->held++;
  if ((uint64_t)pcb->cwnd > 2 * limit) pcb->cwnd = (tcpwnd_size_t)(2 * limit);
  return 0;
}
