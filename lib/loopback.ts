// tsnet's Loopback(): one listener on 127.0.0.1 that serves two protocols, told apart by the first byte
// (0x05, the SOCKS version, or anything else for HTTP), as Tailscale's net/proxymux does:
// - a SOCKS5 proxy onto the tailnet (RFC 1928, username/password auth of RFC 1929, CONNECT only);
// - the LocalAPI over HTTP under /localapi/v0/ (a small read-only subset: status and whois).
// Both are guarded by random credentials, because any local process (or a web page, through the browser)
// can reach a loopback port.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import type { Server } from './server.js';

/** What server.loopback() returns (tsnet's Loopback(): addr, proxyCred, localAPICred). */
export interface LoopbackInfo {
  /** "127.0.0.1:port" */
  address: string;
  /** The SOCKS5 password (the user name is "tsnet"). */
  proxyCredential: string;
  /** The LocalAPI's HTTP basic-auth password (any user name); requests also need "Sec-Tailscale: localapi". */
  localAPICredential: string;
}

/** The parts of the Server the loopback listener uses. */
export type LoopbackHost = Pick<Server, 'dial' | 'status' | 'whoIs'>;

// Tailscale's proxymux gives a client 15 s to send its first byte; we apply it to the whole SOCKS
// negotiation as well, so a silent client cannot hold a connection open before it is proxied.
const HANDSHAKE_MS = 15_000;
// As Tailscale's socks5 server: a CONNECT gives up after 5 s.
const DIAL_MS = 5_000;
const PROXY_USER = 'tsnet';

export class Loopback {
  readonly info: LoopbackInfo;
  readonly #server: net.Server;
  readonly #http: http.Server;
  // Every socket on our side (client connections and tailnet connections), destroyed on close.
  readonly #sockets = new Set<net.Socket>();
  #closed = false;

  private constructor(server: net.Server, info: LoopbackInfo, httpServer: http.Server) {
    this.#server = server;
    this.info = info;
    this.#http = httpServer;
  }

  /** Listens on 127.0.0.1 (any free port) with fresh credentials (16 random bytes each, hex). */
  static async start(host: LoopbackHost): Promise<Loopback> {
    const proxyCredential = crypto.randomBytes(16).toString('hex');
    const localAPICredential = crypto.randomBytes(16).toString('hex');
    const server = net.createServer({ allowHalfOpen: true });
    const httpServer = http.createServer((req, res) => serveLocalAPI(req, res, host, localAPICredential));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as net.AddressInfo).port;
    const lb = new Loopback(server, { address: `127.0.0.1:${port}`, proxyCredential, localAPICredential }, httpServer);
    server.on('connection', (conn) => lb.#accept(conn, host));
    // An accept error (EMFILE) must not become an uncaught 'error' event.
    server.on('error', () => undefined);
    return lb;
  }

  #track(s: net.Socket): void {
    if (this.#closed) {
      s.destroy();
      return;
    }
    this.#sockets.add(s);
    s.once('close', () => this.#sockets.delete(s));
    // Errors end the connection ('close' follows); they must never reach the process as unhandled.
    s.on('error', () => undefined);
  }

  #accept(conn: net.Socket, host: LoopbackHost): void {
    this.#track(conn);
    const timer = setTimeout(() => conn.destroy(), HANDSHAKE_MS);
    conn.once('close', () => clearTimeout(timer));
    // A client that shuts down without a byte (allowHalfOpen keeps our side open otherwise).
    const silent = () => conn.destroy();
    conn.once('end', silent);
    conn.once('data', (first: Buffer) => {
      // Pause before anything else, or the next chunk would be emitted with no listener and lost.
      conn.pause();
      conn.off('end', silent);
      if (first[0] === 0x05) {
        const reader = new Reader(conn, first);
        socks(conn, reader, host, this.info.proxyCredential, (s) => this.#track(s), () => clearTimeout(timer)).catch(() =>
          conn.destroy(),
        );
      } else {
        clearTimeout(timer); // node:http has its own header and request timeouts
        conn.unshift(first);
        this.#http.emit('connection', conn);
        // Our pause() set the stream to explicitly paused, which node:http's 'data' listener does not undo.
        conn.resume();
      }
    });
  }

  /** Stops listening and ends every connection (proxied ones included). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    this.#http.close(() => undefined); // never listened itself; this only stops its timers
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Equal strings, in time that depends only on the lengths (the credentials' length is no secret). */
function safeEqual(a: Buffer | string, b: string): boolean {
  const x = Buffer.isBuffer(a) ? a : Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) {
    crypto.timingSafeEqual(y, y);
    return false;
  }
  return crypto.timingSafeEqual(x, y);
}

// ---------------------------------------------------------------------------------------------------------
// SOCKS5

/** Reads exact byte counts from a socket during the negotiation, then hands back what came after it. */
class Reader {
  readonly #conn: net.Socket;
  #buf: Buffer;
  #want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  #gone = false;
  readonly #onData = (d: Buffer) => {
    this.#buf = Buffer.concat([this.#buf, d]);
    // A client may send data after its request without waiting (it will be forwarded); hold off the rest.
    if (this.#buf.length >= 65_536) this.#conn.pause();
    this.#serve();
  };
  readonly #onEnd = () => {
    this.#gone = true;
    this.#serve();
  };

  constructor(conn: net.Socket, first: Buffer) {
    this.#conn = conn;
    this.#buf = first;
    conn.on('data', this.#onData);
    conn.on('end', this.#onEnd);
    conn.on('close', this.#onEnd);
    conn.resume();
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#want = { n, resolve, reject };
      this.#serve();
    });
  }

  #serve(): void {
    const w = this.#want;
    if (!w) return;
    if (this.#buf.length >= w.n) {
      this.#want = null;
      const out = this.#buf.subarray(0, w.n);
      this.#buf = this.#buf.subarray(w.n);
      if (this.#buf.length < 65_536 && !this.#conn.destroyed) this.#conn.resume();
      w.resolve(out);
    } else if (this.#gone) {
      this.#want = null;
      w.reject(new Error('socks5: the client went away during the negotiation'));
    }
  }

  /** Stops reading; returns the bytes received beyond the negotiation. The socket is left paused. */
  detach(): Buffer {
    this.#conn.pause();
    this.#conn.off('data', this.#onData);
    this.#conn.off('end', this.#onEnd);
    this.#conn.off('close', this.#onEnd);
    return this.#buf;
  }
}

const enum Reply {
  Success = 0x00,
  GeneralFailure = 0x01,
  NotAllowed = 0x02,
  NetworkUnreachable = 0x03,
  HostUnreachable = 0x04,
  ConnectionRefused = 0x05,
  CommandNotSupported = 0x07,
  AddressTypeNotSupported = 0x08,
}

/** A reply with a bound address; failures carry 0.0.0.0:0 (as Tailscale's server). */
function reply(code: Reply, address = '0.0.0.0', port = 0): Buffer {
  const v4 = net.isIPv4(address);
  const head = Buffer.from([0x05, code, 0x00, v4 ? 0x01 : 0x04]);
  const addr = v4 ? Buffer.from(address.split('.').map(Number)) : ipv6Bytes(address);
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  return Buffer.concat([head, addr, p]);
}

function ipv6Bytes(address: string): Buffer {
  const sa = new net.SocketAddress({ address, family: 'ipv6' });
  const [head = '', tail = ''] = sa.address.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = sa.address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return out;
}

function ipv6Text(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // SocketAddress prints the canonical (compressed) form.
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** The reply for a failed dial, by the error's code (our dial errors are shaped like Node's). */
function failureReply(err: unknown): Reply {
  switch ((err as { code?: string }).code) {
    case 'ECONNREFUSED':
      return Reply.ConnectionRefused;
    case 'EHOSTUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
      return Reply.HostUnreachable;
    case 'ENETUNREACH':
      return Reply.NetworkUnreachable;
    case 'EACCES':
    case 'EPERM':
      return Reply.NotAllowed;
    default:
      return Reply.GeneralFailure;
  }
}

async function socks(
  conn: net.Socket,
  r: Reader,
  host: LoopbackHost,
  password: string,
  track: (s: net.Socket) => void,
  negotiated: () => void,
): Promise<void> {
  // Answer, then close once the answer is flushed: our listener allows half-open connections, so end() alone
  // would leave the socket open for as long as the client keeps its side open.
  const bye = (b: Buffer) => void conn.end(b, () => conn.destroy());
  const fail = (code: Reply) => bye(reply(code));
  // Greeting: VER NMETHODS METHODS. Only username/password (0x02) is offered; otherwise 0xFF, "no method".
  const [, nMethods = 0] = await r.read(2);
  const methods = await r.read(nMethods);
  if (!methods.includes(0x02)) return bye(Buffer.from([0x05, 0xff]));
  conn.write(Buffer.from([0x05, 0x02]));
  // RFC 1929: VER(1) ULEN UNAME PLEN PASSWD; status 0 is success, anything else failure (then close).
  const [authVersion, uLen = 0] = await r.read(2);
  const user = await r.read(uLen);
  const [pLen = 0] = await r.read(1);
  const pass = await r.read(pLen);
  // Both compared, whatever the first gives, so the time says nothing about which was wrong.
  const userOK = safeEqual(user, PROXY_USER);
  const passOK = safeEqual(pass, password);
  if (authVersion !== 0x01 || !userOK || !passOK) return bye(Buffer.from([0x01, 0x01]));
  conn.write(Buffer.from([0x01, 0x00]));
  // Request: VER CMD RSV ATYP DST.ADDR DST.PORT.
  const [ver, cmd, , atyp] = await r.read(4);
  if (ver !== 0x05) return fail(Reply.GeneralFailure);
  let target: string;
  if (atyp === 0x01) target = [...(await r.read(4))].join('.');
  else if (atyp === 0x04) target = ipv6Text(await r.read(16));
  else if (atyp === 0x03) {
    const [len = 0] = await r.read(1);
    target = (await r.read(len)).toString('latin1');
    if (!/^[\w.-]+$/.test(target) && !net.isIP(target)) return fail(Reply.HostUnreachable);
  } else return fail(Reply.AddressTypeNotSupported);
  const port = (await r.read(2)).readUInt16BE(0);
  if (cmd !== 0x01) return fail(Reply.CommandNotSupported);
  negotiated();

  let remote: net.Socket;
  try {
    const hostPort = net.isIPv6(target) ? `[${target}]:${port}` : `${target}:${port}`;
    remote = await host.dial('tcp', hostPort, { timeout: DIAL_MS, allowHalfOpen: true });
  } catch (err) {
    if (!conn.destroyed) fail(failureReply(err));
    return;
  }
  track(remote);
  if (conn.destroyed) return void remote.destroy();
  const early = r.detach();
  conn.write(reply(Reply.Success, remote.localAddress ?? '0.0.0.0', remote.localPort ?? 0));
  if (early.length) remote.write(early);
  splice(conn, remote);
}

/**
 * Copies both ways with backpressure (pipe), passing half-closes along (a client may shut down its sending
 * side and still read the answer). When one side closes before both directions finished, the other is torn
 * down too.
 */
function splice(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  const onClose = (self: net.Socket, other: net.Socket) => () => {
    if (!(self.readableEnded && self.writableFinished)) other.destroy();
  };
  a.once('close', onClose(a, b));
  b.once('close', onClose(b, a));
}

// ---------------------------------------------------------------------------------------------------------
// LocalAPI over HTTP

// Go's strconv.ParseBool spellings of false (for ?peers=false).
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** As Tailscale's LocalAPI handler: the Host must be the LocalAPI's pseudo-host or a loopback host:port. */
function validHost(h: string): boolean {
  if (h === '' || h === 'local-tailscaled.sock') return true;
  const m = /^(?:\[([^\]]+)\]|([^:]+)):\d+$/.exec(h);
  const name = m?.[1] ?? m?.[2];
  if (!name) return false;
  if (name === 'localhost') return true;
  return net.isIPv4(name) ? name.startsWith('127.') : name === '::1';
}

/** The basic-auth password, or null if the header is missing or malformed. */
function basicPassword(header: string | undefined): string | null {
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i < 0 ? null : decoded.slice(i + 1);
}

/** "ip" or "ip:port" or "[ip6]:port" to an IP (v4-mapped IPv6 as IPv4), or null. */
function whoIsAddress(v: string): string | null {
  let ip = v;
  if (!net.isIP(v)) {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v);
    ip = m?.[1] ?? m?.[2] ?? '';
    if (!m || !net.isIP(ip) || Number(m[3]) > 65535) return null;
  }
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip) ? ip.slice(7) : ip;
}

function serveLocalAPI(req: http.IncomingMessage, res: http.ServerResponse, host: LoopbackHost, cred: string): void {
  const send = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
    res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  const json = (v: unknown) => send(200, `${JSON.stringify(v, null, '\t')}\n`, 'application/json');
  // tsnet checks this header first, for every path: browsers cannot send it cross-origin without a preflight.
  if (req.headers['sec-tailscale'] !== 'localapi') return send(403, "missing 'Sec-Tailscale: localapi' header");
  // Then the LocalAPI's own checks: no browser context (Referer, Origin), a loopback Host (DNS rebinding).
  if (req.headers.referer !== undefined || req.headers.origin !== undefined || !validHost(req.headers.host ?? '')) {
    return send(403, 'invalid localapi request\n');
  }
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  const pass = basicPassword(req.headers.authorization);
  if (pass === null) {
    res.setHeader('WWW-Authenticate', 'Basic realm="localapi"');
    return send(401, 'auth required\n');
  }
  if (!safeEqual(pass, cred)) return send(403, 'bad password\n');

  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://local-tailscaled.sock');
  } catch {
    return send(400, 'bad request\n');
  }
  if (url.pathname === '/localapi/v0/status') {
    const st = host.status();
    const peers = !FALSE.has(url.searchParams.get('peers') ?? '');
    if (!st) return json({ BackendState: 'NoState', TailscaleIPs: [] });
    // Our Status (camelCase), plus Tailscale's two most used ipnstate.Status fields under their own names.
    const body: Record<string, unknown> = { BackendState: st.backendState, TailscaleIPs: st.tailscaleIPs, ...st };
    if (!peers) delete body.peers;
    return json(body);
  }
  if (url.pathname === '/localapi/v0/whois') {
    const addr = url.searchParams.get('addr') ?? '';
    if (!addr) return send(400, "missing 'addr' parameter\n");
    let ip: string | null;
    if (addr.startsWith('nodekey:')) {
      if (!/^nodekey:[0-9a-f]{64}$/.test(addr)) return send(400, "invalid nodekey in 'addr' parameter\n");
      const st = host.status();
      const self = st?.self.Key === addr ? st.tailscaleIPs : undefined;
      ip = (self ?? st?.peers.find((p) => p.publicKey === addr)?.tailscaleIPs)?.[0] ?? null;
      if (!ip) return send(404, 'no match for IP:port\n');
    } else {
      ip = whoIsAddress(addr);
      if (!ip) return send(400, "invalid 'addr' parameter\n");
    }
    const who = host.whoIs(ip);
    if (!who) return send(404, 'no match for IP:port\n');
    // apitype.WhoIsResponse: Node and UserProfile are never null in a success.
    const profile = who.userProfile ?? { ID: who.node.User ?? 0, LoginName: '', DisplayName: '' };
    return json({ Node: who.node, UserProfile: profile, CapMap: who.capMap });
  }
  return send(404, '404 page not found\n');
}
