/**
 * One direction of a relay connection's byte pipe (DERPManager): what one side reads is written to the
 * other, coalesced per event-loop turn. A TLS socket hands its plaintext over one record at a time, and a
 * relay such as derper sends about one DERP frame per record, so `pipe()` would make one write (a system
 * call into the engine's socketpair, or one engine call) per relayed packet. Here the first chunk of a turn
 * corks the destination and a setImmediate uncorks it, so everything read in one poll phase leaves in one
 * write (net.Socket's writev; TLS packs it into full records) before the loop sleeps again: no added latency
 * beyond the turn (docs/performance.md, "The relayed path: one write per turn").
 *
 * Backpressure as pipe(): past HIGH_WATER bytes queued at the destination the source pauses until 'drain'.
 */
import type { Duplex } from 'node:stream';

/** Queued bytes at the destination before the source pauses: a turn's worth of relay reads (a few 64 KiB
 * socket reads) stays one write; the engine's relay queue (1 MiB, native/core/bind/derp_conn.c) bounds the
 * other direction anyway. */
const HIGH_WATER = 512 * 1024;

/** Forwards from → to until either ends; returns a function that detaches the listeners. */
export function forwardBatched(from: Duplex, to: Duplex): () => void {
  let corked = false;
  let waiting = false;
  let immediate: NodeJS.Immediate | null = null;
  const uncork = (): void => {
    immediate = null;
    if (!corked) return;
    corked = false;
    to.uncork();
  };
  const onDrain = (): void => {
    waiting = false;
    from.resume();
  };
  const onData = (chunk: Buffer): void => {
    if (to.destroyed || to.writableEnded) return;
    if (!corked) {
      corked = true;
      to.cork();
      immediate = setImmediate(uncork);
    }
    // write() is false from the destination's own high-water mark on; pause only past ours (or its, if larger).
    if (!to.write(chunk) && !waiting && to.writableLength >= HIGH_WATER) {
      waiting = true;
      from.pause();
      // 'drain' needs the buffer written: uncork now rather than at the end of the turn.
      uncork();
      to.once('drain', onDrain);
    }
  };
  from.on('data', onData);
  return () => {
    from.off('data', onData);
    to.off('drain', onDrain);
    if (immediate) clearImmediate(immediate);
    uncork();
  };
}
