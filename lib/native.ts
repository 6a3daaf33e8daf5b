// Loads the native addon (prebuilt binary from prebuilds/, or a local node-gyp build) and types its surface.
// lib/ knows the addon only through the NativeAddon interface below.
import * as path from 'node:path';
import nodeGypBuild from 'node-gyp-build';

/** An address as the engine reports it. */
export interface NativeAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/** Events from the engine thread, delivered in batches on the JavaScript thread. */
export type NativeEvent =
  | { type: 'accept'; device: number; id: number; listener: number; fd: number; local: NativeAddress; remote: NativeAddress }
  | { type: 'connected'; device: number; id: number; local: NativeAddress; remote: NativeAddress }
  | { type: 'error'; device: number; id: number; code: string }
  | { type: 'closed'; device: number; id: number }
  | { type: 'message'; device: number; id: number; data: Buffer; remote: NativeAddress }
  | { type: 'udp-error'; device: number; id: number; code: string }
  /** A packet needs relay region `id` and the engine has no connection to it. */
  | { type: 'derp-want'; device: number; id: number }
  /** Relay region `id` logged in (connected) or its connection ended (`code` says why, when not clean). */
  | { type: 'derp-state'; device: number; id: number; connected: boolean; code?: string }
  /** A STUN answer from region `id`: our address as its server saw it. */
  | { type: 'stun'; device: number; id: number; mapped: NativeAddress; rttMs: number }
  | { type: 'unknown'; device: number; id: number };

/** One Node environment's handle on the engine. Methods throw errors with uv `code`s (EADDRINUSE, ...). */
export interface NativeContext {
  deviceCreate(device: number): void;
  deviceAddAddress(device: number, address: string): void;
  deviceLinkMemory(a: number, b: number): void;
  deviceClose(device: number): void;
  /** Returns the bound port. family: 0 (both), 4 or 6. */
  tcpListen(device: number, listener: number, family: 0 | 4 | 6, port: number, backlog: number): number;
  tcpListenerClose(listener: number): void;
  /** Returns the file descriptor of JavaScript's end of the connection's socketpair. */
  tcpDial(device: number, conn: number, address: string, port: number): number;
  tcpSetNoDelay(device: number, conn: number, on: boolean): void;
  tcpSetKeepAlive(device: number, conn: number, on: boolean, idleMs: number): void;
  tcpReset(device: number, conn: number): void;
  /** Opens a UDP socket on the device; returns the bound port. */
  udpOpen(device: number, sock: number, family: 0 | 4 | 6, port: number): number;
  /** Queues one datagram; a failure arrives later as a 'udp-error' event. */
  udpSend(device: number, sock: number, address: string, port: number, data: Uint8Array): void;
  udpClose(device: number, sock: number): void;
  /** Starts WireGuard on a device; returns the bound UDP port. */
  wgStart(device: number, privateKey: Uint8Array, bindAddress: string, port: number): number;
  wgPeerSet(
    device: number,
    publicKey: Uint8Array,
    presharedKey: Uint8Array | null,
    endpointIp: string | null,
    endpointPort: number,
    persistentKeepalive: number,
  ): void;
  wgPeerAllow(device: number, publicKey: Uint8Array, cidr: string): void;
  /** Replaces the peer's AllowedIPs with exactly these prefixes, in one engine call. */
  wgPeerSetAllowed(device: number, publicKey: Uint8Array, cidrs: readonly string[]): void;
  wgPeerRemove(device: number, publicKey: Uint8Array): boolean;
  wgStats(device: number): NativePeerStats[];
  /** Per-reason drop counters of the WireGuard core, keyed by the core's reason names (snake_case). */
  wgDrops(device: number): Record<string, number>;
  /** The handshake DoS defence of a WireGuard device: Noise computations, cookie replies, rate-limited. */
  wgLoadStats(device: number): NativeLoadStats;
  /** Turns on the inbound packet filter of a WireGuard device and replaces its rules. */
  wgFilterSet(device: number, rules: NativeFilterRule[], local: NativePrefix[]): void;
  /** Tailscale mode: peers reached on paths chosen by disco (direct UDP or DERP); UDP also carries disco and STUN. */
  /** derpIdleMs: relays other than home's close after this long idle (0: 60 s). */
  msStart(device: number, discoPrivateKey: Uint8Array, derpOnly: boolean, derpIdleMs: number): void;
  /** Moves the WireGuard link to a fresh UDP socket (port 0: any); returns the new port. */
  wgRebind(device: number, port: number): number;
  /** Adds or updates a peer from the netmap (endpoints as "ip:port"). AllowedIPs through wgPeerAllow. */
  msPeerSet(device: number, nodeKey: Uint8Array, discoKey: Uint8Array | null, homeRegion: number, endpoints: string[]): void;
  /** Our endpoints (sent to peers in CallMeMaybe) and home relay region. */
  msSetSelf(device: number, endpoints: string[], homeRegion: number): void;
  /** A relay connection for a region; returns the fd of JavaScript's end of its byte stream. */
  derpAttach(device: number, region: number, host: string, serverKey: Uint8Array | null): number;
  /** Sends a STUN request from the device's UDP socket; the answer arrives as a 'stun' event. */
  stunProbe(device: number, region: number, ip: string, port: number): void;
  msStats(device: number): NativeMagicsockStats;
  ref(): void;
  unref(): void;
  close(): void;
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

/** The addon interface this JavaScript expects (kNativeAbi in native/addon/addon.cc). */
export const NATIVE_ABI = 11;

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
    cached = nodeGypBuild(packageRoot) as NativeAddon;
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
