// Loads the native addon (prebuilt binary from prebuilds/, or a local node-gyp build) and types its surface.
// lib/ knows the addon only through the NativeAddon interface below.
import * as path from 'node:path';
import type nodeGypBuild from 'node-gyp-build';

/** An address as the engine reports it. */
export interface NativeAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/** Events from the engine thread, delivered in batches on the JavaScript thread. */
export type NativeEvent =
  /** fd: JavaScript's end of the socketpair, or -1 with the stream transport. */
  | { type: 'accept'; device: number; id: number; listener: number; fd: number; local: NativeAddress; remote: NativeAddress }
  | { type: 'connected'; device: number; id: number; local: NativeAddress; remote: NativeAddress }
  | { type: 'error'; device: number; id: number; code: string }
  /** Listener `id` reset an incoming connection it could not bridge (EMFILE: out of descriptors). */
  | { type: 'listen-error'; device: number; id: number; code: string }
  | { type: 'closed'; device: number; id: number }
  /** Stream transport: bytes received on connection `id` (consume, then tcpRead the count). */
  | { type: 'data'; device: number; id: number; data: Buffer }
  /** Stream transport: lwIP took this many more bytes of what tcpWrite gave connection `id`. */
  | { type: 'written'; device: number; id: number; bytes: number }
  /** Stream transport: the peer's FIN, after its last 'data'. */
  | { type: 'end'; device: number; id: number }
  /** Relay stream `id` (derpAttach's streamId): bytes for the relay (pass them on, then derpAck the count). */
  | { type: 'derp-data'; device: number; id: number; data: Buffer }
  /** Relay stream `id` was closed by the engine. */
  | { type: 'derp-end'; device: number; id: number }
  | { type: 'message'; device: number; id: number; data: Buffer; remote: NativeAddress }
  | { type: 'udp-error'; device: number; id: number; code: string }
  /** A packet needs relay region `id` and the engine has no connection to it. */
  | { type: 'derp-want'; device: number; id: number }
  /** Relay region `id` logged in (connected) or its connection ended (`code` says why, when not clean). */
  | { type: 'derp-state'; device: number; id: number; connected: boolean; code?: string }
  /** A STUN answer from region `id`: our address as its server saw it. */
  | { type: 'stun'; device: number; id: number; mapped: NativeAddress; rttMs: number }
  /** A peer answered our TSMP ping carrying `data`. */
  | { type: 'tsmp-pong'; device: number; id: number; publicKey: Buffer; data: Buffer }
  /** A pong to discoPing (id: its tag), on a direct address or (direct null) through relay region `region`. */
  | { type: 'disco-pong'; device: number; id: number; publicKey: Buffer; direct: NativeAddress | null; region: number; latencyMs: number }
  /** A packet capture's IP packet (Device#setCapture), seen at sec/usec (wall clock). */
  | { type: 'capture'; device: number; id: number; inbound: boolean; sec: number; usec: number; data: Buffer }
  /** A WireGuard handshake with the peer whose static key is `publicKey` completed. */
  | { type: 'handshake'; device: number; id: number; publicKey: Buffer }
  /** A peer's chosen path changed: a direct address, or null and relay region `region` (0: none known). */
  | { type: 'path'; device: number; id: number; nodeKey: Buffer; direct: NativeAddress | null; region: number; peerRelay: NativeAddress | null; vni?: number }
  | { type: 'unknown'; device: number; id: number };

/** One Node environment's handle on the engine: its event channel and the devices it made. */
export interface NativeContext {
  /** A new device (its own TCP/IP stack, no link yet); its events carry `device: device.id`. */
  createDevice(): NativeDevice;
  ref(): void;
  unref(): void;
  /** Closes every device of the context. */
  close(): void;
}

/**
 * One node's data plane: a TCP/IP stack and its link (WireGuard, or Tailscale mode on top of it). Methods
 * throw coded errors: uv `code`s (EADDRINUSE, ENODEV before startWireGuard, ...), ERR_TSNET_CLOSED after
 * close, and ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE / ERR_OUT_OF_RANGE for bad arguments.
 */
export interface NativeDevice {
  readonly id: number;
  addAddress(address: string): void;
  /** A memory link to another device of this process (packets sent on one arrive on the other). */
  linkMemory(other: NativeDevice): void;
  /** Closes every connection, listener and socket of the device and frees it. Idempotent. */
  close(): void;
  /** Returns the bound port. family: 0 (both), 4 or 6. stream: accepted connections use the stream transport. */
  tcpListen(listener: number, family: 0 | 4 | 6, port: number, backlog: number, stream?: boolean): number;
  tcpListenerClose(listener: number): void;
  /** Returns the file descriptor of JavaScript's end of the connection's socketpair, or -1 with stream set. */
  tcpDial(conn: number, address: string, port: number, stream?: boolean): number;
  /** Stream transport: queues the chunks' bytes (copied) in order; 'written' events report what lwIP took. */
  tcpWrite(conn: number, chunks: readonly Uint8Array[]): void;
  /** Stream transport: FIN once everything written is in lwIP. */
  tcpEnd(conn: number): void;
  /** Stream transport: JavaScript consumed this many bytes of 'data' (the engine may deliver more). */
  tcpRead(conn: number, bytes: number): void;
  /** Stream transport: JavaScript's socket is gone (queued bytes still go, then FIN; RST if data was unread). */
  tcpClose(conn: number): void;
  tcpSetNoDelay(conn: number, on: boolean): void;
  tcpSetKeepAlive(conn: number, on: boolean, idleMs: number): void;
  tcpReset(conn: number): void;
  /** Opens a UDP socket on the device; returns the bound port. */
  udpOpen(sock: number, family: 0 | 4 | 6, port: number): number;
  /** Queues one datagram; a failure arrives later as a 'udp-error' event. */
  udpSend(sock: number, address: string, port: number, data: Uint8Array): void;
  udpClose(sock: number): void;
  /** Starts the WireGuard link (a UDP socket on port, 0: any); returns the bound port. */
  startWireGuard(privateKey: Uint8Array, port: number): number;
  /** Tailscale mode: peers reached on paths chosen by disco (direct UDP or DERP); UDP also carries disco and STUN.
   * derpIdleMs: relays other than home's close after this long idle (0: 60 s). */
  startMagicsock(discoPrivateKey: Uint8Array, derpOnly: boolean, derpIdleMs: number): void;
  /** Moves the link to a fresh UDP socket (port 0: any); returns the new port. */
  rebind(port: number): number;
  /** A node key renewal: WireGuard's new static key (sessions of the old one dropped, peers kept); relays log in again. */
  setPrivateKey(privateKey: Uint8Array): void;
  /** The peers become exactly these, in one engine call (AllowedIPs replaced, unlisted peers removed). */
  setPeers(peers: readonly NativePeer[]): void;
  /** Turns on the inbound packet filter and replaces its rules. */
  setFilter(rules: readonly NativeFilterRule[], local: readonly NativePrefix[]): void;
  /** Destinations served without being own addresses (service VIPs, routes); TCP to them reaches the catch listener. */
  setForeign(prefixes: readonly NativePrefix[], catchListenerId: number | null, unmatched?: boolean): void;
  /** Tailscale mode: our endpoints ("ip:port", sent to peers in CallMeMaybe) and home relay region. */
  setSelf(endpoints: readonly string[], homeRegion: number): void;
  setPeerRelays(servers: readonly Uint8Array[], targets: readonly Uint8Array[]): void;
  /** A relay connection for a region; returns the fd of JavaScript's end of its byte stream, or -1 with a
   * streamId (the stream transport: 'derp-data' and 'derp-end' events carry that id). */
  derpAttach(region: number, host: string, serverKey: Uint8Array | null, streamId?: number, tlsServer?: string): number;
  /** Engine TLS (lib/magicsock/derp-engine-tls.ts): the engine takes the relay connection of stream `streamId`
   * over with the handshake's application traffic secrets. */
  derpTakeover(streamId: number, serverKey: Uint8Array | null, clientSecret: Uint8Array, serverSecret: Uint8Array): void;
  /** Stream transport: bytes from the relay, processed before the call returns. */
  derpWrite(streamId: number, data: Uint8Array): void;
  /** Stream transport: JavaScript passed on this many bytes of 'derp-data'. */
  derpAck(streamId: number, bytes: number): void;
  /** Stream transport: JavaScript's side of the relay connection closed. */
  derpClose(streamId: number): void;
  /** Sends a STUN request ("ip:port") from the link's UDP socket; the answer arrives as a 'stun' event. */
  stunProbe(region: number, server: string): void;
  /** A TSMP ping from one of our addresses to a peer's; its answer is a 'tsmp-pong' event carrying `data` (8 bytes). */
  tsmpPing(source: string, destination: string, data: Uint8Array): void;
  /** Every IP packet in and out becomes a 'capture' event with this id; 0 stops. */
  setCapture(id: number): void;
  /** A disco ping on demand to the peer with this node key; pongs are 'disco-pong' events with id = tag. */
  discoPing(nodeKey: Uint8Array, tag: number): void;
  peerStats(): NativePeerStats[];
  /** Per-reason drop counters of the WireGuard core, keyed by the core's reason names (snake_case). */
  drops(): Record<string, number>;
  /** Control's switches for the UDP socket's kernel offloads (they outlive rebinds). */
  setUdpOffload(gso: boolean, gro: boolean, equalTailGuard: boolean): void;
  /** What the UDP socket's offloads do now, and their counters since the last rebind. */
  udpOffload(): NativeUdpOffload;
  /** The handshake DoS defence: Noise computations, cookie replies, rate-limited. */
  handshakeLoad(): NativeLoadStats;
  magicsockStats(): NativeMagicsockStats;
}

/** One peer for NativeDevice#setPeers. */
export interface NativeUdpOffload {
  gso: boolean;
  gro: boolean;
  equalTailGuard: boolean;
  txGsoSends: number;
  /** 1-byte tails added to GSO sends whose segments were all one length (never-gso-equal-tail). */
  txGsoSentinels: number;
  rxGroBuffers: number;
  /** Such tails received from peers and dropped. */
  rxSentinels: number;
}

export interface NativePeer {
  publicKey: Uint8Array;
  /** CIDRs routed to the peer and accepted from it: exactly these (replace semantics). */
  allowedIPs: readonly string[];
  /** "ip:port" / "[ip6]:port": WireGuard mode uses the first (none: the peer must reach us first); Tailscale
   * mode gives them all to magicsock. */
  endpoints: readonly string[];
  /** WireGuard mode only. */
  presharedKey?: Uint8Array | null;
  persistentKeepalive?: number;
  /** Tailscale mode only. */
  discoKey?: Uint8Array | null;
  homeRegion?: number;
}

export interface NativePrefix {
  family: 4 | 6;
  bits: number;
  addr: Uint8Array;
}

export interface NativeFilterRule {
  protos: number[];
  srcs: NativePrefix[];
  dsts: Array<NativePrefix & { first: number; last: number }>;
}

export interface NativeLoadStats {
  handshakesComputed: number;
  cookieReplies: number;
  cookiesWithheld: number;
  rateLimited: number;
  underLoad: boolean;
}

export interface NativePeerStats {
  publicKey: Buffer;
  /** Milliseconds since the Unix epoch of the last completed handshake, 0 if none. */
  lastHandshake: number;
  rxBytes: number;
  txBytes: number;
  hasSession: boolean;
  /** "ip:port" or "[ip]:port", or null while unknown. */
  endpoint: string | null;
}

export interface NativeMagicsockPeer {
  nodeKey: Buffer;
  /** Best direct address ("ip:port"), "" if none. */
  best: string;
  latencyMs: number;
  /** Packets go to `best` only (a pong proved it recently). */
  trusted: boolean;
  homeRegion: number;
  /** The relay region packets use when not direct (0: none). */
  derpRegion: number;
  candidates: number;
  pingsSent: number;
  pongsReceived: number;
  pingsReceived: number;
  callMeMaybeSent: number;
  callMeMaybeReceived: number;
  /** Packets routed directly / through the relay. */
  txDirect: number;
  txRelay: number;
  /** The proven peer-relay path ("ip:port" of the relay server), "" if none; its VNI; the relay state (0 none,
   * 1 allocating, 2 binding, 3 bound); packets sent through it; allocations asked; CallMeMaybeVia sent/received. */
  peerRelay: string;
  peerRelayVni: number;
  peerRelayState: number;
  txPeerRelay: number;
  peerRelayAllocs: number;
  callMeMaybeViaSent: number;
  callMeMaybeViaReceived: number;
}

export interface NativeRegionStats {
  region: number;
  connected: boolean;
  txPackets: number;
  rxPackets: number;
  txDropped: number;
  txBytes: number;
  rxBytes: number;
}

export interface NativeMagicsockStats {
  peers: NativeMagicsockPeer[];
  regions: NativeRegionStats[];
  /** Disco messages received (ok, not disco, unknown peer, undecryptable, malformed, stale) and in-tunnel TSMP
   * messages (disco key advertisements applied or naming the key we had, pings, pongs, other types, bad). */
  counters: Record<
    'rxOk' | 'rxNotDisco' | 'rxUnknownPeer' | 'rxDecrypt' | 'rxBad' | 'rxStale' | 'tsmpDiscoApplied' | 'tsmpDiscoUnchanged' | 'tsmpPing' | 'tsmpPong' | 'tsmpOther' | 'tsmpBad',
    number
  >;
}

/** Pure functions; bad arguments throw a TypeError with code ERR_INVALID_ARG_TYPE. */
export interface NativeCrypto {
  /** BLAKE2s-256 of the parts' concatenation. */
  blake2s(parts: readonly Uint8Array[]): Buffer;
  /** Noise's HKDF with HMAC-BLAKE2s: both 32-byte outputs, concatenated. */
  kdf2(chainingKey: Uint8Array, input: Uint8Array): Buffer;
  /** ChaCha20-Poly1305 (RFC 8439): ciphertext then 16-byte tag. nonce: 12 bytes. */
  chachaSeal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Buffer;
  /** The plaintext, or null when the tag does not verify. */
  chachaOpen(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Buffer | null;
  /** The X25519 public key of a private key (clamped first). */
  x25519Public(privateKey: Uint8Array): Buffer;
  /** The X25519 shared secret, or null for a low-order public key. */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Buffer | null;
}

/** The addon's exports. Every entry is typed here and nowhere else. */
export interface NativeAddon {
  /** Interface version of the addon; must equal NATIVE_ABI. */
  readonly abi: number;
  Context: new (onEvents: (events: NativeEvent[]) => void) => NativeContext;
  /** How the process's engine runs ("inline" on the main thread's loop, or its own "thread"); null if none. */
  engineMode(): 'inline' | 'thread' | null;
  /** Noise primitives for the control plane from the core's libsodium and libb2 (docs/dependencies.md). */
  readonly crypto: NativeCrypto;
  /** The process's TCP loss recovery counters (docs/tcp.md); absent from addons built before them. */
  tcpRecoveryStats?(): { rto: number; rackRexmit: number; tlp: number; reneged: number };
}

/** The addon interface this JavaScript expects (kNativeAbi in native/addon/addon.h). */
export const NATIVE_ABI = 20;

let cached: NativeAddon | undefined;

/** Error thrown when no native binary fits this platform. `code` is `ERR_TSNET_NATIVE_MISSING`. */
export class NativeMissingError extends Error {
  readonly code = 'ERR_TSNET_NATIVE_MISSING';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NativeMissingError';
  }
}

/** The package root: dist/ and lib/ both sit directly below it. */
export const packageRoot: string = path.resolve(__dirname, '..');

export function loadNative(): NativeAddon {
  if (cached) return cached;
  try {
    // node-gyp-build loads here, not at require (docs/performance.md, "What requiring the package costs").
    cached = (require('node-gyp-build') as typeof nodeGypBuild)(packageRoot) as NativeAddon;
  } catch (err) {
    const target = `${process.platform}-${process.arch}, Node ABI ${process.versions.modules}`;
    throw new NativeMissingError(
      `tsnet: no native binary for ${target}. ` +
        `Build one with "npm run build:native" in ${packageRoot} (needs a C compiler; scripts/deps.sh ` +
        `fetches libsodium, libb2 and lwIP from Debian), or install a tsnet release that ships prebuilds/ ` +
        `for this platform.`,
      { cause: err },
    );
  }
  if (cached.abi !== NATIVE_ABI) {
    const abi = cached.abi;
    cached = undefined;
    throw new NativeMissingError(
      `tsnet: the native binary speaks interface ${abi} but this JavaScript expects ${NATIVE_ABI}; ` +
        `rebuild it with "npm run build:native" in ${packageRoot}.`,
    );
  }
  return cached;
}
