// Parsing of the network/address pairs that dial and listen take, in Go's style ("tcp", "100.64.0.1:80").
import * as fs from 'node:fs';
import { isIP } from '../wire/ip-literal.js';
import { splitHostPort as splitHostPortText } from '../wire/ip.js';

export type TcpNetwork = 'tcp' | 'tcp4' | 'tcp6';
export type UdpNetwork = 'udp' | 'udp4' | 'udp6';
export type Network = TcpNetwork | UdpNetwork;

export interface HostPort {
  host: string; // '' means any address (listen only)
  port: number;
}

/**
 * Splits "host:port", "[v6]:port" or ":port" (the syntax is wire/ip.ts's) and resolves the port: a number or a
 * service name. Throws TypeError/RangeError on malformed input.
 */
export function splitHostPort(address: string): HostPort {
  const { host, port: portText } = splitHostPortText(address);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : lookupPort(portText);
  if (port === undefined) throw new TypeError(`malformed port in "${address}": not a number or a known service name`);
  if (port > 65535) throw new RangeError(`port ${port} out of range 0..65535 in "${address}"`);
  return { host, port };
}

export function checkNetwork(network: string, allowed: readonly string[]): void {
  if (!allowed.includes(network)) {
    throw new TypeError(`unsupported network "${network}": expected one of ${allowed.map((n) => `"${n}"`).join(', ')}`);
  }
}

/** The family a network name restricts to: 0 (either), 4 or 6. */
export function networkFamily(network: string): 0 | 4 | 6 {
  return network.endsWith('4') ? 4 : network.endsWith('6') ? 6 : 0;
}

export function ipFamily(host: string): 0 | 4 | 6 {
  return isIP(host);
}

// Service names as Go's net.LookupPort accepts them: /etc/services when the system has one, else (and for
// these) the common ones, so "http" means 80 everywhere.
const WELL_KNOWN: Record<string, number> = { ftp: 21, ssh: 22, telnet: 23, smtp: 25, domain: 53, dns: 53, http: 80, www: 80, pop3: 110, ntp: 123, imap: 143, snmp: 161, ldap: 389, https: 443, smtps: 465, submission: 587, imaps: 993, pop3s: 995, socks: 1080, mysql: 3306, postgresql: 5432, redis: 6379 };
let services: Map<string, number> | undefined;

function lookupPort(name: string): number | undefined {
  if (!/^[A-Za-z][\w.-]{0,63}$/.test(name)) return undefined;
  const key = name.toLowerCase();
  if (WELL_KNOWN[key] !== undefined) return WELL_KNOWN[key];
  if (!services) {
    services = new Map();
    try {
      for (const line of fs.readFileSync('/etc/services', 'utf8').split('\n')) {
        const m = /^([\w.-]+)\s+(\d+)\/(?:tcp|udp)((?:\s+[\w.-]+)*)/.exec(line.replace(/#.*/, ''));
        if (!m) continue;
        for (const n of [m[1]!, ...(m[3] ?? '').trim().split(/\s+/).filter(Boolean)]) {
          if (!services.has(n.toLowerCase())) services.set(n.toLowerCase(), Number(m[2]));
        }
      }
    } catch {
      /* no /etc/services: the built-in names only */
    }
  }
  return services.get(key);
}

/** The unspecified addresses mean "every address of this node", as an empty host does (tsnet). */
export function normalizeListenHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '' : host;
}
