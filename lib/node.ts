// What every kind of node offers (the WireGuard mode and the tsnet Server): listen and dial over its
// userspace network, UDP, and HTTP clients that dial through it. Subclasses provide the network stack
// (and may translate addresses, as the Server does for MagicDNS names).
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import type * as http from 'node:http';
import type * as https from 'node:https';
import type { Dispatcher } from 'undici';
import type * as tailnetHttp from './net/http.js';
import type { TailnetListener } from './net/listener.js';
import type { DialOptions, ListenOptions, Netstack, TcpNetworkName, UdpNetworkName } from './net/netstack.js';
import type { TailnetPacketSocket } from './net/packet.js';
import type { TailnetSocket } from './net/socket.js';
import { invalidArgType } from './util/errors.js';

type Fetch = ReturnType<typeof tailnetHttp.tailnetFetch>;
// HTTP clients (undici, node:http/https/tls) load on first use, not when the package is required
// (docs/performance.md, "What requiring the package costs").
const httpLayer = (): typeof tailnetHttp => require('./net/http.js') as typeof tailnetHttp;

// EventEmitter's own constraint on an event map (tuples of arguments per event name).
type EventMap<E> = Record<keyof E, unknown[]>;

/** Network names and addresses are strings; anything else is a coded TypeError, not an internal one. */
function checkArgs(network: unknown, address: unknown): void {
  if (typeof network !== 'string') throw invalidArgType('network', 'a string such as "tcp" or "udp"', network);
  if (typeof address !== 'string') throw invalidArgType('address', 'a string such as "100.64.0.1:80"', address);
}

/** fetch() failures carry the cause's code (ECONNREFUSED, ENOTFOUND...) on the error itself, too. */
function liftCode(err: unknown): never {
  if (err instanceof Error && (err as { code?: unknown }).code === undefined) {
    const code = (err.cause as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string') (err as Error & { code: string }).code = code;
  }
  throw err;
}

export abstract class TailnetNode<Events extends EventMap<Events> = Record<string, unknown[]>> extends EventEmitter<Events> {
  #dispatcher: Dispatcher | undefined;
  // fetch()'s dispatchers per `tls` options object (weak: an options object dropped by the caller is forgotten).
  readonly #tlsDispatchers = new WeakMap<object, Dispatcher>();
  readonly #tlsDispatcherList = new Set<Dispatcher>();

  /** The live network stack; throws a coded error when the node is closed or not ready (`what` names the call). */
  protected abstract netstack(what: string): Netstack;

  /** Turns a dial address into one the stack understands ("host:port" with an IP literal). */
  protected dialAddress(address: string): string {
    return address;
  }

  /** Connects ("tcp", "host:port") and resolves once connected; "udp" gives a connected datagram socket. */
  dial(network: TcpNetworkName, address: string, options?: DialOptions): Promise<TailnetSocket>;
  dial(network: UdpNetworkName, address: string, options?: DialOptions): Promise<TailnetPacketSocket>;
  dial(network: string, address: string, options?: DialOptions): Promise<TailnetSocket | TailnetPacketSocket>;
  dial(network: string, address: string, options: DialOptions = {}): Promise<TailnetSocket | TailnetPacketSocket> {
    try {
      checkArgs(network, address);
      return this.netstack('dial').dial(network, this.dialAddress(address), options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Like dial, but returns the socket at once (for http.Agent's createConnection). As with net.connect, a
   * failure (an unknown name, no route, a closed node) is an 'error' event on the returned socket, never a
   * throw, so http.get(url, { agent }) reports it as a request error. Bad argument types still throw.
   */
  connect(network: string, address: string, options: DialOptions = {}): net.Socket {
    checkArgs(network, address);
    try {
      return this.netstack('dial').connect(network, this.dialAddress(address), options);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_INVALID_ARG_TYPE') throw err;
      const failed = new net.Socket();
      process.nextTick(() => failed.destroy(err as Error));
      return failed;
    }
  }

  /** Listens ("tcp", ":80"): a net.Server-shaped listener. */
  listen(network: TcpNetworkName | '', address: string, options: ListenOptions = {}): TailnetListener {
    checkArgs(network, address);
    return this.netstack('listen').listen(network, address, options);
  }

  /** A UDP socket ("udp", ":53"), shaped like dgram.Socket. */
  listenPacket(network: UdpNetworkName, address: string): TailnetPacketSocket {
    checkArgs(network, address);
    return this.netstack('listenPacket').listenPacket(network, address);
  }

  /** A connected UDP socket to address ("udp", "10.0.0.1:53"). */
  dialPacket(network: UdpNetworkName, address: string): TailnetPacketSocket {
    checkArgs(network, address);
    return this.netstack('dial').dialPacket(network, this.dialAddress(address));
  }

  /** An http.Agent whose connections go over the network: http.get(url, { agent: node.httpAgent() }). */
  httpAgent(options: http.AgentOptions = {}): http.Agent {
    return httpLayer().httpAgent(this, options);
  }

  /** An https.Agent whose TLS connections run over the network. */
  httpsAgent(options: https.AgentOptions = {}): https.Agent {
    return httpLayer().httpsAgent(this, options);
  }

  /**
   * An undici dispatcher that dials over the network. Without options: one shared dispatcher, closed with the
   * node. With options (undici Agent options, and `tls` for https://: a private `ca`, a client certificate):
   * a new dispatcher that the caller closes.
   */
  dispatcher(options?: tailnetHttp.TailnetDispatcherOptions): Dispatcher {
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
      return httpLayer().dispatcher(this, options);
    }
    this.#dispatcher ??= httpLayer().dispatcher(this);
    return this.#dispatcher;
  }

  /**
   * fetch() over the network. `init.tls` sets TLS options for https:// (a private CA...): requests with the same
   * `tls` object share one dispatcher, closed with the node.
   */
  fetch(input: string | URL, init?: Parameters<Fetch>[1] & { tls?: tailnetHttp.TailnetTLSOptions }): ReturnType<Fetch> {
    const { tls: tlsOptions, ...rest } = init ?? {};
    let d = this.dispatcher();
    if (tlsOptions !== undefined) {
      d = this.#tlsDispatchers.get(tlsOptions) ?? httpLayer().dispatcher(this, { tls: tlsOptions });
      this.#tlsDispatchers.set(tlsOptions, d);
      this.#tlsDispatcherList.add(d);
    }
    return httpLayer().tailnetFetch(d)(input, rest).catch(liftCode);
  }

  /** Subclasses call this when closing. */
  protected async closeClients(): Promise<void> {
    await this.#dispatcher?.close().catch(() => undefined);
    this.#dispatcher = undefined;
    await Promise.all([...this.#tlsDispatcherList].map((d) => d.close().catch(() => undefined)));
    this.#tlsDispatcherList.clear();
  }
}
