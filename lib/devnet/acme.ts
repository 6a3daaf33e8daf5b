/**
 * The development tailnet's ACME server (RFC 8555) on loopback HTTPS, issuing under the devnet's test CA
 * (acme-ca.ts): directory, new-nonce, new-account (JWS with ES256 or RS256), new-order, authorizations,
 * DNS-01 challenges checked against the TXT records nodes set through control's /machine/set-dns
 * (set-dns.ts), finalize with a CSR, and the certificate chain as PEM. lib/devnet/README.md, "ACME".
 *
 * Every malformed or hostile request gets an RFC 7807 problem document, never a crash.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { generateKeyPairSync, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { isIP } from 'node:net';
import { fromB64u, keyFromJwk, parseJws, thumbprint, verifyJws, dns01Value, type ParsedJws } from '../cert/jws.js';
import { parseCsr } from '../cert/x509.js';
import { TestCA } from './acme-ca.js';
import { BodyTooLargeError, readBody } from './http-util.js';

export interface AcmeServerOptions {
  host: string;
  port?: number;
  /** Lifetime of issued certificates; default 90 days (as Let's Encrypt). */
  certLifetimeMs?: number;
  /** Whether an order may name this DNS name (the devnet: a node's MagicDNS name). */
  allowedName: (name: string) => boolean;
  /** The TXT records of a DNS name, as set through set-dns. */
  txt: (name: string) => readonly string[];
  logf: (msg: string) => void;
}

/** What the ACME server has done (counts since it started), for tests and status. */
export interface AcmeStats {
  accounts: number;
  orders: number;
  certificates: number;
  /** Requests answered with a problem document. */
  problems: number;
}

interface Account {
  id: string;
  jwk: JsonWebKey;
  key: KeyObject;
}

interface Challenge {
  id: string;
  token: string;
  status: 'pending' | 'valid' | 'invalid';
  validated?: string;
  error?: Problem;
}

interface Authz {
  id: string;
  account: string;
  name: string;
  status: 'pending' | 'valid' | 'invalid';
  expires: string;
  challenge: Challenge;
}

interface Order {
  id: string;
  account: string;
  status: 'pending' | 'ready' | 'valid' | 'invalid';
  expires: string;
  names: string[];
  authz: string[];
  cert?: string;
  error?: Problem;
}

interface Problem {
  type: string;
  detail: string;
  status: number;
}

class AcmeProblem extends Error {
  constructor(
    readonly kind: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const MAX_NONCES = 4096;
const MAX_OBJECTS = 10_000;
const MAX_BODY = 64 * 1024;
const DAY = 86400_000;

function lru<V>(m: Map<string, V>, max: number): void {
  while (m.size > max) m.delete(m.keys().next().value as string);
}

export class AcmeServer {
  readonly #opts: AcmeServerOptions;
  readonly ca = new TestCA();
  readonly #https: https.Server;
  readonly #sockets = new Set<Socket>();
  readonly #nonces = new Set<string>();
  readonly #accounts = new Map<string, Account>();
  readonly #byThumb = new Map<string, string>();
  readonly #orders = new Map<string, Order>();
  readonly #authz = new Map<string, Authz>();
  readonly #challenges = new Map<string, string>(); // challenge id → authz id
  readonly #certs = new Map<string, string>();
  readonly stats: AcmeStats = { accounts: 0, orders: 0, certificates: 0, problems: 0 };
  #base = '';
  /** Lifetime of certificates issued from now on (tests shorten it to see renewal). */
  certLifetimeMs: number;
  /** How long before issuance a certificate's notBefore lies (clock skew; tests lengthen it to see renewal). */
  certBackdateMs = 3600_000;

  constructor(opts: AcmeServerOptions) {
    this.#opts = opts;
    this.certLifetimeMs = opts.certLifetimeMs ?? 90 * DAY;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ips = isIP(opts.host) ? [ipBytes(opts.host)] : [];
    const cert = this.ca.issue(privateKey, ['localhost'], 10 * 365 * DAY, ips);
    this.#https = https.createServer({ key: privateKey.export({ format: 'pem', type: 'pkcs8' }), cert: cert + this.ca.certPEM, requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        this.#opts.logf(`devnet acme: ${req.method} ${req.url}: ${(e as Error).stack ?? String(e)}`);
        this.#problem(res, new AcmeProblem('serverInternal', 'internal error', 500));
      });
    });
    this.#https.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
    this.#https.on('tlsClientError', () => {});
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#https.once('error', reject);
      this.#https.listen(this.#opts.port ?? 0, this.#opts.host, () => {
        this.#https.off('error', reject);
        resolve();
      });
    });
    const a = this.#https.address() as AddressInfo;
    this.#base = `https://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  get directoryURL(): string {
    return `${this.#base}/acme/directory`;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#https.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  #url(path: string): string {
    return `${this.#base}/acme/${path}`;
  }

  #nonce(): string {
    const n = randomBytes(16).toString('base64url');
    this.#nonces.add(n);
    if (this.#nonces.size > MAX_NONCES) this.#nonces.delete(this.#nonces.values().next().value as string);
    return n;
  }

  #send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent || res.destroyed) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'application/pem-certificate-chain' : 'application/json',
      'replay-nonce': this.#nonce(),
      'cache-control': 'no-store',
      link: `<${this.directoryURL}>;rel="index"`,
      ...headers,
    });
    res.end(text);
  }

  #problem(res: ServerResponse, p: AcmeProblem): void {
    this.stats.problems++;
    this.#send(res, p.status, { type: `urn:ietf:params:acme:error:${p.kind}`, detail: p.message, status: p.status }, { 'content-type': 'application/problem+json' });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/acme/directory' && req.method === 'GET') {
      return this.#send(res, 200, {
        newNonce: this.#url('new-nonce'),
        newAccount: this.#url('new-account'),
        newOrder: this.#url('new-order'),
        revokeCert: this.#url('revoke-cert'),
        keyChange: this.#url('key-change'),
        meta: { termsOfService: `${this.#base}/acme/terms`, externalAccountRequired: false },
      });
    }
    if (path === '/acme/new-nonce' && (req.method === 'HEAD' || req.method === 'GET')) {
      res.writeHead(req.method === 'HEAD' ? 200 : 204, { 'replay-nonce': this.#nonce(), 'cache-control': 'no-store' });
      return void res.end();
    }
    if (req.method !== 'POST') return this.#problem(res, new AcmeProblem('malformed', `${req.method} ${path}: not an ACME resource`, req.method === 'GET' ? 404 : 405));
    try {
      if (!String(req.headers['content-type'] ?? '').startsWith('application/jose+json')) {
        throw new AcmeProblem('malformed', 'requests must be application/jose+json', 415);
      }
      let raw: Buffer;
      try {
        raw = await readBody(req, MAX_BODY);
      } catch (e) {
        throw new AcmeProblem('malformed', (e as Error).message, e instanceof BodyTooLargeError ? 413 : 400);
      }
      const jws = this.#verify(raw, path);
      await this.#route(res, path, jws);
    } catch (e) {
      if (e instanceof AcmeProblem) return this.#problem(res, e);
      throw e;
    }
  }

  /** Checks the JWS (syntax, algorithm, nonce, URL, key, signature); returns it with its account, if any. */
  #verify(raw: Buffer, path: string): ParsedJws & { account: Account | null } {
    let jws: ParsedJws;
    try {
      jws = parseJws(JSON.parse(raw.toString('utf8')));
    } catch (e) {
      throw new AcmeProblem('malformed', `bad JWS: ${(e as Error).message}`);
    }
    if (jws.alg !== 'ES256' && jws.alg !== 'RS256') throw new AcmeProblem('badSignatureAlgorithm', `algorithm ${JSON.stringify(jws.alg)} is not accepted (ES256, RS256)`);
    // A nonce is good once (RFC 8555 §6.5): consumed here even if the rest fails.
    if (!this.#nonces.delete(jws.nonce)) throw new AcmeProblem('badNonce', 'unknown or already used nonce');
    if (jws.url !== `${this.#base}${path}`) throw new AcmeProblem('unauthorized', `the JWS "url" ${JSON.stringify(jws.url)} is not this request's URL`);
    let key: KeyObject;
    let account: Account | null = null;
    if (jws.jwk) {
      if (path !== '/acme/new-account' && path !== '/acme/revoke-cert') throw new AcmeProblem('malformed', 'only new-account takes a "jwk"; use "kid"');
      try {
        key = keyFromJwk(jws.jwk, jws.alg);
      } catch (e) {
        throw new AcmeProblem('badPublicKey', (e as Error).message);
      }
    } else {
      const id = jws.kid?.startsWith(this.#url('acct/')) ? jws.kid.slice(this.#url('acct/').length) : '';
      account = this.#accounts.get(id) ?? null;
      if (!account) throw new AcmeProblem('accountDoesNotExist', `no account ${JSON.stringify(jws.kid)}`);
      key = account.key;
    }
    if (!verifyJws(jws, key)) throw new AcmeProblem('malformed', 'the JWS signature does not verify');
    return { ...jws, account };
  }

  async #route(res: ServerResponse, path: string, jws: ParsedJws & { account: Account | null }): Promise<void> {
    const m = /^\/acme\/(acct|order|authz|chall|finalize|cert)\/([\w-]{1,64})$/.exec(path);
    if (path === '/acme/new-account') return this.#newAccount(res, jws);
    if (path === '/acme/revoke-cert' || path === '/acme/key-change') {
      throw new AcmeProblem('malformed', `${path.slice(6)} is not implemented by the development ACME server`, 501);
    }
    const acct = jws.account;
    if (!acct) throw new AcmeProblem('malformed', 'this request needs "kid"');
    if (path === '/acme/new-order') return this.#newOrder(res, acct, jws.payload);
    if (!m) throw new AcmeProblem('malformed', `${path}: no such resource`, 404);
    const [, kind, id] = m as unknown as [string, string, string];
    if (kind === 'acct') {
      if (id !== acct.id) throw new AcmeProblem('unauthorized', 'not your account', 403);
      return this.#send(res, 200, { status: 'valid', orders: this.#url(`acct/${id}/orders`) });
    }
    if (kind === 'order') return this.#send(res, 200, this.#orderJSON(this.#own(this.#orders, id, acct)), { location: this.#url(`order/${id}`) });
    if (kind === 'authz') return this.#send(res, 200, this.#authzJSON(this.#own(this.#authz, id, acct)));
    if (kind === 'chall') return this.#challenge(res, acct, id, jws.payload);
    if (kind === 'finalize') return this.#finalize(res, acct, id, jws.payload);
    const order = [...this.#orders.values()].find((o) => o.cert === id);
    const pem = this.#certs.get(id);
    if (!order || !pem || order.account !== acct.id) throw new AcmeProblem('unauthorized', 'no such certificate for this account', 404);
    return this.#send(res, 200, pem);
  }

  #own<T extends { account: string }>(m: Map<string, T>, id: string, acct: Account): T {
    const v = m.get(id);
    if (!v || v.account !== acct.id) throw new AcmeProblem('malformed', 'no such resource for this account', 404);
    return v;
  }

  #newAccount(res: ServerResponse, jws: ParsedJws): void {
    if (!jws.jwk) throw new AcmeProblem('malformed', 'new-account needs "jwk"');
    const p = jws.payload ?? {};
    const thumb = thumbprint(jws.jwk);
    const existing = this.#byThumb.get(thumb);
    if (existing) return this.#send(res, 200, { status: 'valid' }, { location: this.#url(`acct/${existing}`) });
    if (p['onlyReturnExisting'] === true) throw new AcmeProblem('accountDoesNotExist', 'no account for this key');
    if (p['termsOfServiceAgreed'] !== undefined && typeof p['termsOfServiceAgreed'] !== 'boolean') throw new AcmeProblem('malformed', 'termsOfServiceAgreed is not a boolean');
    const id = randomBytes(8).toString('hex');
    this.#accounts.set(id, { id, jwk: jws.jwk, key: keyFromJwk(jws.jwk, jws.alg) });
    this.#byThumb.set(thumb, id);
    this.stats.accounts++;
    return this.#send(res, 201, { status: 'valid', orders: this.#url(`acct/${id}/orders`) }, { location: this.#url(`acct/${id}`) });
  }

  #newOrder(res: ServerResponse, acct: Account, p: Record<string, unknown> | null): void {
    const ids = p?.['identifiers'];
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > 10) throw new AcmeProblem('malformed', 'identifiers must be a list of 1 to 10 identifiers');
    const names: string[] = [];
    for (const i of ids as unknown[]) {
      const o = i as { type?: unknown; value?: unknown } | null;
      if (!o || o.type !== 'dns' || typeof o.value !== 'string') throw new AcmeProblem('unsupportedIdentifier', 'only "dns" identifiers are issued');
      const name = o.value.toLowerCase();
      if (!this.#opts.allowedName(name)) throw new AcmeProblem('rejectedIdentifier', `${JSON.stringify(o.value)} is not a MagicDNS or service name of this tailnet`);
      if (!names.includes(name)) names.push(name);
    }
    const expires = new Date(Date.now() + 7 * DAY).toISOString();
    const orderId = randomBytes(8).toString('hex');
    const authz = names.map((name) => {
      const a: Authz = {
        id: randomBytes(8).toString('hex'),
        account: acct.id,
        name,
        status: 'pending',
        expires,
        challenge: { id: randomBytes(8).toString('hex'), token: randomBytes(32).toString('base64url'), status: 'pending' },
      };
      this.#authz.set(a.id, a);
      this.#challenges.set(a.challenge.id, a.id);
      return a.id;
    });
    const order: Order = { id: orderId, account: acct.id, status: 'pending', expires, names, authz };
    this.#orders.set(orderId, order);
    this.#trim();
    this.stats.orders++;
    this.#opts.logf(`devnet acme: order ${orderId} for ${names.join(', ')}`);
    return this.#send(res, 201, this.#orderJSON(order), { location: this.#url(`order/${orderId}`) });
  }

  #challenge(res: ServerResponse, acct: Account, id: string, p: Record<string, unknown> | null): void {
    const a = this.#own(this.#authz, this.#challenges.get(id) ?? '', acct);
    const ch = a.challenge;
    // An empty object asks us to validate; POST-as-GET (no payload) only reads.
    if (p !== null && ch.status === 'pending' && a.status === 'pending') {
      const want = dns01Value(ch.token, acct.jwk);
      const rec = `_acme-challenge.${a.name}`;
      if (this.#opts.txt(rec).includes(want)) {
        ch.status = 'valid';
        ch.validated = new Date().toISOString();
        a.status = 'valid';
      } else {
        ch.status = 'invalid';
        ch.error = { type: 'urn:ietf:params:acme:error:unauthorized', detail: `no TXT record ${rec} with the expected value (set it with control's set-dns)`, status: 403 };
        a.status = 'invalid';
      }
      for (const o of this.#orders.values()) {
        if (o.status !== 'pending' || !o.authz.includes(a.id)) continue;
        const all = o.authz.map((x) => this.#authz.get(x)?.status);
        if (all.includes('invalid')) {
          o.status = 'invalid';
          o.error = ch.error;
        } else if (all.every((s) => s === 'valid')) o.status = 'ready';
      }
    }
    return this.#send(res, 200, this.#challengeJSON(ch), { link: `<${this.#url(`authz/${a.id}`)}>;rel="up"` });
  }

  #finalize(res: ServerResponse, acct: Account, id: string, p: Record<string, unknown> | null): void {
    const o = this.#own(this.#orders, id, acct);
    if (o.status !== 'ready') throw new AcmeProblem('orderNotReady', `the order is ${o.status}, not ready`, 403);
    let csr;
    try {
      csr = parseCsr(fromB64u(p?.['csr'], 'csr'));
    } catch (e) {
      throw new AcmeProblem('badCSR', `bad CSR: ${(e as Error).message}`);
    }
    const asked = new Set([...csr.dnsNames, ...(csr.commonName ? [csr.commonName] : [])].map((n) => n.toLowerCase()));
    const want = new Set(o.names);
    if (asked.size !== want.size || [...asked].some((n) => !want.has(n))) {
      throw new AcmeProblem('badCSR', `the CSR names ${[...asked].join(', ')}; the order is for ${o.names.join(', ')}`);
    }
    const pem = this.ca.issue(csr.publicKey, o.names, this.certLifetimeMs, [], this.certBackdateMs);
    const certId = randomBytes(8).toString('hex');
    this.#certs.set(certId, pem + this.ca.certPEM);
    lru(this.#certs, MAX_OBJECTS);
    o.cert = certId;
    o.status = 'valid';
    this.stats.certificates++;
    return this.#send(res, 200, this.#orderJSON(o), { location: this.#url(`order/${o.id}`) });
  }

  #trim(): void {
    lru(this.#orders, MAX_OBJECTS);
    while (this.#authz.size > MAX_OBJECTS) {
      const [id, a] = this.#authz.entries().next().value as [string, Authz];
      this.#authz.delete(id);
      this.#challenges.delete(a.challenge.id);
    }
  }

  #orderJSON(o: Order): Record<string, unknown> {
    return {
      status: o.status,
      expires: o.expires,
      identifiers: o.names.map((value) => ({ type: 'dns', value })),
      authorizations: o.authz.map((id) => this.#url(`authz/${id}`)),
      finalize: this.#url(`finalize/${o.id}`),
      ...(o.cert ? { certificate: this.#url(`cert/${o.cert}`) } : {}),
      ...(o.error ? { error: o.error } : {}),
    };
  }

  #authzJSON(a: Authz): Record<string, unknown> {
    return { identifier: { type: 'dns', value: a.name }, status: a.status, expires: a.expires, challenges: [this.#challengeJSON(a.challenge)] };
  }

  #challengeJSON(c: Challenge): Record<string, unknown> {
    return {
      type: 'dns-01',
      url: this.#url(`chall/${c.id}`),
      token: c.token,
      status: c.status,
      ...(c.validated ? { validated: c.validated } : {}),
      ...(c.error ? { error: c.error } : {}),
    };
  }
}

function ipBytes(ip: string): Uint8Array {
  if (isIP(ip) === 4) return Uint8Array.from(ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return Buffer.from(groups.map((g) => g.padStart(4, '0')).join(''), 'hex');
}
