// What a Server reports: its events, status, health warnings, paths, pings and peers.
import type * as net from 'node:net';
import type { ControlState } from '../control/client.js';
import type { EngineConfigDiff } from '../control/engine-diff.js';
import type { NetworkMap } from '../wire/netmap.js';
import type { CapMap, Node, UserProfile } from '../wire/tailcfg.js';
import type { WireGuardDrops } from '../wg-drops.js';
import type { CertEvent, CertPair } from './cert.js';

/**
 * Something that keeps the node from working as it should, as Tailscale's health warnings do:
 * - `control-unreachable`: the control server cannot be reached or its session failed (`error` is the cause's
 *   code); the node retries with backoff and keeps its last netmap meanwhile;
 * - `needs-login`: an interactive login is waiting at `url`;
 * - `needs-approval`: the node is registered but an admin must approve (authorize) it;
 * - `relay-unreachable`: the home DERP relay cannot be reached (peers that need a relay cannot reach us);
 * - `clock-skew`: this machine's clock and control's differ by more than a minute (key expiry, certificates).
 */
export interface HealthWarning {
  code: 'control-unreachable' | 'needs-login' | 'needs-approval' | 'relay-unreachable' | 'clock-skew';
  message: string;
  /** When the condition began. */
  since: Date;
  /** control-unreachable: the code of the last failure (ECONNREFUSED, ERR_HTTP_STATUS, ...). */
  error?: string;
  /** needs-login: the URL to visit. */
  url?: string;
  /** clock-skew: control's clock minus ours, in ms. */
  skewMs?: number;
}

/** The 'path' event: how packets to a peer go now. */
export interface PathChange {
  /** The peer's node key, "nodekey:<hex>". */
  publicKey: string;
  /** Its MagicDNS name, "" if none. */
  dnsName: string;
  /** The direct UDP address in use ("ip:port"), "" when packets go through a relay. */
  direct: string;
  /** The relay region's code used when `direct` is "" ("" when no relay is known either). */
  relay: string;
}

/** What Server#ping resolves to. */
export interface PingResult {
  /** The round trip through the tunnel, in ms. */
  latencyMs: number;
  /** The address pinged. */
  ip: string;
  /** The answering peer's node key ("nodekey:<hex>") and MagicDNS name. */
  publicKey: string;
  dnsName: string;
  /** The path packets to it take now: a direct "ip:port", or "" and the relay region's code. */
  direct: string;
  relay: string;
}

/** What the last netcheck round found (Server#netcheck). */
export interface NetcheckResult {
  /** A STUN server answered: UDP works from this node. */
  udp: boolean;
  /** Our address as STUN servers saw it ("ip:port"). */
  mappedAddresses: string[];
  /** The home relay: its region code and id (0 / "" when none). */
  homeRegion: { id: number; code: string };
  /** Round trip per relay region that answered (region code → ms). */
  latencyMs: Record<string, number>;
}

/** The Server's events and their arguments. */
export interface ServerEvents {
  /** The node's backend state: NoState, NeedsLogin, NeedsMachineAuth, Starting, Running, Stopped. */
  state: [state: ControlState];
  /** An interactive login is needed: a person should visit url. */
  authURL: [url: string];
  /** A new network map (diff: what changed for the data plane since the last one, null for the first). */
  netmap: [netmap: NetworkMap, diff: EngineConfigDiff | null];
  /** Peers came, went or changed. */
  peers: [change: PeersChange];
  /** The set of health warnings changed (empty: healthy). */
  health: [warnings: HealthWarning[]];
  /** A netcheck round finished (about every 20-26 s, and after network changes). */
  netcheck: [result: NetcheckResult];
  /** A peer's path changed: direct (disco proved a UDP address) or through a relay. */
  path: [change: PathChange];
  /** The node got (or renewed) an HTTPS certificate (lib/server/cert.ts). */
  cert: [info: CertEvent];
}

export interface PeerStatus {
  /** Node key, "nodekey:<hex>". */
  publicKey: string;
  hostName: string;
  /** MagicDNS name (FQDN, no trailing dot), "" if none. */
  dnsName: string;
  tailscaleIPs: string[];
  online: boolean | null;
  /** The direct UDP address in use ("ip:port"), "" when traffic goes through a relay. */
  curAddr: string;
  /** The peer's DERP region (its code), used whenever curAddr is "": its home, else where it was last heard. */
  relay: string;
  /** Round trip of the last disco pong on the direct path (ms), 0 if none. */
  latencyMs: number;
  rxBytes: number;
  txBytes: number;
  /** Last completed WireGuard handshake, or null. */
  lastHandshake: Date | null;
  /** Packets sent directly / through a relay since the peer appeared. */
  txDirectPackets: number;
  txRelayPackets: number;
}

export interface Status {
  backendState: string;
  tailscaleIPs: string[];
  self: Node;
  peers: PeerStatus[];
  /** Packets the WireGuard core dropped, per reason (all zero until the data plane is up). */
  drops: WireGuardDrops;
  /** Netmap peers left out of the data plane, with why (expired key, malformed or low-order node key). */
  skippedPeers: Array<{ id: number; reason: string }>;
}

/** A peer as the 'peers' event reports it. */
export interface PeerInfo {
  /** Node key, "nodekey:<hex>". */
  publicKey: string;
  /** MagicDNS name (FQDN, no trailing dot), "" if none. */
  dnsName: string;
  /** Its Tailscale addresses. */
  tailscaleIPs: string[];
}

/** The 'peers' event: what changed in the set of peers (the first netmap adds them all). */
export interface PeersChange {
  added: PeerInfo[];
  /** Node keys ("nodekey:<hex>") of peers gone. */
  removed: string[];
  /** Peers whose endpoints, addresses, relay or keys changed. */
  changed: PeerInfo[];
}

/** tsnet's LocalClient, answered from this node's state (no LocalAPI round trip). */
export interface LocalClient {
  whoIs(addressOrSocket: string | net.Socket): Promise<WhoIs | null>;
  status(): Promise<Status | null>;
  /** The HTTPS certificate and key (PEM) for a cert domain (default: the first); Server.certPair. */
  certPair(domain?: string): Promise<CertPair>;
}

export interface WhoIs {
  node: Node;
  userProfile: UserProfile | null;
  /** Application capabilities the tailnet's grants give this node toward us (Tailscale's PeerCapMap). */
  capMap: CapMap;
}

