/**
 * The development tailnet's STUN responder on UDP (docs/protocol/magicsock.md §4): every
 * binding request gets a success response with the sender's address in
 * XOR-MAPPED-ADDRESS. Loopback by default. The protocol work is in stun.ts.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { buildBindingResponse, parseBindingRequest } from './stun.js';

export interface StunServerOptions {
  /** Listen address; default "127.0.0.1". */
  host?: string;
  /** UDP port; default 0 (any free port). */
  port?: number;
  logf?: (msg: string) => void;
}

export interface StunServerStats {
  requests: number;
  responses: number;
  /** Datagrams that were not well-formed binding requests. */
  ignored: number;
}

export interface StunServer {
  readonly host: string;
  readonly port: number;
  stats(): StunServerStats;
  close(): Promise<void>;
}

export async function startStunServer(o: StunServerOptions = {}): Promise<StunServer> {
  const host = o.host ?? '127.0.0.1';
  const logf = o.logf ?? ((): void => {});
  const sock = dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
  const stats: StunServerStats = { requests: 0, responses: 0, ignored: 0 };
  sock.on('message', (msg, rinfo) => {
    const r = parseBindingRequest(msg);
    if (!r.ok) {
      stats.ignored++;
      return;
    }
    stats.requests++;
    let reply: Buffer;
    try {
      reply = buildBindingResponse(r.request.txId, rinfo.address, rinfo.port);
    } catch {
      stats.ignored++;
      return;
    }
    sock.send(reply, rinfo.port, rinfo.address, (err) => {
      if (!err) stats.responses++;
    });
  });
  sock.on('error', (e) => logf(`stun: ${e.message}`));
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(o.port ?? 0, host, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  const port = sock.address().port;
  logf(`stun: responder at ${host}:${port}/udp`);
  let closing: Promise<void> | null = null;
  return {
    host,
    port,
    stats: () => ({ ...stats }),
    close: () => (closing ??= new Promise<void>((resolve) => sock.close(() => resolve()))),
  };
}
