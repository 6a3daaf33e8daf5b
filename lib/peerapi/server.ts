/**
 * The node's peerAPI (docs/api.md, "Funnel"): an HTTP server on the node's Tailscale addresses, at the port the
 * node advertises in Hostinfo.Services (peerapi4, peerapi6), that peers call. It serves only what this package
 * needs: the Funnel ingress handler, POST /v0/ingress. Requests are read by hand (one request per connection)
 * because the ingress handler takes over the connection after its 101 answer, as Tailscale's hijacks it.
 * Every caller is identified by its tailnet address through the node's netmap and packet filter.
 */
import type { CapMap, Service } from '../wire/tailcfg.js';
import type { TailnetListener } from '../net/listener.js';
import type { TailnetSocket } from '../net/socket.js';
import type { Logger } from '../util/log.js';
import { parseAddrPort, splitHostPort } from '../wire/ip.js';

/** The peer capability an ingress node holds toward a funnel node (tailcfg.PeerCapabilityIngress). */
export const PEER_CAP_INGRESS = 'https://tailscale.com/cap/ingress';
export const HEADER_INGRESS_SRC = 'tailscale-ingress-src';
export const HEADER_INGRESS_TARGET = 'tailscale-ingress-target';

const MAX_HEAD = 8192;
const HEAD_TIMEOUT_MS = 10_000;

export interface PeerAPIHost {
  listen(network: 'tcp', address: string): TailnetListener;
  /** The capabilities the peer at this tailnet address holds toward this node; null when it is no peer. */
  peerCaps(ip: string): CapMap | null;
  log: Logger;
}

/**
 * Decides an ingress connection: returns what takes the connection (after the 101 answer), or null to refuse it
 * (403), as Tailscale's node does for a target it has not turned Funnel on for.
 */
export type IngressHandler = (src: { ip: string; port: number }, target: { host: string; port: number }) => ((conn: TailnetSocket) => void) | null;

export interface PeerAPIStats {
  requests: number;
  /** Requests that could not be read (too long, malformed, too slow). */
  malformed: number;
  ingressDelivered: number;
  ingressDenied: number;
}

export class PeerAPI {
  readonly #ln: TailnetListener;
  readonly #host: PeerAPIHost;
  #ingress: IngressHandler | null = null;
  readonly #stats: PeerAPIStats = { requests: 0, malformed: 0, ingressDelivered: 0, ingressDenied: 0 };
  readonly #pending = new Set<TailnetSocket>();

  /** Listens on all of the node's addresses at one free port (tsnet's range, lib/net/netstack.ts). */
  constructor(host: PeerAPIHost) {
    this.#host = host;
    this.#ln = host.listen('tcp', ':0');
    this.#ln.on('connection', (c) => this.#accept(c));
    this.#ln.on('error', (err) => host.log.warn('peerapi accept failed', { error: err.message }));
  }

  get port(): number {
    return this.#ln.address().port;
  }

  /** What the node advertises so peers find this server (Hostinfo.Services). */
  services(): Service[] {
    return [
      { Proto: 'peerapi4', Port: this.port },
      { Proto: 'peerapi6', Port: this.port },
    ];
  }

  setIngressHandler(h: IngressHandler | null): void {
    this.#ingress = h;
  }

  stats(): PeerAPIStats {
    return { ...this.#stats };
  }

  close(): void {
    this.#ln.close();
    for (const c of this.#pending) c.destroy();
  }

  #accept(conn: TailnetSocket): void {
    this.#pending.add(conn);
    conn.once('close', () => this.#pending.delete(conn));
    conn.on('error', () => conn.destroy());
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => this.#malformed(conn, 408, 'request timeout'), HEAD_TIMEOUT_MS);
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD) this.#malformed(conn, 431, 'request head too large');
        return;
      }
      conn.off('data', onData);
      conn.pause();
      clearTimeout(timer);
      const rest = head.subarray(end + 4);
      if (rest.length) conn.unshift(rest);
      const req = parseHead(head.subarray(0, end).toString('latin1'));
      if (!req) return this.#malformed(conn, 400, 'malformed request');
      this.#stats.requests++;
      this.#route(conn, req);
    };
    conn.on('data', onData);
    conn.once('close', () => clearTimeout(timer));
  }

  #malformed(conn: TailnetSocket, status: number, msg: string): void {
    this.#stats.malformed++;
    reply(conn, status, msg);
  }

  #route(conn: TailnetSocket, req: Request): void {
    if (req.path !== '/v0/ingress') return reply(conn, 404, 'not found');
    const peer = (conn.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.)/i, '');
    const caps = this.#host.peerCaps(peer);
    const deny = (status: number, msg: string): void => {
      this.#stats.ingressDenied++;
      this.#host.log.info('peerapi ingress: denied', { peer, reason: msg });
      reply(conn, status, msg);
    };
    // The order of Tailscale's checks: capability, method, headers, then the node's own decision.
    if (!caps || !(PEER_CAP_INGRESS in caps)) return deny(403, 'denied; no ingress cap');
    if (req.method !== 'POST') return deny(405, 'only POST allowed');
    const srcText = req.headers.get(HEADER_INGRESS_SRC);
    if (!srcText) return deny(400, 'Tailscale-Ingress-Src header not set');
    const src = parseAddrPort(srcText);
    if (!src) return deny(400, 'Tailscale-Ingress-Src header invalid; want ip:port');
    const targetText = req.headers.get(HEADER_INGRESS_TARGET);
    if (!targetText) return deny(400, 'Tailscale-Ingress-Target header not set');
    let target: { host: string; port: number };
    try {
      const t = splitHostPort(targetText);
      target = { host: t.host, port: Number(t.port) };
      if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) throw new Error('port');
    } catch {
      return deny(400, 'Tailscale-Ingress-Target header invalid; want host:port');
    }
    const take = this.#ingress?.(src, target) ?? null;
    if (!take) return deny(403, 'denied');
    this.#stats.ingressDelivered++;
    this.#pending.delete(conn);
    conn.write('HTTP/1.1 101 Switching Protocols\r\n\r\n');
    take(conn);
  }
}

interface Request {
  method: string;
  path: string;
  headers: Map<string, string>;
}

function parseHead(text: string): Request | null {
  const lines = text.split('\r\n');
  const m = /^([A-Z]{1,16}) (\/[\x21-\x7e]*) HTTP\/1\.[01]$/.exec(lines[0] ?? '');
  if (!m) return null;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) return null;
    const name = line.slice(0, i).trim().toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) return null;
    if (!headers.has(name)) headers.set(name, line.slice(i + 1).trim());
  }
  return { method: m[1]!, path: m[2]!.split('?')[0]!, headers };
}

function reply(conn: TailnetSocket, status: number, body: string): void {
  const reason = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }[status] ?? 'Error';
  const b = `${body}\n`;
  conn.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`);
}
