/**
 * The development DERP relay's network edge (docs/protocol/derp.md §1): an HTTPS
 * server (self-signed certificate made at start, or plain HTTP for tests)
 * that upgrades `GET /derp` with `Upgrade: DERP` to the DERP frame stream and
 * hands the bytes to the sans-I/O core in relay.ts. Also serves
 * `/derp/probe`, `/derp/latency-check` and `/generate_204`.
 *
 * FOR DEVELOPMENT AND TESTS ONLY: listens on loopback by default, no mesh,
 * no WebSocket transport (browsers' `Upgrade: websocket` gets 501).
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { generatePrivateKey, nodePublicToText } from '../../wire/keys.js';
import { PROTOCOL_VERSION, type ClientInfo } from './frames.js';
import { generateDerpMetaCert, generateSelfSignedCert } from './cert.js';
import { DerpRelay, type DerpRelayStats, type RelayConn, type RelayTraffic } from './relay.js';
import { PreAuthGate, type PreAuthTicket } from '../pre-auth-gate.js';

export interface DerpServerOptions {
  /** Listen address; default "127.0.0.1". */
  host?: string;
  /** TCP port; default 0 (any free port). */
  port?: number;
  /** Serve TLS (default true). False = plain HTTP (tests; Tailscale clients then need TS_DEBUG_USE_DERP_HTTP). */
  tls?: boolean;
  /** Certificate and key (PEM) instead of a fresh self-signed one. */
  certificate?: { cert: string; key: string };
  /** Names for the self-signed certificate (default: host, "127.0.0.1", "::1", "localhost"). */
  certNames?: string[];
  /**
   * Add the DERP meta certificate (CN "derpkey<hex>", serial 2) to the TLS
   * chain so Tailscale clients use Derp-Fast-Start, as Tailscale's derper
   * does. Default true.
   */
  metaCert?: boolean;
  /** Relay private key (32 bytes); default random. */
  privateKey?: Uint8Array;
  /** Which node keys may connect; default everyone. */
  verifyClient?: (nodeKey: Uint8Array, info: ClientInfo) => boolean;
  /** Most clients past the handshake (ClientInfo accepted); default 1000. Connections still in the handshake do not count. */
  maxConnections?: number;
  /**
   * Connections not past the handshake (TCP, TLS, HTTP request, no ClientInfo yet) from one IP address;
   * beyond it the oldest such one from that address is closed. Default 64.
   */
  preAuthPerIP?: number;
  /** The same in all; beyond it the oldest from the address holding the most is closed. Default 256. */
  preAuthTotal?: number;
  /** Bytes held in all for partial ClientInfo frames; beyond it the connection holding the most is closed. Default 4 MiB. */
  loginBufferBytes?: number;
  /** TLS handshake and HTTP request headers must be done within this; default 10 s. */
  headersTimeoutMs?: number;
  /** A plain HTTP connection (probes, /generate_204) idle between requests is closed after this; default 5 s. */
  keepAliveTimeoutMs?: number;
  /** A connection not upgraded to DERP with no traffic at all for this long is closed; default 30 s. */
  httpIdleTimeoutMs?: number;
  /** Packets queued per client before the oldest is dropped; default 256. */
  sendQueuePackets?: number;
  /** Keep-alive period; default 60 s. */
  keepAliveMs?: number;
  /** Liveness timeout for clients that ack pings; default 5 min. */
  idleTimeoutMs?: number;
  /** Login deadline (ClientInfo, from the upgrade); default 5 s. */
  loginTimeoutMs?: number;
  /** How often the relay's timers are checked; default 1 s. */
  tickMs?: number;
  logf?: (msg: string) => void;
}

export interface DerpServer {
  readonly host: string;
  readonly port: number;
  /** e.g. "https://127.0.0.1:43210/derp" */
  readonly url: string;
  readonly tls: boolean;
  /** The relay's public key (32 bytes) and as "nodekey:<hex>". */
  readonly publicKey: Buffer;
  readonly publicKeyText: string;
  /** PEM certificate (TLS only; the leaf, without the DERP meta certificate). */
  readonly certificate: string | null;
  /** "sha256-raw:<hex>" pin for DERPNode.CertName (self-signed TLS only). */
  readonly certName: string | null;
  stats(): DerpServerStats;
  /** Node keys ("nodekey:...") connected now. */
  clients(): string[];
  /** Relayed traffic of each connected client, by node key (counts restart with each connection). */
  clientTraffic(): Map<string, RelayTraffic>;
  /** Re-checks connected clients with verifyClient; closes the refused ones and returns their number. */
  revalidateClients(): number;
  /** Sends Restarting and Health to every client, closes them and stops listening. */
  close(): Promise<void>;
}

export interface DerpServerStats extends DerpRelayStats {
  /** Connections not past the handshake now. */
  preAuthConnections: number;
  /** Such connections closed to make room for newer ones (docs/architecture.md, "Development tailnet limits"). */
  preAuthEvicted: number;
}

const CLOSE_FLUSH_MS = 1000;

export async function startDerpServer(o: DerpServerOptions = {}): Promise<DerpServer> {
  const host = o.host ?? '127.0.0.1';
  const useTLS = o.tls ?? true;
  const logf = o.logf ?? ((): void => {});
  const maxConnections = o.maxConnections ?? 1000;
  const gate = new PreAuthGate({ perIP: o.preAuthPerIP ?? 64, total: o.preAuthTotal ?? 256 });
  const headersTimeoutMs = o.headersTimeoutMs ?? 10_000;
  const httpIdleTimeoutMs = o.httpIdleTimeoutMs ?? 30_000;
  const relay = new DerpRelay({
    maxClients: maxConnections,
    ...(o.loginBufferBytes !== undefined ? { loginBufferBytes: o.loginBufferBytes } : {}),
    privateKey: o.privateKey ?? generatePrivateKey(),
    ...(o.verifyClient ? { verifyClient: o.verifyClient } : {}),
    ...(o.sendQueuePackets !== undefined ? { sendQueuePackets: o.sendQueuePackets } : {}),
    ...(o.keepAliveMs !== undefined ? { keepAliveMs: o.keepAliveMs } : {}),
    ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
    ...(o.loginTimeoutMs !== undefined ? { loginTimeoutMs: o.loginTimeoutMs } : {}),
    logf,
  });

  let certificate: string | null = null;
  let certName: string | null = null;
  let key: string | null = null;
  if (useTLS) {
    if (o.certificate) {
      certificate = o.certificate.cert;
      key = o.certificate.key;
    } else {
      const names = [...new Set([...(o.certNames ?? [host]), '127.0.0.1', '::1', 'localhost'])];
      const c = generateSelfSignedCert({ names });
      certificate = c.cert;
      key = c.key;
      certName = c.certName;
    }
  }

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/derp/probe' || path === '/derp/latency-check') {
      if (req.method === 'GET' || req.method === 'HEAD') {
        res.writeHead(200, { 'Access-Control-Allow-Origin': '*' }).end();
      } else {
        res.writeHead(405, { 'Content-Type': 'text/plain' }).end('bogus probe method\n');
      }
      return;
    }
    if (path === '/generate_204') {
      const headers: http.OutgoingHttpHeaders = { 'Cache-Control': 'no-cache, no-store, must-revalidate, no-transform, max-age=0' };
      const ch = req.headers['x-tailscale-challenge'];
      if (typeof ch === 'string' && ch.length > 0 && ch.length <= 64 && /^[A-Za-z0-9._:-]+$/.test(ch)) {
        headers['X-Tailscale-Response'] = `response ${ch}`;
      }
      res.writeHead(204, headers).end();
      return;
    }
    if (path === '/derp') {
      res.writeHead(426, { 'Content-Type': 'text/plain' }).end('DERP requires connection upgrade\n');
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('tsnet development DERP relay (for development and tests only)\n');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  };

  const chain = useTLS && (o.metaCert ?? true) ? certificate! + generateDerpMetaCert(relay.publicKey, PROTOCOL_VERSION).cert : certificate;
  const serverOpts: http.ServerOptions = { connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeoutMs / 2)) };
  const server: http.Server = useTLS
    ? https.createServer({ ...serverOpts, cert: chain!, key: key!, handshakeTimeout: headersTimeoutMs }, onRequest)
    : http.createServer(serverOpts, onRequest);
  const sockets = new Set<Duplex>();
  // Every TCP connection, upgraded or not: a client that connected but has not sent its request yet is not
  // known to closeAllConnections(), and server.close() would wait for it.
  const raw = new Set<Duplex>();
  // Each TCP connection is in the pre-auth gate until its ClientInfo is accepted. The upgrade hands over the
  // TLS socket, not the TCP one: both have the same remote address and port.
  const pending = new Map<string, { tcp: Socket; ticket: PreAuthTicket }>();
  const remoteId = (s: Socket): string => `${s.remoteAddress}|${s.remotePort}`;
  server.on('connection', (s: Socket) => {
    raw.add(s);
    const id = remoteId(s);
    const ticket = gate.admit(s.remoteAddress, () => s.destroy());
    pending.set(id, { tcp: s, ticket });
    // Before the upgrade: no bytes either way for this long closes it (Node's own timeouts cover headers and
    // keep-alive, not a connection that sends nothing after a response).
    s.setTimeout(httpIdleTimeoutMs, () => s.destroy());
    s.on('close', () => {
      raw.delete(s);
      ticket.release();
      if (pending.get(id)?.tcp === s) pending.delete(id);
    });
  });

  const attach = (socket: Socket, head: Buffer): void => {
    const conn: RelayConn = relay.open(socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unknown', Date.now());
    if (conn.state === 'closed') {
      socket.destroy();
      return;
    }
    const p = pending.get(remoteId(socket));
    // Upgraded: the relay's login and idle timers take over from the socket timeout.
    p?.tcp.setTimeout(0);
    socket.setTimeout(0);
    conn.onLogin = () => p?.ticket.release();
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    let pumping = false;
    const pump = (): void => {
      if (pumping || socket.destroyed) return;
      pumping = true;
      try {
        let wrote = false;
        while (!socket.writableNeedDrain) {
          const b = conn.takeOne();
          if (!b) break;
          socket.write(b);
          wrote = true;
        }
        if (wrote) conn.noteWrite(Date.now());
      } finally {
        pumping = false;
      }
    };
    conn.onOutput = pump;
    conn.onClose = (reason) => {
      logf(`derp: closing ${conn.keyText || conn.remote}: ${reason}`);
      if (!conn.key) {
        // Never logged in: nothing worth flushing. Stop reading at once so a client still sending (e.g. the
        // rest of an oversized frame) costs nothing more.
        conn.discardOutput();
        socket.destroy();
        return;
      }
      pump();
      // Flush what is queued (bounded), then end; destroy if it will not drain.
      const finish = (): void => {
        conn.discardOutput();
        socket.end();
        setTimeout(() => socket.destroy(), CLOSE_FLUSH_MS).unref();
      };
      if (!conn.hasOutput) finish();
      else {
        socket.on('drain', () => {
          pump();
          if (!conn.hasOutput) finish();
        });
        setTimeout(finish, CLOSE_FLUSH_MS).unref();
      }
    };
    socket.on('drain', pump);
    socket.on('data', (d: Buffer) => conn.receive(d, Date.now()));
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      conn.close('connection closed');
      conn.discardOutput();
    });
    if (head.length) conn.receive(head, Date.now());
    pump();
  };

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const s = socket as Socket;
    s.on('error', () => {});
    const path = (req.url ?? '/').split('?')[0]!;
    const up = String(req.headers.upgrade ?? '').toLowerCase();
    const reply = (status: string, body: string): void => {
      s.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    if (path !== '/derp') return reply('404 Not Found', 'not found\n');
    if (up === 'websocket') return reply('501 Not Implemented', 'this development relay does not serve DERP over WebSocket\n');
    if (up !== 'derp') return reply('426 Upgrade Required', 'DERP requires connection upgrade\n');
    if (relay.stats.clients >= maxConnections) return reply('503 Service Unavailable', 'too many DERP connections\n');
    if (req.headers['derp-fast-start'] !== '1') {
      s.write(
        'HTTP/1.1 101 Switching Protocols\r\n' +
          'Upgrade: DERP\r\n' +
          'Connection: Upgrade\r\n' +
          `Derp-Version: ${PROTOCOL_VERSION}\r\n` +
          `Derp-Public-Key: ${relay.publicKey.toString('hex')}\r\n\r\n`,
      );
    }
    attach(s, head);
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  server.headersTimeout = headersTimeoutMs;
  server.requestTimeout = Math.max(headersTimeoutMs, 30_000);
  server.keepAliveTimeout = o.keepAliveTimeoutMs ?? 5000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const ticker = setInterval(() => relay.tick(Date.now()), o.tickMs ?? 1000);
  ticker.unref();
  const urlHost = host.includes(':') ? `[${host}]` : host;
  logf(`derp: relay at ${useTLS ? 'https' : 'http'}://${urlHost}:${port}/derp (for development and tests only)`);

  let closing: Promise<void> | null = null;
  return {
    host,
    port,
    url: `${useTLS ? 'https' : 'http'}://${urlHost}:${port}/derp`,
    tls: useTLS,
    publicKey: Buffer.from(relay.publicKey),
    publicKeyText: nodePublicToText(relay.publicKey),
    certificate,
    certName,
    stats: () => ({ ...relay.stats, preAuthConnections: gate.stats.open, preAuthEvicted: gate.stats.evicted }),
    clients: () => relay.clientKeys(),
    clientTraffic: () => relay.clientTraffic(),
    revalidateClients: () => relay.revalidate(),
    close: () => {
      closing ??= (async () => {
        clearInterval(ticker);
        relay.shutdown();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        const deadline = Date.now() + CLOSE_FLUSH_MS + 200;
        while (sockets.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        for (const s of raw) s.destroy();
        await closed;
      })();
      return closing;
    },
  };
}
