/**
 * Home DERP choice and endpoint lists (docs/protocol/magicsock.md §4), plus a small
 * driver that asks the engine for STUN rounds and turns the answers into
 * reports. The engine sends and receives the STUN packets on the node's UDP
 * socket; this module only plans rounds and judges results.
 *
 * Rules follow Tailscale's net/netcheck/netcheck.go
 * (addReportHistoryAndSetPreferredDERP); see the README for the details and
 * deviations. Endpoint lists are in endpoints.ts.
 */
import { lookup } from 'node:dns/promises';
import type { EngineDERPNode, EngineDERPRegion } from '../wire/engine-config.js';
import { joinHostPort } from '../wire/ip.js';
import { normalizeHostPort } from './endpoints.js';
import { httpsLatency } from './https-latency.js';

export { localEndpoints, mergeEndpoints, type Endpoint, type LocalEndpoint } from './endpoints.js';

/** netcheck.go preferredDERPAbsoluteDiff. */
export const PREFERRED_DERP_ABSOLUTE_DIFF_MS = 10;
/** netcheck.go PreferredDERPFrameTime: a region heard from this recently counts as working. */
export const PREFERRED_DERP_FRAME_TIME_MS = 8_000;
/** netcheck.go PreferredDERPKeepAliveTimeout (2 × DERP keep-alive): keep the old home without any latency data. */
export const PREFERRED_DERP_KEEPALIVE_TIMEOUT_MS = 120_000;
/** netcheck.go fullReportInterval + ReportTimeout: how long a past latency counts as "recent best". */
export const REPORT_HISTORY_MS = 5 * 60_000 + 5_000;

export interface ChooseHomeOptions {
  /** DERPMap.HomeParams.RegionScore: latency multipliers by region ID ("<id>"); ≤ 0 or missing = 1. */
  regionScore?: Record<string, number> | null;
  /** When each region last delivered DERP traffic (ms since epoch). */
  lastHeard?: Map<number, number>;
  now?: number;
  /** When this measurement round started (ms): traffic since then also counts as "heard recently". */
  roundStart?: number;
  /** Best latency per region over the recent reports (ms, unscaled); defaults to this round's. */
  bestRecent?: Map<number, number>;
}

function canBeHome(r: EngineDERPRegion | undefined, prev: number): r is EngineDERPRegion {
  if (!r || r.noMeasureNoHome || !r.nodes.some((n) => !n.stunOnly)) return false;
  // Avoid (deprecated) regions are not measured unless already home (netcheck.go sortRegions).
  return !r.avoid || r.id === prev;
}

/**
 * The home region for this round: the lowest score-scaled recent latency
 * among regions measured now, unless the previous home is still reachable
 * (measured now or heard from recently) and the gain is under 10 ms or the
 * new best is more than 2/3 of the old home's latency. 0 = none.
 */
export function chooseHomeRegion(prev: number, latencies: Map<number, number>, regions: readonly EngineDERPRegion[], opts: ChooseHomeOptions = {}): number {
  const byID = new Map(regions.map((r) => [r.id, r]));
  const scale = (id: number, ms: number): number => {
    const s = opts.regionScore?.[String(id)];
    return typeof s === 'number' && s > 0 ? ms * s : ms;
  };
  let best = 0;
  let bestAny = 0;
  let oldCur: number | null = null;
  for (const [id, ms] of latencies) {
    if (!canBeHome(byID.get(id), prev)) continue;
    if (id === prev) oldCur = scale(id, ms);
    const recent = scale(id, Math.min(ms, opts.bestRecent?.get(id) ?? ms));
    if (best === 0 || recent < bestAny) {
      best = id;
      bestAny = recent;
    }
  }
  const now = opts.now ?? Date.now();
  const heard = opts.lastHeard?.get(prev);
  // Unlike netcheck.go, a previous home that may no longer be home (NoMeasureNoHome, gone from the map) is never kept.
  const prevOK = prev !== 0 && canBeHome(byID.get(prev), prev);
  if (prevOK && best !== 0 && best !== prev) {
    const heardRecently = heard !== undefined && (heard > now - PREFERRED_DERP_FRAME_TIME_MS || (opts.roundStart !== undefined && heard > opts.roundStart));
    if (oldCur !== null || heardRecently) {
      const old = oldCur ?? 0;
      if (old - bestAny < PREFERRED_DERP_ABSOLUTE_DIFF_MS || bestAny > (old * 2) / 3) return prev;
    }
  }
  if (best === 0 && prevOK && heard !== undefined && heard > now - PREFERRED_DERP_KEEPALIVE_TIMEOUT_MS) return prev;
  return best;
}

// --- driver ---------------------------------------------------------------------

export interface STUNTarget {
  regionID: number;
  /** DERP node name (for logs). */
  node: string;
  ip: string;
  port: number;
}

export interface NetcheckReport {
  /** Home region (0 = none). */
  home: number;
  /** Best STUN round trip per region this round (ms). */
  latencies: Map<number, number>;
  /** Our address as the STUN servers saw it, "ip:port", deduplicated. */
  mapped: string[];
}

export interface NetcheckOptions {
  /** Asks the engine to send STUN binding requests to these targets from the node's UDP socket. */
  probe(targets: STUNTarget[]): void;
  /** Host name → IP for nodes without a fixed address (default: DNS, IPv4 unless the node disables it). */
  resolve?(hostName: string, node: EngineDERPNode): Promise<string>;
  /** Pause between rounds (ms); default random 20–26 s, as magicsock re-STUNs. */
  intervalMs?: number;
  /** A round reports after this long even if some regions never answered; default 2000. */
  roundTimeoutMs?: number;
  /** When a region last delivered DERP traffic (ms since epoch): hysteresis input. */
  lastDERPActivity?(regionID: number): number | undefined;
  onReport(report: NetcheckReport): void;
  /**
   * When a round gets no STUN answer at all (UDP blocked), each region's latency is measured over HTTPS instead
   * (default: httpsLatency, HEAD /derp/latency-check), so the home region still follows latency. null: off.
   */
  httpsLatency?: ((region: EngineDERPRegion) => Promise<number>) | null;
  logf?: (m: string) => void;
}

interface Round {
  start: number;
  /** Regions probed and not answered yet. */
  pending: Set<number>;
  latencies: Map<number, number>;
  mapped: Set<string>;
  timer: NodeJS.Timeout | null;
}

function defaultResolve(hostName: string, node: EngineDERPNode): Promise<string> {
  return lookup(hostName, { family: node.useIPv4 ? 4 : 6 }).then((r) => r.address);
}

/**
 * Runs STUN rounds over the engine: each round probes every STUN-capable node
 * of every measurable region at once, then reports when all probed regions
 * answered or the round timed out, and picks the home region.
 */
export class Netcheck {
  private regions: readonly EngineDERPRegion[] = [];
  private regionScore: Record<string, number> | null = null;
  private home = 0;
  private round: Round | null = null;
  private next: NodeJS.Timeout | null = null;
  private running = false;
  /** Past rounds' latencies, for the "best recent" rule. */
  private history: Array<{ at: number; latencies: Map<number, number> }> = [];
  /** Bumped by stop(): a round whose resolution finishes afterwards is dropped. */
  private epoch = 0;

  constructor(private readonly o: NetcheckOptions) {}

  setRegions(regions: readonly EngineDERPRegion[], regionScore?: Record<string, number> | null): void {
    this.regions = regions;
    this.regionScore = regionScore ?? null;
  }

  /** Current home region (0 = none yet). */
  get homeRegion(): number {
    return this.home;
  }

  /** A STUN answer the engine received: round trip, and our address as that server saw it. */
  result(regionID: number, rttMs: number, mappedIP: string, mappedPort: number): void {
    const r = this.round;
    if (!r || !Number.isFinite(rttMs) || rttMs < 0) return;
    if (!r.pending.has(regionID) && !r.latencies.has(regionID)) return; // not probed this round
    const prev = r.latencies.get(regionID);
    if (prev === undefined || rttMs < prev) r.latencies.set(regionID, rttMs);
    const m = normalizeHostPort(joinHostPort(mappedIP, mappedPort));
    if (m) r.mapped.add(m);
    r.pending.delete(regionID);
    if (r.pending.size === 0) this.finish(r);
  }

  /** Starts periodic rounds (the first at once). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.runNow();
  }

  /** Stops rounds; a round in progress is dropped without a report. */
  stop(): void {
    this.running = false;
    this.epoch++;
    if (this.next) clearTimeout(this.next);
    this.next = null;
    if (this.round?.timer) clearTimeout(this.round.timer);
    this.round = null;
  }

  /** Starts a round now unless one is in progress (e.g. after a network change). */
  runNow(): void {
    if (this.round) return;
    if (this.next) clearTimeout(this.next);
    this.next = null;
    const r: Round = { start: Date.now(), pending: new Set(), latencies: new Map(), mapped: new Set(), timer: null };
    this.round = r;
    const epoch = this.epoch;
    void this.targets().then((targets) => {
      if (this.round !== r || this.epoch !== epoch) return;
      for (const t of targets) r.pending.add(t.regionID);
      if (targets.length === 0) {
        this.finish(r);
        return;
      }
      r.timer = setTimeout(() => this.finish(r), this.o.roundTimeoutMs ?? 2000);
      r.timer.unref();
      try {
        this.o.probe(targets);
      } catch (e) {
        this.log(`netcheck: probe failed: ${(e as Error).message}`);
        this.finish(r);
      }
    });
  }

  private log(m: string): void {
    this.o.logf?.(m);
  }

  /** One target per STUN-capable node of each measured region; nodes whose name does not resolve are skipped. */
  private async targets(): Promise<STUNTarget[]> {
    const resolve = this.o.resolve ?? defaultResolve;
    const jobs: Array<Promise<STUNTarget | null>> = [];
    for (const reg of this.regions) {
      if (reg.noMeasureNoHome) continue;
      for (const n of reg.nodes) {
        if (n.stunPort === null) continue;
        const port = n.stunPort;
        const fixed = n.ipv4 && n.useIPv4 ? n.ipv4 : n.ipv6 && n.useIPv6 ? n.ipv6 : null;
        const ip = fixed ? Promise.resolve(fixed) : n.useIPv4 || n.useIPv6 ? resolve(n.hostName, n) : Promise.reject(new Error('no address family'));
        jobs.push(
          ip.then(
            (addr) => ({ regionID: reg.id, node: n.name, ip: addr, port }),
            (e: unknown) => {
              this.log(`netcheck: ${n.hostName}: ${(e as Error).message}`);
              return null;
            },
          ),
        );
      }
    }
    return (await Promise.all(jobs)).filter((t): t is STUNTarget => t !== null);
  }

  private finish(r: Round): void {
    if (this.round !== r) return;
    if (r.timer) clearTimeout(r.timer);
    r.timer = null;
    const measure = this.o.httpsLatency === undefined ? httpsLatency : this.o.httpsLatency;
    const measurable = this.regions.filter((reg) => !reg.noMeasureNoHome && reg.nodes.some((n) => !n.stunOnly));
    if (r.latencies.size > 0 || !measure || measurable.length === 0) {
      this.complete(r);
      return;
    }
    // No STUN answer: UDP is probably blocked. The round stays current (no second round starts) meanwhile.
    const epoch = this.epoch;
    void Promise.all(
      measurable.map((reg) =>
        measure(reg).then(
          (ms) => void r.latencies.set(reg.id, ms),
          (e: unknown) => this.log(`netcheck: HTTPS latency to region ${reg.id}: ${(e as Error).message}`),
        ),
      ),
    ).then(() => {
      if (this.round === r && this.epoch === epoch) this.complete(r);
    });
  }

  private complete(r: Round): void {
    if (this.round !== r) return;
    this.round = null;
    const now = Date.now();
    this.history = this.history.filter((h) => now - h.at <= REPORT_HISTORY_MS);
    const bestRecent = new Map<number, number>();
    for (const h of this.history) for (const [id, ms] of h.latencies) bestRecent.set(id, Math.min(ms, bestRecent.get(id) ?? Infinity));
    this.history.push({ at: now, latencies: r.latencies });
    const lastHeard = new Map<number, number>();
    const heard = this.home !== 0 ? this.o.lastDERPActivity?.(this.home) : undefined;
    if (heard !== undefined) lastHeard.set(this.home, heard);
    this.home = chooseHomeRegion(this.home, r.latencies, this.regions, { regionScore: this.regionScore, lastHeard, now, roundStart: r.start, bestRecent });
    if (this.running) {
      this.next = setTimeout(() => this.runNow(), this.o.intervalMs ?? 20_000 + Math.random() * 6_000);
      this.next.unref();
    }
    this.o.onReport({ home: this.home, latencies: r.latencies, mapped: [...r.mapped] });
  }
}
