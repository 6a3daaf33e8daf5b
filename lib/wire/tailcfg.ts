/**
 * TypeScript shapes of the control protocol's JSON messages (Tailscale's
 * tailcfg package; docs/protocol/control.md §7-§14, docs/protocol/derp.md §5, docs/protocol/filter.md). Field names are the
 * exact JSON names. Keys are text forms ("nodekey:<hex>", "mkey:<hex>", ...),
 * times are RFC 3339 strings, byte slices are standard base64.
 *
 * Optional fields are the ones Go marshals with omitempty/omitzero or that a
 * server may leave out; a reader must treat every field as possibly absent.
 */

export type NodeID = number;
export type UserID = number;
export type StableNodeID = string;
/** "nodekey:<64 hex>" */
export type NodeKeyText = string;
/** "mkey:<64 hex>" */
export type MachineKeyText = string;
/** "discokey:<64 hex>" */
export type DiscoKeyText = string;
/** RFC 3339 time; "0001-01-01T00:00:00Z" is Go's zero time. */
export type TimeText = string;
/** "ip/bits" */
export type PrefixText = string;
/** "ip:port" or "[ip6]:port" */
export type AddrPortText = string;
/** Arbitrary JSON value (a CapMap entry, an opaque server blob). */
export type JSONValue = string | number | boolean | null | JSONValue[] | { [k: string]: JSONValue };

/** Go's zero time as it appears on the wire. */
export const ZERO_TIME: TimeText = '0001-01-01T00:00:00Z';

/** tailcfg.DerpMagicIP: legacy Node.DERP is "127.3.3.40:<regionID>". */
export const DERP_MAGIC_IP = '127.3.3.40';

/** Header carrying the node key as a load-balancer hint (tailcfg.LBHeader). */
export const LB_HEADER = 'Ts-Lb';

// ---------------------------------------------------------------------------
// /key

export interface OverTLSPublicKeyResponse {
  legacyPublicKey?: MachineKeyText;
  publicKey?: MachineKeyText;
}

/** The early payload sent by the server right after the Noise handshake. */
export interface EarlyNoise {
  nodeKeyChallenge?: string;
}

// ---------------------------------------------------------------------------
// Hostinfo

export interface Service {
  Proto: 'tcp' | 'udp' | 'peerapi4' | 'peerapi6' | 'peerapi-dns-proxy' | string;
  Port: number;
  Description?: string;
}

export interface NetInfo {
  MappingVariesByDestIP?: boolean | null;
  HairPinning?: boolean | null;
  WorkingIPv6?: boolean | null;
  OSHasIPv6?: boolean | null;
  WorkingUDP?: boolean | null;
  WorkingICMPv4?: boolean | null;
  HavePortMap?: boolean;
  UPnP?: boolean | null;
  PMP?: boolean | null;
  PCP?: boolean | null;
  /** Home DERP region: how peers learn it through control. */
  PreferredDERP?: number;
  LinkType?: string;
  /** "<regionID>-v4" / "-v6" → seconds. */
  DERPLatency?: Record<string, number>;
  FirewallMode?: string;
}

export interface Location {
  Country?: string;
  CountryCode?: string;
  City?: string;
  CityCode?: string;
  Latitude?: number;
  Longitude?: number;
  Priority?: number;
}

export interface Hostinfo {
  IPNVersion?: string;
  FrontendLogID?: string;
  BackendLogID?: string;
  OS?: string;
  OSVersion?: string;
  Container?: boolean;
  Env?: string;
  Distro?: string;
  DistroVersion?: string;
  DistroCodeName?: string;
  App?: string;
  Desktop?: boolean;
  Package?: string;
  DeviceModel?: string;
  PushDeviceToken?: string;
  Hostname?: string;
  ShieldsUp?: boolean;
  ShareeNode?: boolean;
  NoLogsNoSupport?: boolean;
  WireIngress?: boolean;
  IngressEnabled?: boolean;
  AllowsUpdate?: boolean;
  Machine?: string;
  GoArch?: string;
  GoArchVar?: string;
  GoVersion?: string;
  RoutableIPs?: PrefixText[];
  RequestTags?: string[];
  WoLMACs?: string[];
  Services?: Service[];
  NetInfo?: NetInfo;
  sshHostKeys?: string[];
  Cloud?: string;
  Userspace?: boolean | null;
  UserspaceRouter?: boolean | null;
  AppConnector?: boolean | null;
  ServicesHash?: string;
  PeerRelay?: boolean;
  ExitNodeID?: StableNodeID;
  Location?: Location;
  TPM?: JSONValue;
  StateEncrypted?: boolean | null;
}

// ---------------------------------------------------------------------------
// Registration

export interface RegisterResponseAuth {
  AuthKey?: string;
  Oauth2Token?: JSONValue;
}

export type SignatureType = 'signature-none' | 'signature-v1' | 'signature-v2';

export interface RegisterRequest {
  Version: number;
  NodeKey: NodeKeyText;
  OldNodeKey: NodeKeyText;
  NLKey?: string;
  Auth?: RegisterResponseAuth;
  /** Zero time = default; a past time with the current key = logout. */
  Expiry?: TimeText;
  /** The AuthURL being waited on (long-poll). */
  Followup?: string;
  Hostinfo?: Hostinfo;
  Ephemeral?: boolean;
  NodeKeySignature?: string;
  SignatureType?: SignatureType;
  Timestamp?: TimeText | null;
  DeviceCert?: string;
  Signature?: string;
  Tailnet?: string;
}

export interface User {
  ID: UserID;
  DisplayName?: string;
  ProfilePicURL?: string;
  Created?: TimeText;
  LoginName?: string;
}

export interface Login {
  ID?: number;
  Provider?: string;
  LoginName?: string;
  DisplayName?: string;
  ProfilePicURL?: string;
}

export interface RegisterResponse {
  User?: User;
  Login?: Login;
  NodeKeyExpired?: boolean;
  MachineAuthorized?: boolean;
  AuthURL?: string;
  NodeKeySignature?: string;
  Error?: string;
}

// ---------------------------------------------------------------------------
// Map request

/** MapRequest.EndpointTypes values. */
export const EndpointType = {
  Unknown: 0,
  Local: 1,
  STUN: 2,
  Portmapped: 3,
  STUN4LocalPort: 4,
  ExplicitConf: 5,
} as const;
export type EndpointType = (typeof EndpointType)[keyof typeof EndpointType];

export interface MapRequest {
  Version: number;
  /** "zstd" or absent (raw JSON). */
  Compress?: 'zstd' | '';
  KeepAlive?: boolean;
  NodeKey: NodeKeyText;
  DiscoKey?: DiscoKeyText;
  Stream?: boolean;
  Hostinfo?: Hostinfo;
  Endpoints?: AddrPortText[];
  EndpointTypes?: number[];
  OmitPeers?: boolean;
  ReadOnly?: boolean;
  MapSessionHandle?: string;
  MapSessionSeq?: number;
  TKAHead?: string;
  DebugFlags?: string[];
  ConnectionHandleForTest?: string;
}

// ---------------------------------------------------------------------------
// Nodes and users

/** Node attribute / peer capability map: capability → list of JSON values, or null. */
export type CapMap = Record<string, JSONValue[] | null>;

export interface Node {
  ID: NodeID;
  StableID?: StableNodeID;
  /** MagicDNS FQDN with trailing dot. */
  Name?: string;
  User?: UserID;
  Sharer?: UserID;
  Key: NodeKeyText;
  KeyExpiry?: TimeText;
  KeySignature?: string;
  Machine?: MachineKeyText;
  DiscoKey?: DiscoKeyText;
  Addresses?: PrefixText[];
  /** null/absent means the same as Addresses (capver ≥ 112). */
  AllowedIPs?: PrefixText[] | null;
  Endpoints?: AddrPortText[] | null;
  /** Legacy home DERP: "127.3.3.40:<regionID>". */
  DERP?: string;
  /** Home DERP region (capver ≥ 111). */
  HomeDERP?: number;
  Hostinfo?: Hostinfo;
  Created?: TimeText;
  Cap?: number;
  Tags?: string[];
  PrimaryRoutes?: PrefixText[];
  LastSeen?: TimeText | null;
  Online?: boolean | null;
  MachineAuthorized?: boolean;
  Capabilities?: string[];
  CapMap?: CapMap | null;
  UnsignedPeerAPIOnly?: boolean;
  ComputedName?: string;
  ComputedNameWithHost?: string;
  DataPlaneAuditLogID?: string;
  Expired?: boolean;
  SelfNodeV4MasqAddrForThisPeer?: string | null;
  SelfNodeV6MasqAddrForThisPeer?: string | null;
  IsWireGuardOnly?: boolean;
  IsJailed?: boolean;
  ExitNodeDNSResolvers?: DNSResolver[];
}

export interface UserProfile {
  ID: UserID;
  LoginName?: string;
  DisplayName?: string;
  ProfilePicURL?: string;
  Groups?: string[];
  /** Legacy, always empty. */
  Roles?: JSONValue[];
}

/** A patch to one peer (PeersChangedPatch): each present non-zero field overwrites. */
export interface PeerChange {
  NodeID: NodeID;
  DERPRegion?: number;
  Cap?: number;
  CapMap?: CapMap | null;
  Endpoints?: AddrPortText[] | null;
  Key?: NodeKeyText | null;
  KeySignature?: string;
  DiscoKey?: DiscoKeyText | null;
  Online?: boolean | null;
  LastSeen?: TimeText | null;
  KeyExpiry?: TimeText | null;
}

// ---------------------------------------------------------------------------
// DERP map (docs/protocol/derp.md §5)

export interface DERPNode {
  Name: string;
  RegionID: number;
  HostName: string;
  CertName?: string;
  IPv4?: string;
  IPv6?: string;
  /** 0 ⇒ 3478, -1 ⇒ no STUN. */
  STUNPort?: number;
  STUNOnly?: boolean;
  /** 0 ⇒ 443. */
  DERPPort?: number;
  InsecureForTests?: boolean;
  STUNTestIP?: string;
  CanPort80?: boolean;
}

export interface DERPRegion {
  RegionID: number;
  RegionCode?: string;
  RegionName?: string;
  Latitude?: number;
  Longitude?: number;
  Avoid?: boolean;
  NoMeasureNoHome?: boolean;
  Nodes: DERPNode[] | null;
}

export interface DERPHomeParams {
  RegionScore?: Record<string, number> | null;
}

export interface DERPMap {
  HomeParams?: DERPHomeParams | null;
  /** Keys are decimal region IDs. A null entry must be dropped. */
  Regions?: Record<string, DERPRegion | null> | null;
  omitDefaultRegions?: boolean;
}

// ---------------------------------------------------------------------------
// DNS

export interface DNSResolver {
  Addr?: string;
  BootstrapResolution?: string[];
  UseWithExitNode?: boolean;
}

export interface DNSRecord {
  Name: string;
  /** "" = A/AAAA by address family. */
  Type?: string;
  Value: string;
}

export interface DNSConfig {
  Resolvers?: DNSResolver[] | null;
  Routes?: Record<string, DNSResolver[] | null> | null;
  FallbackResolvers?: DNSResolver[] | null;
  Domains?: string[] | null;
  Proxied?: boolean;
  Nameservers?: string[] | null;
  CertDomains?: string[] | null;
  ExtraRecords?: DNSRecord[] | null;
  ExitNodeFilteredSet?: string[] | null;
  TempCorpIssue13969?: string;
}

// ---------------------------------------------------------------------------
// Packet filter (docs/protocol/filter.md §1)

export interface PortRange {
  First: number;
  Last: number;
}

export interface NetPortRange {
  IP: string;
  /** Deprecated; a non-null value makes the Go client reject the filter. */
  Bits?: number | null;
  Ports: PortRange;
}

export interface CapGrant {
  Dsts?: PrefixText[];
  Caps?: string[];
  CapMap?: CapMap | null;
}

export interface FilterRule {
  SrcIPs?: string[] | null;
  /** Deprecated; a non-null value makes the Go client reject the filter. */
  SrcBits?: number[] | null;
  DstPorts?: NetPortRange[] | null;
  IPProto?: number[] | null;
  CapGrant?: CapGrant[] | null;
}

// ---------------------------------------------------------------------------
// Ping / c2n

export interface PingRequest {
  URL: string;
  URLIsNoise?: boolean;
  Log?: boolean;
  /** "" (liveness HEAD), or a comma list of disco, TSMP, ICMP, peerapi, or "c2n". */
  Types?: string;
  IP?: string;
  /** Base64 bytes (the serialized HTTP request for c2n). */
  Payload?: string | null;
}

export interface PingResponse {
  Type?: string;
  IP?: string;
  NodeIP?: string;
  NodeName?: string;
  Err?: string;
  LatencySeconds?: number;
  Endpoint?: string;
  PeerRelay?: string;
  DERPRegionID?: number;
  DERPRegionCode?: string;
  PeerAPIPort?: number;
  IsLocalIP?: boolean;
}

// ---------------------------------------------------------------------------
// Map response

export interface ControlDialPlan {
  Candidates?: JSONValue[];
}

export interface DisplayMessage {
  Title?: string;
  Text?: string;
  Severity?: string;
  ImpactsConnectivity?: boolean;
  PrimaryAction?: { URL?: string; Label?: string };
}

export interface MapResponse {
  MapSessionHandle?: string;
  Seq?: number;
  KeepAlive?: boolean;
  PingRequest?: PingRequest | null;
  PopBrowserURL?: string;
  Node?: Node | null;
  DERPMap?: DERPMap | null;
  Peers?: Node[] | null;
  PeersChanged?: Node[] | null;
  PeersRemoved?: NodeID[] | null;
  PeersChangedPatch?: PeerChange[] | null;
  PeerSeenChange?: Record<string, boolean> | null;
  OnlineChange?: Record<string, boolean> | null;
  DNSConfig?: DNSConfig | null;
  Domain?: string;
  /** opt.Bool: true/false, or "true"/"false"/"" in older encodings. */
  CollectServices?: boolean | string | null;
  PacketFilter?: FilterRule[] | null;
  PacketFilters?: Record<string, FilterRule[] | null> | null;
  UserProfiles?: UserProfile[] | null;
  Health?: string[] | null;
  DisplayMessages?: Record<string, DisplayMessage | null> | null;
  SSHPolicy?: JSONValue;
  ControlTime?: TimeText | null;
  TKAInfo?: JSONValue;
  DomainDataPlaneAuditLogID?: string;
  Debug?: JSONValue;
  ControlDialPlan?: ControlDialPlan | null;
  ClientVersion?: JSONValue;
  DefaultAutoUpdate?: JSONValue;
}
