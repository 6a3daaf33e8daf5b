// Control's /machine/set-dns (tailcfg.SetDNSRequest): a node places the TXT record of an ACME DNS-01 challenge
// for its own MagicDNS name. The devnet keeps these records in memory for its ACME server (acme.ts).
import type { DevnetState } from './state.js';
import type { DevnetNode } from './types.js';
import { fqdn } from './netmap.js';

/** TXT values per DNS name; the newest few per name, as a challenge retried leaves older ones behind. */
export class TxtRecords {
  readonly #m = new Map<string, string[]>();
  static readonly PER_NAME = 4;
  static readonly NAMES = 4096;

  set(name: string, value: string): void {
    const k = name.toLowerCase();
    const v = (this.#m.get(k) ?? []).filter((x) => x !== value);
    v.push(value);
    this.#m.delete(k);
    this.#m.set(k, v.slice(-TxtRecords.PER_NAME));
    while (this.#m.size > TxtRecords.NAMES) this.#m.delete(this.#m.keys().next().value as string);
  }

  get(name: string): readonly string[] {
    return this.#m.get(name.toLowerCase()) ?? [];
  }
}

/** Handles a set-dns body from the Noise connection of `machineKey`: null when done, else [status, message]. */
export function handleSetDNS(
  state: DevnetState,
  domain: string,
  records: TxtRecords,
  machineKey: string,
  body: Record<string, unknown>,
  serviceNames: (n: DevnetNode) => string[] = () => [],
): [number, string] | null {
  const { NodeKey, Name, Type, Value } = body;
  if (typeof NodeKey !== 'string' || typeof Name !== 'string' || typeof Type !== 'string' || typeof Value !== 'string') {
    return [400, 'set-dns needs NodeKey, Name, Type and Value strings'];
  }
  const node = state.nodeByNodeKey(NodeKey);
  if (!node || node.machineKey !== machineKey) return [401, 'node key is not registered with this machine key'];
  if (Type !== 'TXT') return [400, `set-dns: only TXT records, not ${JSON.stringify(Type)}`];
  // Its own MagicDNS name, and the names of the services it is an approved host of (docs/services.md).
  const own = `_acme-challenge.${fqdn(node, domain).replace(/\.$/, '')}`;
  const asked = Name.replace(/\.$/, '').toLowerCase();
  const want = [own, ...(node.authorized ? serviceNames(node).map((d) => `_acme-challenge.${d}`) : [])].find((w) => w === asked);
  if (!want) return [403, `set-dns: a node may only set ${own} (or the names of the services it hosts)`];
  if (Value.length === 0 || Value.length > 255) return [400, 'set-dns: a TXT value is 1 to 255 characters'];
  records.set(want, Value);
  return null;
}
