// Wires the ACME server (acme.ts) into the devnet: names it may issue for are the MagicDNS names of the
// tailnet's authorized nodes and the names of services they host, and its DNS-01 records are those nodes set
// through set-dns (set-dns.ts), each for its own names only.
import { AcmeServer, type AcmeStats } from './acme.js';
import { fqdn } from './netmap.js';
import { handleSetDNS, TxtRecords } from './set-dns.js';
import type { DevnetState } from './state.js';
import type { DevnetNode } from './types.js';

export interface DevnetAcmeOptions {
  /** Lifetime of issued certificates in ms; default 90 days. Also settable later (DevnetAcme.certLifetimeMs). */
  certLifetimeMs?: number;
}

/** The devnet's ACME server, as clients and tests see it. */
export interface DevnetAcme {
  /** The ACME directory URL (https on the devnet's host), e.g. for TS_DEBUG_ACME_DIRECTORY_URL. */
  readonly directoryURL: string;
  /** The test CA's root certificate (PEM): trust it to verify the devnet's certificates and its ACME server. */
  readonly caPEM: string;
  /** Counts: accounts, orders, certificates issued, problem answers. */
  readonly stats: Readonly<AcmeStats>;
  /** Lifetime of certificates issued from now on, in ms (short ones let tests see renewal). */
  certLifetimeMs: number;
  /** How long before issuance a new certificate's notBefore lies, in ms; default 1 h. */
  certBackdateMs: number;
}

export async function startDevnetAcme(
  state: DevnetState,
  domain: string,
  host: string,
  opts: DevnetAcmeOptions,
  logf: (m: string) => void,
  serviceNames: (n: DevnetNode) => string[] = () => [],
): Promise<{ info: DevnetAcme; setDNS: (machineKey: string, body: Record<string, unknown>) => [number, string] | null; close: () => Promise<void> }> {
  if (opts.certLifetimeMs !== undefined && (!Number.isInteger(opts.certLifetimeMs) || opts.certLifetimeMs < 1000)) {
    throw new RangeError(`devnet acme.certLifetimeMs must be an integer of at least 1000, got ${String(opts.certLifetimeMs)}`);
  }
  const records = new TxtRecords();
  const server = new AcmeServer({
    host,
    ...(opts.certLifetimeMs !== undefined ? { certLifetimeMs: opts.certLifetimeMs } : {}),
    allowedName: (name) => state.allNodes().some((n) => n.authorized && (fqdn(n, domain).replace(/\.$/, '') === name || serviceNames(n).includes(name))),
    txt: (name) => records.get(name),
    logf,
  });
  await server.listen();
  logf(`devnet: ACME directory at ${server.directoryURL}`);
  const info: DevnetAcme = {
    directoryURL: server.directoryURL,
    caPEM: server.ca.certPEM,
    stats: server.stats,
    get certLifetimeMs() {
      return server.certLifetimeMs;
    },
    get certBackdateMs() {
      return server.certBackdateMs;
    },
    set certBackdateMs(ms: number) {
      if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`certBackdateMs must be a non-negative integer, got ${String(ms)}`);
      server.certBackdateMs = ms;
    },
    set certLifetimeMs(ms: number) {
      if (!Number.isInteger(ms) || ms < 1000) throw new RangeError(`certLifetimeMs must be an integer of at least 1000, got ${String(ms)}`);
      server.certLifetimeMs = ms;
    },
  };
  return {
    info,
    setDNS: (machineKey, body) => handleSetDNS(state, domain, records, machineKey, body, serviceNames),
    close: () => server.close(),
  };
}
