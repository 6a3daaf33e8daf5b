/**
 * The bundled development tailnet's coordination server.
 *
 * FOR DEVELOPMENT AND TESTS ONLY. It keeps a single tailnet in memory
 * (optionally in a state directory), listens on loopback, has no real user
 * authentication and no hardening for hostile networks. Production tailnets
 * use Tailscale's coordination service or Headscale.
 *
 * It speaks the server side of Tailscale's ts2021 control protocol, so both
 * this package's client and real Tailscale clients (capability version 100
 * and later, zstd-compressed map responses) can join:
 *
 *   const net = await startDevnet({ derp: { derpPort: 3340 } });
 *   const key = net.createAuthKey({ ephemeral: true, tags: ['tag:test'] });
 *   // point a node at net.controlURL with the key ...
 *   await net.close();
 */
import { generatePrivateKey, nodePublicToText, parsePrivate, privateToText } from '../wire/keys.js';
import type { DERPMap, DNSRecord } from '../wire/tailcfg.js';
import { devnetDERPMap, validateDERPMap, type DevnetDERPOptions } from './derpmap.js';
import type { NetmapConfig } from './netmap.js';
import { checkServiceDefinitions, DevnetServices, type DevnetServiceInfo, type ServicesSnapshot } from './services.js';
import { fqdn } from './netmap.js';
import { loadDevnetState, saveDevnetState } from './persist.js';
import { parsePolicy, type Policy } from './policy.js';
import { parseAndTestPolicy } from './policy-tests.js';
import { registrationIdFrom } from './approval-page.js';
import { DevnetServer, MIN_CAPABILITY_VERSION, type ConnectionStats } from './server.js';
import { DEFAULT_USER_LOGIN, DevnetState, StateError, TAGGED_DEVICES_LOGIN, type CreateAuthKeyOptions } from './state.js';
import type { DevnetNode } from './types.js';
import type { C2NReply, C2NRequestSpec } from './pings.js';
import { startDevnetRelay, type DevnetRelay, type DevnetRelayOptions } from './derp/index.js';
import { startDevnetAcme, type DevnetAcme, type DevnetAcmeOptions } from './acme-devnet.js';
import { startDevnetAdmin, type AdminTarget, type DevnetAdmin, type DevnetAdminInfo, type DevnetAdminOptions } from './admin.js';
import { startFunnelIngress, type FunnelIngress, type FunnelIngressOptions } from './funnel-ingress.js';

export type { DevnetServiceInfo } from './services.js';
export type { Policy, PolicyACL, PolicyGrant, PolicyNodeAttr } from './policy.js';
export { PolicyError, parsePolicy, DEFAULT_POLICY } from './policy.js';
export { parseAndTestPolicy, runPolicyTests } from './policy-tests.js';
export { HuJSONError, parseHuJSON, type HuJSONValue } from './hujson.js';
export { compileFilter, compileNodeCapMap, type PolicyNode } from './acl-compile.js';
export type { DevnetDERPOptions } from './derpmap.js';
export { devnetDERPMap } from './derpmap.js';
export type { DevnetRelay, DevnetRelayOptions, DerpServer, DerpServerStats, StunServer, DerpRelayStats } from './derp/index.js';
export type { CreateAuthKeyOptions } from './state.js';
export type { C2NReply, C2NRequestSpec } from './pings.js';
export { StateError } from './state.js';
export { encodeZstdRawFrame, decodeZstdSimpleFrame, ZstdFormatError } from './zstd-raw.js';
export { allocateAddresses, ipv6ForIPv4, TAILNET_IPV4_RANGE, TAILNET_IPV6_RANGE } from './addresses.js';
export type { DevnetAdminInfo, DevnetAdminOptions } from './admin.js';
export type { RelayTraffic } from './derp/index.js';
export { defaultDevnetDir } from './state-dir.js';
export type { FunnelIngress, FunnelIngressNode, FunnelIngressOptions, FunnelIngressStats } from './funnel-ingress.js';
export { parseClientHello, type ClientHelloResult } from './funnel-sni.js';
export type { DevnetAcme, DevnetAcmeOptions } from './acme-devnet.js';
export type { AcmeStats } from './acme.js';
export { CURRENT_CAPABILITY_VERSION, MIN_CAPABILITY_VERSION, type ConnectionStats } from './server.js';

/**
 * Connection limits of the control server and the bundled relay (docs/architecture.md, "Development tailnet
 * limits"). A connection is "unproven" until its client is known: on the control server until its Noise
 * machine key belongs to a node (at once for a node's machine, else after a successful registration), on the
 * relay until its ClientInfo is accepted. The defaults leave room for tests starting dozens of nodes from
 * 127.0.0.1 at once; each server applies them separately.
 */
export interface DevnetLimits {
  /** Unproven connections from one IP address; beyond it the oldest such one from that address is closed. Default 64. */
  preAuthPerIP?: number;
  /** Unproven connections in all; beyond it the oldest from the address holding the most is closed. Default 256. */
  preAuthTotal?: number;
  /**
   * Control: a Noise connection whose client is still unknown after this long, with no request in progress,
   * is closed. Relay: a connection without an accepted ClientInfo this long after its upgrade is closed
   * (checked every `relay.tickMs`, 1 s). Default 5 s.
   */
  preAuthTimeoutMs?: number;
  /** TLS handshake (relay) and HTTP request headers must be done within this; default 10 s. */
  headersTimeoutMs?: number;
  /** A plain HTTP connection idle between requests is closed after this; default 5 s. */
  keepAliveTimeoutMs?: number;
  /** A plain (not upgraded) HTTP connection with no traffic at all for this long is closed; default 30 s. */
  httpIdleTimeoutMs?: number;
}

export interface DevnetOptions {
  /** Listen address; default "127.0.0.1". Keep it on loopback. */
  host?: string;
  /** TCP port; default 0 (any free port). */
  port?: number;
  /** Tailnet DNS domain for MagicDNS names (`<host>.<domain>.`); default "devnet.internal". */
  domain?: string;
  /** Keep state (keys, users, nodes, auth keys, policy, services and approvals) in this directory across restarts. */
  stateDir?: string;
  /** ACL policy (HuJSON text or object); default allows everything. */
  policy?: string | Policy;
  /** A DERP relay running elsewhere: adds a region pointing at it. */
  derp?: DevnetDERPOptions;
  /**
   * The bundled DERP relay (HTTPS, self-signed certificate) and STUN
   * responder on `host`; the DERP map then points at them (unless `derpMap`
   * is given). Default: on, unless `derp` or `derpMap` is given. Only the
   * devnet's authorized, unexpired nodes may connect to the relay.
   */
  relay?: boolean | DevnetRelayOptions;
  /** A complete DERP map instead (overrides `derp`). */
  derpMap?: DERPMap;
  /** Upstream DNS resolvers handed to clients. */
  nameservers?: string[];
  /** Extra MagicDNS records, e.g. [{ Name: 'db.devnet.internal', Value: '100.64.0.9' }]. */
  extraRecords?: DNSRecord[];
  /** MagicDNS on (default true). */
  magicDNS?: boolean;
  /** Each node sees only the peers the policy lets it talk to, and only its own filter rules (default true). */
  trimPeersByPolicy?: boolean;
  /** Services and routes (lib/devnet/services.ts): approve every tagged host that advertises a defined service. */
  autoApproveServices?: boolean;
  /** Approve every route nodes advertise, exit routes included (else approveRoutes). */
  autoApproveRoutes?: boolean;
  /** Tailscale Services defined at start (as defineService; docs/services.md); with stateDir, ones it kept stay as they were. */
  services?: Array<{ name: string; addresses?: string[] }>;
  /** Node key lifetime for untagged nodes in ms; default 180 days; 0 = never expire. */
  nodeKeyExpiryMs?: number;
  /** How long an ephemeral node may stay disconnected before it is removed; default 10 s. */
  ephemeralTimeoutMs?: number;
  /** Map stream keep-alive period; default 50 s (clients give up after 120 s of silence). */
  keepAliveMs?: number;
  /** How long a Followup registration is held before the client is told to ask again; default 60 s. */
  followupTimeoutMs?: number;
  /** Lowest capability version accepted; default 100. */
  minCapVersion?: number;
  /** Highest capability version accepted; default none (newer clients are served too). */
  maxCapVersion?: number;
  /** Login name used when approving without naming a user; default "dev@example.com". */
  defaultUser?: string;
  /** Runs the devnet's clock this far ahead of the machine's (negative: behind), in ms, to test clock skew. */
  clockOffsetMs?: number;
  /** Most simultaneous Noise connections of known clients (unknown ones: `limits`); default 1024. */
  maxConnections?: number;
  /** Caps and timeouts for connections whose client is not known yet, and plain HTTP timeouts. */
  limits?: DevnetLimits;
  /** Close a Noise connection after this long without HTTP/2 traffic; default max(5 min, 3 keep-alive periods, 2 Followup timeouts). */
  idleTimeoutMs?: number;
  /** Diagnostics; default: discard. */
  logf?: (msg: string) => void;
  /**
   * The admin endpoint on 127.0.0.1 (JSON API for the CLI and a status page; docs/cli.md), guarded by random
   * tokens written with its URL to `<stateDir>/admin.json` (mode 0600). Default off; `tsnet devnet` turns it on.
   */
  admin?: boolean | DevnetAdminOptions;
  /**
   * HTTPS certificates: an ACME server under a fresh test CA on `host` (lib/devnet/README.md, "ACME"), set-dns
   * on control, and each node's MagicDNS name in its netmap's CertDomains. Default off.
   */
  acme?: boolean | DevnetAcmeOptions;
  /** Fixed Noise private key (tests); default: from stateDir, else random. */
  controlPrivateKey?: Uint8Array;
}

export interface DevnetNodeInfo {
  id: number;
  stableId: string;
  /** MagicDNS name without the trailing dot. */
  name: string;
  hostname: string;
  /** Hostinfo.OS, e.g. "linux". */
  os: string;
  /** Capability version of the node's latest request. */
  capVersion: number;
  /** Owner's login name ("tagged-devices" for tagged nodes). */
  user: string;
  tags: string[];
  /** [IPv4, IPv6] */
  addresses: string[];
  nodeKey: string;
  machineKey: string;
  discoKey: string;
  endpoints: string[];
  homeDERP: number;
  online: boolean;
  lastSeen: string | null;
  ephemeral: boolean;
  authorized: boolean;
  keyExpiry: string | null;
  expired: boolean;
  /** Routes the node advertises (Hostinfo.RoutableIPs) and those of them approved (docs/services.md). */
  advertisedRoutes?: string[];
  approvedRoutes?: string[];
  created: string;
}

export interface DevnetUserInfo {
  id: number;
  loginName: string;
  displayName: string;
}

export interface PendingLoginInfo {
  id: string;
  url: string;
  hostname: string;
  nodeKey: string;
  created: string;
  approved: boolean;
  /** The node's Followup request is held now: it waits for this approval. */
  waiting: boolean;
}

export interface ApproveOptions {
  /** Log the machine in as this user (default: `defaultUser`). */
  user?: string;
  tags?: string[];
}

export interface Devnet {
  /** e.g. "http://127.0.0.1:41234" — give this to nodes as their control URL. */
  readonly controlURL: string;
  /** The server's Noise public key ("mkey:<hex>"). */
  readonly publicKey: string;
  /** Tailnet DNS domain. */
  readonly domain: string;
  /** Creates a pre-auth key ("tskey-auth-..."). */
  createAuthKey(options?: CreateAuthKeyOptions): string;
  revokeAuthKey(key: string): boolean;
  /** Approves a waiting interactive login, by its AuthURL (or ID). Returns the node. */
  approve(url: string, options?: ApproveOptions): DevnetNodeInfo;
  /** Interactive logins waiting for approval. */
  pendingLogins(): PendingLoginInfo[];
  nodes(): DevnetNodeInfo[];
  users(): DevnetUserInfo[];
  /** The ACL policy's text, or null for the default (allow all). */
  policy(): string | null;
  /** The admin endpoint (URL, API token, status page URL), when started with `admin`. */
  readonly admin: DevnetAdminInfo | null;
  /** Replaces the ACL policy (HuJSON text or object). Throws PolicyError/HuJSONError if invalid. */
  setPolicy(policy: string | Policy | null): void;
  /** The bundled DERP relay and STUN responder, if running. */
  readonly relay: DevnetRelay | null;
  /** Replaces the DERP map handed to nodes (pushed to connected nodes). */
  setDERPMap(map: DERPMap): void;
  readonly derpMap: DERPMap;
  /** Authorizes a node registered with a non-preauthorized key. */
  authorizeNode(id: number): boolean;
  /** Expires a node's key now; it must log in again. */
  expireNode(id: number): boolean;
  /** Removes a node from the tailnet (its map stream is ended). */
  removeNode(id: number): boolean;
  setNodeTags(id: number, tags: string[]): boolean;
  /** Calls `listener` after every change to nodes, users, keys, policy or pending logins; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
  /**
   * Resolves with the first truthy value of `check()`, evaluated now and after
   * every change; rejects after `timeoutMs` (default 10 s). Handy in tests:
   * `await net.waitFor(() => net.nodes().find((n) => n.online))`.
   */
  waitFor<T>(check: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  /**
   * Liveness ping through the control channel: the node is sent a PingRequest
   * in its map stream and answers with a HEAD over Noise. Resolves with the
   * round trip in ms; rejects if the node has no map stream or does not answer.
   */
  pingNode(id: number, timeoutMs?: number): Promise<number>;
  /** Defines a Tailscale Service ("svc:web") with VIP addresses (chosen unless given). */
  defineService(name: string, options?: { addresses?: string[] }): DevnetServiceInfo;
  /** Approves a node as a host of a service. */
  approveServiceHost(name: string, nodeId: number): void;
  /** Services with their VIPs and approved, advertising hosts. */
  services(): DevnetServiceInfo[];
  /** Approves routes a node advertises ("0.0.0.0/0" and "::/0": an exit node). */
  approveRoutes(nodeId: number, routes: string[]): void;
  /** Control-to-node HTTP request (c2n PingRequest); resolves with the node's HTTP response. */
  c2n(id: number, request: C2NRequestSpec, timeoutMs?: number): Promise<C2NReply>;
  /** The ACME server (directory URL, test CA, counts), when started with `acme`. */
  readonly acme: DevnetAcme | null;
  /** What the control server's connection limits have done (counts). */
  connectionStats(): ConnectionStats;
  /** Waits until pending state is written to stateDir (no-op without one). */
  flush(): Promise<void>;
  /**
   * Starts a Funnel ingress on loopback that delivers public TLS connections to funnel nodes through `options.node`
   * (a Server on this devnet, up) as Tailscale's ingress does (lib/devnet/funnel-ingress.ts). Closed with the devnet.
   */
  startFunnelIngress(options: FunnelIngressOptions): Promise<FunnelIngress>;
  close(): Promise<void>;
}

function policyFrom(p: string | Policy): { policy: Policy; text: string } {
  if (typeof p === 'string') return { policy: parseAndTestPolicy(p), text: p };
  const policy = parseAndTestPolicy(p);
  return { policy, text: JSON.stringify(p, null, 2) };
}

function validDomain(d: string): string {
  const s = d.replace(/\.$/, '').toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/.test(s)) {
    throw new RangeError(`devnet domain ${JSON.stringify(d)} must be a DNS name with at least two labels`);
  }
  return s;
}

function checkLimits(l: DevnetLimits): Required<DevnetLimits> {
  const out: Required<DevnetLimits> = {
    preAuthPerIP: l.preAuthPerIP ?? 64,
    preAuthTotal: l.preAuthTotal ?? 256,
    preAuthTimeoutMs: l.preAuthTimeoutMs ?? 5000,
    headersTimeoutMs: l.headersTimeoutMs ?? 10_000,
    keepAliveTimeoutMs: l.keepAliveTimeoutMs ?? 5000,
    httpIdleTimeoutMs: l.httpIdleTimeoutMs ?? 30_000,
  };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`devnet limits.${k} must be a positive integer, got ${String(v)}`);
  }
  return out;
}

/** Starts the development coordination server. */
export async function startDevnet(options: DevnetOptions = {}): Promise<Devnet> {
  const domain = validDomain(options.domain ?? 'devnet.internal');
  checkServiceDefinitions(options.services);
  const logf = options.logf ?? ((): void => {});
  const state = new DevnetState({ nodeKeyExpiryMs: options.nodeKeyExpiryMs ?? 180 * 24 * 3600 * 1000 });
  let savedPrivate: Buffer | undefined;
  let savedServices: ServicesSnapshot | undefined;
  if (options.stateDir) {
    const saved = await loadDevnetState(options.stateDir);
    if (saved) {
      savedServices = saved.services;
      state.restore(saved.state, (t) => parsePolicy(t));
      savedPrivate = parsePrivate(saved.controlPrivate);
    }
  }
  const controlPrivate: Buffer = options.controlPrivateKey ? Buffer.from(options.controlPrivateKey) : (savedPrivate ?? generatePrivateKey());
  if (options.policy !== undefined) {
    const { policy, text } = policyFrom(options.policy);
    state.setPolicy(policy, text);
  }
  const limits = checkLimits(options.limits ?? {});
  const relayOpt = options.relay ?? (!options.derp && !options.derpMap);
  let relay: DevnetRelay | null = null;
  if (relayOpt) {
    relay = await startDevnetRelay(
      options.host ?? '127.0.0.1',
      { ...limits, ...(relayOpt === true ? {} : relayOpt) },
      (k) => {
        const n = state.nodeByNodeKey(nodePublicToText(k));
        return !!n && n.authorized && !state.isKeyExpired(n, new Date());
      },
      logf,
    );
  }
  let derpMap: DERPMap = options.derpMap
    ? validateDERPMap(options.derpMap)
    : relay
      ? devnetDERPMap(relay.derpMapOptions)
      : options.derp
        ? devnetDERPMap(options.derp)
        : { Regions: {} };
  const netmapCfg = (): NetmapConfig => ({
    domain,
    derpMap,
    magicDNS: options.magicDNS ?? true,
    trimByPolicy: options.trimPeersByPolicy ?? true,
    decorate: (v, self) => services.decorate(v, self),
    serviceAddrs: () => services.addressMap(),
    served: (n) => services.served(n),
    ...(options.nameservers ? { nameservers: options.nameservers } : {}),
    ...(options.extraRecords ? { extraRecords: options.extraRecords } : {}),
    ...(options.acme ? { certDomains: true } : {}),
  });
  const clockOffsetMs = options.clockOffsetMs ?? 0;
  const now = (): Date => new Date(Date.now() + clockOffsetMs);
  const defaultUser = options.defaultUser ?? DEFAULT_USER_LOGIN;

  const acme = options.acme ? await startDevnetAcme(state, domain, options.host ?? '127.0.0.1', options.acme === true ? {} : options.acme, logf, (n) => services.certNames(n)) : null;
  let services: DevnetServices;
  const server = new DevnetServer(state, controlPrivate, {
    minCapVersion: options.minCapVersion ?? MIN_CAPABILITY_VERSION,
    maxCapVersion: options.maxCapVersion ?? Number.POSITIVE_INFINITY,
    keepAliveMs: options.keepAliveMs ?? 50_000,
    followupTimeoutMs: options.followupTimeoutMs ?? 60_000,
    ephemeralTimeoutMs: options.ephemeralTimeoutMs ?? 10_000,
    defaultUser,
    maxConnections: options.maxConnections ?? 1024,
    preAuthPerIP: limits.preAuthPerIP,
    preAuthTotal: limits.preAuthTotal,
    preAuthTimeoutMs: limits.preAuthTimeoutMs,
    headersTimeoutMs: limits.headersTimeoutMs,
    keepAliveTimeoutMs: limits.keepAliveTimeoutMs,
    httpIdleTimeoutMs: limits.httpIdleTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? Math.max(5 * 60_000, 3 * (options.keepAliveMs ?? 50_000), 2 * (options.followupTimeoutMs ?? 60_000)),
    logf,
    netmap: netmapCfg,
    now,
    ...(acme ? { setDNS: acme.setDNS } : {}),
  });
  services = new DevnetServices(state, {
    domain,
    c2n: (id, r) => server.c2n(id, r),
    ...(options.autoApproveServices ? { autoApproveServices: true } : {}),
    ...(options.autoApproveRoutes ? { autoApproveRoutes: true } : {}),
    logf,
  });
  if (savedServices) services.restore(savedServices);
  // A restarted devnet with the same options: definitions it kept stay as they were.
  for (const svc of options.services ?? []) if (!services.has(svc.name)) services.define(svc.name, svc.addresses ? { addresses: svc.addresses } : {});

  // Persistence: coalesce writes; one at a time.
  let saveTimer: NodeJS.Timeout | null = null;
  let saving: Promise<void> = Promise.resolve();
  const privText = privateToText(controlPrivate);
  const save = (): Promise<void> => {
    const dir = options.stateDir;
    if (!dir) return Promise.resolve();
    saving = saving
      .then(() => saveDevnetState(dir, { format: 'tsnet-devnet', controlPrivate: privText, state: state.snapshot(), services: services.snapshot() }))
      .catch((e: unknown) => logf(`devnet: saving state failed: ${(e as Error).message}`));
    return saving;
  };
  const unsubscribeRelay = relay ? state.subscribe(() => relay?.revalidateSoon()) : (): void => {};
  const unsubscribe = state.subscribe((kind) => {
    if (kind !== 'persist' || !options.stateDir || saveTimer) return;
    saveTimer = setTimeout(() => {
      saveTimer = null;
      void save();
    }, 50);
  });
  const flush = async (): Promise<void> => {
    if (saveTimer) {
      clearTimeout(saveTimer);
      saveTimer = null;
      await save();
    }
    await saving;
  };
  if (options.stateDir) await save();

  try {
    await server.listen(options.host ?? '127.0.0.1', options.port ?? 0);
  } catch (e) {
    await relay?.close();
    await acme?.close();
    throw e;
  }
  server.sweepEphemeral();
  logf(`devnet: control server at ${server.controlURL} (for development and tests only)`);

  const info = (n: DevnetNode): DevnetNodeInfo => ({
    id: n.id,
    stableId: n.stableId,
    name: fqdn(n, domain).replace(/\.$/, ''),
    hostname: n.hostinfo.Hostname ?? '',
    os: n.hostinfo.OS ?? '',
    capVersion: n.capVersion,
    user: n.tags.length ? TAGGED_DEVICES_LOGIN : (state.user(n.userId)?.loginName ?? ''),
    tags: [...n.tags],
    addresses: [n.ipv4, n.ipv6],
    nodeKey: n.nodeKey,
    machineKey: n.machineKey,
    discoKey: n.discoKey,
    endpoints: [...n.endpoints],
    homeDERP: n.homeDERP,
    online: n.online,
    lastSeen: n.lastSeen,
    ephemeral: n.ephemeral,
    authorized: n.authorized,
    keyExpiry: n.keyExpiry,
    expired: state.isKeyExpired(n, now()),
    created: n.created,
    advertisedRoutes: [...(n.hostinfo.RoutableIPs ?? [])],
    approvedRoutes: services.routesOf(n),
  });

  let closed = false;
  const ingresses = new Set<FunnelIngress>();
  const devnet: AdminTarget = {
    controlURL: server.controlURL,
    publicKey: server.publicKeyText,
    domain,
    createAuthKey: (o = {}) => state.createAuthKey(o, now()).key,
    revokeAuthKey: (k) => state.revokeAuthKey(k),
    approve: (url, o = {}) => {
      const id = registrationIdFrom(url);
      if (!id) throw new StateError(`not an approval URL: ${url}`);
      return info(server.approve(id, o.user ?? defaultUser, o.tags ?? []));
    },
    pendingLogins: () =>
      state.allPending().map((p) => ({
        id: p.id,
        url: p.url,
        hostname: p.hostinfo.Hostname ?? '',
        nodeKey: p.nodeKey,
        created: p.created,
        approved: p.approval !== null,
        waiting: server.followupWaiting(p.id),
      })),
    nodes: () => state.allNodes().map(info),
    users: () => state.allUsers().map((u) => ({ id: u.id, loginName: u.loginName, displayName: u.displayName })),
    policy: () => state.policyText,
    setPolicy: (p) => {
      if (p === null) return state.setPolicy(null, null);
      const { policy, text } = policyFrom(p);
      state.setPolicy(policy, text);
    },
    setDERPMap: (m) => {
      derpMap = validateDERPMap(m);
      state.touch();
    },
    get derpMap() {
      return derpMap;
    },
    relay,
    authorizeNode: (id) => state.authorizeNode(id),
    expireNode: (id) => state.expireNode(id, now()),
    removeNode: (id) => {
      const ok = state.removeNode(id);
      if (ok) server.disconnectNode(id);
      return ok;
    },
    setNodeTags: (id, tags) => state.setNodeTags(id, tags, now()),
    onChange: (listener) => state.subscribe(() => listener()),
    pingNode: (id, timeoutMs) => server.pingNode(id, timeoutMs),
    c2n: (id, request, timeoutMs) => server.c2n(id, request, timeoutMs),
    defineService: (name, o) => services.define(name, o),
    approveServiceHost: (name, id) => services.approveHost(name, id),
    services: () => services.list(),
    approveRoutes: (id, routes) => services.approveRoutes(id, routes),
    waitFor: <T>(check: () => T | undefined | null | false, timeoutMs = 10_000) =>
      new Promise<T>((resolve, reject) => {
        const first = check();
        if (first) return resolve(first);
        let timer: NodeJS.Timeout | undefined = undefined;
        const off = state.subscribe(() => {
          let v: T | undefined | null | false;
          try {
            v = check();
          } catch (e) {
            clearTimeout(timer);
            off();
            reject(e as Error);
            return;
          }
          if (v) {
            clearTimeout(timer);
            off();
            resolve(v);
          }
        });
        timer = setTimeout(() => {
          off();
          reject(new Error(`devnet.waitFor: condition not met within ${timeoutMs} ms`));
        }, timeoutMs);
      }),
    acme: acme?.info ?? null,
    connectionStats: () => server.connectionStats,
    flush,
    startFunnelIngress: async (o) => {
      if (closed) throw new StateError('the devnet is closed');
      const ing = await startFunnelIngress({ state, domain, now, logf }, o);
      ingresses.add(ing);
      return { ...ing, close: async () => (ingresses.delete(ing), ing.close()) };
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.all([...ingresses].map((i) => i.close()));
      await admin?.close();
      await server.close();
      services.close();
      unsubscribeRelay();
      await relay?.close();
      await acme?.close();
      await flush();
      unsubscribe();
    },
  };
  let admin: DevnetAdmin | null = null;
  if (options.admin) {
    try {
      admin = await startDevnetAdmin(devnet, options.admin === true ? {} : options.admin, options.stateDir);
    } catch (e) {
      await devnet.close();
      throw e;
    }
  }
  return Object.assign(devnet, { admin: admin?.info ?? null });
}
