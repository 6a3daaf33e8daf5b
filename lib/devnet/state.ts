/**
 * In-memory state of the development tailnet and the operations on it.
 * No I/O and no timers: callers pass the clock (`now`) and subscribe to
 * changes. Persistence (persist.ts) and the network (server.ts) sit outside.
 */
import { randomBytes } from 'node:crypto';
import type { Hostinfo } from '../wire/tailcfg.js';
import { allocateAddresses, TAILNET_IPV4_RANGE, TAILNET_IPV6_RANGE } from './addresses.js';
import { userOwnsTag } from './acl-compile.js';
import type { Policy } from './policy.js';
import type { AuthKeyRecord, DevnetNode, DevnetUser, PendingRegistration } from './types.js';

export const TAGGED_DEVICES_LOGIN = 'tagged-devices';
export const DEFAULT_USER_LOGIN = 'dev@example.com';

/** Upper bounds that keep a misbehaving client from growing the state without limit. */
export const MAX_PENDING_REGISTRATIONS = 1000;
export const MAX_NODES = 10_000;

export interface StateOptions {
  /** Node key lifetime for untagged nodes, in ms; 0 = never expires. */
  nodeKeyExpiryMs: number;
  ipv4Range?: string;
  ipv6Range?: string;
}

export interface CreateAuthKeyOptions {
  /** Owner's login name; default "dev@example.com". */
  user?: string;
  reusable?: boolean;
  ephemeral?: boolean;
  /** Nodes registered with the key are authorized at once (default true). */
  preauthorized?: boolean;
  /** ACL tags for nodes registered with the key ("tag:name"). */
  tags?: string[];
  /** Lifetime of the key in ms (default 90 days; 0 = no expiry). */
  expiryMs?: number;
  description?: string;
}

/** netmap: what nodes see changed; persist: saved data changed; pending: interactive logins changed. */
export type ChangeKind = 'netmap' | 'persist' | 'pending';

export interface StateSnapshot {
  version: 1;
  nextUserId: number;
  nextNodeId: number;
  users: DevnetUser[];
  nodes: DevnetNode[];
  authKeys: AuthKeyRecord[];
  policyText: string | null;
}

export class StateError extends Error {
  override name = 'StateError';
}

const TAG_RE = /^tag:[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** A DNS label from a host name: lower case, [a-z0-9-], ≤ 63 characters, never empty. */
export function sanitizeDNSLabel(hostname: string | undefined): string {
  let s = (hostname ?? '').toLowerCase().split('.')[0] ?? '';
  s = s.replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return s || 'node';
}

function randomId(n: number): string {
  const alphabet = 'abcdefghijkmnopqrstuvwxyz23456789';
  const b = randomBytes(n);
  let out = '';
  for (const x of b) out += alphabet[x % alphabet.length];
  return out;
}

export class DevnetState {
  private readonly users = new Map<number, DevnetUser>();
  private readonly nodes = new Map<number, DevnetNode>();
  private readonly authKeys = new Map<string, AuthKeyRecord>();
  private readonly pending = new Map<string, PendingRegistration>();
  private readonly listeners = new Set<(kind: ChangeKind) => void>();
  private nextUserId = 1;
  private nextNodeId = 1;
  /** Bumped on every change that affects netmaps. */
  netmapVersion = 0;
  policy: Policy | null = null;
  policyText: string | null = null;
  readonly options: StateOptions;

  constructor(options: StateOptions) {
    this.options = options;
  }

  // -- change notification -------------------------------------------------

  subscribe(fn: (kind: ChangeKind) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Tells map streams that something outside the state (DERP map, DNS, services) changed; `save`: and that
   * the state directory should keep it. */
  touch(o: { save?: boolean } = {}): void {
    this.changed('netmap');
    if (o.save) this.changed('persist');
  }

  /** A client began or stopped holding a Followup request for a pending login (the server's bookkeeping). */
  followupWaitChanged(): void {
    this.changed('pending');
  }

  private changed(kind: ChangeKind): void {
    if (kind === 'netmap') this.netmapVersion++;
    for (const fn of [...this.listeners]) fn(kind);
  }

  // -- users --------------------------------------------------------------

  ensureUser(loginName: string, now: Date, displayName?: string): DevnetUser {
    const login = loginName.trim();
    if (!login || login.length > 256) throw new StateError('user login name must be 1..256 characters');
    for (const u of this.users.values()) if (u.loginName.toLowerCase() === login.toLowerCase()) return u;
    const u: DevnetUser = {
      id: this.nextUserId++,
      loginName: login,
      displayName: displayName ?? (login === TAGGED_DEVICES_LOGIN ? 'Tagged Devices' : login.split('@')[0] ?? login),
      created: now.toISOString(),
    };
    this.users.set(u.id, u);
    this.changed('persist');
    return u;
  }

  user(id: number): DevnetUser | undefined {
    return this.users.get(id);
  }

  allUsers(): DevnetUser[] {
    return [...this.users.values()];
  }

  // -- auth keys ----------------------------------------------------------

  createAuthKey(o: CreateAuthKeyOptions, now: Date): AuthKeyRecord {
    const tags = o.tags ?? [];
    for (const t of tags) if (!TAG_RE.test(t)) throw new StateError(`invalid tag ${JSON.stringify(t)} (want "tag:name")`);
    const user = this.ensureUser(o.user ?? DEFAULT_USER_LOGIN, now);
    const id = `k${randomId(10)}`;
    const expiryMs = o.expiryMs ?? 90 * 24 * 3600 * 1000;
    if (!Number.isFinite(expiryMs) || expiryMs < 0) throw new StateError('expiryMs must be ≥ 0');
    const rec: AuthKeyRecord = {
      id,
      key: `tskey-auth-${id}-${randomBytes(24).toString('hex')}`,
      userId: user.id,
      reusable: o.reusable ?? false,
      ephemeral: o.ephemeral ?? false,
      preauthorized: o.preauthorized ?? true,
      tags: [...new Set(tags)],
      created: now.toISOString(),
      expires: expiryMs ? new Date(now.getTime() + expiryMs).toISOString() : null,
      uses: 0,
      revoked: false,
      description: o.description ?? '',
    };
    this.authKeys.set(rec.key, rec);
    this.changed('persist');
    return rec;
  }

  /** The key record, or a reason it cannot be used. */
  checkAuthKey(key: string, now: Date): AuthKeyRecord | string {
    const rec = this.authKeys.get(key);
    if (!rec) return 'invalid auth key';
    if (rec.revoked) return 'auth key was revoked';
    if (rec.expires && Date.parse(rec.expires) <= now.getTime()) return 'auth key has expired';
    if (!rec.reusable && rec.uses > 0) return 'auth key was already used (it is not reusable)';
    return rec;
  }

  markAuthKeyUsed(rec: AuthKeyRecord): void {
    rec.uses++;
    this.changed('persist');
  }

  revokeAuthKey(key: string): boolean {
    const rec = this.authKeys.get(key);
    if (!rec) return false;
    rec.revoked = true;
    this.changed('persist');
    return true;
  }

  allAuthKeys(): AuthKeyRecord[] {
    return [...this.authKeys.values()];
  }

  // -- nodes --------------------------------------------------------------

  node(id: number): DevnetNode | undefined {
    return this.nodes.get(id);
  }

  allNodes(): DevnetNode[] {
    return [...this.nodes.values()].sort((a, b) => a.id - b.id);
  }

  nodeByNodeKey(nodeKey: string): DevnetNode | undefined {
    if (!nodeKey) return undefined;
    for (const n of this.nodes.values()) if (n.nodeKey === nodeKey) return n;
    return undefined;
  }

  nodeByMachineKey(machineKey: string): DevnetNode | undefined {
    for (const n of this.nodes.values()) if (n.machineKey === machineKey) return n;
    return undefined;
  }

  isKeyExpired(n: DevnetNode, now: Date): boolean {
    return n.keyExpiry !== null && Date.parse(n.keyExpiry) <= now.getTime();
  }

  private uniqueLabel(hostname: string | undefined, selfId: number): string {
    const base = sanitizeDNSLabel(hostname);
    const taken = new Set<string>();
    for (const n of this.nodes.values()) if (n.id !== selfId) taken.add(n.dnsLabel);
    if (!taken.has(base)) return base;
    for (let i = 1; ; i++) {
      const suffix = `-${i}`;
      const cand = base.slice(0, 63 - suffix.length) + suffix;
      if (!taken.has(cand)) return cand;
    }
  }

  private expiryFor(tags: string[], now: Date): string | null {
    if (tags.length || !this.options.nodeKeyExpiryMs) return null;
    return new Date(now.getTime() + this.options.nodeKeyExpiryMs).toISOString();
  }

  /**
   * Creates a node, or re-authenticates an existing one (same node ID and
   * addresses) when `existing` is given: new node key, owner, tags, expiry.
   */
  upsertAuthenticatedNode(
    p: {
      existing?: DevnetNode;
      machineKey: string;
      nodeKey: string;
      userId: number;
      tags: string[];
      hostinfo: Hostinfo;
      ephemeral: boolean;
      authorized: boolean;
      capVersion: number;
    },
    now: Date,
  ): DevnetNode {
    if (p.tags.length) this.ensureUser(TAGGED_DEVICES_LOGIN, now);
    const n = p.existing;
    if (n) {
      n.machineKey = p.machineKey;
      n.nodeKey = p.nodeKey;
      n.userId = p.userId;
      n.tags = [...p.tags];
      n.hostinfo = p.hostinfo;
      n.dnsLabel = this.uniqueLabel(p.hostinfo.Hostname, n.id);
      n.ephemeral = p.ephemeral;
      n.authorized = p.authorized;
      n.keyExpiry = this.expiryFor(p.tags, now);
      n.capVersion = p.capVersion;
      this.changed('netmap');
      this.changed('persist');
      return n;
    }
    if (this.nodes.size >= MAX_NODES) throw new StateError('too many nodes');
    const used = new Set<string>();
    for (const x of this.nodes.values()) used.add(x.ipv4);
    const addrs = allocateAddresses(used, this.options.ipv4Range ?? TAILNET_IPV4_RANGE, this.options.ipv6Range ?? TAILNET_IPV6_RANGE);
    const id = this.nextNodeId++;
    const node: DevnetNode = {
      id,
      stableId: `n${randomId(10)}CNTRL`,
      machineKey: p.machineKey,
      nodeKey: p.nodeKey,
      discoKey: '',
      userId: p.userId,
      tags: [...p.tags],
      dnsLabel: this.uniqueLabel(p.hostinfo.Hostname, id),
      ipv4: addrs.ipv4,
      ipv6: addrs.ipv6,
      hostinfo: p.hostinfo,
      endpoints: [],
      homeDERP: p.hostinfo.NetInfo?.PreferredDERP ?? 0,
      created: now.toISOString(),
      keyExpiry: this.expiryFor(p.tags, now),
      ephemeral: p.ephemeral,
      authorized: p.authorized,
      online: false,
      lastSeen: null,
      capVersion: p.capVersion,
    };
    this.nodes.set(id, node);
    this.changed('netmap');
    this.changed('persist');
    return node;
  }

  /** Key rotation with a still-valid old key: the node keeps its identity. */
  rotateNodeKey(n: DevnetNode, newKey: string, now: Date): void {
    n.nodeKey = newKey;
    n.keyExpiry = this.expiryFor(n.tags, now);
    this.changed('netmap');
    this.changed('persist');
  }

  /** Applies what a map request reports. Returns true if anything visible changed. */
  updateFromMapRequest(
    n: DevnetNode,
    u: { discoKey?: string; hostinfo?: Hostinfo; endpoints?: string[]; capVersion: number },
  ): boolean {
    let changed = false;
    if (u.discoKey !== undefined && u.discoKey !== n.discoKey) {
      n.discoKey = u.discoKey;
      changed = true;
    }
    if (u.hostinfo && JSON.stringify(u.hostinfo) !== JSON.stringify(n.hostinfo)) {
      const oldName = n.hostinfo.Hostname;
      n.hostinfo = u.hostinfo;
      if (u.hostinfo.Hostname !== oldName) n.dnsLabel = this.uniqueLabel(u.hostinfo.Hostname, n.id);
      const d = u.hostinfo.NetInfo?.PreferredDERP;
      if (typeof d === 'number' && d !== n.homeDERP) n.homeDERP = d;
      changed = true;
    }
    if (u.endpoints && JSON.stringify(u.endpoints) !== JSON.stringify(n.endpoints)) {
      n.endpoints = [...u.endpoints];
      changed = true;
    }
    if (u.capVersion !== n.capVersion) {
      n.capVersion = u.capVersion;
      changed = true;
    }
    if (changed) {
      this.changed('netmap');
      this.changed('persist');
    }
    return changed;
  }

  setOnline(n: DevnetNode, online: boolean, now: Date): void {
    if (n.online === online) return;
    n.online = online;
    if (!online) n.lastSeen = now.toISOString();
    this.changed('netmap');
  }

  removeNode(id: number): boolean {
    const ok = this.nodes.delete(id);
    if (ok) {
      for (const [k, p] of this.pending) if (p.approval?.nodeId === id) this.pending.delete(k);
      this.changed('netmap');
      this.changed('persist');
    }
    return ok;
  }

  /** Expires the node key now (the node must log in again). */
  expireNode(id: number, now: Date): boolean {
    const n = this.nodes.get(id);
    if (!n) return false;
    n.keyExpiry = now.toISOString();
    this.changed('netmap');
    this.changed('persist');
    return true;
  }

  authorizeNode(id: number, authorized = true): boolean {
    const n = this.nodes.get(id);
    if (!n) return false;
    if (n.authorized !== authorized) {
      n.authorized = authorized;
      this.changed('netmap');
      this.changed('persist');
    }
    return true;
  }

  setNodeTags(id: number, tags: string[], now: Date): boolean {
    for (const t of tags) if (!TAG_RE.test(t)) throw new StateError(`invalid tag ${JSON.stringify(t)}`);
    const n = this.nodes.get(id);
    if (!n) return false;
    if (tags.length) this.ensureUser(TAGGED_DEVICES_LOGIN, now);
    n.tags = [...new Set(tags)];
    n.keyExpiry = n.tags.length ? null : (n.keyExpiry ?? this.expiryFor([], now));
    this.changed('netmap');
    this.changed('persist');
    return true;
  }

  // -- policy -------------------------------------------------------------

  setPolicy(policy: Policy | null, text: string | null): void {
    this.policy = policy;
    this.policyText = text;
    this.changed('netmap');
    this.changed('persist');
  }

  // -- interactive registrations -----------------------------------------

  pendingById(id: string): PendingRegistration | undefined {
    return this.pending.get(id);
  }

  pendingByURL(url: string): PendingRegistration | undefined {
    for (const p of this.pending.values()) if (p.url === url) return p;
    return undefined;
  }

  pendingByNodeKey(machineKey: string, nodeKey: string): PendingRegistration | undefined {
    for (const p of this.pending.values()) if (p.machineKey === machineKey && p.nodeKey === nodeKey && !p.approval) return p;
    return undefined;
  }

  allPending(): PendingRegistration[] {
    return [...this.pending.values()];
  }

  createPending(
    p: Omit<PendingRegistration, 'id' | 'url' | 'created' | 'approval'>,
    urlFor: (id: string) => string,
    now: Date,
  ): PendingRegistration {
    if (this.pending.size >= MAX_PENDING_REGISTRATIONS) {
      // Drop the oldest: a flood of logins must not grow memory without bound.
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    const id = randomBytes(12).toString('hex');
    const rec: PendingRegistration = { ...p, id, url: urlFor(id), created: now.toISOString(), approval: null };
    this.pending.set(id, rec);
    this.changed('pending');
    return rec;
  }

  /** Approves a waiting registration for `login`: creates (or re-authenticates) its node. */
  approvePending(id: string, login: string, now: Date, tags: string[] = []): DevnetNode {
    const p = this.pending.get(id);
    if (!p) throw new StateError('no such registration (it may have expired)');
    if (p.approval) {
      const done = this.nodes.get(p.approval.nodeId);
      if (done) return done;
    }
    for (const t of tags) if (!TAG_RE.test(t)) throw new StateError(`invalid tag ${JSON.stringify(t)}`);
    if (!tags.length && Array.isArray(p.hostinfo.RequestTags) && p.hostinfo.RequestTags.length) {
      // The machine asked for tags (tailscale up --advertise-tags): the approving user must own them.
      const denied = p.hostinfo.RequestTags.filter((t) => !userOwnsTag(this.policy, login, t));
      if (denied.length) throw new StateError(`${login} may not apply ${denied.join(', ')} (see the policy's tagOwners)`);
      tags = [...new Set(p.hostinfo.RequestTags)];
    }
    const user = this.ensureUser(login, now);
    const existing =
      this.nodeByNodeKey(p.nodeKey) ?? (p.oldNodeKey ? this.nodeByNodeKey(p.oldNodeKey) : undefined) ?? this.nodeByMachineKey(p.machineKey);
    const node = this.upsertAuthenticatedNode(
      {
        ...(existing && existing.machineKey === p.machineKey ? { existing } : {}),
        machineKey: p.machineKey,
        nodeKey: p.nodeKey,
        userId: user.id,
        tags,
        hostinfo: p.hostinfo,
        ephemeral: p.ephemeral,
        authorized: true,
        capVersion: p.capVersion,
      },
      now,
    );
    p.approval = { userId: user.id, nodeId: node.id };
    this.changed('netmap');
    this.changed('pending');
    return node;
  }

  dropPending(id: string): void {
    if (this.pending.delete(id)) this.changed('pending');
  }

  // -- persistence --------------------------------------------------------

  snapshot(): StateSnapshot {
    return {
      version: 1,
      nextUserId: this.nextUserId,
      nextNodeId: this.nextNodeId,
      users: this.allUsers(),
      nodes: this.allNodes().map((n) => ({ ...n, online: false })),
      authKeys: this.allAuthKeys(),
      policyText: this.policyText,
    };
  }

  /** Loads a snapshot (replacing everything); `parsePolicyText` turns the saved text back into a Policy. */
  restore(s: StateSnapshot, parsePolicyText: (t: string) => Policy): void {
    if (s.version !== 1) throw new StateError(`unsupported devnet state version ${String(s.version)}`);
    this.users.clear();
    this.nodes.clear();
    this.authKeys.clear();
    this.pending.clear();
    for (const u of s.users) this.users.set(u.id, u);
    for (const n of s.nodes) this.nodes.set(n.id, { ...n, online: false, endpoints: n.endpoints ?? [] });
    for (const k of s.authKeys) this.authKeys.set(k.key, k);
    this.nextUserId = Math.max(s.nextUserId, ...s.users.map((u) => u.id + 1), 1);
    this.nextNodeId = Math.max(s.nextNodeId, ...s.nodes.map((n) => n.id + 1), 1);
    this.policyText = s.policyText;
    this.policy = s.policyText !== null ? parsePolicyText(s.policyText) : null;
    this.changed('netmap');
  }
}
