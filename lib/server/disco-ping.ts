// LocalClient.ping with type "disco" (and the LocalAPI's /ping?type=disco): a disco ping on demand to the peer
// that has the address, answered by its first pong, with the path it came on (docs/api.md, "LocalClient").
import type { DataPlane } from '../magicsock/data-plane.js';
import { abortError, systemError } from '../net/errors.js';
import type { PeerStatus, PingResult } from './types.js';

export async function discoPingPeer(
  plane: DataPlane,
  ip: string,
  peers: readonly PeerStatus[],
  regionCode: (id: number) => string,
  timeout: number,
  signal?: AbortSignal,
): Promise<PingResult> {
  const peer = peers.find((p) => p.tailscaleIPs.includes(ip));
  if (!peer || !/^nodekey:[0-9a-f]{64}$/.test(peer.publicKey)) throw systemError('ping', 'EHOSTUNREACH', ip);
  const key = Buffer.from(peer.publicKey.slice(8), 'hex');
  const timer = new AbortController();
  const t = setTimeout(() => timer.abort(systemError('ping', 'ETIMEDOUT', ip)), timeout);
  const onAbort = () => timer.abort(abortError(signal?.reason));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const pong = await plane.discoPing(key, timer.signal).catch((err: unknown) => {
      throw (err as { code?: unknown }).code === 'EHOSTUNREACH' ? systemError('ping', 'EHOSTUNREACH', ip) : err;
    });
    return { latencyMs: pong.ms, ip, publicKey: peer.publicKey, dnsName: peer.dnsName, direct: pong.direct, relay: pong.direct ? '' : regionCode(pong.region), ...(pong.direct ? {} : { relayRegionID: pong.region }) };
  } finally {
    clearTimeout(t);
    signal?.removeEventListener('abort', onAbort);
  }
}
