// What the loopback listener needs from the node that owns it. Defined here, below server.ts, so loopback/
// does not import the Server (lib/ layering, test/layers.test.ts); a Server satisfies it structurally.
import type { TailnetSocket } from '../net/socket.js';
import type { TailnetPacketSocket } from '../net/packet.js';
import type { DialOptions } from '../net/netstack.js';
import type { CapMap, Node, UserProfile } from '../wire/tailcfg.js';

/** A peer as the status page shows it (the Server's PeerStatus; the optional fields may be absent). */
export interface LoopbackPeer {
  publicKey: string;
  tailscaleIPs: string[];
  hostName?: string;
  dnsName?: string;
  online?: boolean | null;
  /** Direct UDP address in use, "" through a relay. */
  curAddr?: string;
  relay?: string;
  latencyMs?: number;
  rxBytes?: number;
  txBytes?: number;
  lastHandshake?: Date | null;
  txDirectPackets?: number;
  txRelayPackets?: number;
}

/** The status fields the LocalAPI and the status page read; the whole object is served as JSON. */
export interface LoopbackStatus {
  backendState: string;
  tailscaleIPs: string[];
  self: Node;
  peers: ReadonlyArray<LoopbackPeer>;
  /** Packets the WireGuard core dropped, per reason (numeric fields; the Server's WireGuardDrops). */
  drops?: object;
  skippedPeers?: ReadonlyArray<{ id: number; reason: string }>;
}

export interface LoopbackWhoIs {
  node: Node;
  userProfile: UserProfile | null;
  capMap: CapMap;
}

/** What a TSMP ping resolves to (the Server's PingResult). */
export interface LoopbackPingResult {
  latencyMs: number;
  ip: string;
  dnsName: string;
  /** The direct address that answered, or "" (then relayRegionID / relay name the relay, for disco pings). */
  direct?: string;
  relay?: string;
  relayRegionID?: number;
}

/** The Server's LocalClient, as the LocalAPI uses it (ping, prefs, logout, the IPN bus). */
export interface LoopbackLocalClient {
  ping(target: string, options: { type: 'TSMP' | 'disco'; timeout?: number }): Promise<LoopbackPingResult>;
  getPrefs(): Promise<object>;
  logout(): Promise<void>;
  watchIPNBus(options: { initialState?: boolean; initialPrefs?: boolean; initialNetMap?: boolean; initialHealth?: boolean }): {
    on(event: 'notify', fn: (n: Record<string, unknown>) => void): unknown;
    close(): void;
  };
}

/** The parts of the Server the loopback listener uses: TCP dials for SOCKS5, status and whoIs for the LocalAPI. */
export interface LoopbackHost {
  dial(network: 'tcp', address: string, options?: DialOptions): Promise<TailnetSocket>;
  status(): LoopbackStatus | null;
  whoIs(address: string): LoopbackWhoIs | null;
  /** The node's own health warnings (the Server's health()): control unreachable, login or approval waiting. */
  health?(): ReadonlyArray<{ message: string }>;
  /** A connected tailnet UDP socket ("udp", "host:port"), for SOCKS5 UDP ASSOCIATE. */
  dialPacket?(network: 'udp', address: string): TailnetPacketSocket;
  /** TSMP and disco pings (the Server's LocalClient), for /localapi/v0/ping. */
  localClient?(): LoopbackLocalClient;
}
