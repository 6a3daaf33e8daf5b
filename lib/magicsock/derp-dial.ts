/**
 * Opens the TLS connection to a DERP region (docs/protocol/derp.md §1). Only the
 * transport: the engine writes the HTTP upgrade and speaks DERP over the
 * returned socket itself. Node's tls does the TLS so system CAs, pinning and
 * Electron's certificate handling apply.
 */
import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { Duplex } from 'node:stream';
import { isIP } from '../wire/ip-literal.js';
import tls from 'node:tls';
import type { EngineDERPNode, EngineDERPRegion } from '../wire/engine-config.js';
import { ENGINE_TLS_CIPHER, TrafficSecrets, type DERPEngineTLS } from './derp-engine-tls.js';

export interface DERPTransport {
  socket: tls.TLSSocket;
  node: EngineDERPNode;
  /** Server public key from the DERP meta certificate (fast start), or null when none was seen. */
  serverKey: Buffer | null;
  /** Engine TLS (derp-engine-tls.ts): the engine took the connection over; this stream ends when it does.
   * `socket` then only did the handshake and must write nothing more. */
  engineStream?: Duplex;
}

export interface DERPDialOptions {
  signal?: AbortSignal;
  /** Whole dial, all nodes together (default 10 s). */
  timeoutMs?: number;
  logf?: (m: string) => void;
  /** The engine's TLS record layer, when usable (derp-engine-tls.ts). */
  engineTLS?: DERPEngineTLS;
}

export type DERPDialErrorCode = 'ERR_TSNET_DERP_DIAL' | 'ERR_TSNET_DERP_TIMEOUT' | 'ERR_TSNET_DERP_NO_NODES' | 'ABORT_ERR';

export class DERPDialError extends Error {
  readonly code: DERPDialErrorCode;
  readonly regionID: number;

  constructor(code: DERPDialErrorCode, regionID: number, message: string, cause?: unknown) {
    super(message, cause !== undefined ? { cause } : undefined);
    this.name = code === 'ABORT_ERR' ? 'AbortError' : 'DERPDialError';
    this.code = code;
    this.regionID = regionID;
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** derp/derpconst MetaCertCommonNamePrefix. */
const META_CN_PREFIX = 'derpkey';
const PIN_PREFIX = 'sha256-raw:';

type PeerCert = tls.PeerCertificate | tls.DetailedPeerCertificate;

/** The presented chain as Node links it (leaf first, each issuer once). */
function chainOf(leaf: tls.DetailedPeerCertificate): PeerCert[] {
  const out: PeerCert[] = [];
  let c: PeerCert | undefined = leaf;
  while (c && Object.keys(c).length > 0 && !out.includes(c)) {
    out.push(c);
    c = 'issuerCertificate' in c ? c.issuerCertificate : undefined;
  }
  return out;
}

function commonName(c: PeerCert): string {
  const cn = (c.subject as Record<string, string | string[] | undefined> | undefined)?.CN;
  return Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? '');
}

/**
 * The server key from a DERP meta certificate in the chain: subject CN
 * `derpkey<64 hex>` and a serial of at most 8 bits (the protocol version), as
 * derphttp's parseMetaCert accepts. Like the Go client, only over TLS 1.3
 * (before 1.3 certificates travel in the clear, so a middlebox may have
 * rewritten the chain). Node links only certificates that issued one another,
 * so the meta certificate derper appends (an unrelated self-signed one) is
 * not visible through this API: see the README.
 */
export function derpKeyFromPeerCertificate(leaf: tls.DetailedPeerCertificate, protocol: string | null): Buffer | null {
  if (protocol !== 'TLSv1.3') return null;
  for (const c of chainOf(leaf)) {
    const cn = commonName(c);
    if (!cn.startsWith(META_CN_PREFIX)) continue;
    const hex = cn.slice(META_CN_PREFIX.length);
    const serial = (c.serialNumber ?? '').replace(/^0+/, '');
    if (/^[0-9a-fA-F]{64}$/.test(hex) && serial.length <= 2) return Buffer.from(hex, 'hex');
  }
  return null;
}

/**
 * `sha256-raw:` pin check, as tlsdial.SetConfigExpectedCertHash: ignoring meta
 * certificates, exactly one certificate, whose raw DER hashes to the pin,
 * valid now and for the host name (when one is dialled).
 */
export function checkPinnedChain(leaf: tls.DetailedPeerCertificate, pinHex: string, hostName: string, now = Date.now()): Error | null {
  let good: PeerCert | null = null;
  for (const c of chainOf(leaf)) {
    if (commonName(c).startsWith(META_CN_PREFIX)) continue;
    if (good) return new Error('unexpected multiple certs presented');
    if (!c.raw || createHash('sha256').update(c.raw).digest('hex') !== pinHex.toLowerCase()) return new Error('cert hash does not match expected cert hash');
    if (hostName) {
      const e = tls.checkServerIdentity(hostName, c);
      if (e) return e;
    }
    if (now > Date.parse(c.valid_to)) return new Error(`cert expired ${c.valid_to}`);
    if (now < Date.parse(c.valid_from)) return new Error(`cert not yet valid until ${c.valid_from}`);
    good = c;
  }
  return good ? null : new Error('expected cert not presented');
}

/** Address to dial: ipv4 (unless disabled), else ipv6, else the host name for Node to resolve. */
function target(n: EngineDERPNode): { host: string; family?: 4 | 6 } | null {
  if (n.ipv4 && n.useIPv4) return { host: n.ipv4 };
  if (n.ipv6 && n.useIPv6) return { host: n.ipv6 };
  if (!n.useIPv4 && !n.useIPv6) return null;
  if (!n.useIPv4) return { host: n.hostName, family: 6 };
  if (!n.useIPv6) return { host: n.hostName, family: 4 };
  return { host: n.hostName };
}

function tlsOptions(n: EngineDERPNode, t: { host: string; family?: 4 | 6 }): tls.ConnectionOptions {
  // tls.connect hands `family` to the TCP connect (its lookup), though the typings leave it out.
  const o: tls.ConnectionOptions & { family?: 4 | 6 } = { host: t.host, port: n.derpPort };
  if (t.family) o.family = t.family;
  // SNI is the host name (never an IP literal: TLS forbids it).
  if (n.hostName && isIP(n.hostName) === 0) o.servername = n.hostName;
  if (n.certName.startsWith(PIN_PREFIX)) {
    // Self-signed and pinned: chain verification would fail, the pin is checked after the handshake.
    o.rejectUnauthorized = false;
  } else if (n.certName) {
    // Verify the chain normally but the name against CertName (SNI stays HostName).
    o.checkServerIdentity = (_h, cert) => tls.checkServerIdentity(n.certName, cert);
  } else if (n.insecureForTests) {
    o.rejectUnauthorized = false;
  } else {
    // Dialling an IP from the map still verifies the host name, not the IP.
    o.checkServerIdentity = (_h, cert) => tls.checkServerIdentity(n.hostName, cert);
  }
  return o;
}

/** Engine TLS could not take the handshake over (not TLS 1.3 with ChaCha20-Poly1305, or no key log). */
const ENGINE_TLS_UNUSABLE = 'ERR_TSNET_DERP_ENGINE_TLS_UNUSABLE';

/** The address the engine dials: an IP literal (resolved here, as Node's connect would). */
async function resolveTarget(t: { host: string; family?: 4 | 6 }, port: number): Promise<string> {
  const ip = isIP(t.host) ? t.host : (await lookup(t.host, { family: t.family ?? 0 })).address;
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function connectNode(n: EngineDERPNode, timeoutMs: number, signal: AbortSignal | undefined, engine?: DERPEngineTLS): Promise<DERPTransport> {
  return new Promise((resolve, reject) => {
    const t = target(n);
    if (!t) {
      reject(new Error(`node ${n.name}: no usable address family`));
      return;
    }
    let socket: tls.TLSSocket | null = null;
    let stream: Duplex | null = null;
    let settled = false;
    const secrets = new TrafficSecrets();
    const done = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket?.off('error', onError);
      socket?.off('secureConnect', onSecure);
      if (err) {
        secrets.wipe();
        socket?.destroy();
        stream?.destroy();
        reject(err);
      }
    };
    const onAbort = (): void => done(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    const onSecure = (): void => {
      const s = socket!;
      const leaf = s.getPeerCertificate(true);
      if (n.certName.startsWith(PIN_PREFIX)) {
        const e = checkPinnedChain(leaf, n.certName.slice(PIN_PREFIX.length), n.hostName);
        if (e) {
          done(Object.assign(e, { code: 'ERR_TSNET_DERP_CERT_PIN' }));
          return;
        }
      }
      const serverKey = derpKeyFromPeerCertificate(leaf, s.getProtocol());
      if (engine && stream) {
        // Every check passed: the engine takes over, or (another cipher, no key log) the dial is redone without it.
        const { client, server } = secrets;
        if (s.getProtocol() !== 'TLSv1.3' || s.getCipher().standardName !== ENGINE_TLS_CIPHER || !client || !server) {
          done(Object.assign(new Error(`node ${n.name}: engine TLS unusable (${s.getProtocol() ?? '?'} ${s.getCipher().standardName}, key log ${client && server ? 'complete' : 'missing'})`), { code: ENGINE_TLS_UNUSABLE }));
          return;
        }
        try {
          engine.takeover(stream, serverKey, client, server);
        } catch (e) {
          done(e as Error);
          return;
        } finally {
          secrets.wipe();
        }
        // The TLS socket writes nothing more that would reach the relay (the engine drops it); its errors are moot.
        s.on('error', () => {});
        done(null);
        resolve({ socket: s, node: n, serverKey, engineStream: stream });
        return;
      }
      // Relayed packets are small and latency-bound: without this, Nagle holds a packet written while
      // an earlier one is unacknowledged until the relay's delayed ACK (40 ms on Linux). Go's dialer,
      // and so Tailscale's DERP client, sets TCP_NODELAY too (the engine's own dial sets it as well).
      s.setNoDelay(true);
      done(null);
      resolve({ socket: s, node: n, serverKey });
    };
    const onError = (e: Error): void => {
      // A relay that refuses the one suite offered (alert 40) is one engine TLS cannot serve: redo the dial.
      if (engine && (e as { code?: string }).code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE') {
        done(Object.assign(new Error(`node ${n.name}: engine TLS unusable (${e.message})`, { cause: e }), { code: ENGINE_TLS_UNUSABLE }));
      } else {
        done(e);
      }
    };
    const start = (o: tls.ConnectionOptions): void => {
      socket = tls.connect(o);
      socket.once('error', onError);
      socket.once('secureConnect', onSecure);
      if (engine) socket.on('keylog', (line: Buffer) => secrets.onLine(line));
    };
    const timer = setTimeout(() => done(new DERPDialError('ERR_TSNET_DERP_TIMEOUT', n.regionID, `node ${n.name}: timed out after ${timeoutMs} ms`)), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (!engine) {
      start(tlsOptions(n, t));
      return;
    }
    // Engine TLS: the engine dials (an address resolved here), Node's tls handshakes over its stream, offering
    // only what the engine's record layer speaks.
    resolveTarget(t, n.derpPort).then(
      (server) => {
        if (settled) return;
        try {
          stream = engine.open(n.regionID, n.hostName, server);
        } catch (e) {
          done(e as Error);
          return;
        }
        stream.once('error', done);
        start({ ...tlsOptions(n, t), socket: stream, ciphers: ENGINE_TLS_CIPHER, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
      },
      (e: unknown) => done(e instanceof Error ? e : new Error(String(e))),
    );
  });
}

/**
 * Connects to the first reachable DERP node of the region, in map order
 * (STUN-only nodes skipped). Each node gets an equal share of what is left
 * of the time budget, so a black-holed first node still leaves time for the
 * next.
 */
export async function dialDERPRegion(region: EngineDERPRegion, opts: DERPDialOptions = {}): Promise<DERPTransport> {
  const { signal } = opts;
  const logf = opts.logf ?? ((): void => {});
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const nodes = region.nodes.filter((n) => !n.stunOnly);
  if (nodes.length === 0) throw new DERPDialError('ERR_TSNET_DERP_NO_NODES', region.id, `DERP region ${region.id}: no DERP nodes`);
  let last: unknown = null;
  for (let i = 0; i < nodes.length; i++) {
    if (signal?.aborted) throw new DERPDialError('ABORT_ERR', region.id, `DERP region ${region.id}: dial aborted`, signal.reason);
    const left = deadline - Date.now();
    if (left <= 0) break;
    const n = nodes[i]!;
    const budget = Math.max(1, Math.floor(left / (nodes.length - i)));
    const engine = opts.engineTLS?.usable ? opts.engineTLS : undefined;
    try {
      return await connectNode(n, budget, signal, engine);
    } catch (e) {
      if (engine && (e as { code?: string }).code === ENGINE_TLS_UNUSABLE) {
        // For good: this TLS stack or relay cannot hand over; the dial is redone the JavaScript way.
        engine.usable = false;
        logf(`derp: region ${region.id} node ${n.name}: ${(e as Error).message}; using Node's TLS for relays`);
        i--;
        continue;
      }
      last = e;
      logf(`derp: region ${region.id} node ${n.name} (${n.hostName}:${n.derpPort}): ${(e as Error).message}`);
    }
  }
  if (signal?.aborted) throw new DERPDialError('ABORT_ERR', region.id, `DERP region ${region.id}: dial aborted`, signal.reason);
  const timedOut = last === null || (last instanceof DERPDialError && last.code === 'ERR_TSNET_DERP_TIMEOUT');
  throw new DERPDialError(
    timedOut ? 'ERR_TSNET_DERP_TIMEOUT' : 'ERR_TSNET_DERP_DIAL',
    region.id,
    `DERP region ${region.id}: ${last instanceof Error ? last.message : 'timed out'}`,
    last ?? undefined,
  );
}
