// The owner of one native Device (docs/architecture.md, "The native Device"): one node's TCP/IP stack and its
// link. It routes the device's engine events to the objects that own them (sockets by connection id,
// listeners by listener id, relay and STUN events to the link's handler) and is the only way lib/ reaches
// the addon's per-device surface: Netstack, WireGuard, DataPlane and Server hold a Device, never `native`.
import * as fs from 'node:fs';
import type {
  NativeDevice,
  NativeEvent,
  NativeFilterRule,
  NativeLoadStats,
  NativeMagicsockStats,
  NativePeer,
  NativePeerStats,
  NativePrefix,
  NativeUdpOffload,
} from '../native.js';
import { context, type SharedContext } from './context.js';
import { isIPv6 } from '../wire/ip-literal.js';

export type { NativePeer as DevicePeer, NativeFilterRule as DeviceFilterRule, NativePrefix as DevicePrefix };

export interface EventSink {
  onNativeEvent(ev: NativeEvent): void;
}

/** Device-level events: a relay wanted or its state, a STUN answer (`id` is the region). */
export type LinkEvent = Extract<NativeEvent, { type: 'derp-want' | 'derp-state' | 'stun' | 'path' | 'handshake' | 'tsmp-pong' | 'disco-pong' }>;

const LINK_EVENTS = new Set<NativeEvent['type']>(['derp-want', 'derp-state', 'stun', 'path', 'handshake', 'tsmp-pong', 'disco-pong']);

export class Device {
  readonly #ctx: SharedContext;
  readonly #native: NativeDevice;
  readonly #sinks = new Map<number, EventSink>(); // connections and listeners share one id space per device
  #onLink: ((ev: LinkEvent) => void) | undefined;
  #closed = false;

  constructor(ctx: SharedContext = context()) {
    this.#ctx = ctx;
    this.#native = ctx.openDevice(this);
  }

  /** The number the engine's events carry. */
  get id(): number {
    return this.#native.id;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A fresh id for a connection, listener or UDP socket of this device. */
  allocId(): number {
    return this.#ctx.allocId();
  }

  register(id: number, sink: EventSink): void {
    this.#sinks.set(id, sink);
  }

  unregister(id: number): void {
    this.#sinks.delete(id);
  }

  /** Receives relay and STUN events (Tailscale mode). */
  onLinkEvent(handler: ((ev: LinkEvent) => void) | undefined): void {
    this.#onLink = handler;
  }

  /** @internal called by the context with this device's events */
  dispatch(ev: NativeEvent): void {
    if (LINK_EVENTS.has(ev.type)) {
      this.#onLink?.(ev as LinkEvent);
      return;
    }
    const sink = this.#sinks.get(ev.type === 'accept' ? ev.listener : ev.id);
    if (sink) sink.onNativeEvent(ev);
    else if (ev.type === 'accept') {
      // The listener closed while the connection was on its way: refuse it.
      this.#native.tcpReset(ev.id);
      if (ev.fd >= 0) fs.close(ev.fd, () => {});
    }
  }

  // ---- the stack ----
  addAddress(ip: string): void {
    this.#native.addAddress(ip);
  }

  /** Joins this device to another of this process by memory (tests and measurements of the stack alone). */
  linkMemory(other: Device): void {
    this.#native.linkMemory(other.#native);
  }

  tcpListen(listener: number, family: 0 | 4 | 6, port: number, backlog: number, stream = false): number {
    return this.#native.tcpListen(listener, family, port, backlog, stream);
  }

  tcpListenerClose(listener: number): void {
    this.#native.tcpListenerClose(listener);
  }

  /** The fd of JavaScript's end of the socketpair, or -1 with the stream transport. */
  tcpDial(conn: number, address: string, port: number, stream = false): number {
    return this.#native.tcpDial(conn, address, port, stream);
  }

  // The stream transport (lib/net/bridge.ts). Quiet once the device is closed: its connections are gone.
  tcpWrite(conn: number, chunks: readonly Uint8Array[]): void {
    if (!this.#closed) this.#native.tcpWrite(conn, chunks);
  }

  tcpEnd(conn: number): void {
    if (!this.#closed) this.#native.tcpEnd(conn);
  }

  tcpRead(conn: number, bytes: number): void {
    if (!this.#closed) this.#native.tcpRead(conn, bytes);
  }

  tcpClose(conn: number): void {
    if (!this.#closed) this.#native.tcpClose(conn);
  }

  tcpSetNoDelay(conn: number, on: boolean): void {
    this.#native.tcpSetNoDelay(conn, on);
  }

  tcpSetKeepAlive(conn: number, on: boolean, idleMs: number): void {
    this.#native.tcpSetKeepAlive(conn, on, idleMs);
  }

  tcpReset(conn: number): void {
    this.#native.tcpReset(conn);
  }

  udpOpen(sock: number, family: 0 | 4 | 6, port: number): number {
    return this.#native.udpOpen(sock, family, port);
  }

  udpSend(sock: number, address: string, port: number, data: Uint8Array): void {
    this.#native.udpSend(sock, address, port, data);
  }

  udpClose(sock: number): void {
    this.#native.udpClose(sock);
  }

  // ---- the link ----
  /** Starts WireGuard on a UDP port (0: any); returns the bound port. */
  startWireGuard(privateKey: Uint8Array, port: number): number {
    return this.#native.startWireGuard(privateKey, port);
  }

  /** Tailscale mode on top of the started WireGuard link (magicsock: disco, DERP, STUN). */
  startMagicsock(discoPrivateKey: Uint8Array, opts: { derpOnly: boolean; derpIdleMs: number }): void {
    this.#native.startMagicsock(discoPrivateKey, opts.derpOnly, opts.derpIdleMs);
  }

  /** Moves the link to a fresh UDP socket (0: any port); returns the new port. */
  rebind(port = 0): number {
    return this.#native.rebind(port);
  }

  /**
   * A node key renewal: WireGuard takes the new static private key (sessions made with the old one are dropped,
   * peers and AllowedIPs stay) and the relay connections log in again with it. Throws coded errors (a key that
   * is not 32 bytes, all zero, or a peer's; ENODEV before startWireGuard).
   */
  setPrivateKey(privateKey: Uint8Array): void {
    this.#native.setPrivateKey(privateKey);
  }

  /**
   * The peers become exactly `peers`, in one engine call: each listed peer's AllowedIPs are replaced, peers
   * not listed are removed, unchanged peers are left alone.
   */
  setPeers(peers: readonly NativePeer[]): void {
    this.#native.setPeers(peers);
  }

  /** Turns on the inbound packet filter with these rules and local prefixes (replacing earlier ones). */
  setFilter(rules: readonly NativeFilterRule[], local: readonly NativePrefix[]): void {
    this.#native.setFilter(rules, local);
  }

  /** Tailscale mode: node keys of the peers that may relay for us and of the peers we may reach through one. */
  setPeerRelays(servers: readonly Uint8Array[], targets: readonly Uint8Array[]): void {
    this.#native.setPeerRelays(servers, targets);
  }

  /** Foreign destinations (docs/services.md): prefixes served without being own addresses, whose TCP
   * connections reach the listener catchListenerId (a listener of this device) whatever their port; with
   * unmatched, so do connections to own addresses that no listener takes. */
  setForeign(prefixes: readonly NativePrefix[], catchListenerId: number | null, unmatched = false): void {
    this.#native.setForeign(prefixes, catchListenerId, unmatched);
  }

  /** Tailscale mode: our endpoints ("ip:port") and home relay region. */
  setSelf(endpoints: readonly string[], homeRegion: number): void {
    this.#native.setSelf(endpoints, homeRegion);
  }

  /** A relay connection for a region: returns the fd of JavaScript's end of its byte stream, or -1 with a
   * streamId (the stream transport: lib/magicsock/derp-stream.ts). */
  derpAttach(region: number, host: string, serverKey: Uint8Array | null, streamId?: number, tlsServer?: string): number {
    if (tlsServer !== undefined) return this.#native.derpAttach(region, host, serverKey, streamId, tlsServer);
    return streamId === undefined ? this.#native.derpAttach(region, host, serverKey) : this.#native.derpAttach(region, host, serverKey, streamId);
  }

  /** Engine TLS: the engine takes relay stream `streamId` over (lib/magicsock/derp-engine-tls.ts). */
  derpTakeover(streamId: number, serverKey: Uint8Array | null, clientSecret: Uint8Array, serverSecret: Uint8Array): void {
    this.#native.derpTakeover(streamId, serverKey, clientSecret, serverSecret);
  }

  derpWrite(streamId: number, data: Uint8Array): void {
    if (!this.#closed) this.#native.derpWrite(streamId, data);
  }

  derpAck(streamId: number, bytes: number): void {
    if (!this.#closed) this.#native.derpAck(streamId, bytes);
  }

  derpClose(streamId: number): void {
    if (!this.#closed) this.#native.derpClose(streamId);
  }

  /** Sends a STUN request from the link's socket; the answer arrives as a 'stun' link event. */
  /** A disco ping on demand to a peer (its node key); pongs come as 'disco-pong' link events with id = tag. */
  discoPing(nodeKey: Uint8Array, tag: number): void {
    this.#native.discoPing(nodeKey, tag);
  }

  /** Every IP packet in and out becomes a 'capture' event for the sink registered under `id`; 0 stops. */
  setCapture(id: number): void {
    this.#native.setCapture(id);
  }

  tsmpPing(source: string, destination: string, data: Uint8Array): void {
    this.#native.tsmpPing(source, destination, data);
  }

  stunProbe(region: number, ip: string, port: number): void {
    this.#native.stunProbe(region, isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`);
  }

  peerStats(): NativePeerStats[] {
    return this.#native.peerStats();
  }

  /** The WireGuard core's drop counters by reason (snake_case); lib/wg-drops.ts types them. */
  /** Control's switches for the UDP socket's kernel offloads (docs/protocol/capver.md, 140 and 141). */
  setUdpOffload(o: { gso: boolean; gro: boolean; equalTailGuard: boolean }): void {
    this.#native.setUdpOffload(o.gso, o.gro, o.equalTailGuard);
  }

  udpOffload(): NativeUdpOffload {
    return this.#native.udpOffload();
  }

  drops(): Record<string, number> {
    return this.#native.drops();
  }

  handshakeLoad(): NativeLoadStats {
    return this.#native.handshakeLoad();
  }

  magicsockStats(): NativeMagicsockStats {
    return this.#native.magicsockStats();
  }

  /** Closes every connection, listener and socket of the device and frees it. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onLink = undefined;
    this.#ctx.closeDevice(this, this.#native);
  }
}
