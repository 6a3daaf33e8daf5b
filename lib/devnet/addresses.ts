/**
 * Tailnet address allocation: IPv4 from the CGNAT range 100.64.0.0/10 and
 * IPv6 from Tailscale's ULA range fd7a:115c:a1e0::/48. Each node's IPv6
 * address carries its IPv4 address in the low 32 bits (so the pair is easy to
 * recognise), e.g. 100.64.0.7 ↔ fd7a:115c:a1e0::6440:7.
 *
 * Skipped: the network and broadcast-looking ends of the range,
 * 100.100.100.0/24 (100.100.100.100 is the in-node "quad-100" service
 * address) and 100.115.92.0/23 (used by ChromeOS).
 */
import { ipFromBigInt, ipToBigInt, ipToString, parseIP, parsePrefix, prefixContains, type IPPrefix } from '../wire/ip.js';

export const TAILNET_IPV4_RANGE = '100.64.0.0/10';
export const TAILNET_IPV6_RANGE = 'fd7a:115c:a1e0::/48';

const RESERVED_V4: IPPrefix[] = ['100.100.100.0/24', '100.115.92.0/23'].map((p) => parsePrefix(p, true)!);

export interface AllocatedAddresses {
  ipv4: string;
  ipv6: string;
}

/** The IPv6 address paired with an IPv4 tailnet address. */
export function ipv6ForIPv4(ipv4: string, v6Range = TAILNET_IPV6_RANGE): string {
  const a = parseIP(ipv4);
  const p = parsePrefix(v6Range, true);
  if (!a || a.length !== 4) throw new RangeError(`not an IPv4 address: ${ipv4}`);
  if (!p || p.family !== 6 || p.bits > 96) throw new RangeError(`IPv6 range must be an IPv6 prefix of /96 or shorter: ${v6Range}`);
  return ipToString(ipFromBigInt(ipToBigInt(p.addr) | ipToBigInt(a), 16));
}

function isReservedV4(v: bigint, range: IPPrefix): boolean {
  const first = ipToBigInt(range.addr);
  const last = first + (1n << BigInt(32 - range.bits)) - 1n;
  if (v === first || v === last) return true;
  const ip = ipFromBigInt(v, 4);
  return RESERVED_V4.some((r) => prefixContains(r, ip));
}

/**
 * The lowest free address pair. `used` holds IPv4 addresses already taken.
 * Throws RangeError when the range is exhausted.
 */
export function allocateAddresses(used: ReadonlySet<string>, v4Range = TAILNET_IPV4_RANGE, v6Range = TAILNET_IPV6_RANGE): AllocatedAddresses {
  const r = parsePrefix(v4Range, true);
  if (!r || r.family !== 4) throw new RangeError(`IPv4 range must be an IPv4 prefix: ${v4Range}`);
  const size = 1n << BigInt(32 - r.bits);
  for (let i = 0n; i < size; i++) {
    const v = ipToBigInt(r.addr) + i;
    if (isReservedV4(v, r)) continue;
    const text = ipToString(ipFromBigInt(v, 4));
    if (used.has(text)) continue;
    return { ipv4: text, ipv6: ipv6ForIPv4(text, v6Range) };
  }
  throw new RangeError(`address range ${v4Range} is exhausted`);
}
