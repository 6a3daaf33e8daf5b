/**
 * The certificate a Funnel listener serves when listenFunnel is given no tlsConfig: the node's own, for its
 * MagicDNS name, from the node's certificate client (ACME through control's set-dns, issue 16). This is the one
 * seam to it: the Server passes its certificate getter as `source`; without one, listenFunnel needs a tlsConfig.
 */
import * as tls from 'node:tls';

/** Gets the node's certificate chain and key (PEM) for a domain; cached and renewed by its owner. */
export type CertSource = (domain: string) => Promise<{ cert: string; key: string }>;

/**
 * TLS options serving the node's certificate for `domain`: fetched once now (so a missing certificate fails
 * listenFunnel, not every handshake), then asked again at each handshake (SNICallback), so a renewed certificate
 * is served without a new listener. A context is built once per certificate.
 */
export async function nodeCertificate(domain: string, source: CertSource | undefined): Promise<tls.TlsOptions> {
  if (!source) {
    throw Object.assign(
      new Error(`listenFunnel: no certificate for ${domain}: pass options.tlsConfig (key and cert) until the node gets its own certificates`),
      { code: 'ERR_TSNET_NO_CERTIFICATE' },
    );
  }
  const first = await source(domain);
  let cached = { cert: first.cert, ctx: tls.createSecureContext({ cert: first.cert, key: first.key }) };
  return {
    cert: first.cert,
    key: first.key,
    SNICallback: (_servername, cb) => {
      // Funnel serves one name (the ingress routed by it); the node's own certificate is for that name.
      source(domain).then(
        (p) => {
          if (p.cert !== cached.cert) cached = { cert: p.cert, ctx: tls.createSecureContext({ cert: p.cert, key: p.key }) };
          cb(null, cached.ctx);
        },
        (err: Error) => cb(err),
      );
    },
  };
}
