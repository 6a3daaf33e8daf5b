/**
 * Records the development coordination server keeps: users, nodes, pre-auth
 * keys and interactive registrations waiting for approval. Plain data (JSON
 * serializable), so the state can be persisted as is.
 */
import type { Hostinfo } from '../wire/tailcfg.js';

export interface DevnetUser {
  id: number;
  /** e.g. "alice@example.com" */
  loginName: string;
  displayName: string;
  /** RFC 3339 */
  created: string;
}

export interface DevnetNode {
  id: number;
  stableId: string;
  /** "mkey:<hex>" — the device's identity from the Noise handshake. */
  machineKey: string;
  /** "nodekey:<hex>" — the WireGuard key. */
  nodeKey: string;
  /** "discokey:<hex>", or "" until the node's first map request. */
  discoKey: string;
  /** The user who registered the node (owner of untagged nodes). */
  userId: number;
  /** ACL tags; a node with tags is "tagged" and is owned by its tags. */
  tags: string[];
  /** Unique DNS label; the MagicDNS name is `<label>.<domain>.`. */
  dnsLabel: string;
  ipv4: string;
  ipv6: string;
  hostinfo: Hostinfo;
  endpoints: string[];
  /** Home DERP region from Hostinfo.NetInfo.PreferredDERP (0 = none). */
  homeDERP: number;
  /** RFC 3339 */
  created: string;
  /** RFC 3339, or null when the key never expires (tagged nodes, or expiry disabled). */
  keyExpiry: string | null;
  /** Removed after it disconnects (and on logout). */
  ephemeral: boolean;
  /** False until an admin authorizes the node (pre-auth keys made with preauthorized: false). */
  authorized: boolean;
  /** Has at least one map stream open (not persisted). */
  online: boolean;
  /** RFC 3339 time of the last disconnect, or null. */
  lastSeen: string | null;
  /** Capability version of the node's latest request. */
  capVersion: number;
}

export interface AuthKeyRecord {
  id: string;
  /** The secret key text, "tskey-auth-<id>-<secret>". */
  key: string;
  userId: number;
  reusable: boolean;
  ephemeral: boolean;
  preauthorized: boolean;
  tags: string[];
  created: string;
  /** RFC 3339, or null for no expiry. */
  expires: string | null;
  uses: number;
  revoked: boolean;
  description: string;
}

export interface PendingRegistration {
  id: string;
  /** The AuthURL given to the client. */
  url: string;
  machineKey: string;
  nodeKey: string;
  oldNodeKey: string;
  hostinfo: Hostinfo;
  ephemeral: boolean;
  /** Capability version of the registering client. */
  capVersion: number;
  created: string;
  /** Set once approved. */
  approval: { userId: number; nodeId: number } | null;
}
