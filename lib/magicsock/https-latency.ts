// netcheck's fallback when no STUN answer comes back (UDP blocked): the round trip of an HTTPS request to a
// region's relay, as Tailscale's netcheck measures with /derp/latency-check. The TLS connection is made the way
// the relay connection itself is (certificate pins, InsecureForTests), so a region we can measure is one we
// can use.
import type { EngineDERPRegion } from '../wire/engine-config.js';
import { dialDERPRegion } from './derp-dial.js';

/** Milliseconds from sending `HEAD /derp/latency-check` to the first byte of the answer. */
export async function httpsLatency(region: EngineDERPRegion, timeoutMs = 3000): Promise<number> {
  const signal = AbortSignal.timeout(timeoutMs);
  const { socket, node } = await dialDERPRegion(region, { signal, timeoutMs });
  try {
    return await new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      const fail = (e: Error): void => reject(e);
      socket.on('error', fail);
      signal.addEventListener('abort', () => fail(new Error('HTTPS latency check timed out')), { once: true });
      socket.once('data', (d: Buffer) => {
        if (!/^HTTP\/1\.[01] 200/.test(d.toString('latin1', 0, 16))) fail(new Error('latency check answered without 200'));
        else resolve(performance.now() - t0);
      });
      socket.once('end', () => fail(new Error('connection closed before an answer')));
      socket.write(`HEAD /derp/latency-check HTTP/1.1\r\nHost: ${node.hostName}\r\nConnection: close\r\n\r\n`);
    });
  } finally {
    socket.destroy();
  }
}
