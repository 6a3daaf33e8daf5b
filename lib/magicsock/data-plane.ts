// A Server's data plane: one device (userspace TCP/IP + WireGuard) in Tailscale mode, kept in step with the
// netmap. Paths are chosen natively (magicsock: direct UDP once disco proves it, else DERP); this side owns
// what needs Node: TLS connections to the relays (DERPManager), STUN rounds and the home region (Netcheck),
// and the endpoints and NetInfo reported to control.
import { DiscoPings, type DiscoPong } from './disco-ping.js';
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import type { EngineConfig } from '../wire/engine-config.js';
import type { CompiledFilter } from '../wire/filter.js';
import { joinHostPort, parseAddrPort, parseIP, parsePrefix, type IPPrefix } from '../wire/ip.js';
import type { NetworkMap } from '../wire/netmap.js';
import type { NetInfo } from '../wire/tailcfg.js';
import type { Endpoint } from './endpoints.js';
import { localEndpoints, mergeEndpoints } from './endpoints.js';
import { DERPManager } from './derp-manager.js';
import { deviceEngineTLS, engineTLSWanted } from './derp-engine-tls.js';
import { DERPStream } from './derp-stream.js';
import { bridgeMode } from '../net/bridge.js';
import { Netcheck, type NetcheckReport } from './netcheck.js';
import { peerRelayLists } from './peer-relay-lists.js';
import type { NativeMagicsockStats } from '../native.js';
import type { DeviceFilterRule, DevicePeer, DevicePrefix, LinkEvent } from '../net/device.js';
import { Netstack } from '../net/netstack.js';
import { publicFromPrivate } from '../wire/keys.js';
import type { Logger } from '../util/log.js';

export interface DataPlaneOptions {
  nodePrivate: Uint8Array;
  discoPrivate: Uint8Array;
  log: Logger;
  /** Our endpoints changed (local interfaces, STUN-mapped): report them to control. */
  onEndpoints(endpoints: Endpoint[]): void;
  /** Home region and what netcheck learned: report to control (peers learn our home DERP from it). */
  onNetInfo(netInfo: NetInfo): void;
  /** A peer's chosen path changed: a direct "ip:port", or "" and the relay region it now goes through; peerRelay:
   * "ip:port:vni:N" when it goes through a peer relay (docs/protocol/peer-relay.md), else "". */
  onPath?(nodeKey: Buffer, direct: string, region: number, peerRelay: string): void;
  /** The home relay's connection came up (error undefined) or failed: for the node's health. */
  onHomeRelay?(region: number, up: boolean, error?: string): void;
  /** Local UDP port for WireGuard, disco and STUN; 0: any. */
  port?: number;
  /** Never use a direct path (debugging); default: TS_DEBUG_ALWAYS_USE_DERP=1. */
  alwaysUseDERP?: boolean;
  /** Relays other than home's close after this long without a packet; default 60 s (tests shorten it). */
  derpIdleMs?: number;
  /** Try peer relays toward every peer, not only those claiming capability version 121 (testing between our
   * own nodes, which claim less); default: TSNET_DEBUG_PEER_RELAY_ALL_PEERS=1. */
  peerRelayAllPeers?: boolean;
}

export class DataPlane {
  readonly stack: Netstack;
  port: number;
  readonly #o: DataPlaneOptions;
  readonly #derp: DERPManager;
  readonly #netcheck: Netcheck;
  #filter: CompiledFilter | undefined;
  #rulesJSON = '';
  #relayJSON = '';
  #lastReport: NetcheckReport | null = null;
  readonly #handshaken = new Set<string>();
  readonly #pings = new Map<string, (from: Buffer) => void>();
  readonly #discoPings = new DiscoPings();
  #home = 0;
  #regions: EngineConfig['derpRegions'] = [];
  #regionsKey = '';
  #netcheckStarted = false;
  #closed = false;
  /** Node attribute only-tcp-443 (lib/wire/node-attrs.ts): no UDP at all, so no STUN and no endpoints to publish. */
  #onlyTCP443: boolean;
  #randomPort: boolean;
  /** The node public key the engine holds (WireGuard's static key, the relays' login). */
  #nodePublic: Buffer;
  #foreignKey = '';

  constructor(cfg: EngineConfig, o: DataPlaneOptions) {
    this.#o = o;
    this.#nodePublic = publicFromPrivate(o.nodePrivate);
    this.#onlyTCP443 = cfg.nodeAttrs.onlyTCP443;
    const stack = new Netstack();
    this.stack = stack;
    const { device } = stack;
    try {
      for (const a of cfg.addresses) stack.addAddress(a.split('/')[0]!);
      // Node attribute randomize-client-port: a random port even when the owner fixed one.
      this.#randomPort = cfg.nodeAttrs.randomizeClientPort;
      this.port = device.startWireGuard(o.nodePrivate, this.#randomPort ? 0 : (o.port ?? 0));
      this.#applyOffload(cfg);
      // TS_DEBUG_ALWAYS_USE_DERP, as in Tailscale: never go direct (tests and measurements of the relay path).
      device.startMagicsock(o.discoPrivate, {
        derpOnly: cfg.nodeAttrs.onlyTCP443 || (o.alwaysUseDERP ?? process.env.TS_DEBUG_ALWAYS_USE_DERP === '1'),
        derpIdleMs: o.derpIdleMs ?? 0,
      });
      // Until control sends a packet filter, nothing new gets in (replies to our own flows still do).
      device.setFilter([], localPrefixes(cfg));
    } catch (err) {
      stack.close();
      throw err;
    }
    device.onLinkEvent((ev) => this.#onEvent(ev));
    const derpLog = o.log.child('derp');
    const netcheckLog = o.log.child('netcheck');
    this.#derp = new DERPManager({
      attach: (region, serverKey, host) => {
        if (bridgeMode() === 'stream') {
          const s = new DERPStream(device);
          try {
            device.derpAttach(region, host, serverKey, s.id);
          } catch (err) {
            s.destroy();
            throw err;
          }
          return s;
        }
        const fd = device.derpAttach(region, host, serverKey);
        return new net.Socket({ fd, readable: true, writable: true });
      },
      logf: (m) => derpLog.warn(m),
      ...(engineTLSWanted() ? { engineTLS: deviceEngineTLS(device) } : {}),
    });
    this.#derp.on('connected', (r, engineTLS) => {
      derpLog.info('region connected', { region: r, tls: engineTLS ? 'engine' : 'node' });
      if (r === this.#home) o.onHomeRelay?.(r, true);
    });
    this.#derp.on('disconnected', (r, err) => {
      derpLog.warn('region disconnected', { region: r, ...(err ? { error: err.message } : {}) });
      if (r === this.#home && err) o.onHomeRelay?.(r, false, err.message);
    });
    this.#netcheck = new Netcheck({
      probe: (targets) => {
        if (this.#onlyTCP443) return; // no answer: the report falls back to the first usable region as home
        for (const t of targets) {
          try {
            device.stunProbe(t.regionID, t.ip, t.port);
          } catch (err) {
            netcheckLog.debug('STUN probe failed', { target: `${t.ip}:${t.port}`, error: (err as Error).message });
          }
        }
      },
      onReport: (r) => this.#onReport(r),
      logf: (m) => netcheckLog.debug(m),
    });
    // Local endpoints at once, so peers on this machine or LAN can be reached before the first STUN round.
    this.#publish([]);
  }

  /** Node attributes disable-udp-gso, disable-udp-gro and never-gso-equal-tail: control's offload switches. */
  #applyOffload(cfg: EngineConfig): void {
    const a = cfg.nodeAttrs;
    this.stack.device.setUdpOffload({ gso: !a.disableUDPGSO, gro: !a.disableUDPGRO, equalTailGuard: a.neverGSOEqualTail });
  }

  /** Applies a netmap: peers, relays, packet filter. */
  apply(cfg: EngineConfig, nm: NetworkMap): void {
    if (this.#closed) return;
    const { device } = this.stack;
    if (cfg.nodeAttrs.onlyTCP443 !== this.#onlyTCP443) {
      // The engine's DERP-only mode is fixed when it starts: STUN and endpoints follow at once, the rest at the next start.
      this.#onlyTCP443 = cfg.nodeAttrs.onlyTCP443;
      this.#o.log.warn('node attribute only-tcp-443 changed; UDP use follows fully at the next start', { onlyTCP443: this.#onlyTCP443 });
      this.#publish([]);
    }
    if (cfg.nodeAttrs.randomizeClientPort !== this.#randomPort) {
      this.#randomPort = cfg.nodeAttrs.randomizeClientPort;
      // Only a fixed port is affected: without one the port is random already.
      if (this.#o.port) {
        try {
          this.#rebindTo(this.#randomPort ? 0 : this.#o.port);
        } catch (err) {
          this.#o.log.warn('rebinding for randomize-client-port failed', { error: (err as Error).message });
        }
      }
    }
    this.#applyOffload(cfg);
    // The whole peer set in one engine call: each peer's AllowedIPs are replaced, not added to (a prefix the
    // peer no longer owns, a route withdrawn or an address moved, stops being accepted from it), peers gone
    // from the netmap are removed, and unchanged peers are left alone.
    device.setPeers(cfg.peers.map((p): DevicePeer => ({
      publicKey: p.nodeKey,
      discoKey: p.discoKey,
      homeRegion: p.homeDERP,
      endpoints: p.endpoints.filter(validEndpoint),
      allowedIPs: p.allowedIPs,
    })));
    // Peer relays (docs/protocol/peer-relay.md): who may relay for us, and whom we may reach through one.
    const relays = peerRelayLists(cfg.filter, nm, this.#o.peerRelayAllPeers ?? process.env.TSNET_DEBUG_PEER_RELAY_ALL_PEERS === '1');
    const relayJSON = JSON.stringify(relays, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
    if (relayJSON !== this.#relayJSON) {
      this.#relayJSON = relayJSON;
      device.setPeerRelays(relays.servers, relays.targets);
    }
    // Rules whose sources are capabilities ("cap:...") depend on which nodes hold them: recompute them with
    // every netmap, and push only what changed.
    if (nm.packetFilterKnown && (cfg.filter !== this.#filter || cfg.filter.matches.some((m) => m.srcCaps.length) || (cfg.foreign ?? []).join(',') !== this.#foreignKey)) {
      this.#foreignKey = (cfg.foreign ?? []).join(',');
      this.#filter = cfg.filter;
      const rules = nativeRules(cfg.filter, capHolders(nm));
      const json = JSON.stringify(rules, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
      const key = json + (cfg.foreign ?? []).join(',');
      if (key !== this.#rulesJSON) {
        this.#rulesJSON = key;
        device.setFilter(rules, localPrefixes(cfg));
      }
    }
    // By content, not identity: a control server may resend the same DERP map with every netmap (testcontrol
    // does), and a netcheck per netmap published endpoints, which brought the next netmap: a loop of lite
    // updates every few milliseconds (docs/performance.md, "The interop tier's gap").
    const regionsKey = JSON.stringify([cfg.derpRegions, cfg.derpMap?.HomeParams?.RegionScore ?? null]);
    if (regionsKey !== this.#regionsKey) {
      this.#regionsKey = regionsKey;
      this.#regions = cfg.derpRegions;
      this.#derp.setRegions(cfg.derpRegions);
      this.#netcheck.setRegions(cfg.derpRegions, cfg.derpMap?.HomeParams?.RegionScore ?? null);
      if (!this.#netcheckStarted && cfg.derpRegions.length) {
        this.#netcheckStarted = true;
        this.#netcheck.start();
      } else {
        this.#netcheck.runNow();
      }
    }
  }

  #onEvent(ev: LinkEvent): void {
    if (this.#closed) return;
    switch (ev.type) {
      case 'derp-want':
        this.#derp.want(ev.id);
        break;
      case 'stun':
        this.#netcheck.result(ev.id, ev.rttMs, ev.mapped.address, ev.mapped.port);
        break;
      case 'disco-pong':
        this.#discoPings.pong(ev);
        break;
      case 'tsmp-pong': {
        const key = ev.data.toString('hex');
        const w = this.#pings.get(key);
        if (w) {
          this.#pings.delete(key);
          w(ev.publicKey);
        }
        break;
      }
      case 'handshake': {
        // The first handshake with a peer is news; the rekeys every two minutes after it are not.
        const key = ev.publicKey.toString('hex');
        const first = !this.#handshaken.has(key);
        this.#handshaken.add(key);
        this.#o.log.child('wireguard')[first ? 'info' : 'debug']('handshake completed', { peer: `nodekey:${key}` });
        break;
      }
      case 'path':
        this.#o.onPath?.(ev.nodeKey, ev.direct ? joinHostPort(ev.direct.address, ev.direct.port) : '', ev.region,
          ev.peerRelay ? `${joinHostPort(ev.peerRelay.address, ev.peerRelay.port)}:vni:${ev.vni ?? 0}` : '');
        break;
      case 'derp-state':
        if (!ev.connected && ev.code) this.#o.log.child('derp').info('region connection ended', { region: ev.id, code: ev.code });
        break;
    }
  }

  #onReport(r: NetcheckReport): void {
    if (this.#closed) return;
    this.#lastReport = r;
    let home = r.home;
    // No STUN answer at all (UDP blocked): keep the home we had, else take the first usable region, so that
    // peers can still reach us through a relay.
    if (!home) home = this.#home || (this.#regions.find((x) => !x.avoid && !x.noMeasureNoHome)?.id ?? 0);
    const changed = home !== this.#home;
    this.#home = home;
    if (changed) this.#derp.setHome(home);
    this.#publish(r.mapped);
    const ni: NetInfo = { PreferredDERP: home, WorkingUDP: r.latencies.size > 0 };
    this.#o.onNetInfo(ni);
  }

  #publish(mapped: readonly string[]): void {
    const eps = this.#onlyTCP443 ? [] : mergeEndpoints(localEndpoints(this.port), mapped);
    this.stack.device.setSelf(eps.map((e) => e.addr), this.#home);
    this.#o.onEndpoints(eps);
  }

  /** The node public key the engine uses now. */
  get nodePublic(): Buffer {
    return Buffer.from(this.#nodePublic);
  }

  /**
   * A node key renewal (docs/protocol/capver.md, "Seamless key renewal"): the engine takes the new node private
   * key. WireGuard sessions made with the old key end (peers handshake again with the new one, which they learn
   * from control); the relay connections close and log in again with the new key (home at once, others on
   * demand). Peers, filter and the TCP/IP stack stay. The caller wipes its copy of the key. No-op when unchanged.
   */
  setNodeKey(nodePrivate: Uint8Array): void {
    if (this.#closed) return;
    const pub = publicFromPrivate(nodePrivate);
    if (pub.equals(this.#nodePublic)) return;
    this.stack.device.setPrivateKey(nodePrivate);
    this.#nodePublic = pub;
  }

  /** Moves to a fresh UDP socket (a new port, as after a network change) and reports the new endpoints. */
  rebind(): number {
    return this.#rebindTo(0);
  }

  #rebindTo(wanted: number): number {
    const port = this.stack.device.rebind(wanted);
    this.port = port;
    this.#publish([]);
    this.#netcheck.runNow();
    return port;
  }

  get homeRegion(): number {
    return this.#home;
  }

  /**
   * A TSMP ping through the tunnel from `source` (ours) to `destination`; resolves with the answering peer's
   * node key and the round trip in ms. The caller bounds the wait (signal).
   */
  tsmpPing(source: string, destination: string, signal: AbortSignal): Promise<{ from: Buffer; ms: number }> {
    const data = crypto.randomBytes(8);
    const key = data.toString('hex');
    return new Promise((resolve, reject) => {
      const start = process.hrtime.bigint();
      const onAbort = () => {
        this.#pings.delete(key);
        reject(signal.reason);
      };
      this.#pings.set(key, (from) => {
        signal.removeEventListener('abort', onAbort);
        resolve({ from, ms: Number(process.hrtime.bigint() - start) / 1e6 });
      });
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        this.stack.device.tsmpPing(source, destination, data);
      } catch (err) {
        this.#pings.delete(key);
        signal.removeEventListener('abort', onAbort);
        reject(err);
      }
    });
  }

  /** A disco ping on demand to the peer with `nodeKey` (lib/magicsock/disco-ping.ts); the first pong wins. */
  discoPing(nodeKey: Buffer, signal: AbortSignal): Promise<DiscoPong> {
    return this.#discoPings.ping((tag) => this.stack.device.discoPing(nodeKey, tag), signal);
  }

  /** The last netcheck round's result, or null before the first. */
  get lastReport(): NetcheckReport | null {
    return this.#lastReport;
  }

  stats(): NativeMagicsockStats {
    return this.stack.device.magicsockStats();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#netcheck.stop();
    this.#derp.close();
    this.stack.device.onLinkEvent(undefined);
    this.stack.close();
  }
}

function validEndpoint(e: string): boolean {
  const ap = parseAddrPort(e);
  return ap !== null && ap.port > 0;
}

/** Node capability → the addresses of the nodes (peers and self) that hold it, from the netmap's CapMaps. */
export function capHolders(nm: NetworkMap): Map<string, IPPrefix[]> {
  const out = new Map<string, IPPrefix[]>();
  for (const n of [nm.self, ...nm.peers]) {
    const caps = Object.keys(n.CapMap ?? {});
    if (!caps.length) continue;
    const addrs = (n.Addresses ?? []).map((a) => parsePrefix(a)).filter((p): p is IPPrefix => p !== null);
    for (const c of caps) out.set(c, [...(out.get(c) ?? []), ...addrs]);
  }
  return out;
}

/** The compiled netmap filter in the native filter's shape; capability sources (SrcIPs "cap:...") become the
 * addresses of the nodes holding the capability. A rejected filter admits nothing new. */
export function nativeRules(f: CompiledFilter, holders: Map<string, IPPrefix[]>): DeviceFilterRule[] {
  if (f.rejected) return [];
  const prefix = (p: IPPrefix): DevicePrefix => ({ family: p.family, bits: p.bits, addr: p.addr });
  return f.matches
    .map((m) => ({ m, srcs: [...m.srcs, ...m.srcCaps.flatMap((c) => holders.get(c) ?? [])] }))
    .filter(({ m, srcs }) => srcs.length > 0 && m.dsts.length > 0)
    .map(({ m, srcs }) => ({
      protos: [...m.protocols],
      srcs: srcs.map(prefix),
      dsts: m.dsts.map((d) => ({ ...prefix(d.net), first: d.first, last: d.last })),
    }));
}

function localPrefixes(cfg: EngineConfig): DevicePrefix[] {
  const out: DevicePrefix[] = [];
  for (const a of cfg.addresses) {
    const addr = parseIP(a.split('/')[0]!);
    if (addr) out.push({ family: addr.length === 4 ? 4 : 6, bits: addr.length * 8, addr });
  }
  // Foreign destinations (service VIPs, advertised routes): local to the filter too (docs/services.md).
  for (const f of cfg.foreign ?? []) {
    const [ip, bits] = f.split('/');
    const addr = parseIP(ip!);
    if (addr) out.push({ family: addr.length === 4 ? 4 : 6, bits: Number(bits ?? addr.length * 8), addr });
  }
  return out;
}
