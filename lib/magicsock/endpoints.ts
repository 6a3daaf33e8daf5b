/**
 * The endpoints a node reports to control (docs/protocol/magicsock.md §4): its local
 * interface addresses (type 1) and STUN-mapped ones (type 2). Rules from
 * Tailscale's net/netmon/state.go LocalAddresses and wgengine/magicsock.
 */
import { isIP } from '../wire/ip-literal.js';
import os from 'node:os';
import { joinHostPort, parseAddrPort } from '../wire/ip.js';

export interface LocalEndpoint {
  addr: string;
  type: 1;
}

export interface Endpoint {
  addr: string;
  /** 1 local interface, 2 STUN-mapped (tailcfg.EndpointType). */
  type: 1 | 2;
}

const v4Octets = (ip: string): number[] => ip.split('.').map(Number);

/** 100.64.0.0/10 and fd7a:115c:a1e0::/48: our own tailnet's addresses, never endpoints. */
function isTailscaleIP(ip: string): boolean {
  if (isIP(ip) === 4) {
    const [a, b] = v4Octets(ip);
    return a === 100 && (b! & 0xc0) === 64;
  }
  return /^fd7a:115c:a1e0:/i.test(ip);
}

/**
 * The node's local UDP endpoints (type 1): 127.0.0.1 first (peers on the same
 * host, the devnet), then non-internal IPv4, then global IPv6 (at most two per
 * subnet). As net/netmon LocalAddresses: Tailscale's own ranges are skipped,
 * IPv6 link-local never used, IPv4 link-local and IPv6 ULA only when nothing
 * else exists.
 */
export function localEndpoints(port: number, interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): LocalEndpoint[] {
  const v4: string[] = [];
  const v6: string[] = [];
  const ll4: string[] = [];
  const ula6: string[] = [];
  const perSubnet = new Map<string, number>();
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      if (a.internal || isTailscaleIP(a.address)) continue;
      if (a.family === 'IPv4') {
        const [x, y] = v4Octets(a.address);
        if (x === 127) continue;
        (x === 169 && y === 254 ? ll4 : v4).push(a.address);
      } else {
        const lower = a.address.toLowerCase();
        if (/^fe[89ab]/.test(lower) || lower === '::1' || lower.startsWith('::ffff:')) continue;
        if (/^f[cd]/.test(lower)) {
          ula6.push(a.address);
          continue;
        }
        // Hosts with huge same-subnet allocations would otherwise flood the list.
        const subnet = subnetKey(a.address, a.netmask);
        const n = perSubnet.get(subnet) ?? 0;
        perSubnet.set(subnet, n + 1);
        if (n < 2) v6.push(a.address);
      }
    }
  }
  const regular = v4.length + v6.length > 0;
  const ips = ['127.0.0.1', ...(regular ? v4 : ll4), ...(regular ? v6 : ula6)];
  return [...new Set(ips)].map((ip) => ({ addr: joinHostPort(ip, port), type: 1 as const }));
}

/** The address masked by the netmask, as text (both IPv6). */
function subnetKey(addr: string, mask: string): string {
  const a = expand6(addr);
  const m = expand6(mask);
  return a.map((g, i) => (g & (m[i] ?? 0)).toString(16)).join(':');
}

function expand6(ip: string): number[] {
  const clean = ip.replace(/%.*$/, '');
  const [head, tail] = clean.includes('::') ? clean.split('::') : [clean, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return groups.map((g) => parseInt(g, 16) || 0);
}

/** "ip:port" / "[ip]:port" → canonical text, or null when malformed. IPv4-mapped IPv6 becomes IPv4. */
export function normalizeHostPort(s: string): string | null {
  const ap = parseAddrPort(s);
  if (!ap || ap.port < 1) return null;
  let ip = ap.ip.replace(/%.*$/, '');
  const port = ap.port;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) ip = mapped[1]!;
  return joinHostPort(isIP(ip) === 6 ? ip.toLowerCase() : ip, port);
}

/**
 * STUN-mapped endpoints (type 2) first, then the local ones, each address
 * once: magicsock lists STUN addresses first ("farthest but most reliable")
 * and keeps the first type when an address is both.
 */
export function mergeEndpoints(local: readonly LocalEndpoint[], stunMapped: readonly string[]): Endpoint[] {
  const out: Endpoint[] = [];
  const seen = new Set<string>();
  const add = (addr: string, type: 1 | 2): void => {
    const key = normalizeHostPort(addr);
    if (!key || seen.has(key)) return;
    seen.add(key);
    out.push({ addr: key, type });
  };
  for (const a of stunMapped) add(a, 2);
  for (const e of local) add(e.addr, 1);
  return out;
}
