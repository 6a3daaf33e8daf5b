// listen and dial over one device's userspace TCP/IP stack: the implementation that the WireGuard mode and
// the tsnet Server share.
import { bridgeMode } from './bridge.js';
import { Device } from './device.js';
import { checkNetwork, ipFamily, networkFamily, normalizeListenHost, splitHostPort } from './addr.js';
import { abortError, closedError, systemError } from './errors.js';
import { TailnetListener } from './listener.js';
import { TailnetSocket } from './socket.js';
import { TailnetPacketSocket } from './packet.js';

export interface DialOptions {
  signal?: AbortSignal;
  allowHalfOpen?: boolean;
  /**
   * Milliseconds to wait for the connection (WireGuard handshake and TCP SYN-ACK) before failing with
   * ETIMEDOUT. Without it, the stack gives up after its own SYN retransmissions (about two minutes, as an
   * operating system does).
   */
  timeout?: number;
}

export interface ListenOptions {
  allowHalfOpen?: boolean;
  /**
   * Connections that may wait for the handshake to finish, as net.Server's backlog; default 511 (Node's).
   * Established connections are handed to 'connection' at once and never wait here.
   */
  backlog?: number;
}

const TCP = ['tcp', 'tcp4', 'tcp6'] as const;
const UDP = ['udp', 'udp4', 'udp6'] as const;
export type TcpNetworkName = (typeof TCP)[number];
export type UdpNetworkName = (typeof UDP)[number];

export class Netstack {
  /** The native device under this stack; its link (WireGuard, Tailscale mode) is started by the owner. */
  readonly device: Device;
  #closed = false;
  readonly #addresses: string[] = [];
  readonly #listeners = new Set<TailnetListener>();
  readonly #sockets = new Set<TailnetSocket>();
  readonly #packets = new Set<TailnetPacketSocket>();

  constructor(device: Device = new Device()) {
    this.device = device;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get addresses(): readonly string[] {
    return this.#addresses;
  }

  addAddress(ip: string): void {
    this.#check('addAddress');
    if (!ipFamily(ip)) throw new TypeError(`not an IP address: "${ip}"`);
    this.device.addAddress(ip);
    this.#addresses.push(ip);
  }

  /**
   * Listens on a port of this node's addresses ("tcp", ":80"; "tcp4", "100.64.0.1:80"), with tsnet's rules:
   * network "" means "tcp"; the host is empty, unspecified (0.0.0.0, ::) or one of this node's IPs; the port
   * may be a service name ("http"); port 0 picks a free one in 10002-19999.
   */
  listen(network: string, address: string, opts: ListenOptions = {}, into?: TailnetListener): TailnetListener {
    this.#check('listen');
    if (network === '') network = 'tcp';
    checkNetwork(network, TCP);
    const split = splitHostPort(address);
    const host = normalizeListenHost(split.host);
    const port = split.port;
    let family = networkFamily(network);
    if (host) {
      const f = ipFamily(host);
      if (!f) throw new TypeError(`listen address must be an IP literal of this node or empty, got "${host}"`);
      if (family && f !== family) throw new TypeError(`address "${host}" does not match network "${network}"`);
      if (!this.#addresses.includes(host)) {
        throw systemError('listen', 'EADDRNOTAVAIL', host, port);
      }
      family = f;
    }
    const id = this.device.allocId();
    const bound = port ? this.device.tcpListen(id, family, port, opts.backlog ?? 511, bridgeMode() === 'stream') : this.#listenAnyPort(id, family, opts);
    const init = {
      device: this.device,
      id,
      host,
      family,
      port: bound,
      allowHalfOpen: opts.allowHalfOpen ?? false,
      accepts: host ? (local: { address: string }) => local.address === host : undefined,
    };
    // `into`: a listener handed out before the node was up (lib/server/pending.ts) takes this port.
    const ln = into ?? new TailnetListener(init);
    into?.bindLate(init);
    this.#listeners.add(ln);
    ln.once('close', () => this.#listeners.delete(ln));
    return ln;
  }

  // tsnet allocates listener ports from 10002-19999 (ports a person would not pick), from a random start.
  #listenAnyPort(id: number, family: 0 | 4 | 6, opts: ListenOptions): number {
    const first = 10002 + Math.floor(Math.random() * 9998);
    for (let i = 0; i < 9998; i++) {
      const port = 10002 + ((first - 10002 + i) % 9998);
      try {
        return this.device.tcpListen(id, family, port, opts.backlog ?? 511, bridgeMode() === 'stream');
      } catch (err) {
        if ((err as { code?: string }).code !== 'EADDRINUSE') throw err;
      }
    }
    throw systemError('listen', 'EADDRINUSE', '', 0);
  }

  /** Starts a connection and returns the socket at once, as net.connect() does ('connect' follows). */
  connect(network: string, address: string, opts: DialOptions = {}): TailnetSocket {
    this.#check('dial');
    checkNetwork(network, TCP);
    const { host, port } = splitHostPort(address);
    const f = ipFamily(host);
    if (!f) throw new TypeError(`dial address must be an IP literal here, got "${host}"`);
    const want = networkFamily(network);
    if (want && want !== f) throw new TypeError(`address "${host}" does not match network "${network}"`);
    if (port === 0) throw new RangeError('dial: port must be 1..65535');
    if (opts.timeout !== undefined && (!Number.isFinite(opts.timeout) || opts.timeout <= 0)) {
      throw new RangeError('dial: timeout must be a positive number of milliseconds');
    }
    const id = this.device.allocId();
    let fd: number;
    try {
      fd = this.device.tcpDial(id, host, port, bridgeMode() === 'stream');
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'EINVAL';
      throw systemError('connect', code === 'EADDRNOTAVAIL' ? 'EHOSTUNREACH' : code, host, port);
    }
    const socket = new TailnetSocket({
      device: this.device,
      id,
      fd,
      allowHalfOpen: opts.allowHalfOpen ?? false,
      target: { address: host, port },
      onDestroy: (s) => this.#sockets.delete(s),
    });
    this.#sockets.add(socket);
    if (opts.timeout !== undefined) {
      const t = setTimeout(() => socket.failDial(systemError('connect', 'ETIMEDOUT', host, port)), opts.timeout);
      const clear = () => {
        clearTimeout(t);
        socket.off('connect', clear);
        socket.off('close', clear);
      };
      socket.once('connect', clear);
      socket.once('close', clear);
    }
    const { signal } = opts;
    if (signal) {
      if (signal.aborted) socket.abortDial(signal.reason);
      else {
        const onAbort = () => socket.abortDial(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        const done = () => {
          signal.removeEventListener('abort', onAbort);
          socket.off('connect', done);
          socket.off('close', done);
        };
        socket.once('connect', done);
        socket.once('close', done);
      }
    }
    return socket;
  }

  /**
   * Connects and resolves once the connection is established; rejects with a coded error. "udp", "udp4" and
   * "udp6" give a connected datagram socket at once (UDP has no handshake).
   */
  dial(network: TcpNetworkName, address: string, opts?: DialOptions): Promise<TailnetSocket>;
  dial(network: UdpNetworkName, address: string, opts?: DialOptions): Promise<TailnetPacketSocket>;
  dial(network: string, address: string, opts?: DialOptions): Promise<TailnetSocket | TailnetPacketSocket>;
  dial(network: string, address: string, opts: DialOptions = {}): Promise<TailnetSocket | TailnetPacketSocket> {
    if (opts.signal?.aborted) return Promise.reject(abortError(opts.signal.reason));
    if ((UDP as readonly string[]).includes(network)) {
      try {
        return Promise.resolve(this.dialPacket(network, address));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise((resolve, reject) => {
      let socket: TailnetSocket;
      try {
        socket = this.connect(network, address, opts);
      } catch (err) {
        reject(err);
        return;
      }
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(socket);
      });
    });
  }

  /** A UDP socket bound to a port of this node's addresses ("udp", ":53"), shaped like dgram.Socket. */
  listenPacket(network: string, address: string, into?: TailnetPacketSocket): TailnetPacketSocket {
    this.#check('listenPacket');
    checkNetwork(network, UDP);
    const { host, port } = splitHostPort(address);
    let family = networkFamily(network);
    if (host) {
      const f = ipFamily(host);
      if (!f) throw new TypeError(`listenPacket address must be an IP literal of this node or empty, got "${host}"`);
      if (!this.#addresses.includes(host)) throw systemError('bind', 'EADDRNOTAVAIL', host, port);
      family = f;
    }
    return this.#openPacket(family, host, port, undefined, into);
  }

  /** A connected UDP socket: send(msg) goes to address, and only its datagrams arrive. */
  dialPacket(network: string, address: string): TailnetPacketSocket {
    this.#check('dial');
    checkNetwork(network, UDP);
    const { host, port } = splitHostPort(address);
    const f = ipFamily(host);
    if (!f) throw new TypeError(`dial address must be an IP literal here, got "${host}"`);
    if (port === 0) throw new RangeError('dial: port must be 1..65535');
    return this.#openPacket(f, '', 0, { address: host, port });
  }

  #openPacket(family: 0 | 4 | 6, host: string, port: number, remote?: { address: string; port: number }, into?: TailnetPacketSocket): TailnetPacketSocket {
    const id = this.device.allocId();
    const bound = this.device.udpOpen(id, family, port);
    const init = { device: this.device, id, family, host, port: bound } as const;
    const sock = into ?? new TailnetPacketSocket(remote ? { ...init, remote } : init);
    into?.bindLate(init);
    this.#packets.add(sock);
    sock.once('close', () => this.#packets.delete(sock));
    return sock;
  }

  /** Closes every listener and connection and frees the device. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ln of this.#listeners) ln.close();
    // Pending dials fail with ERR_TSNET_CLOSED (dial() rejects); open connections just close, so that code
    // without an 'error' listener is not crashed by an uncaught error event.
    for (const s of this.#sockets) s.destroy(s.connecting && s.listenerCount('error') > 0 ? closedError('connection') : undefined);
    for (const p of this.#packets) p.close();
    this.device.close();
  }

  #check(what: string): void {
    if (this.#closed) throw closedError(what);
  }
}
