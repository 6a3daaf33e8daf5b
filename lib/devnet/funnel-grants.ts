/**
 * What the devnet's control adds to the netmap for Funnel (lib/devnet/README.md, "Funnel ingress"):
 * - a node granted the `funnel` node attribute (policy nodeAttrs, as Tailscale's policy) also gets `https` and the
 *   ports attribute `https://tailscale.com/cap/funnel-ports?ports=443,8443,10000`, as Tailscale's control adds them
 *   (a node checks all three before it listens for Funnel);
 * - the ingress node (the devnet's own tailnet presence) may reach every funnel node, and holds the peer
 *   capability `https://tailscale.com/cap/ingress` toward it, which the node's peerAPI ingress handler checks.
 */
import type { CapMap, DNSConfig, FilterRule, Node } from '../wire/tailcfg.js';
import type { DevnetState } from './state.js';

export const NODE_ATTR_FUNNEL = 'funnel';
export const NODE_ATTR_HTTPS = 'https';
export const FUNNEL_PORTS = [443, 8443, 10000] as const;
export const FUNNEL_PORTS_ATTR = `https://tailscale.com/cap/funnel-ports?ports=${FUNNEL_PORTS.join(',')}`;
export const PEER_CAP_INGRESS = 'https://tailscale.com/cap/ingress';

// The devnet's ingress nodes, per state, with how many running ingresses use each (not persisted: an ingress
// registers again when it starts).
const ingressNodes = new WeakMap<DevnetState, Map<number, number>>();

/** Marks a node as the devnet's ingress (or drops one use of the mark); the netmap changes for everyone. */
export function setIngressNode(state: DevnetState, id: number, on: boolean): void {
  let m = ingressNodes.get(state);
  if (!m) ingressNodes.set(state, (m = new Map()));
  const n = (m.get(id) ?? 0) + (on ? 1 : -1);
  if (n > 0) m.set(id, n);
  else m.delete(id);
  if ((n > 0) !== (n - (on ? 1 : -1) > 0)) state.touch();
}

/** A node's CapMap with the attributes that come with `funnel`. */
export function withFunnelAttrs(capMap: CapMap | null): CapMap | null {
  if (!capMap || !(NODE_ATTR_FUNNEL in capMap)) return capMap;
  return { ...capMap, [NODE_ATTR_HTTPS]: capMap[NODE_ATTR_HTTPS] ?? null, [FUNNEL_PORTS_ATTR]: capMap[FUNNEL_PORTS_ATTR] ?? null };
}

/** Filter rules letting the ingress node(s) reach funnel nodes (any port: the peerAPI port is the node's choice). */
export function ingressRules(state: DevnetState, wire: ReadonlyMap<number, Node>): FilterRule[] {
  const ids = ingressNodes.get(state);
  if (!ids?.size) return [];
  const src: string[] = [];
  const dst: string[] = [];
  for (const [id, n] of wire) {
    if (ids.has(id)) src.push(...(n.Addresses ?? []).map((a) => a.split('/')[0]!));
    else if (n.CapMap && NODE_ATTR_FUNNEL in n.CapMap) dst.push(...(n.Addresses ?? []));
  }
  if (!src.length || !dst.length) return [];
  return [
    { SrcIPs: src, DstPorts: dst.map((IP) => ({ IP, Ports: { First: 0, Last: 65535 } })) },
    { SrcIPs: src, CapGrant: [{ Dsts: dst, CapMap: { [PEER_CAP_INGRESS]: null } }] },
  ];
}

/**
 * A funnel node's DNS config names its MagicDNS name in CertDomains (HTTPS on, as Tailscale's control does for a
 * node that may Funnel): Go's ListenFunnel refuses to start without one.
 */
export function withFunnelCertDomains(dns: DNSConfig, self: Node): DNSConfig {
  if (!self.CapMap || !(NODE_ATTR_FUNNEL in self.CapMap) || !self.Name || dns.CertDomains?.length) return dns;
  return { ...dns, CertDomains: [self.Name.replace(/\.$/, '')] };
}
