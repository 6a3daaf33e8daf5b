// The development tailnet's test certificate authority: a self-signed ECDSA P-256 root, made fresh for each
// devnet, that signs node certificates for the ACME server and the ACME server's own HTTPS certificate.
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { name, pem } from '../cert/der.js';
import { issueCertificate } from '../cert/x509.js';

export class TestCA {
  readonly #key: KeyObject;
  readonly #name: Buffer;
  /** The root certificate, PEM: what clients trust. */
  readonly certPEM: string;

  constructor() {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#key = privateKey;
    this.#name = name('tsnet devnet test CA', 'tsnet development tailnet (not trusted anywhere else)');
    const now = Date.now();
    const der = issueCertificate({
      publicKey: privateKey,
      subjectCN: '',
      dnsNames: [],
      notBefore: new Date(now - 3600_000),
      notAfter: new Date(now + 10 * 365 * 86400_000),
      issuer: this.#name,
      issuerKey: privateKey,
      isCA: true,
    });
    this.certPEM = pem('CERTIFICATE', der);
    // Parsing it back checks what we built.
    new X509Certificate(this.certPEM);
  }

  /** A leaf certificate (PEM) for `publicKey`, valid from `backdateMs` ago (clock skew) for `lifetimeMs` from now. */
  issue(publicKey: KeyObject, dnsNames: readonly string[], lifetimeMs: number, ipAddresses: readonly Uint8Array[] = [], backdateMs = 3600_000): string {
    const now = Date.now();
    const der = issueCertificate({
      publicKey,
      subjectCN: dnsNames[0] ?? '',
      dnsNames,
      ipAddresses,
      notBefore: new Date(now - backdateMs),
      notAfter: new Date(now + lifetimeMs),
      issuer: this.#name,
      issuerKey: this.#key,
    });
    return pem('CERTIFICATE', der);
  }
}
