// tsnet's Loopback(): one listener on 127.0.0.1 that serves two protocols, told apart by the first byte
// (0x05, the SOCKS version, or anything else for HTTP), as Tailscale's net/proxymux does:
// - a SOCKS5 proxy onto the tailnet (RFC 1928, username/password auth of RFC 1929, CONNECT and UDP ASSOCIATE);
// - an HTTP CONNECT proxy onto the tailnet (basic auth, the same credential: lib/loopback/connect-proxy.ts);
// - the LocalAPI over HTTP under /localapi/v0/ (status, whois, ping, prefs, logout, watch-ipn-bus, usermetrics),
//   also on a unix socket for Tailscale's CLI (loopback({ socketPath }): lib/loopback/unix-socket.ts);
// - a read-only status page for people at /status?token=<LocalAPI credential> (lib/loopback/status-page.ts).
// Both are guarded by random credentials, because any local process (or a web page, through the browser)
// can reach a loopback port.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import type { LoopbackHost } from './host.js';
import { serveLocalAPI } from './localapi.js';
import { removeLocalAPIFile, writeLocalAPIFile } from './localapi-file.js';
import { serveStatusPage, STATUS_PAGE_PATH } from './status-http.js';
import { Reader, socks } from './socks5.js';
import { httpConnect } from './connect-proxy.js';
import { listenUnix } from './unix-socket.js';

/** What server.loopback() returns (tsnet's Loopback(): addr, proxyCred, localAPICred). */
export interface LoopbackInfo {
  /** "127.0.0.1:port" */
  address: string;
  /** The SOCKS5 and HTTP CONNECT proxy password (the user name is "tsnet"). */
  proxyCredential: string;
  /** The LocalAPI's HTTP basic-auth password (any user name); requests also need "Sec-Tailscale: localapi". */
  localAPICredential: string;
  /** The LocalAPI's unix socket, when loopback({ socketPath }) asked for one (`tailscale --socket=<path>`). */
  socketPath?: string;
}


// Tailscale's proxymux gives a client 15 s to send its first byte; we apply it to the whole SOCKS
// negotiation as well, so a silent client cannot hold a connection open before it is proxied.
const HANDSHAKE_MS = 15_000;

export class Loopback {
  readonly info: LoopbackInfo;
  readonly #server: net.Server;
  readonly #http: http.Server;
  // Every socket on our side (client connections and tailnet connections), destroyed on close.
  readonly #sockets = new Set<net.Socket>();
  #closed = false;
  #advertDir: string | undefined;
  #unix: net.Server | undefined;

  private constructor(server: net.Server, info: LoopbackInfo, httpServer: http.Server) {
    this.#server = server;
    this.info = info;
    this.#http = httpServer;
  }

  /**
   * Listens on 127.0.0.1 (any free port) with fresh credentials (16 random bytes each, hex). With `advertDir`,
   * writes the address and LocalAPI credential to <advertDir>/localapi.json for `tsnet status` (removed on close).
   */
  static async start(host: LoopbackHost, advertDir?: string, socketPath?: string): Promise<Loopback> {
    const proxyCredential = crypto.randomBytes(16).toString('hex');
    const localAPICredential = crypto.randomBytes(16).toString('hex');
    const server = net.createServer({ allowHalfOpen: true });
    const unixConns = new WeakSet<net.Socket>();
    const httpServer = http.createServer((req, res) => {
      if (unixConns.has(req.socket)) serveLocalAPI(req, res, host, localAPICredential, true);
      else if ((req.url ?? '').split('?')[0] === STATUS_PAGE_PATH) serveStatusPage(req, res, host, localAPICredential);
      else serveLocalAPI(req, res, host, localAPICredential);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as net.AddressInfo).port;
    const lb = new Loopback(server, { address: `127.0.0.1:${port}`, proxyCredential, localAPICredential }, httpServer);
    httpServer.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      httpConnect(req, client, head, host, proxyCredential, (s) => lb.#track(s)).catch(() => client.destroy());
    });
    server.on('connection', (conn) => lb.#accept(conn, host));
    // An accept error (EMFILE) must not become an uncaught 'error' event.
    server.on('error', () => undefined);
    if (socketPath !== undefined) {
      try {
        lb.#unix = await listenUnix(socketPath, (conn) => {
          lb.#track(conn);
          unixConns.add(conn);
          httpServer.emit('connection', conn);
        });
      } catch (err) {
        await lb.close();
        throw err;
      }
      lb.info.socketPath = socketPath;
    }
    if (advertDir !== undefined) {
      try {
        await writeLocalAPIFile(advertDir, { address: lb.info.address, credential: localAPICredential });
      } catch (err) {
        await lb.close();
        throw err;
      }
      lb.#advertDir = advertDir;
    }
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
    const unix = this.#unix;
    if (unix) await new Promise<void>((resolve) => unix.close(() => resolve()));
    const dir = this.#advertDir;
    if (dir !== undefined) await removeLocalAPIFile(dir, { address: this.info.address, credential: this.info.localAPICredential }).catch(() => undefined);
  }
}

