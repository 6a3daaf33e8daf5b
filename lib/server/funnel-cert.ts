/**
 * The certificate a Funnel listener serves when listenFunnel is given no tlsConfig: the node's own, for its
 * MagicDNS name, from the node's certificate client (lib/server/cert.ts: ACME through control's set-dns). The
 * Server passes its certificate getter as `source`.
 */
import type * as tls from 'node:tls';
import { certContexts, type CertSource } from './tls.js';

export type { CertSource };

/**
 * TLS options serving the node's certificate for `domain`: fetched once now (so a missing certificate fails
 * listenFunnel, not every handshake), then asked again at each handshake, so a renewed certificate is served
 * without a new listener (certContexts builds one context per certificate).
 */
export async function nodeCertificate(domain: string, source: CertSource | undefined): Promise<tls.TlsOptions> {
  if (!source) {
    throw Object.assign(new Error(`listenFunnel: no certificate for ${domain}: pass options.tlsConfig (key and cert)`), {
      code: 'ERR_TSNET_NO_CERTIFICATE',
    });
  }
  const first = await source(domain);
  // Funnel serves one name (the ingress routed by it); the node's own certificate is for that name.
  const contexts = certContexts(source, () => [domain]);
  return { cert: first.cert, key: first.key, SNICallback: (_servername, cb) => contexts.sniCallback(domain, cb) };
}
