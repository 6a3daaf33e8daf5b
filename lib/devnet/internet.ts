/**
 * `autogroup:internet` (docs/services.md): the addresses an exit node carries traffic to, as prefixes: all
 * of IPv4 and IPv6 but the tailnet's ranges, private, loopback, link-local, multicast and unique-local
 * ones. Rules naming it reach exit nodes (lib/devnet/services.ts `served`) and no one else.
 */
import { makePrefix, parsePrefix, type IPPrefix } from '../wire/ip.js';

const NOT_INTERNET = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16', '224.0.0.0/3',
  '::/8', 'fc00::/7', 'fe80::/10', 'ff00::/8',
].map((p) => parsePrefix(p)!);

function bit(a: Uint8Array, i: number): number {
  return (a[i >> 3]! >> (7 - (i & 7))) & 1;
}

function contains(outer: IPPrefix, inner: IPPrefix): boolean {
  if (outer.addr.length !== inner.addr.length || outer.bits > inner.bits) return false;
  for (let i = 0; i < outer.bits; i++) if (bit(outer.addr, i) !== bit(inner.addr, i)) return false;
  return true;
}

/** p minus the holes, as a list of prefixes (splitting p in halves around each hole). */
function subtract(p: IPPrefix, holes: readonly IPPrefix[]): IPPrefix[] {
  if (holes.some((h) => contains(h, p))) return [];
  const inside = holes.filter((h) => contains(p, h));
  if (!inside.length) return [p];
  const lo = makePrefix(p.addr, p.bits + 1);
  const hiAddr = Uint8Array.from(p.addr);
  hiAddr[p.bits >> 3]! |= 0x80 >> (p.bits & 7);
  const hi = makePrefix(hiAddr, p.bits + 1);
  return [...subtract(lo, inside), ...subtract(hi, inside)];
}

let cached: string[] | null = null;

/** autogroup:internet as "ip/bits" prefixes (IPv4 first). */
export function internetPrefixes(): string[] {
  cached ??= [...subtract(parsePrefix('0.0.0.0/0')!, NOT_INTERNET), ...subtract(parsePrefix('::/0')!, NOT_INTERNET)].map((p) => p.text);
  return cached;
}
