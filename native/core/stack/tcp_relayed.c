/* The in-flight limit of relayed connections (tcp_relayed.h). */
#include "stack/tcp_relayed.h"

#include "lwip/priv/tcp_priv.h" /* TCP_SEQ_GEQ */
#include "lwip/tcp.h"

/* Bytes the path holds beyond the relay's queue: 2 x delivery rate x (min RTT - local part), 4 x in slow start. */
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
  /* the rate is a window old: in slow start, where it doubles each round trip, allow for that */
  unsigned gain = pcb->cwnd < pcb->ssthresh ? 4u : 2u;
  return gain * (uint64_t)r->bw * (min_us - TS_TCP_RELAYED_LOCAL_US) / 1000u;
}

/* Losses and round trips move the cap (tcp_relayed.h). */
static void adapt(ts_tcp_relayed *r, const struct tcp_pcb *pcb) {
  if (!r->cap) {
    r->cap = r->safe = TS_TCP_RELAYED_QUEUE;
    r->probe_rounds = TS_TCP_RELAYED_PROBE_MIN;
    r->round_end = pcb->snd_nxt;
  }
  int recovering = (pcb->flags & TF_INFR) != 0;
  if (recovering && !r->in_recovery) { /* a loss */
    if (r->cap > r->safe) {            /* the probe failed */
      r->cap = r->safe;
      if (r->probe_rounds < TS_TCP_RELAYED_PROBE_MAX) r->probe_rounds *= 2;
    } else if (r->cap > TS_TCP_RELAYED_QUEUE) { /* a cap that held before does not now */
      r->cap = r->safe = (uint16_t)(r->cap - r->cap / 8 < TS_TCP_RELAYED_QUEUE ? TS_TCP_RELAYED_QUEUE : r->cap - r->cap / 8);
    }
    r->rounds = 0;
  }
  r->in_recovery = (uint8_t)recovering;
  if (TCP_SEQ_GEQ(pcb->lastack, r->round_end)) {
    r->round_end = pcb->snd_nxt;
    if (r->limited && !recovering && ++r->rounds >= r->probe_rounds) {
      r->rounds = 0;
      r->safe = r->cap;
      uint32_t next = r->cap + r->cap / 4u;
      r->cap = (uint16_t)(next > UINT16_MAX ? UINT16_MAX : next);
    }
    r->limited = 0;
  }
}

int ts_tcp_relayed_may_send(ts_tcp_relayed *r, struct tcp_pcb *pcb, uint64_t now_ns) {
  if (!r->on || !pcb->unacked) return 1;
  adapt(r, pcb);
  uint64_t limit = (uint64_t)r->cap * pcb->mss + path_bytes(r, pcb, now_ns);
  uint32_t flight = pcb->snd_nxt - pcb->lastack;
  if ((uint64_t)flight + pcb->mss <= limit) return 1;
  r->held++;
  r->limited = 1;
  if ((uint64_t)pcb->cwnd > 2 * limit) pcb->cwnd = (tcpwnd_size_t)(2 * limit);
  return 0;
}
