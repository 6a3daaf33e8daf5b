// WireGuard mode: a Node process joins any WireGuard network (a wg-quick file) with no root and no TUN
// device. The node's TCP/IP stack runs in the native engine; sockets are real net.Socket objects.
import type * as dnsPromises from 'node:dns/promises';
import * as net from 'node:net';
import { isLowOrderKey, publicFromPrivate } from './wire/keys.js';
import { parseWgQuick } from './wgconfig.js';
import { splitHostPort } from './net/addr.js';
import { argumentError, closedError } from './net/errors.js';
import { checkKnownOptions, invalidArgType } from './util/errors.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel, type LogRecord } from './util/log.js';
import type * as NetstackModule from './net/netstack.js';
import type { DialOptions, ListenOptions, Netstack, TcpNetworkName, UdpNetworkName } from './net/netstack.js';
import type { TailnetListener } from './net/listener.js';
import type { TailnetSocket } from './net/socket.js';
import { TailnetNode } from './node.js';
import type { TailnetPacketSocket } from './net/packet.js';
import type { DevicePeer } from './net/device.js';
import { readDrops, type WireGuardDrops } from './wg-drops.js';

export interface WireGuardPeer {
  /** base64, as `wg` prints it */
  publicKey: string;
  presharedKey?: string;
  /** "host:port" or "[v6]:port"; a host name is resolved at start */
  endpoint?: string;
  /** CIDRs routed to this peer, and accepted from it */
  allowedIPs: string[];
  /** seconds; 0 or absent: off */
  persistentKeepalive?: number;
}

export interface WireGuardOptions {
  /**
   * base64, as `wg genkey` prints it, or the 32 bytes. The node keeps its own copy and zeroes it once the
   * native side has it (and at close); a Buffer you pass stays yours to zero.
   */
  privateKey: string | Uint8Array;
  /** this node's addresses as CIDRs ("10.0.0.2/32", "fd00::2/128") */
  address: string[];
  /** UDP port to listen on; 0 or absent: any free port */
  listenPort?: number;
  /** accepted for wg-quick compatibility; the stack sends at most 1280-byte packets (the Tailscale MTU) */
  mtu?: number;
  peers?: WireGuardPeer[];
  /** diagnostic log lines; quiet when absent */
  logf?: (message: string) => void;
  /** diagnostic log as structured records (lib/util/log.ts); quiet when absent */
  logger?: (record: LogRecord) => void;
  /** least severe level logged: "debug", "info" (default), "warn", "error" */
  logLevel?: LogLevel;
}

const WIREGUARD_OPTIONS = ['privateKey', 'address', 'listenPort', 'mtu', 'peers', 'logf', 'logger', 'logLevel'] as const satisfies readonly (keyof WireGuardOptions)[];
type UnlistedOption = Exclude<keyof WireGuardOptions, (typeof WIREGUARD_OPTIONS)[number]>;
const everyOptionListed: [UnlistedOption] extends [never] ? true : UnlistedOption = true;
void everyOptionListed;

export interface PeerStats {
  publicKey: string;
  /** last completed handshake, or null */
  lastHandshake: Date | null;
  rxBytes: number;
  txBytes: number;
  /** current endpoint ("ip:port"), or null */
  endpoint: string | null;
}

/** The handshake DoS defence at work (docs/architecture.md, "Handshake floods"); counts since start. */
export interface HandshakeLoad {
  /** initiations and responses that reached the Noise computation (a Diffie-Hellman each) */
  handshakesComputed: number;
  /** cookie replies sent instead (under load, no valid mac2) */
  cookieReplies: number;
  /** neither: dropped after the mac1 check, their source address had its cookie replies (20/s) */
  cookiesWithheld: number;
  /** valid mac2 but over the per-source rate: dropped */
  rateLimited: number;
  /** the device counts as under load now */
  underLoad: boolean;
}

/** The network interface shared by the WireGuard mode and the tsnet Server. */
export interface Dialer {
  dial(network: TcpNetworkName, address: string, options?: DialOptions): Promise<TailnetSocket>;
  dial(network: UdpNetworkName, address: string, options?: DialOptions): Promise<TailnetPacketSocket>;
  listen(network: string, address: string, options?: ListenOptions): TailnetListener;
}

const keyBytes = (what: string, b64: unknown): Buffer => {
  if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(b64)) {
    throw new TypeError(`${what} must be a base64 WireGuard key (44 characters, as wg genkey prints)`);
  }
  return Buffer.from(b64, 'base64');
};

const privateKeyBytes = (key: unknown): Buffer => {
  if (key instanceof Uint8Array) {
    if (key.length !== 32) throw new TypeError('privateKey must be 32 bytes, or base64 as wg genkey prints it');
    return Buffer.from(key); // a copy: ours to zero
  }
  return keyBytes('privateKey', key);
};

// Tests check that the key buffer a node held is zeroed at close; not part of the package's API.
const heldKeys = new WeakMap<WireGuard, Buffer>();
/** @internal The buffer holding the node's private key (all zeros once started or closed). */
export function privateKeyBufferOf(w: WireGuard): Buffer | undefined {
  return heldKeys.get(w);
}

const cidrOf = (what: string, cidr: unknown): { ip: string; bits: number } => {
  if (typeof cidr !== 'string') throw new TypeError(`${what} must be a CIDR string like "10.0.0.2/32"`);
  const [ip = '', bits, extra] = cidr.split('/');
  const fam = net.isIP(ip);
  const max = fam === 6 ? 128 : 32;
  const n = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!fam || extra !== undefined || !(n >= 0 && n <= max)) throw new TypeError(`${what}: "${cidr}" is not an IP prefix`);
  return { ip, bits: n };
};

function validatePeer(p: WireGuardPeer, i: number): void {
  if (typeof p !== 'object' || p === null) throw new TypeError(`peers[${i}] must be an object`);
  if (isLowOrderKey(keyBytes(`peers[${i}].publicKey`, p.publicKey))) {
    // X25519 with it is all zeros whatever our key: every handshake would fail, and dials time out.
    throw argumentError('TypeError', 'ERR_TSNET_LOW_ORDER_KEY', `peers[${i}].publicKey is a low-order point: no handshake can succeed with it`);
  }
  if (p.presharedKey !== undefined) keyBytes(`peers[${i}].presharedKey`, p.presharedKey);
  if (!Array.isArray(p.allowedIPs)) throw new TypeError(`peers[${i}].allowedIPs must be an array of CIDRs`);
  p.allowedIPs.forEach((c, j) => cidrOf(`peers[${i}].allowedIPs[${j}]`, c));
  if (p.endpoint !== undefined) splitHostPort(p.endpoint);
  const ka = p.persistentKeepalive;
  if (ka !== undefined && (!Number.isInteger(ka) || ka < 0 || ka > 65535)) {
    throw new RangeError(`peers[${i}].persistentKeepalive must be 0..65535 seconds`);
  }
}

export class WireGuard extends TailnetNode implements Dialer {
  readonly #opts: Omit<WireGuardOptions, 'privateKey'>;
  readonly #log: Logger;
  // Zeroed once the native side has its copy (after start) and at close.
  readonly #privateKey: Buffer;
  readonly #publicKey: string;
  #stack: Netstack | undefined;
  #starting: Promise<void> | undefined;
  #closed = false;
  #port: number | undefined;
  // The configured peers by public key (hex): every change sends all of them to the device in one setPeers.
  readonly #peers = new Map<string, { peer: WireGuardPeer; ep: { ip: string; port: number } | null }>();

  constructor(options: WireGuardOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    checkKnownOptions('new WireGuard(options)', options, WIREGUARD_OPTIONS);
    this.#privateKey = privateKeyBytes(options.privateKey);
    try {
      this.#validate(options);
    } catch (err) {
      this.#privateKey.fill(0);
      throw err;
    }
    // Everything but the private key: no second copy of it (a string cannot be zeroed).
    const { privateKey: _key, ...rest } = options;
    this.#opts = { ...rest, peers: [...(options.peers ?? [])] };
    this.#log = createLogger({ logf: options.logf, logger: options.logger, logLevel: options.logLevel }, 'wireguard');
    this.#publicKey = publicFromPrivate(this.#privateKey).toString('base64');
    heldKeys.set(this, this.#privateKey);
  }

  #validate(options: WireGuardOptions): void {
    if (!Array.isArray(options.address) || options.address.length === 0) {
      throw new TypeError('address must be a non-empty array of CIDRs, e.g. ["10.0.0.2/32"]');
    }
    options.address.forEach((a, i) => cidrOf(`address[${i}]`, a));
    const lp = options.listenPort;
    if (lp !== undefined && (!Number.isInteger(lp) || lp < 0 || lp > 65535)) throw new RangeError('listenPort must be 0..65535');
    const mtu = options.mtu;
    if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535)) throw new RangeError('mtu must be 576..65535');
    (options.peers ?? []).forEach(validatePeer);
    for (const k of ['logf', 'logger'] as const) {
      if (options[k] !== undefined && typeof options[k] !== 'function') throw invalidArgType(`options.${k}`, 'a function', options[k]);
    }
    if (options.logLevel !== undefined && !LOG_LEVELS.includes(options.logLevel)) {
      throw argumentError('TypeError', 'ERR_INVALID_ARG_VALUE', `options.logLevel must be one of ${LOG_LEVELS.join(', ')}`);
    }
  }

  /** Builds a node from a wg-quick file ([Interface] and [Peer] sections); unsupported keys are logged. */
  static fromConfig(text: string, extra: { logf?: (message: string) => void } = {}): WireGuard {
    const { options, ignored } = parseWgQuick(text);
    if (extra.logf) options.logf = extra.logf;
    const node = new WireGuard(options);
    for (const k of ignored) node.#log.info('ignoring a wg-quick key (not applicable to a userspace node)', { key: k });
    return node;
  }

  /** This node's public key, base64. */
  get publicKey(): string {
    return this.#publicKey;
  }

  /** The UDP port WireGuard listens on, once started. */
  get listenPort(): number | undefined {
    return this.#port;
  }

  /** Opens the UDP socket, configures the peers and brings the interface up. Idempotent. */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError('WireGuard.start'));
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const endpoints = await Promise.all((this.#opts.peers ?? []).map((p) => (p.endpoint ? resolveEndpoint(p.endpoint) : null)));
    if (this.#closed) throw closedError('WireGuard.start');
    // The userspace network loads when a node starts, not when the package is required (docs/performance.md).
    const stack = new (require('./net/netstack.js') as typeof NetstackModule).Netstack();
    try {
      for (const a of this.#opts.address) stack.addAddress(cidrOf('address', a).ip);
      try {
        this.#port = stack.device.startWireGuard(this.#privateKey, this.#opts.listenPort ?? 0);
      } finally {
        this.#privateKey.fill(0); // the engine has its copy; a failed start is not retried (start() caches it)
      }
      (this.#opts.peers ?? []).forEach((p, i) => this.#merge(p, endpoints[i] ?? null));
      this.#apply(stack);
    } catch (err) {
      stack.close();
      throw err;
    }
    this.#stack = stack;
    const handshaken = new Set<string>();
    stack.device.onLinkEvent((ev) => {
      if (ev.type !== 'handshake') return;
      const peer = ev.publicKey.toString('base64');
      // The first handshake with a peer is news; the rekeys every two minutes after it are not.
      this.#log[handshaken.has(peer) ? 'debug' : 'info']('handshake completed', { peer });
      handshaken.add(peer);
    });
    this.#log.info('up', { publicKey: this.#publicKey, udpPort: this.#port });
  }

  // addPeer's semantics: a peer already configured keeps its AllowedIPs and gains these.
  #merge(p: WireGuardPeer, ep: { ip: string; port: number } | null): void {
    const key = keyBytes('publicKey', p.publicKey).toString('hex');
    const had = this.#peers.get(key)?.peer.allowedIPs ?? [];
    this.#peers.set(key, { peer: { ...p, allowedIPs: [...new Set([...had, ...p.allowedIPs])] }, ep });
  }

  // The device's peers become exactly the table, in one engine call.
  #apply(stack: Netstack): void {
    const list: DevicePeer[] = [...this.#peers.values()].map(({ peer, ep }) => ({
      publicKey: keyBytes('publicKey', peer.publicKey),
      presharedKey: peer.presharedKey ? keyBytes('presharedKey', peer.presharedKey) : null,
      endpoints: ep ? [net.isIPv6(ep.ip) ? `[${ep.ip}]:${ep.port}` : `${ep.ip}:${ep.port}`] : [],
      persistentKeepalive: peer.persistentKeepalive ?? 0,
      allowedIPs: peer.allowedIPs,
    }));
    try {
      stack.device.setPeers(list);
    } finally {
      for (const p of list) p.presharedKey?.fill(0);
    }
  }

  protected override netstack(what: string): Netstack {
    return this.#live(what);
  }

  #live(what: string): Netstack {
    if (this.#closed) throw closedError(what);
    if (!this.#stack) {
      const err = new Error(`${what}: call start() first`) as Error & { code: string };
      err.code = 'ERR_TSNET_NOT_STARTED';
      throw err;
    }
    return this.#stack;
  }

  /** Adds a peer, or updates one with the same public key (its AllowedIPs are added to). */
  async addPeer(peer: WireGuardPeer): Promise<void> {
    validatePeer(peer, 0);
    const ep = peer.endpoint ? await resolveEndpoint(peer.endpoint) : null;
    const stack = this.#live('addPeer');
    this.#merge(peer, ep);
    this.#apply(stack);
  }

  /**
   * Adds a peer, or replaces the configuration of the one with the same public key: its AllowedIPs become
   * exactly `peer.allowedIPs` (as `wg set <interface> peer <key> allowed-ips ...`), so packets from a prefix
   * it no longer has are dropped from then on (counted in `drops().sourceNotAllowed`).
   */
  async setPeer(peer: WireGuardPeer): Promise<void> {
    validatePeer(peer, 0);
    const ep = peer.endpoint ? await resolveEndpoint(peer.endpoint) : null;
    const stack = this.#live('setPeer');
    this.#peers.set(keyBytes('publicKey', peer.publicKey).toString('hex'), { peer: { ...peer, allowedIPs: [...peer.allowedIPs] }, ep });
    this.#apply(stack);
  }

  /** Removes a peer; resolves false if there was none with that key. */
  async removePeer(publicKey: string): Promise<boolean> {
    const key = keyBytes('publicKey', publicKey).toString('hex');
    const stack = this.#live('removePeer');
    if (!this.#peers.delete(key)) return false;
    this.#apply(stack);
    return true;
  }

  /** Per-peer statistics: last handshake, bytes in and out, current endpoint. */
  stats(): PeerStats[] {
    const s = this.#live('stats');
    return s.device.peerStats().map((p) => ({
      publicKey: p.publicKey.toString('base64'),
      lastHandshake: p.lastHandshake ? new Date(p.lastHandshake) : null,
      rxBytes: p.rxBytes,
      txBytes: p.txBytes,
      endpoint: p.endpoint,
    }));
  }

  /** Packets the WireGuard core dropped, counted per reason (malformed, replayed, unauthenticated, ...). */
  drops(): WireGuardDrops {
    const s = this.#live('drops');
    return readDrops(s.device);
  }

  /** How the device is coping with handshake messages: Noise computations, cookie replies, rate limiting. */
  handshakeLoad(): HandshakeLoad {
    const s = this.#live('handshakeLoad');
    return s.device.handshakeLoad();
  }

  /** Closes every socket and listener and the UDP socket, and frees native memory. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#privateKey.fill(0);
    await this.#starting?.catch(() => undefined);
    await this.closeClients();
    this.#stack?.close();
    this.#stack = undefined;
  }
}

async function resolveEndpoint(endpoint: string): Promise<{ ip: string; port: number }> {
  const { host, port } = splitHostPort(endpoint);
  if (port === 0) throw new RangeError(`endpoint "${endpoint}": port must be 1..65535`);
  if (net.isIP(host)) return { ip: host, port };
  const { address } = await (require('node:dns/promises') as typeof dnsPromises).lookup(host);
  return { ip: address, port };
}
