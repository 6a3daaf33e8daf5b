/**
 * Node attributes: the keys of our own node's CapMap that ask a client to behave differently
 * (docs/protocol/capver.md, "Node attributes"). Each known attribute is listed with what this node does with it;
 * `selfNodeAttrs` reads the ones acted on. Attributes not listed are ignored, as Tailscale's clients ignore
 * attributes they do not know.
 */
import type { CapMap } from './tailcfg.js';

/** handled: acted on; absent: asks to turn off or tune something this node does not have, so it already holds. */
export type NodeAttrHandling = 'handled' | 'absent';

export interface NodeAttrInfo {
  readonly handling: NodeAttrHandling;
  /** One line: what it asks, and why this node does or need not do anything. */
  readonly note: string;
}

/** The attributes known to change a client's behaviour (Tailscale's tailcfg/nodecap, v1.102 and main). */
export const NODE_ATTRS: ReadonlyMap<string, NodeAttrInfo> = new Map<string, NodeAttrInfo>([
  ['only-tcp-443', { handling: 'handled', note: 'no UDP: WireGuard and disco go over DERP only, no STUN probes' }],
  ['disable-relay-client', { handling: 'absent', note: 'this node has no peer-relay client' }],
  ['disable-relay-server', { handling: 'absent', note: 'this node is never a peer relay' }],
  ['disable-seamless-key-renewal', { handling: 'absent', note: 'gone from Tailscale v1.102: renewal is always seamless, the data plane switches keys in place' }],
  ['disable-magicsock-crypto-routing', { handling: 'absent', note: 'crypto routing is always on, as Tailscale requires since 124' }],
  ['disable-udp-gro', { handling: 'handled', note: 'UDP_GRO switched off on the UDP socket (Linux)' }],
  ['disable-udp-gso', { handling: 'handled', note: 'no UDP_SEGMENT sends from the UDP socket (Linux)' }],
  ['disable-tun-udp-gro', { handling: 'absent', note: 'no TUN device' }],
  ['disable-tun-tcp-gro', { handling: 'absent', note: 'no TUN device' }],
  ['never-gso-equal-tail', { handling: 'handled', note: 'a GSO send whose segments are all one length gets a 1-byte tail' }],
  ['randomize-client-port', { handling: 'handled', note: 'the UDP socket takes a random port even when the owner fixed one' }],
  ['debug-always-stun', { handling: 'absent', note: 'netcheck already probes on a timer while up' }],
  ['debug-no-wg-trim', { handling: 'absent', note: 'no lazy WireGuard peer trimming to turn off' }],
  ['debug-disable-upnp', { handling: 'absent', note: 'no UPnP/NAT-PMP/PCP port mapping' }],
  ['silent-disco', { handling: 'absent', note: 'experiment (heartbeat-free disco); the default behaviour stays' }],
  ['probe-udp-lifetime', { handling: 'absent', note: 'optional experiment; not done' }],
  ['peer-mtu-enable', { handling: 'absent', note: 'no path MTU discovery' }],
  ['disable-delta-updates', { handling: 'absent', note: 'full netmaps and deltas are both handled' }],
  ['cache-network-maps', { handling: 'absent', note: 'netmaps are not cached across restarts (capability 135 not claimed)' }],
  ['disable-cache-network-maps', { handling: 'absent', note: 'netmaps are never cached' }],
  ['tailnet.maxKeyDuration', { handling: 'absent', note: 'informational (capability 114): key expiry comes from KeyExpiry' }],
  ['magicdns-aaaa', { handling: 'absent', note: 'no MagicDNS server (100.100.100.100) to answer AAAA (capability 116)' }],
  ['dns-subdomain-resolve', { handling: 'absent', note: 'no MagicDNS server' }],
  ['force-register-magicdns-ipv4-only', { handling: 'absent', note: 'no OS DNS registration' }],
  ['scope-quad100-macos', { handling: 'absent', note: 'no OS DNS registration' }],
  ['disable-split-dns-when-no-custom-resolvers', { handling: 'absent', note: 'no OS DNS configuration' }],
  ['disable-local-dns-override-via-nrpt', { handling: 'absent', note: 'no OS DNS configuration' }],
  ['dns-forwarder-disable-tcp-retries', { handling: 'absent', note: 'no DNS forwarder' }],
  ['disable-hosts-file-updates', { handling: 'absent', note: 'the hosts file is never written (capability 132)' }],
  ['disable-linux-cgnat-drop-rule', { handling: 'absent', note: 'no kernel firewall rules (capability 136)' }],
  ['linux-netfilter?v=iptables', { handling: 'absent', note: 'no kernel firewall rules' }],
  ['linux-netfilter?v=nftables', { handling: 'absent', note: 'no kernel firewall rules' }],
  ['one-cgnat?v=true', { handling: 'absent', note: 'no OS routes' }],
  ['one-cgnat?v=false', { handling: 'absent', note: 'no OS routes' }],
  ['debug-disable-subnets-if-pac', { handling: 'absent', note: 'no OS routes' }],
  ['disable-android-bind-to-active-network', { handling: 'absent', note: 'not Android (capability 134)' }],
  ['disable-captive-portal-detection', { handling: 'absent', note: 'no captive-portal detection' }],
  ['default-auto-update', { handling: 'absent', note: 'a library updates with its application (capability 131)' }],
  ['emit-runtime-metrics', { handling: 'absent', note: 'no metrics upload (capability 139)' }],
  ['funnel', { handling: 'absent', note: 'no Funnel; Hostinfo.IngressEnabled stays unset (capability 113)' }],
  ['service-host', { handling: 'absent', note: 'no VIP services' }],
  ['ssh-aggregator', { handling: 'absent', note: 'no Tailscale SSH' }],
  ['ssh-env-vars', { handling: 'absent', note: 'no Tailscale SSH' }],
  ['ssh-behavior-v1', { handling: 'absent', note: 'no Tailscale SSH' }],
  ['ssh-behavior-v2', { handling: 'absent', note: 'no Tailscale SSH' }],
  ['drive:share', { handling: 'absent', note: 'no Taildrive' }],
  ['drive:access', { handling: 'absent', note: 'no Taildrive' }],
  ['suggest-exit-node', { handling: 'absent', note: 'no automatic exit-node choice (capability 119)' }],
  ['suggest-exit-node-ui', { handling: 'absent', note: 'no exit-node use' }],
  ['auto-exit-node', { handling: 'absent', note: 'no exit-node use' }],
  ['log-exit-flows', { handling: 'absent', note: 'never an exit node' }],
  ['traffic-steering', { handling: 'absent', note: 'no exit-node or route selection by priority' }],
  ['store-appc-routes', { handling: 'absent', note: 'never an app connector' }],
  ['user-dial-routes', { handling: 'absent', note: 'dials go to tailnet addresses only' }],
  ['disable-web-client', { handling: 'absent', note: 'no web client' }],
  ['native-ipv4', { handling: 'absent', note: 'no OS interface' }],
  ['client-side-reachability', { handling: 'absent', note: 'peer online state comes from control only' }],
  ['client-side-reachability-routecheck', { handling: 'absent', note: 'peer online state comes from control only' }],
]);

/** What this node does differently because of its own node attributes. */
export interface SelfNodeAttrs {
  /** only-tcp-443: no UDP at all (DERP over TCP 443 carries everything; no STUN). */
  readonly onlyTCP443: boolean;
  /** randomize-client-port: bind the UDP socket to a random port, ignoring a fixed one. */
  readonly randomizeClientPort: boolean;
  /** disable-udp-gso, disable-udp-gro, never-gso-equal-tail: the UDP socket's kernel offloads (Linux). */
  readonly disableUDPGSO: boolean;
  readonly disableUDPGRO: boolean;
  readonly neverGSOEqualTail: boolean;
  /** Attributes present that are not in NODE_ATTRS (ignored; sorted, for logs). */
  readonly unknown: readonly string[];
}

export const NO_NODE_ATTRS: SelfNodeAttrs = Object.freeze({
  onlyTCP443: false,
  randomizeClientPort: false,
  disableUDPGSO: false,
  disableUDPGRO: false,
  neverGSOEqualTail: false,
  unknown: Object.freeze([]) as readonly string[],
});

/** Reads our own node's CapMap. Keys that are URLs (capabilities, not attributes) are not reported as unknown. */
export function selfNodeAttrs(capMap: CapMap | null | undefined): SelfNodeAttrs {
  if (!capMap) return NO_NODE_ATTRS;
  const keys = Object.keys(capMap);
  if (!keys.length) return NO_NODE_ATTRS;
  const unknown = keys.filter((k) => !NODE_ATTRS.has(k) && !k.includes('://')).sort();
  return {
    onlyTCP443: Object.hasOwn(capMap, 'only-tcp-443'),
    randomizeClientPort: Object.hasOwn(capMap, 'randomize-client-port'),
    disableUDPGSO: Object.hasOwn(capMap, 'disable-udp-gso'),
    disableUDPGRO: Object.hasOwn(capMap, 'disable-udp-gro'),
    neverGSOEqualTail: Object.hasOwn(capMap, 'never-gso-equal-tail'),
    unknown,
  };
}
