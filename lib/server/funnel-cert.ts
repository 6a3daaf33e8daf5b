/**
 * The certificate a Funnel listener serves when listenFunnel is given no tlsConfig: the node's own, for its
 * MagicDNS name. This is the one seam to the node's certificate client (ACME through control's set-dns, issue
 * 16); until it is wired, a Funnel listener needs an explicit tlsConfig.
 */
import type * as tls from 'node:tls';

export async function nodeCertificate(domain: string): Promise<tls.TlsOptions> {
  throw Object.assign(
    new Error(`listenFunnel: no certificate for ${domain}: pass options.tlsConfig (key and cert) until the node gets its own certificates`),
    { code: 'ERR_TSNET_NO_CERTIFICATE' },
  );
}
