/**
 * One direction of a relay connection's byte pipe (DERPManager): what one side reads is written to the
 * other, coalesced per event-loop turn. A TLS socket hands its plaintext over one record at a time, and a
 * relay such as derper sends about one DERP frame per record, so `pipe()` would make one write (a system
 * call into the engine's socketpair, or one engine call) per relayed packet. Here the chunks of a turn are
 * collected and a setImmediate writes them as one buffer, so everything read in one poll phase leaves in one
 * write (TLS packs it into full records) before the loop sleeps again: no added latency beyond the turn
 * (docs/performance.md, "The relayed path through derper (issue 17, part 3)").
 *
 * Backpressure as pipe(): while the destination's write() says it is full, the source is paused until
 * 'drain'.
 */
import type { Duplex } from 'node:stream';

/** Forwards from → to until either ends; returns a function that detaches the listeners (and writes what
 * the turn had collected). */
export function forwardBatched(from: Duplex, to: Duplex): () => void {
  let held: Buffer[] = [];
  let heldBytes = 0;
  let waiting = false;
  let immediate: NodeJS.Immediate | null = null;
  const onDrain = (): void => {
    waiting = false;
    from.resume();
  };
  const flush = (): void => {
    immediate = null;
    if (held.length === 0) return;
    const out = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
    held = [];
    heldBytes = 0;
    if (to.destroyed || to.writableEnded) return;
    if (!to.write(out) && !waiting) {
      waiting = true;
      from.pause();
      to.once('drain', onDrain);
    }
  };
  const onData = (chunk: Buffer): void => {
    held.push(chunk);
    heldBytes += chunk.length;
    immediate ??= setImmediate(flush);
  };
  from.on('data', onData);
  return () => {
    from.off('data', onData);
    to.off('drain', onDrain);
    if (immediate) clearImmediate(immediate);
    flush();
  };
}
