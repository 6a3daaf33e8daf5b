/**
 * The development DERP relay's protocol core, sans I/O (docs/protocol/derp.md).
 *
 * `DerpRelay` holds the connected clients by node key and forwards packets
 * between them. Each transport connection is a `RelayConn`: the edge feeds it
 * the bytes it reads (`receive`), takes the bytes to write (`takeOutput`)
 * when its socket can accept more, and calls `tick` on the relay
 * periodically with the time. The core never touches sockets or timers.
 *
 * Everything is bounded: frames (64 KiB packets; 256 KiB ClientInfo), each
 * client's queue of packets (oldest dropped and counted when full) and of
 * control frames, the PeerGone bookkeeping, and idle/login time.
 */
import { randomBytes } from 'node:crypto';
import { nodePublicToText, publicFromPrivate } from '../../wire/keys.js';
import {
  DerpFrameError,
  FrameReader,
  FrameType,
  KEY_LEN,
  MAX_CLIENT_INFO_FRAME_LEN,
  MAX_PACKET_SIZE,
  NONCE_LEN,
  PROTOCOL_VERSION,
  PeerGoneReason,
  decodeFrame,
  encodeFrame,
  type ClientInfo,
  type Frame,
  type ServerInfo,
} from './frames.js';
import { boxOpen, boxSeal } from './nacl.js';

export interface DerpRelayOptions {
  /** The relay's Curve25519 private key (32 bytes, clamped). */
  privateKey: Uint8Array;
  /**
   * Decides whether a node key may connect (e.g. "is a node of this
   * tailnet"). Default: everyone. Called once per connection, after the
   * ClientInfo box has been opened.
   */
  verifyClient?: (nodeKey: Uint8Array, info: ClientInfo) => boolean;
  /**
   * Packets held per client before the oldest is dropped; default 256. Tailscale's derper holds 32 and relies
   * on the network to pace senders; on one machine bursts arrive unpaced, and a userspace TCP without SACK
   * (ours, lwIP) recovers slowly from a burst of drops: 32 gave 20-40 Mbit/s through the relay, 256 gave
   * 120-200 (docs/performance.md).
   */
  sendQueuePackets?: number;
  /** Control frames (Pong, PeerGone, KeepAlive, ...) held per client; default 64. */
  controlQueueFrames?: number;
  /** Server keep-alive interval; default 60 s. */
  keepAliveMs?: number;
  /** Up to this much is added to each connection's keep-alive interval (as Tailscale's server does); default 5 s. */
  keepAliveJitterMs?: number;
  /**
   * A client that says CanAckPings and sends nothing for half this long is
   * pinged; after the whole of it, closed. Default 5 min. (Clients need not
   * answer keep-alives, so silence alone is normal.)
   */
  idleTimeoutMs?: number;
  /** Time allowed from connection to a valid ClientInfo; default 5 s. */
  loginTimeoutMs?: number;
  /** Most clients past the handshake; a ClientInfo beyond it closes that connection. Default: no limit. */
  maxClients?: number;
  /**
   * Bytes held in all for connections still in the handshake (partial ClientInfo frames); beyond it the
   * connection holding the most is closed. Real ClientInfos are a few hundred bytes; the budget keeps a
   * flood of large ones from holding (and fragmenting) much memory. Default 4 MiB.
   */
  loginBufferBytes?: number;
  /** PeerGone(NotHere) frames per client per second (burst); default 3. */
  peerGoneNotHerePerSecond?: number;
  /** Diagnostics. */
  logf?: (msg: string) => void;
  /** Nonce source (tests); default crypto random. */
  random?: (n: number) => Uint8Array;
}

export interface DerpRelayStats {
  /** Connections (handshake done). */
  clients: number;
  /** Transport connections, including those still in the handshake. */
  connections: number;
  packetsForwarded: number;
  bytesForwarded: number;
  /** Packets to keys not connected here. */
  packetsDroppedUnknownDest: number;
  /** Packets dropped because the receiver's queue was full (slow reader). */
  packetsDroppedQueueFull: number;
  /** Control frames dropped because a queue was full. */
  controlFramesDropped: number;
  /** Connections refused by verifyClient. */
  clientsRejected: number;
  /** Connections closed for protocol errors (oversized or malformed frames, bad ClientInfo). */
  protocolErrors: number;
  /** Connections closed because no valid ClientInfo came within the login timeout. */
  loginTimeouts: number;
  /** Valid ClientInfos refused because `maxClients` were connected. */
  clientsRefusedFull: number;
  /** Bytes held now for connections in the handshake. */
  loginBufferedBytes: number;
  /** Connections in the handshake closed because the login buffer budget was spent. */
  loginBufferEvictions: number;
  /** Packet bytes currently queued across all clients. */
  queuedBytes: number;
}

export type RelayConnState = 'login' | 'active' | 'closed';

const keyHex = (k: Uint8Array): string => Buffer.from(k.buffer, k.byteOffset, k.length).toString('hex');

/** After the handshake the largest frame we accept: a SendPacket with a full packet. */
const MAX_ACTIVE_FRAME = KEY_LEN + MAX_PACKET_SIZE;
const MAX_SENDERS_TRACKED = 1024;

/** One transport connection as the relay sees it. */
export class RelayConn {
  state: RelayConnState = 'login';
  /** Client node key once the handshake is done. */
  key: Uint8Array | null = null;
  keyText = '';
  info: ClientInfo | null = null;
  preferred = false;
  /** Why the connection was closed (set when state becomes 'closed'). */
  closeReason = '';
  readonly remote: string;

  private readonly reader = new FrameReader(MAX_CLIENT_INFO_FRAME_LEN);
  private readonly control: Buffer[] = [];
  private readonly packets: Buffer[] = [];
  private packetBytes = 0;
  /** Keys (hex) of clients that sent us packets: told PeerGone when we leave (at most 1024). */
  readonly senders = new Set<string>();
  /** Packets this client sent through the relay (forwarded) and was handed, with their payload bytes. */
  readonly traffic: RelayTraffic = { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0 };
  lastReadMs: number;
  lastWriteMs: number;
  lastPingMs = 0;
  /** Added to the relay's keep-alive interval for this connection. */
  keepAliveJitterMs = 0;
  readonly openedMs: number;
  private notHereTokens: number;
  private notHereRefillMs: number;
  /** The edge's hook: called when output became available. */
  onOutput: () => void = () => {};
  /** The edge's hook: called once when the core closes the connection (flush what is queued, then end). */
  onClose: (reason: string) => void = () => {};
  /** The edge's hook: called once when the handshake is done (the client is known). */
  onLogin: () => void = () => {};
  /** Packets dropped for this client because its queue was full. */
  dropped = 0;
  /** Bytes of this connection counted in the relay's login buffer (relay-internal). */
  loginBuffered = 0;

  constructor(
    private readonly relay: DerpRelay,
    remote: string,
    nowMs: number,
  ) {
    this.remote = remote;
    this.lastReadMs = nowMs;
    this.lastWriteMs = nowMs;
    this.openedMs = nowMs;
    this.notHereTokens = relay.notHerePerSecond;
    this.notHereRefillMs = nowMs;
  }

  /** Bytes the edge should write now (control frames first); empties the queues. */
  takeOutput(): Buffer[] {
    const out = this.control.splice(0);
    out.push(...this.packets.splice(0));
    this.relay.noteDequeued(this.packetBytes);
    this.packetBytes = 0;
    return out;
  }

  /** Like takeOutput, but at most one frame (control first); null when empty. For edges writing under back-pressure. */
  takeOne(): Buffer | null {
    const c = this.control.shift();
    if (c) return c;
    const p = this.packets.shift();
    if (!p) return null;
    this.packetBytes -= p.length;
    this.relay.noteDequeued(p.length);
    return p;
  }

  /** Drops whatever is queued (the edge could not write it). */
  discardOutput(): void {
    this.control.length = 0;
    this.packets.length = 0;
    this.relay.noteDequeued(this.packetBytes);
    this.packetBytes = 0;
  }

  get hasOutput(): boolean {
    return this.control.length > 0 || this.packets.length > 0;
  }

  get queuedPackets(): number {
    return this.packets.length;
  }

  get queuedPacketBytes(): number {
    return this.packetBytes;
  }

  /** Queues a control frame; false (and counted) if the control queue is full. */
  sendControl(f: Frame): boolean {
    if (this.state === 'closed') return false;
    if (this.control.length >= this.relay.controlQueueFrames) {
      this.relay.stats.controlFramesDropped++;
      return false;
    }
    this.control.push(encodeFrame(f));
    this.onOutput();
    return true;
  }

  /** Queues a RecvPacket; when full, drops the oldest queued packet (counted). */
  sendPacket(src: Uint8Array, packet: Uint8Array): void {
    if (this.state !== 'active') return;
    const bytes = encodeFrame({ type: 'RecvPacket', src, packet });
    while (this.packets.length >= this.relay.sendQueuePackets) {
      const old = this.packets.shift()!;
      this.packetBytes -= old.length;
      this.relay.noteDequeued(old.length);
      this.relay.stats.packetsDroppedQueueFull++;
      this.dropped++;
    }
    this.packets.push(bytes);
    this.packetBytes += bytes.length;
    this.relay.noteQueued(bytes.length);
    this.onOutput();
  }

  /** The edge wrote bytes (for keep-alive timing). */
  noteWrite(nowMs: number): void {
    this.lastWriteMs = nowMs;
  }

  /** Feeds bytes read from the transport. Protocol errors close the connection. */
  receive(chunk: Uint8Array, nowMs: number): void {
    if (this.state === 'closed') return;
    this.lastReadMs = nowMs;
    this.reader.push(chunk);
    try {
      if (this.state === 'login') this.checkLoginHeader();
      for (let raw = this.reader.next(); raw; raw = (this.state as RelayConnState) === 'closed' ? null : this.reader.next()) {
        this.handle(decodeFrame(raw.frameType, raw.payload), nowMs);
      }
    } catch (e) {
      if (!(e instanceof DerpFrameError)) throw e;
      this.relay.stats.protocolErrors++;
      this.close(`protocol error: ${e.message}`);
    }
    this.relay.noteLoginBuffered(this, this.state === 'login' ? this.reader.bufferedBytes : 0);
  }

  /**
   * Before the client is known only a ClientInfo frame of a plausible length is read: anything else is
   * refused from its 5-byte header, before its payload is buffered (docs/architecture.md, "Development
   * tailnet limits").
   */
  private checkLoginHeader(): void {
    const h = this.reader.header();
    if (!h) return;
    if (h.frameType !== FrameType.ClientInfo) {
      throw new DerpFrameError('ERR_DERP_FRAME_MALFORMED', `expected ClientInfo, got a frame of type 0x${h.frameType.toString(16)}`);
    }
    if (h.len < KEY_LEN + NONCE_LEN) throw new DerpFrameError('ERR_DERP_FRAME_MALFORMED', 'ClientInfo frame too short');
  }

  private handle(f: Frame, nowMs: number): void {
    if (this.state === 'login') {
      if (f.type !== 'ClientInfo') {
        this.relay.stats.protocolErrors++;
        this.close(`expected ClientInfo, got ${f.type === 'Unknown' ? `type 0x${f.frameType.toString(16)}` : f.type}`);
        return;
      }
      this.relay.login(this, f, nowMs);
      return;
    }
    switch (f.type) {
      case 'SendPacket':
        this.relay.forward(this, f.dst, f.packet, nowMs);
        return;
      case 'NotePreferred':
        this.preferred = f.preferred;
        return;
      case 'Ping':
        this.sendControl({ type: 'Pong', data: Buffer.from(f.data) });
        return;
      case 'WatchConns':
      case 'ClosePeer':
      case 'ForwardPacket':
        // Mesh features need a mesh key; the development relay has no mesh.
        this.relay.stats.protocolErrors++;
        this.close(`${f.type} requires a mesh key`);
        return;
      default:
        // Pong, KeepAlive, server-to-client types, unknown types: skipped.
        return;
    }
  }

  /** Marks the connection active after a good ClientInfo (relay-internal). */
  activate(): void {
    this.state = 'active';
    this.reader.maxFrameLen = MAX_ACTIVE_FRAME;
    this.onLogin();
  }

  /** Rate limit for PeerGone(NotHere) frames (relay-internal). */
  takeNotHereToken(nowMs: number): boolean {
    const per = this.relay.notHerePerSecond;
    const elapsed = nowMs - this.notHereRefillMs;
    if (elapsed >= 1000 / per) {
      const add = Math.floor((elapsed * per) / 1000);
      this.notHereTokens = Math.min(per, this.notHereTokens + add);
      this.notHereRefillMs = nowMs;
    }
    if (this.notHereTokens <= 0) return false;
    this.notHereTokens--;
    return true;
  }

  /**
   * Ends the connection: it leaves the relay (peers that sent to it get
   * PeerGone), queued output stays available for a final flush, and the
   * edge's onClose is called.
   */
  close(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeReason = reason;
    this.reader.clear();
    this.relay.noteLoginBuffered(this, 0);
    this.relay.remove(this);
    this.onClose(reason);
  }
}

/** One client's relayed traffic (payload bytes), as the relay's status page shows it. */
export interface RelayTraffic {
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
}

export class DerpRelay {
  readonly privateKey: Uint8Array;
  readonly publicKey: Buffer;
  readonly sendQueuePackets: number;
  readonly controlQueueFrames: number;
  readonly keepAliveMs: number;
  readonly keepAliveJitterMs: number;
  readonly idleTimeoutMs: number;
  readonly loginTimeoutMs: number;
  readonly maxClients: number;
  readonly loginBufferBytes: number;
  readonly notHerePerSecond: number;
  readonly stats: DerpRelayStats = {
    clients: 0,
    connections: 0,
    packetsForwarded: 0,
    bytesForwarded: 0,
    packetsDroppedUnknownDest: 0,
    packetsDroppedQueueFull: 0,
    controlFramesDropped: 0,
    clientsRejected: 0,
    protocolErrors: 0,
    loginTimeouts: 0,
    clientsRefusedFull: 0,
    loginBufferedBytes: 0,
    loginBufferEvictions: 0,
    queuedBytes: 0,
  };

  private readonly conns = new Set<RelayConn>();
  private readonly byKey = new Map<string, RelayConn>();
  private readonly verifyClient: (k: Uint8Array, info: ClientInfo) => boolean;
  private readonly logf: (msg: string) => void;
  private readonly random: (n: number) => Uint8Array;
  private shuttingDown = false;

  constructor(o: DerpRelayOptions) {
    if (o.privateKey.length !== KEY_LEN) throw new RangeError('DERP private key must be 32 bytes');
    this.privateKey = Buffer.from(o.privateKey);
    this.publicKey = publicFromPrivate(this.privateKey);
    this.verifyClient = o.verifyClient ?? ((): boolean => true);
    this.sendQueuePackets = Math.max(1, o.sendQueuePackets ?? 256);
    this.controlQueueFrames = Math.max(4, o.controlQueueFrames ?? 64);
    this.keepAliveMs = o.keepAliveMs ?? 60_000;
    this.keepAliveJitterMs = Math.max(0, o.keepAliveJitterMs ?? 5000);
    this.idleTimeoutMs = o.idleTimeoutMs ?? 300_000;
    this.loginTimeoutMs = o.loginTimeoutMs ?? 5000;
    this.maxClients = o.maxClients ?? Number.POSITIVE_INFINITY;
    this.loginBufferBytes = Math.max(MAX_CLIENT_INFO_FRAME_LEN, o.loginBufferBytes ?? 4 << 20);
    this.notHerePerSecond = Math.max(1, o.peerGoneNotHerePerSecond ?? 3);
    this.logf = o.logf ?? ((): void => {});
    this.random = o.random ?? ((n: number): Uint8Array => randomBytes(n));
  }

  /** A new transport connection; its ServerKey frame is queued at once. */
  open(remote: string, nowMs: number): RelayConn {
    const c = new RelayConn(this, remote, nowMs);
    if (this.keepAliveJitterMs > 0) {
      const r = this.random(2);
      c.keepAliveJitterMs = (((r[0]! << 8) | r[1]!) * this.keepAliveJitterMs) >>> 16;
    }
    this.conns.add(c);
    this.stats.connections = this.conns.size;
    c.sendControl({ type: 'ServerKey', key: this.publicKey, rest: new Uint8Array(0) });
    if (this.shuttingDown) c.close('relay shutting down');
    return c;
  }

  /** The connected client with this node key, if any. */
  client(nodeKey: Uint8Array): RelayConn | undefined {
    return this.byKey.get(keyHex(nodeKey));
  }

  /** Node keys ("nodekey:...") of connected clients. */
  clientKeys(): string[] {
    return [...this.byKey.values()].map((c) => c.keyText);
  }

  /** Relayed traffic of each connected client, by node key ("nodekey:..."); counts restart with a connection. */
  clientTraffic(): Map<string, RelayTraffic> {
    return new Map([...this.byKey.values()].map((c) => [c.keyText, { ...c.traffic }]));
  }

  login(c: RelayConn, f: Extract<Frame, { type: 'ClientInfo' }>, nowMs: number): void {
    const clear = boxOpen(f.box, f.nonce, f.key, this.privateKey);
    if (!clear) {
      this.stats.protocolErrors++;
      c.close('ClientInfo box does not open');
      return;
    }
    let info: ClientInfo;
    try {
      const v: unknown = JSON.parse(Buffer.from(clear).toString('utf8'));
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError('not an object');
      info = v as ClientInfo;
    } catch {
      this.stats.protocolErrors++;
      c.close('ClientInfo is not a JSON object');
      return;
    }
    const key = Buffer.from(f.key);
    const keyText = nodePublicToText(key);
    let ok = false;
    try {
      ok = this.verifyClient(key, info);
    } catch (e) {
      this.logf(`derp: verifyClient threw for ${keyText}: ${(e as Error).message}`);
    }
    if (!ok) {
      this.stats.clientsRejected++;
      c.close(`client ${keyText} not allowed`);
      return;
    }
    const h = keyHex(key);
    if (this.byKey.size >= this.maxClients && !this.byKey.has(h)) {
      this.stats.clientsRefusedFull++;
      c.close(`too many clients (${this.maxClients})`);
      return;
    }
    c.key = key;
    c.keyText = keyText;
    c.info = info;
    const old = this.byKey.get(h);
    if (old && old !== c) {
      // Newest connection wins; the old one is told why and closed.
      old.sendControl({ type: 'Health', problem: 'another connection with the same node key replaced this one' });
      this.byKey.delete(h);
      old.close('replaced by a newer connection with the same key');
    }
    c.activate();
    this.byKey.set(h, c);
    this.stats.clients = this.byKey.size;
    const si: ServerInfo = { version: PROTOCOL_VERSION };
    const nonce = Buffer.from(this.random(NONCE_LEN));
    const box = boxSeal(Buffer.from(JSON.stringify(si)), nonce, key, this.privateKey);
    c.sendControl({ type: 'ServerInfo', nonce, box });
    c.noteWrite(nowMs);
    this.logf(`derp: ${keyText} connected from ${c.remote}`);
  }

  forward(from: RelayConn, dst: Uint8Array, packet: Uint8Array, nowMs: number): void {
    const to = this.byKey.get(keyHex(dst));
    if (!to || to.state !== 'active') {
      this.stats.packetsDroppedUnknownDest++;
      if (from.takeNotHereToken(nowMs)) from.sendControl({ type: 'PeerGone', key: Buffer.from(dst), reason: PeerGoneReason.NotHere });
      return;
    }
    const fromHex = keyHex(from.key!);
    if (to.senders.size < MAX_SENDERS_TRACKED || to.senders.has(fromHex)) to.senders.add(fromHex);
    to.sendPacket(from.key!, packet);
    from.traffic.txPackets++;
    from.traffic.txBytes += packet.length;
    to.traffic.rxPackets++;
    to.traffic.rxBytes += packet.length;
    this.stats.packetsForwarded++;
    this.stats.bytesForwarded += packet.length;
  }

  /** Connection left (relay-internal; use RelayConn.close). */
  remove(c: RelayConn): void {
    this.conns.delete(c);
    this.stats.connections = this.conns.size;
    if (c.key && this.byKey.get(keyHex(c.key)) === c) {
      this.byKey.delete(keyHex(c.key));
      this.stats.clients = this.byKey.size;
      for (const s of c.senders) {
        this.byKey.get(s)?.sendControl({ type: 'PeerGone', key: c.key, reason: PeerGoneReason.Disconnected });
      }
      this.logf(`derp: ${c.keyText} disconnected (${c.closeReason})`);
    }
  }

  /**
   * A connection in the handshake now holds `bytes` (relay-internal). Over the budget, the handshaking
   * connections holding the most are closed until it fits.
   */
  noteLoginBuffered(c: RelayConn, bytes: number): void {
    this.stats.loginBufferedBytes += bytes - c.loginBuffered;
    c.loginBuffered = bytes;
    while (this.stats.loginBufferedBytes > this.loginBufferBytes) {
      let worst: RelayConn | null = null;
      for (const x of this.conns) if (x.state === 'login' && (!worst || x.loginBuffered > worst.loginBuffered)) worst = x;
      if (!worst || worst.loginBuffered === 0) break;
      this.stats.loginBufferEvictions++;
      worst.close('login buffer budget spent (partial ClientInfo too large while others were pending)');
    }
  }

  noteQueued(n: number): void {
    this.stats.queuedBytes += n;
  }

  noteDequeued(n: number): void {
    this.stats.queuedBytes -= n;
  }

  /** Timers: keep-alives, login and idle timeouts. Call every second or so. */
  tick(nowMs: number): void {
    for (const c of [...this.conns]) {
      if (c.state === 'login') {
        if (nowMs - c.openedMs >= this.loginTimeoutMs) {
          this.stats.loginTimeouts++;
          c.close('no ClientInfo within the login timeout');
        }
        continue;
      }
      // Liveness: a client that can ack pings and has been silent for half
      // the idle timeout is pinged; one silent for the whole timeout is closed.
      if (c.info?.CanAckPings) {
        const silent = nowMs - c.lastReadMs;
        if (silent >= this.idleTimeoutMs) {
          c.close('idle timeout (no answer to pings)');
          continue;
        }
        if (silent >= this.idleTimeoutMs / 2 && nowMs - c.lastPingMs >= this.idleTimeoutMs / 4) {
          c.lastPingMs = nowMs;
          c.sendControl({ type: 'Ping', data: Buffer.from(this.random(8)) });
        }
      }
      if (nowMs - c.lastWriteMs >= this.keepAliveMs + c.keepAliveJitterMs) {
        c.sendControl({ type: 'KeepAlive' });
        c.lastWriteMs = nowMs;
      }
    }
  }

  /**
   * Asks verifyClient again about every connected client and closes those it
   * now refuses (e.g. nodes removed or expired since they connected).
   * Returns how many were closed.
   */
  revalidate(): number {
    let closed = 0;
    for (const c of [...this.byKey.values()]) {
      let ok = false;
      try {
        ok = this.verifyClient(c.key!, c.info ?? {});
      } catch {
        ok = false;
      }
      if (!ok) {
        c.sendControl({ type: 'Health', problem: 'this node may no longer use the relay' });
        c.close('no longer allowed');
        closed++;
      }
    }
    return closed;
  }

  /** Sends a Health problem ("" clears it) to one client, or to all. */
  sendHealth(problem: string, nodeKey?: Uint8Array): void {
    const targets = nodeKey ? [this.client(nodeKey)].filter((c): c is RelayConn => !!c) : [...this.byKey.values()];
    for (const c of targets) c.sendControl({ type: 'Health', problem });
  }

  /**
   * Shutdown: every client gets Restarting (reconnect after `reconnectInMs`,
   * keep trying for `tryForMs`) and a Health note, then is closed. New
   * connections are refused.
   */
  shutdown(reconnectInMs = 1000, tryForMs = 60_000): void {
    this.shuttingDown = true;
    for (const c of [...this.conns]) {
      if (c.state === 'active') {
        c.sendControl({ type: 'Health', problem: 'DERP relay restarting' });
        c.sendControl({ type: 'Restarting', reconnectInMs, tryForMs });
      }
      c.close('relay shutting down');
    }
  }
}
