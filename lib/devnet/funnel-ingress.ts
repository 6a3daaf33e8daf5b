/**
 * The devnet's Funnel ingress (lib/devnet/README.md, "Funnel ingress"): a TCP listener on loopback standing in for
 * Tailscale's public ingress servers. It reads the TLS ClientHello's server name without terminating TLS, finds
 * the node of that MagicDNS name that holds the `funnel` attribute and has turned ingress on (Hostinfo
 * IngressEnabled or WireIngress), and hands the raw connection to the node's peerAPI as Tailscale's ingress does:
 * `POST /v0/ingress` with Tailscale-Ingress-Src (the public client's ip:port) and Tailscale-Ingress-Target
 * (name:port), then, once the node answers 101, the client's bytes both ways.
 *
 * The devnet reaches the node over the tailnet through an ingress node it is given (a tsnet Server joined to this
 * devnet; the devnet may not import the Server itself, docs/architecture.md): that node is marked as the ingress
 * and control grants it the reach and the ingress peer capability (funnel-grants.ts).
 */
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import { joinHostPort } from '../wire/ip.js';
import type { Hostinfo } from '../wire/tailcfg.js';
import { compileNodeCapMap } from './acl-compile.js';
import { FUNNEL_PORTS, NODE_ATTR_FUNNEL, setIngressNode, withFunnelAttrs } from './funnel-grants.js';
import { MAX_CLIENT_HELLO, parseClientHello } from './funnel-sni.js';
import { fqdn, policyNodes } from './netmap.js';
import type { DevnetState } from './state.js';
import type { DevnetNode } from './types.js';

/** The tailnet presence the ingress dials through: a node (tsnet Server) joined to this devnet and up. */
export interface FunnelIngressNode {
  tailscaleIPs(): string[];
  dial(network: 'tcp', address: string): Promise<unknown>;
  /** With these (a Server has them), waitRoutable also waits until the node has the target as a peer. */
  status?(): { peers: ReadonlyArray<{ dnsName: string }> } | null;
  on?(event: 'peers', listener: () => void): unknown;
  off?(event: 'peers', listener: () => void): unknown;
}

export interface FunnelIngressOptions {
  /** The node the ingress dials through (a Server on this devnet, up). */
  node: FunnelIngressNode;
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  /** Public Funnel ports to stand in for, each on its own loopback port (default 443, 8443, 10000). */
  ports?: number[];
  /** How long a client may take to send its ClientHello (default 10 s). */
  helloTimeoutMs?: number;
}

/** What the ingress did with the connections it accepted. */
export interface FunnelIngressStats {
  accepted: number;
  delivered: number;
  /** Not a TLS ClientHello, or a malformed one. */
  badHello: number;
  /** No ClientHello within helloTimeoutMs. */
  helloTimeout: number;
  /** A ClientHello without a server name. */
  noServerName: number;
  /** No node of that name has Funnel on (attribute and ingress). */
  noFunnelNode: number;
  /** The tailnet dial failed. */
  dialFailed: number;
  /** The node's peerAPI did not answer 101. */
  refused: number;
}

export interface FunnelIngress {
  /** Loopback address:port per public Funnel port, e.g. { 443: '127.0.0.1:39011' }. */
  readonly addresses: Readonly<Record<number, string>>;
  stats(): FunnelIngressStats;
  /**
   * Resolves once `name` (a MagicDNS FQDN) is routable: in control's state the node holds `funnel`, has ingress
   * on and advertises its peerAPI, and the ingress node has it as a peer. Rejects with ETIMEDOUT after
   * `timeoutMs` (default 10 s). For tests and scripts.
   */
  waitRoutable(name: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface FunnelIngressContext {
  state: DevnetState;
  domain: string;
  now: () => Date;
  logf: (msg: string) => void;
}

const MAX_RESPONSE_HEAD = 4096;

export async function startFunnelIngress(ctx: FunnelIngressContext, options: FunnelIngressOptions): Promise<FunnelIngress> {
  if (typeof options !== 'object' || options === null) throw new TypeError('startFunnelIngress(options): options must be an object');
  const { node, host = '127.0.0.1', ports = [...FUNNEL_PORTS], helloTimeoutMs = 10_000 } = options;
  if (!node || typeof node.dial !== 'function' || typeof node.tailscaleIPs !== 'function') {
    throw new TypeError('startFunnelIngress(options): options.node must be a Server on this devnet (dial, tailscaleIPs)');
  }
  if (!Array.isArray(ports) || !ports.length || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
    throw new RangeError('startFunnelIngress(options): options.ports must be a non-empty list of ports');
  }
  const ips = node.tailscaleIPs();
  const self = ctx.state.allNodes().find((n) => ips.includes(n.ipv4) || ips.includes(n.ipv6));
  if (!self) {
    throw Object.assign(new Error('startFunnelIngress: the ingress node is not a node of this devnet (is it up?)'), { code: 'ERR_TSNET_DEVNET_INGRESS_NODE' });
  }
  const stats: FunnelIngressStats = { accepted: 0, delivered: 0, badHello: 0, helloTimeout: 0, noServerName: 0, noFunnelNode: 0, dialFailed: 0, refused: 0 };
  const sockets = new Set<net.Socket>();
  const servers: net.Server[] = [];
  const addresses: Record<number, string> = {};

  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => s.destroy()); // a reset from either side ends the pair; never an uncaught error
  };

  const findNode = (name: string): DevnetNode | undefined => {
    const now = ctx.now();
    const pnodes = policyNodes(ctx.state);
    return ctx.state.allNodes().find((n, i) => {
      if (fqdn(n, ctx.domain).replace(/\.$/, '').toLowerCase() !== name) return false;
      if (!n.authorized || ctx.state.isKeyExpired(n, now)) return false;
      const caps = withFunnelAttrs(compileNodeCapMap(ctx.state.policy, pnodes, pnodes[i]!));
      return !!caps && NODE_ATTR_FUNNEL in caps && ingressOn(n.hostinfo);
    });
  };

  const routable = (name: string): boolean => !!findNode(name.toLowerCase())?.hostinfo.Services?.some((x) => x.Proto === 'peerapi4');

  const deliver = async (client: net.Socket, hello: Buffer, name: string, publicPort: number): Promise<void> => {
    const target = findNode(name);
    const peerapi = target?.hostinfo.Services?.find((s) => s.Proto === 'peerapi4')?.Port;
    if (!target || !peerapi) {
      stats.noFunnelNode++;
      client.destroy();
      return;
    }
    let conn: Duplex;
    try {
      const c = await node.dial('tcp', joinHostPort(target.ipv4, peerapi));
      if (!(c instanceof Duplex)) throw new Error('the ingress node returned no stream');
      conn = c;
    } catch (err) {
      stats.dialFailed++;
      ctx.logf(`devnet funnel: dialing ${name}'s peerAPI failed: ${(err as Error).message}`);
      client.destroy();
      return;
    }
    if (client.destroyed) {
      conn.destroy();
      return;
    }
    conn.on('error', () => conn.destroy());
    conn.once('close', () => client.destroy());
    client.once('close', () => conn.destroy());
    const src = joinHostPort((client.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.)/i, ''), client.remotePort ?? 0);
    conn.write(
      `POST /v0/ingress HTTP/1.1\r\nHost: ${joinHostPort(target.ipv4, peerapi)}\r\n` +
        `Tailscale-Ingress-Src: ${src}\r\nTailscale-Ingress-Target: ${name}:${publicPort}\r\nContent-Length: 0\r\n\r\n`,
    );
    // The node answers "HTTP/1.1 101 Switching Protocols" and from then on carries the client's bytes.
    let head = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_RESPONSE_HEAD) fail();
        return;
      }
      conn.off('data', onData);
      if (!/^HTTP\/1\.[01] 101 /.test(head.subarray(0, end).toString('latin1'))) {
        fail();
        return;
      }
      const rest = head.subarray(end + 4);
      if (rest.length) client.write(rest);
      stats.delivered++;
      conn.write(hello);
      client.pipe(conn);
      conn.pipe(client);
      client.resume();
    };
    const fail = (): void => {
      stats.refused++;
      conn.destroy();
      client.destroy();
    };
    conn.on('data', onData);
  };

  const accept = (client: net.Socket, publicPort: number): void => {
    stats.accepted++;
    track(client);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      stats.helloTimeout++;
      client.destroy();
    }, helloTimeoutMs);
    client.once('close', () => clearTimeout(timer));
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const r = parseClientHello(buf);
      if (r.status === 'more' && buf.length <= MAX_CLIENT_HELLO) return;
      client.off('data', onData);
      client.pause();
      clearTimeout(timer);
      if (r.status !== 'ok') {
        stats.badHello++;
        client.destroy();
      } else if (!r.serverName) {
        stats.noServerName++;
        client.destroy();
      } else {
        deliver(client, buf, r.serverName, publicPort).catch(() => client.destroy());
      }
    };
    client.on('data', onData);
  };

  try {
    for (const p of ports) {
      const srv = net.createServer((c) => accept(c, p));
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, host, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      const a = srv.address() as net.AddressInfo;
      addresses[p] = joinHostPort(a.address, a.port);
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  setIngressNode(ctx.state, self.id, true);
  ctx.logf(`devnet funnel: ingress for ports ${ports.join(', ')} at ${Object.values(addresses).join(', ')}`);

  let closed = false;
  return {
    addresses,
    stats: () => ({ ...stats }),
    waitRoutable: async (name, timeoutMs = 10_000) => {
      const fqdnName = name.replace(/\.$/, '').toLowerCase();
      const isPeer = (): boolean => !node.status || !!node.status()?.peers.some((p) => p.dnsName.replace(/\.$/, '').toLowerCase() === fqdnName);
      const timeout = (): Error => Object.assign(new Error(`devnet funnel: ${name} is not routable within ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
      const deadline = Date.now() + timeoutMs;
      await waitUntil(() => routable(fqdnName), (fn) => ctx.state.subscribe(fn), timeoutMs, timeout);
      if (node.on && node.off) {
        const on = node.on.bind(node);
        const off = node.off.bind(node);
        await waitUntil(isPeer, (fn) => (on('peers', fn), () => off('peers', fn)), Math.max(0, deadline - Date.now()), timeout);
      }
    },
    close: async () => {
      if (closed) return;
      closed = true;
      setIngressNode(ctx.state, self.id, false);
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

function ingressOn(hi: Hostinfo): boolean {
  return hi.IngressEnabled === true || hi.WireIngress === true;
}

/** Resolves when `check()` holds, evaluated now and at every event `subscribe` reports; rejects at the timeout. */
function waitUntil(check: () => boolean, subscribe: (fn: () => void) => () => void, timeoutMs: number, timeout: () => Error): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (check()) return resolve();
    const timer = setTimeout(() => {
      unsubscribe();
      reject(timeout());
    }, timeoutMs);
    const unsubscribe = subscribe(() => {
      if (!check()) return;
      clearTimeout(timer);
      unsubscribe();
      resolve();
    });
  });
}
