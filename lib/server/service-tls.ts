/**
 * A Tailscale Service served over TLS (docs/services.md, "HTTPS services"): Go's ServiceModeHTTP.HTTPS and
 * ServiceModeTCP.TerminateTLS. The connections a ServiceListener takes on the service's VIPs are TLS server
 * sockets with the certificate of the service's FQDN (the only name served, as Tailscale's serve proxy
 * permits), from the node's ACME certificates (cert.ts); the application reads them decrypted.
 */
import type * as http from 'node:http';
import type * as net from 'node:net';
import type { CertPair } from './cert.js';
import { certLayer } from './layers.js';
import { addIdentityHeaders } from './service-http.js';
import type { ServiceListener } from './service-listener.js';
import { TLSListener } from './tls.js';
import type { WhoIs } from './types.js';

/** A ServiceListener whose connections are TLS sockets for the service's FQDN (made by listenService). */
export class ServiceTLSListener extends TLSListener {
  /** The service's fully qualified domain name ("web.example.ts.net"), the name its certificate is for. */
  readonly fqdn: string;
  readonly service: string;
  readonly mode: 'tcp' | 'http';
  readonly #whoIs: ((s: net.Socket) => WhoIs | null) | undefined;

  /** @internal made by Server.listenService */
  constructor(inner: ServiceListener, certPair: (domain: string) => Promise<CertPair>, whoIs?: (s: net.Socket) => WhoIs | null) {
    const fqdn = inner.fqdn;
    // Only the service's name: a client asking (SNI) for the node's own name or another gets no certificate.
    const source = (d: string): Promise<CertPair> => (d.replace(/\.$/, '').toLowerCase() === fqdn ? certPair(fqdn) : Promise.reject(certLayer().certDomainError(d, [fqdn])));
    super(inner, source, () => [fqdn], inner.mode === 'http' ? { ALPNProtocols: ['http/1.1'] } : {});
    this.fqdn = fqdn;
    this.service = inner.service;
    this.mode = inner.mode;
    this.#whoIs = whoIs;
  }

  /** As TLSListener#serve; in HTTP mode requests also get the serve proxy's identity headers (service-http.ts). */
  override serve<S extends net.Server>(server: S): S {
    if (this.mode === 'http' && this.#whoIs && typeof (server as unknown as http.Server).setTimeout === 'function') {
      addIdentityHeaders(server as unknown as http.Server, this.#whoIs);
    }
    return super.serve(server);
  }

  /** Go's Addr(): the FQDN and port. */
  addr(): string {
    return `${this.fqdn}:${this.address().port}`;
  }
}
