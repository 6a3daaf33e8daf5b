/**
 * A self-signed X.509 v3 certificate for the development DERP relay's TLS,
 * made in pure Node (no openssl binary): an ECDSA P-256 key from node:crypto
 * and a small DER encoder for the certificate (RFC 5280 §4.1).
 *
 * Real Tailscale clients reach the relay with `InsecureForTests` or by
 * pinning `CertName: "sha256-raw:<hex of SHA-256 over the DER certificate>"`
 * (docs/protocol/derp.md §1); `certName` below is that pin.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

// --- DER ---------------------------------------------------------------------

function derLen(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Tag-length-value. */
export function der(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.of(tag), derLen(body.length), body]);
}

export const derSeq = (...c: Uint8Array[]): Buffer => der(0x30, ...c);
const derSet = (...c: Uint8Array[]): Buffer => der(0x31, ...c);

/** INTEGER from unsigned big-endian bytes (minimal, positive). */
export function derUInt(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const v = Buffer.from(bytes.subarray(i));
  return der(0x02, v[0]! & 0x80 ? Buffer.concat([Buffer.of(0), v]) : v);
}

export function derOid(oid: string): Buffer {
  const parts = oid.split('.').map(Number);
  const out: number[] = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const enc: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) enc.unshift(0x80 | (v & 0x7f));
    out.push(...enc);
  }
  return der(0x06, Buffer.from(out));
}

function derTime(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const rest = `${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return y < 2050 ? der(0x17, Buffer.from(`${p2(y % 100)}${rest}`)) : der(0x18, Buffer.from(`${y}${rest}`));
}

function name(cn: string): Buffer {
  return derSeq(derSet(derSeq(derOid('2.5.4.3'), der(0x0c, Buffer.from(cn, 'utf8')))));
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), 2 * i));
  return out;
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return derSeq(derOid(oid), ...(critical ? [der(0x01, Buffer.of(0xff))] : []), der(0x04, value));
}

// --- certificate ----------------------------------------------------------------

export interface SelfSignedCertOptions {
  /** Subject CN and subjectAltNames: host names and IP literals. Default ["127.0.0.1", "::1", "localhost"]. */
  names?: string[];
  /** Validity start; default now − 1 h. */
  notBefore?: Date;
  /** Validity in days; default 365. */
  days?: number;
  /** Subject CN; default the first DNS name, else the first name. */
  commonName?: string;
  /** Serial number (unsigned big-endian); default 16 random bytes. */
  serial?: Uint8Array;
}

export interface SelfSignedCert {
  /** PEM certificate. */
  cert: string;
  /** PEM PKCS#8 private key. */
  key: string;
  /** The DER certificate. */
  der: Buffer;
  /** `sha256-raw:<hex>` for DERPNode.CertName. */
  certName: string;
  privateKey: KeyObject;
}

const pem = (label: string, b: Buffer): string =>
  `-----BEGIN ${label}-----\n${(b.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`;

export function generateSelfSignedCert(o: SelfSignedCertOptions = {}): SelfSignedCert {
  const names = o.names ?? ['127.0.0.1', '::1', 'localhost'];
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const notBefore = o.notBefore ?? new Date(Date.now() - 3600_000);
  const notAfter = new Date(notBefore.getTime() + (o.days ?? 365) * 86400_000);
  let serial: Uint8Array;
  if (o.serial) serial = o.serial;
  else {
    serial = randomBytes(16);
    serial[0] = (serial[0]! & 0x7f) | 0x01;
  }
  const ecdsaWithSha256 = derSeq(derOid('1.2.840.10045.4.3.2'));
  const san = derSeq(...names.map((n) => (isIP(n) ? der(0x87, ipBytes(n)) : der(0x82, Buffer.from(n, 'ascii')))));
  const subject = name(o.commonName ?? names.find((n) => !isIP(n)) ?? names[0] ?? 'tsnet devnet');
  const tbs = derSeq(
    der(0xa0, derUInt(Buffer.of(2))), // v3
    derUInt(serial),
    ecdsaWithSha256,
    subject, // issuer = subject
    derSeq(derTime(notBefore), derTime(notAfter)),
    subject,
    spki,
    der(
      0xa3,
      derSeq(
        extension('2.5.29.15', true, der(0x03, Buffer.of(0x07, 0x80))), // keyUsage: digitalSignature
        extension('2.5.29.37', false, derSeq(derOid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
        extension('2.5.29.19', true, derSeq()), // basicConstraints: not a CA
        ...(names.length ? [extension('2.5.29.17', false, san)] : []), // subjectAltName
      ),
    ),
  );
  const sig = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value
  const cert = derSeq(tbs, ecdsaWithSha256, der(0x03, Buffer.of(0), sig));
  return {
    cert: pem('CERTIFICATE', cert),
    key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    der: cert,
    certName: `sha256-raw:${createHash('sha256').update(cert).digest('hex')}`,
    privateKey,
  };
}

/** Subject CN prefix of the DERP "meta certificate" (docs/protocol/derp.md §1, fast start). */
export const DERP_META_CERT_CN_PREFIX = 'derpkey';

/**
 * The meta certificate a DERP server may add to its TLS chain: CN
 * `derpkey<64 hex server public key>`, serial number = protocol version. A
 * Tailscale client that finds it knows the server key before the upgrade and
 * uses `Derp-Fast-Start` (no wait for the HTTP response). Clients skip it when
 * checking a `sha256-raw:` pin.
 */
export function generateDerpMetaCert(serverPublicKey: Uint8Array, protocolVersion: number): SelfSignedCert {
  if (!Number.isInteger(protocolVersion) || protocolVersion < 1 || protocolVersion > 255) throw new RangeError('protocol version must fit in 8 bits');
  return generateSelfSignedCert({
    names: [],
    commonName: DERP_META_CERT_CN_PREFIX + Buffer.from(serverPublicKey).toString('hex'),
    serial: Uint8Array.of(protocolVersion),
  });
}
