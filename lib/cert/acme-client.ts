// An RFC 8555 ACME client for one job, as tailscaled does it (docs/certificates.md): account (ECDSA P-256 key),
// order for one DNS name, the DNS-01 challenge placed by a callback (control's set-dns), finalize with a CSR
// for a fresh P-256 key, and the certificate chain as PEM.
import http from 'node:http';
import https from 'node:https';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { dns01Value, publicJwk, signJws } from './jws.js';
import { pem } from './der.js';
import { createCsr } from './x509.js';

/** Let's Encrypt's production directory, the default as in tailscaled. */
import { AcmeError, type AcmeProblem } from './acme-error.js';

export { AcmeError, LETS_ENCRYPT_DIRECTORY, type AcmeProblem } from './acme-error.js';

export interface ObtainOptions {
  directoryURL: string;
  /** Extra trusted roots (PEM) for the ACME server's HTTPS, e.g. a development CA; default: Node's. */
  ca?: string;
  accountKey: KeyObject;
  domain: string;
  /** Places the TXT record `name` = `value` (control's set-dns); resolves once placed. */
  setTXT: (name: string, value: string) => Promise<void>;
  signal: AbortSignal;
  log?: (msg: string) => void;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const MAX_REPLY = 1024 * 1024;

function request(url: string, method: string, ca: string | undefined, signal: AbortSignal, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
    if (!mod) return reject(new AcmeError(`ACME URL ${url} is neither https nor http`));
    let req: http.ClientRequest;
    try {
      req = mod.request(
      u,
      {
        method,
        signal,
        headers: { 'user-agent': 'tsnet-node', ...(body ? { 'content-type': 'application/jose+json', 'content-length': body.length } : {}) },
        ...(ca && u.protocol === 'https:' ? { ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (n > MAX_REPLY) res.destroy(new AcmeError(`ACME reply from ${url} is larger than ${MAX_REPLY} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    } catch (e) {
      return reject(new AcmeError(`ACME request to ${url} failed: ${(e as Error).message}`));
    }
    req.on('error', (e: Error & { code?: string }) => reject(e instanceof AcmeError || e.name === 'AbortError' ? e : new AcmeError(`ACME request to ${url} failed: ${e.code ?? ''} ${e.message}`.trim())));
    req.end(body);
  });
}

function json(r: Reply, what: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(r.body.toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* below */
  }
  throw new AcmeError(`ACME ${what}: the reply (HTTP ${r.status}) is not a JSON object`);
}

function problemOf(r: Reply): AcmeProblem | undefined {
  try {
    const p = JSON.parse(r.body.toString('utf8')) as Partial<AcmeProblem>;
    if (typeof p.type === 'string') return { type: p.type, detail: typeof p.detail === 'string' ? p.detail : '', ...(typeof p.status === 'number' ? { status: p.status } : {}) };
  } catch {
    /* not a problem document */
  }
  return undefined;
}

function str(o: Record<string, unknown>, k: string, what: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new AcmeError(`ACME ${what}: no "${k}" in the reply`);
  return v;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

class Session {
  #nonce: string | undefined;
  #kid: string | undefined;
  #dir: Record<string, unknown> = {};

  constructor(private readonly o: ObtainOptions) {}

  async directory(): Promise<void> {
    const r = await request(this.o.directoryURL, 'GET', this.o.ca, this.o.signal);
    if (r.status !== 200) throw new AcmeError(`ACME directory ${this.o.directoryURL}: HTTP ${r.status}`, problemOf(r));
    this.#dir = json(r, 'directory');
  }

  url(k: 'newNonce' | 'newAccount' | 'newOrder'): string {
    return str(this.#dir, k, 'directory');
  }

  async #freshNonce(): Promise<string> {
    const r = await request(this.url('newNonce'), 'HEAD', this.o.ca, this.o.signal);
    const n = r.headers['replay-nonce'];
    if (typeof n !== 'string') throw new AcmeError('ACME new-nonce: no Replay-Nonce header');
    return n;
  }

  /** A signed POST (payload '' = POST-as-GET); retries once on badNonce; throws AcmeError on a problem. */
  async post(url: string, payload: object | '', what: string, ok: number[] = [200, 201]): Promise<Reply> {
    for (let attempt = 0; ; attempt++) {
      const nonce = this.#nonce ?? (await this.#freshNonce());
      this.#nonce = undefined;
      const jws = signJws(this.o.accountKey, { url, nonce, ...(this.#kid ? { kid: this.#kid } : {}) }, payload);
      const r = await request(url, 'POST', this.o.ca, this.o.signal, Buffer.from(JSON.stringify(jws)));
      const n = r.headers['replay-nonce'];
      if (typeof n === 'string') this.#nonce = n;
      if (ok.includes(r.status)) return r;
      const p = problemOf(r);
      if (p?.type === 'urn:ietf:params:acme:error:badNonce' && attempt === 0) continue;
      throw new AcmeError(`ACME ${what}: ${p ? `${p.type.replace('urn:ietf:params:acme:error:', '')}: ${p.detail}` : `HTTP ${r.status}`}`, p);
    }
  }

  async account(): Promise<void> {
    const r = await this.post(this.url('newAccount'), { termsOfServiceAgreed: true }, 'new-account');
    const loc = r.headers.location;
    if (typeof loc !== 'string') throw new AcmeError('ACME new-account: no Location header');
    const status = json(r, 'new-account')['status'];
    if (status !== undefined && status !== 'valid') throw new AcmeError(`ACME account status is ${String(status)}`);
    this.#kid = loc;
  }

  /** Polls an order until its status is one of `want`; an invalid order is an AcmeError with its error. */
  async waitOrder(url: string, want: string[]): Promise<Record<string, unknown>> {
    for (let i = 0, wait = 250; ; i++, wait = Math.min(wait * 2, 5000)) {
      const o = json(await this.post(url, '', 'order'), 'order');
      const s = o['status'];
      if (typeof s === 'string' && want.includes(s)) return o;
      if (s === 'invalid') {
        const e = o['error'] as AcmeProblem | undefined;
        throw new AcmeError(`ACME order is invalid${e?.detail ? `: ${e.detail}` : ''}`, e && typeof e.type === 'string' ? e : undefined);
      }
      if (i >= 40) throw new AcmeError(`ACME order still ${String(s)} after ${i} checks`);
      await delay(wait, this.o.signal);
    }
  }
}

/** Runs the ACME exchange for `domain`; resolves to the certificate chain and its new key, both PEM. */
export async function obtainCertificate(o: ObtainOptions): Promise<{ certPEM: string; keyPEM: string }> {
  const log = o.log ?? ((): void => {});
  const s = new Session(o);
  await s.directory();
  await s.account();
  const ord = await s.post(s.url('newOrder'), { identifiers: [{ type: 'dns', value: o.domain }] }, 'new-order', [201]);
  const orderURL = ord.headers.location;
  if (typeof orderURL !== 'string') throw new AcmeError('ACME new-order: no Location header');
  let order = json(ord, 'new-order');
  log(`acme: order for ${o.domain}`);
  const authzs = order['authorizations'];
  if (!Array.isArray(authzs)) throw new AcmeError('ACME new-order: no authorizations');
  const { jwk } = publicJwk(o.accountKey);
  for (const a of authzs as unknown[]) {
    if (typeof a !== 'string') throw new AcmeError('ACME new-order: an authorization is not a URL');
    const az = json(await s.post(a, '', 'authorization'), 'authorization');
    if (az['status'] === 'valid') continue;
    const ch = (Array.isArray(az['challenges']) ? (az['challenges'] as Record<string, unknown>[]) : []).find((c) => c?.['type'] === 'dns-01');
    if (!ch) throw new AcmeError(`ACME: the server offers no dns-01 challenge for ${o.domain}`);
    await o.setTXT(`_acme-challenge.${o.domain}`, dns01Value(str(ch, 'token', 'challenge'), jwk));
    log('acme: TXT record set; accepting the challenge');
    await s.post(str(ch, 'url', 'challenge'), {}, 'challenge');
  }
  order = await s.waitOrder(orderURL, ['ready']);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csr = createCsr(privateKey, o.domain).toString('base64url');
  await s.post(str(order, 'finalize', 'order'), { csr }, 'finalize');
  order = await s.waitOrder(orderURL, ['valid']);
  const cr = await s.post(str(order, 'certificate', 'order'), '', 'certificate');
  const certPEM = cr.body.toString('utf8');
  if (!certPEM.includes('-----BEGIN CERTIFICATE-----')) throw new AcmeError('ACME certificate: the reply holds no PEM certificate');
  const keyPEM = pem('EC PRIVATE KEY', privateKey.export({ format: 'der', type: 'sec1' }));
  log(`acme: certificate for ${o.domain} issued`);
  return { certPEM, keyPEM };
}
