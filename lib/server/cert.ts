// The node's HTTPS certificates, as tailscaled keeps them (docs/certificates.md): issued by ACME with the DNS-01
// challenge placed through control's set-dns, cached in the node's Store ("<domain>.crt", "<domain>.key",
// "acme-account.key.pem"), reused while valid, renewed in the background once 2/3 of the lifetime has passed,
// and one issuance at a time per domain however many callers ask.
import { readFile } from 'node:fs/promises';
import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import type { Store } from '../control/store.js';
import { CAPABILITY_VERSION, type ControlClient } from '../control/client.js';
import { nodePublicToText } from '../wire/keys.js';
import { pem } from '../cert/der.js';
import { AcmeError, LETS_ENCRYPT_DIRECTORY, obtainCertificate } from '../cert/acme-client.js';
import type { Logger } from '../util/log.js';

/** A certificate chain and its private key, PEM (what tls.createSecureContext takes as cert and key). */
export interface CertPair {
  cert: string;
  key: string;
}

/** What the Server tells about a certificate it got ('cert' event). */
export interface CertEvent {
  domain: string;
  notAfter: Date;
  /** A cached certificate was replaced ahead of expiry. */
  renewed: boolean;
}

export interface CertManagerDeps {
  store: Store;
  /** The netmap's CertDomains (and the node's own name), checked before asking ACME. */
  certDomains: () => string[];
  /** Places a TXT record through control's /machine/set-dns. */
  setDNS: (name: string, value: string) => Promise<void>;
  directoryURL?: string;
  /** Roots (PEM) for the ACME server's HTTPS, or a file of them read at each issuance (SSL_CERT_FILE). */
  ca?: string;
  caFile?: string;
  log: Logger;
  onIssued: (e: CertEvent) => void;
}

const ACCOUNT_KEY = 'acme-account.key.pem';
const ISSUE_TIMEOUT_MS = 5 * 60_000;

/** ERR_TSNET_CERT_DOMAIN: the node may not get a certificate for this name. */
export function certDomainError(domain: string, allowed: readonly string[]): Error & { code: string } {
  const why =
    allowed.length === 0
      ? 'this tailnet does not give this node HTTPS certificates (no certDomains; enable HTTPS in the admin console)'
      : `invalid domain ${JSON.stringify(domain)}; ${allowed.length === 1 ? `only ${JSON.stringify(allowed[0])} is` : `one of ${allowed.map((d) => JSON.stringify(d)).join(', ')} is`} permitted`;
  return Object.assign(new Error(`certificate: ${why}`), { code: 'ERR_TSNET_CERT_DOMAIN' });
}

/** Looks like a DNS name we could ask for (and use in a store key): the light check tailscaled makes first. */
function validLooking(d: string): boolean {
  return d.length > 0 && d.length <= 253 && d.includes('.') && !d.includes('..') && !/[:/\\\0\s]/.test(d);
}

interface Cached {
  pair: CertPair;
  notBefore: number;
  notAfter: number;
}

export class CertManager {
  readonly #d: CertManagerDeps;
  readonly #inflight = new Map<string, Promise<CertPair>>();
  readonly #lastRenewCheck = new Map<string, number>();

  constructor(deps: CertManagerDeps) {
    this.#d = deps;
  }

  get directoryURL(): string {
    return this.#d.directoryURL ?? LETS_ENCRYPT_DIRECTORY;
  }

  /** The certificate for `domain`: cached if valid (renewing in the background when due), else a new one. */
  async get(domain: string): Promise<CertPair> {
    domain = domain.replace(/\.$/, '').toLowerCase();
    if (!validLooking(domain)) throw Object.assign(new TypeError(`certificate: invalid domain ${JSON.stringify(domain)}`), { code: 'ERR_TSNET_CERT_DOMAIN' });
    const allowed = this.#d.certDomains();
    if (!allowed.includes(domain)) throw certDomainError(domain, allowed);
    const now = Date.now();
    const c = await this.#cached(domain, now);
    if (c) {
      // As tailscaled: renew once 2/3 of the lifetime has passed, checking at most once a minute per domain.
      const due = now > c.notBefore + ((c.notAfter - c.notBefore) * 2) / 3;
      const last = this.#lastRenewCheck.get(domain) ?? -Infinity;
      if (due && (this.#inflight.has(domain) || now - last >= 60_000)) {
        this.#lastRenewCheck.set(domain, now);
        this.#issue(domain, true).catch((e: unknown) => this.#d.log.warn('certificate renewal failed', { domain, error: (e as Error).message }));
      }
      return c.pair;
    }
    return this.#issue(domain, false);
  }

  async #cached(domain: string, now: number): Promise<Cached | null> {
    const [cert, key] = await Promise.all([this.#d.store.get(`${domain}.crt`), this.#d.store.get(`${domain}.key`)]);
    if (!cert || !key) return null;
    try {
      const pair = { cert: cert.toString('utf8'), key: key.toString('utf8') };
      const leaf = new X509Certificate(pair.cert);
      const notBefore = Date.parse(leaf.validFrom);
      const notAfter = Date.parse(leaf.validTo);
      if (!(now >= notBefore && now < notAfter) || !leaf.checkHost(domain) || !leaf.checkPrivateKey(createPrivateKey(pair.key))) return null;
      return { pair, notBefore, notAfter };
    } catch {
      return null; // unreadable: issue a new one
    } finally {
      key.fill(0);
    }
  }

  #issue(domain: string, renewal: boolean): Promise<CertPair> {
    let p = this.#inflight.get(domain);
    if (!p) {
      p = this.#obtain(domain, renewal).finally(() => this.#inflight.delete(domain));
      this.#inflight.set(domain, p);
    }
    return p;
  }

  async #obtain(domain: string, renewal: boolean): Promise<CertPair> {
    this.#d.log.info(renewal ? 'renewing certificate' : 'getting a certificate', { domain, acme: this.directoryURL });
    const accountKey = await this.#accountKey();
    let ca = this.#d.ca;
    if (ca === undefined && this.#d.caFile) {
      try {
        ca = await readFile(this.#d.caFile, 'utf8');
      } catch (e) {
        throw new AcmeError(`cannot read the ACME server's roots from ${this.#d.caFile} (SSL_CERT_FILE): ${(e as Error).message}`);
      }
    }
    const { certPEM, keyPEM } = await this.#exchange(domain, accountKey, ca);
    await this.#d.store.set(`${domain}.key`, Buffer.from(keyPEM));
    await this.#d.store.set(`${domain}.crt`, Buffer.from(certPEM));
    const notAfter = new Date(new X509Certificate(certPEM).validTo);
    this.#d.onIssued({ domain, notAfter, renewed: renewal });
    return { cert: certPEM, key: keyPEM };
  }

  // Whatever fails in the exchange (a timeout, a reset connection) is ERR_TSNET_ACME, with the cause.
  async #exchange(domain: string, accountKey: KeyObject, ca: string | undefined): Promise<{ certPEM: string; keyPEM: string }> {
    try {
      return await obtainCertificate({
        directoryURL: this.directoryURL,
        ...(ca ? { ca } : {}),
        accountKey,
        domain,
        setTXT: (name, value) =>
          this.#d.setDNS(name, value).catch((e: unknown) => {
            throw new AcmeError(`set-dns ${name} failed: ${(e as Error).message}`);
          }),
        signal: AbortSignal.timeout(ISSUE_TIMEOUT_MS),
        log: (m) => this.#d.log.debug(m, { domain }),
      });
    } catch (e) {
      if (e instanceof AcmeError) throw e;
      const err = e as Error;
      throw Object.assign(new AcmeError(`ACME for ${domain} failed: ${err.name === 'TimeoutError' || err.name === 'AbortError' ? `no certificate within ${ISSUE_TIMEOUT_MS / 1000} s` : err.message}`), { cause: e });
    }
  }

  async #accountKey(): Promise<KeyObject> {
    const saved = await this.#d.store.get(ACCOUNT_KEY);
    if (saved) {
      try {
        return createPrivateKey(saved.toString('utf8'));
      } catch {
        throw new AcmeError(`the stored ACME account key (${ACCOUNT_KEY}) is unreadable`);
      } finally {
        saved.fill(0);
      }
    }
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await this.#d.store.set(ACCOUNT_KEY, Buffer.from(pem('EC PRIVATE KEY', privateKey.export({ format: 'der', type: 'sec1' }))));
    return privateKey;
  }
}

/**
 * The Server's certificate manager: set-dns over its control connection, the directory and roots from its
 * options or the environment (TS_DEBUG_ACME_DIRECTORY_URL, SSL_CERT_FILE; docs/certificates.md).
 */
export function serverCertManager(
  o: { acmeDirectoryURL?: string; acmeCA?: string },
  store: Store,
  control: ControlClient,
  certDomains: () => string[],
  log: Logger,
  onIssued: (e: CertEvent) => void,
): CertManager {
  const dir = o.acmeDirectoryURL ?? (process.env.TS_DEBUG_ACME_DIRECTORY_URL || undefined);
  return new CertManager({
    store,
    certDomains,
    setDNS: async (name, value) => {
      const pub = control.nodePublic;
      if (!pub) throw new AcmeError('set-dns: the node has no key yet');
      await control.postJSON('/machine/set-dns', { Version: CAPABILITY_VERSION, NodeKey: nodePublicToText(pub), Name: name, Type: 'TXT', Value: value }, AbortSignal.timeout(30_000));
    },
    ...(dir ? { directoryURL: dir } : {}),
    ...(o.acmeCA ? { ca: o.acmeCA } : process.env.SSL_CERT_FILE ? { caFile: process.env.SSL_CERT_FILE } : {}),
    log,
    onIssued,
  });
}
