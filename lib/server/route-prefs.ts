/**
 * Routing preferences (docs/services.md): which prefixes a node advertises, and which of its peers' routes it
 * uses (Tailscale's route manager: own addresses and other single Tailscale IPs always, subnet routes with
 * acceptRoutes, a default route only from the chosen exit node).
 */
import net from 'node:net';
import { codedError } from '../util/errors.js';
import type { EnginePeer } from '../wire/engine-config.js';
import { parseIP } from '../wire/ip.js';

/** Routing preferences (Go's ipn.Prefs fields of the same meaning). */
export interface RoutePrefs {
  /** Subnet routes to advertise ("10.0.0.0/24"); "0.0.0.0/0" and "::/0" advertise an exit node. */
  advertiseRoutes?: readonly string[];
  /** Use the subnet routes peers advertise (Go's RouteAll; `tailscale up --accept-routes`). */
  acceptRoutes?: boolean;
  /** The exit node: its stable ID, a Tailscale IP or a MagicDNS name; null for none. */
  exitNode?: string | null;
}

/** Checks and normalizes a prefix list ("ip/bits", host bits clear). */
export function checkRoutes(routes: unknown, what: string): string[] {
  if (!Array.isArray(routes)) throw codedError('ERR_INVALID_ARG_TYPE', `${what} must be an array of "ip/bits" strings`, TypeError);
  return routes.map((r) => {
    const p = typeof r === 'string' ? prefixOf(r) : null;
    if (!p) throw codedError('ERR_INVALID_ARG_VALUE', `${what}: ${JSON.stringify(r)} is not an "ip/bits" prefix`, RangeError);
    return p.text;
  });
}

export interface Prefix {
  addr: Uint8Array;
  bits: number;
  text: string;
}

export function prefixOf(s: string): Prefix | null {
  const i = s.lastIndexOf('/');
  const ip = parseIP(i < 0 ? s : s.slice(0, i));
  if (!ip) return null;
  const max = ip.length * 8;
  const bits = i < 0 ? max : Number(s.slice(i + 1));
  if (!Number.isInteger(bits) || bits < 0 || bits > max || (i >= 0 && !/^\d+$/.test(s.slice(i + 1)))) return null;
  const addr = Uint8Array.from(ip);
  for (let b = 0; b < addr.length; b++) {
    const keep = Math.max(0, Math.min(8, bits - b * 8));
    addr[b]! &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
  return { addr, bits, text: `${ipText(addr)}/${bits}` };
}

function ipText(a: Uint8Array): string {
  if (a.length === 4) return a.join('.');
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((a[i]! << 8) | a[i + 1]!).toString(16));
  return new net.SocketAddress({ address: parts.join(':'), family: 'ipv6' }).address;
}

export const isExitRoute = (p: string): boolean => p === '0.0.0.0/0' || p === '::/0';

/** In 100.64.0.0/10 or fd7a:115c:a1e0::/48 (Tailscale's address ranges). */
function isTailscaleIP(a: Uint8Array): boolean {
  if (a.length === 4) return a[0] === 100 && (a[1]! & 0xc0) === 64;
  return a[0] === 0xfd && a[1] === 0x7a && a[2] === 0x11 && a[3] === 0x5c && a[4] === 0xa1 && a[5] === 0xe0;
}


/** Whether prefix p holds address a. */
export function prefixHas(p: Prefix, a: Uint8Array): boolean {
  if (p.addr.length !== a.length) return false;
  for (let i = 0; i < p.bits; i++) if (((a[i >> 3]! ^ p.addr[i >> 3]!) >> (7 - (i & 7))) & 1) return false;
  return true;
}

/** The prefixes of peer p this node uses, given its prefs and chosen exit node. */
export function usedAllowedIPs(p: EnginePeer, acceptRoutes: boolean, exit: EnginePeer | null): string[] {
  const own = new Set(p.addresses);
  return p.allowedIPs.filter((a) => {
    const pfx = prefixOf(a);
    if (!pfx) return false;
    // Own addresses and other single Tailscale IPs (service VIPs) whatever the prefs, as Tailscale's route manager.
    if (own.has(a) || (pfx.bits === pfx.addr.length * 8 && isTailscaleIP(pfx.addr))) return true;
    if (isExitRoute(pfx.text)) return exit === p;
    return acceptRoutes;
  });
}

/** The peer named by exitNode (stable ID, Tailscale IP or MagicDNS name) that offers a default route. */
export function findExitNode(peers: readonly EnginePeer[], want: string): EnginePeer | null {
  const w = want.replace(/\.$/, '').toLowerCase();
  for (const p of peers) {
    if (!p.allowedIPs.some(isExitRoute)) continue;
    const short = p.name.split('.')[0]!.toLowerCase();
    if (p.stableID === want || p.addresses.some((a) => a.split('/')[0] === want) || p.name.toLowerCase() === w || short === w) return p;
  }
  return null;
}
