/**
 * The DERP map the development server hands out (docs/protocol/derp.md §5): by
 * default one region pointing at the development relay, whose host and ports
 * come from the options. The relay serves TLS with a self-signed
 * certificate, so the node is marked InsecureForTests unless a CertName pin
 * is given.
 */
import type { DERPMap, DERPNode, DERPRegion } from '../wire/tailcfg.js';

export interface DevnetDERPOptions {
  /** Host name clients connect to; default "127.0.0.1". */
  host?: string;
  /** TLS port of the relay (required: there is no default relay port). */
  derpPort: number;
  /** STUN UDP port; -1 = no STUN, 0 = the protocol default 3478. Default -1. */
  stunPort?: number;
  /** Region ID; default 900. */
  regionId?: number;
  regionCode?: string;
  regionName?: string;
  /** Pin the certificate ("sha256-raw:<hex>") instead of InsecureForTests. */
  certName?: string;
  /** IPv4 address for the node (default: host if it is an IPv4 literal). */
  ipv4?: string;
  /** IPv6 address or "none" (default "none"). */
  ipv6?: string;
}

export const DEFAULT_DERP_REGION_ID = 900;

export function devnetDERPMap(o: DevnetDERPOptions): DERPMap {
  const regionId = o.regionId ?? DEFAULT_DERP_REGION_ID;
  if (!Number.isInteger(regionId) || regionId < 1) throw new RangeError('DERP regionId must be a positive integer');
  if (!Number.isInteger(o.derpPort) || o.derpPort < 1 || o.derpPort > 65535) throw new RangeError('DERP derpPort must be a TCP port');
  const host = o.host ?? '127.0.0.1';
  const node: DERPNode = {
    Name: `${regionId}a`,
    RegionID: regionId,
    HostName: host,
    DERPPort: o.derpPort,
    STUNPort: o.stunPort ?? -1,
  };
  const v4 = o.ipv4 ?? (/^\d+\.\d+\.\d+\.\d+$/.test(host) ? host : undefined);
  if (v4) node.IPv4 = v4;
  node.IPv6 = o.ipv6 ?? 'none';
  if (o.certName) node.CertName = o.certName;
  else node.InsecureForTests = true;
  if (v4 && v4 !== 'none' && node.STUNPort !== -1) node.STUNTestIP = v4;
  const region: DERPRegion = {
    RegionID: regionId,
    RegionCode: o.regionCode ?? 'devnet',
    RegionName: o.regionName ?? 'tsnet development relay',
    Nodes: [node],
  };
  return { Regions: { [String(regionId)]: region } };
}

/** Checks a user-supplied DERP map enough to not hand clients garbage. */
export function validateDERPMap(m: DERPMap): DERPMap {
  if (m === null || typeof m !== 'object') throw new TypeError('DERP map must be an object');
  for (const [id, r] of Object.entries(m.Regions ?? {})) {
    if (r === null) continue;
    if (String(r.RegionID) !== id) throw new TypeError(`DERP map region key ${id} does not match RegionID ${r.RegionID}`);
    if (!Array.isArray(r.Nodes)) throw new TypeError(`DERP region ${id} needs a Nodes list`);
  }
  return m;
}
