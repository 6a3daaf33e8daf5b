// The interop tier's shared pieces (docs/interop.md): whether the tier can run here, the Go programs
// (scripts/interop.sh builds them into build-interop/), and a scene: the namespaces of test/netns/topology.ts
// with a coordination server and a relay in the hub and nodes (ours or Tailscale's) in a and b, each a
// JSON-line child process. Every transfer is an HTTP GET over the tailnet whose SHA-256 the serving side
// computes from what it generated and the fetching side from what it received.
import { after, before, type TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ADDR_A, ADDR_B, HUB_SERVICE, type LineChild, Topology, netnsUnavailable } from '../netns/topology.js';

const ROOT = path.join(__dirname, '..', '..');
export const BUILD_DIR = path.join(ROOT, 'build-interop');
/** Bytes per transfer: a few MiB keeps the tier quick yet long enough for a rate. */
export const BYTES = 8 * 1024 * 1024;
/** The tailnet port every node serves its blob on. */
export const PORT = 8080;
/** The port of the small blob `Scene.warmDirect` fetches. */
export const WARM_PORT = 8082;

/** The Go toolchain: GO if set, else `go` on PATH, else Go's default install path; null if none runs. */
export function findGo(): string | null {
  for (const go of process.env.GO ? [process.env.GO] : ['go', '/usr/local/go/bin/go']) {
    try {
      execFileSync(go, ['version'], { stdio: 'ignore' });
      return go;
    } catch {
      // try the next
    }
  }
  return null;
}

/**
 * `false` when the tier runs, else why it cannot (the tests skip with it). With CI=true a missing
 * precondition is no reason to skip: the tests fail with it instead.
 */
export function interopSkip(): string | false {
  const why = netnsUnavailable() || (findGo() ? '' : 'no Go toolchain (GO, go on PATH, /usr/local/go/bin/go): the tier builds Tailscale programs with it');
  if (!why) return false;
  if (process.env.CI) throw new Error(`interop tier cannot run in CI: ${why}`);
  return `interop tier did not run: ${why}`;
}

/** Builds (or finds up to date) the named Go programs; returns their paths. */
/** What withDevnetScene hands a file: the Scene, our devnet's control (URL, auth key, domain) and its process. */
export interface DevnetScene {
  scene: Scene;
  control: Control & { domain: string };
  devnet: LineChild;
}

/** A file's usual setup: before its tests a Scene whose hub runs our devnet, handed to `use`; after them, closed. */
export function withDevnetScene(skip: string | false, use: (s: DevnetScene) => void): void {
  let scene: Scene | undefined;
  before(async () => {
    if (skip) return;
    const { tsinterop } = buildPrograms('tsinterop');
    scene = new Scene(tsinterop!);
    const d = await scene.devnet();
    use({ scene, control: d, devnet: d.child });
  });
  after(async () => {
    await scene?.close();
  });
}

export function buildPrograms(...names: ('tsinterop' | 'headscale' | 'tailscale')[]): Record<string, string> {
  const env = { ...process.env, GO: findGo() ?? 'go' };
  execFileSync('bash', [path.join(ROOT, 'scripts', 'interop.sh'), ...names], { env, stdio: ['ignore', 'inherit', 'inherit'], timeout: 1_200_000 });
  return Object.fromEntries(names.map((n) => [n, path.join(BUILD_DIR, n)]));
}

/** Throws the child's error reply as an exception. */
export function ok(r: Record<string, unknown>, what: string): Record<string, unknown> {
  if (r.error !== undefined) throw new Error(`${what}: ${String(r.error)}${r.log ? ` (log: ${JSON.stringify(r.log)})` : ''}`);
  return r;
}

export interface Control { controlURL: string; authKey: string }

/** A node of either implementation, serving a blob of BYTES on PORT. */
export interface Node {
  child: LineChild;
  name: string;
  impl: 'ours' | 'go';
  ip: string;
  sha256: string;
  /** SHA-256 of the small blob on WARM_PORT, once served. */
  warm?: string;
}

/** What status replies say of one peer, for both implementations. */
export interface PeerView { hostName?: string; curAddr?: string; relay?: string; tailscaleIPs?: string[]; ips?: string[] }

export const DIRECT = /^10\.231\.\d+\.\d+:\d+$/;

/** What a path must show (Scene.settledPath): curAddr matches a regular expression ("^$": no direct path), the
 * peer's home DERP region is known (relay), or it is reached through a peer relay (peerRelay). */
export interface PathWant {
  curAddr?: string;
  relay?: boolean;
  peerRelay?: boolean;
}

export class Scene {
  readonly topo: Topology;
  readonly #tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-interop-'));
  readonly #children = new Set<LineChild>();

  constructor(readonly exe: string) {
    this.topo = new Topology();
    this.topo.create();
  }

  dir(name: string): string {
    const d = path.join(this.#tmp, name);
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  spawn(ns: string, args: string[], label: string): LineChild {
    const c = this.topo.spawnLineChild(ns, args, label);
    this.#children.add(c);
    c.proc.once('exit', () => this.#children.delete(c));
    return c;
  }

  /** Tailscale's DERP relay (and STUN) in the hub; resolves with the DERP map that points at it. */
  async derper(): Promise<{ child: LineChild; derpMap: object }> {
    const child = this.spawn(this.topo.hub, [this.exe, 'derper', JSON.stringify({ host: HUB_SERVICE })], 'derper');
    const r = ok(await child.next(30_000), 'derper');
    const derpMap = {
      Regions: {
        900: {
          RegionID: 900, RegionCode: 'interop', RegionName: 'Interop derper',
          Nodes: [{ Name: '900a', RegionID: 900, HostName: HUB_SERVICE, IPv4: HUB_SERVICE, DERPPort: r.derpPort, STUNPort: r.stunPort, InsecureForTests: true }],
        },
      },
    };
    return { child, derpMap };
  }

  /** Tailscale's testcontrol in the hub, handing out `derpMap`. */
  async testcontrol(derpMap: object): Promise<Control & { child: LineChild }> {
    const authKey = 'tskey-interop-testcontrol';
    const child = this.spawn(this.topo.hub, [this.exe, 'control', JSON.stringify({ listen: `${HUB_SERVICE}:0`, derpMap, authKey })], 'testcontrol');
    const r = ok(await child.next(30_000), 'testcontrol');
    return { child, controlURL: String(r.controlURL), authKey };
  }

  /** Our development tailnet (control, DERP relay, STUN) in the hub. */
  async devnet(): Promise<Control & { child: LineChild; domain: string }> {
    const child = this.spawn(this.topo.hub, [process.execPath, '--import', 'tsx', path.join(ROOT, 'test', 'fixtures', 'netns', 'devnet.ts'),
      JSON.stringify({ host: HUB_SERVICE })], 'devnet');
    const r = ok(await child.next(30_000), 'devnet');
    return { child, controlURL: String(r.controlURL), authKey: String(r.authKey), domain: String(r.domain) };
  }

  /** Starts a node of `impl` in namespace `ns`, joined to `control`, serving BYTES on PORT. */
  async node(impl: 'ours' | 'go', ns: string, name: string, control: Control, opts: { tags?: string[]; holdAt?: number } = {}): Promise<Node> {
    const cfg = { controlURL: control.controlURL, authKey: control.authKey, hostname: name, dir: this.dir(name), tags: opts.tags };
    const args = impl === 'go'
      ? [this.exe, 'node', JSON.stringify(cfg)]
      : [process.execPath, '--import', 'tsx', path.join(ROOT, 'test', 'fixtures', 'netns', 'node.ts'), JSON.stringify(cfg)];
    const child = this.spawn(ns, args, `${impl} node ${name}`);
    const hello = ok(await child.next(90_000), `${name} up`);
    assert.equal(hello.ready, true, `${name} came up: ${JSON.stringify(hello)}`);
    if (impl === 'ours') assert.deepEqual(hello.problems, [], `${name}'s data plane came up`);
    const ip = (hello.ips as string[]).find((x) => !x.includes(':'));
    assert.ok(ip, `${name} has an IPv4 tailnet address: ${JSON.stringify(hello)}`);
    const served = ok(await child.call({ op: 'serve', port: PORT, bytes: BYTES, holdAt: opts.holdAt }), `${name} serve`);
    assert.equal(served.bytes, BYTES);
    return { child, name, impl, ip, sha256: String(served.sha256) };
  }

  /** Waits until `from` has `to` in its netmap. */
  async waitPeer(from: Node, to: Node, timeoutMs = 20_000): Promise<void> {
    const r = ok(await from.child.call({ op: 'waitPeer', name: to.name, timeoutMs }, timeoutMs + 5000), `${from.name} waitPeer`);
    assert.equal(r.ok, true, `${from.name} sees ${to.name} in its netmap`);
  }

  /** `from`'s view of the path to `to`. */
  async path(from: Node, to: Node): Promise<PeerView> {
    const r = ok(await from.child.call({ op: 'status' }), `${from.name} status`);
    const peers = (from.impl === 'go' ? r.peers : (r.status as { peers: PeerView[] }).peers) as PeerView[];
    const p = peers.find((x) => (x.tailscaleIPs ?? x.ips ?? []).includes(to.ip));
    assert.ok(p, `${from.name} lists ${to.name} (${to.ip}): ${JSON.stringify(peers)}`);
    return p;
  }

  /**
   * `from`'s view of the path to `to` once it matches `want` (disco settles a path a little after traffic
   * starts), or as it is after `ms`: each node program waits in-process (ours on its events) and replies once.
   */
  async settledPath(from: Node, to: Node, want: PathWant, ms = 10_000): Promise<PeerView> {
    ok(await from.child.call({ op: 'waitPath', ip: to.ip, address: to.ip, want, timeoutMs: ms }, ms + 5000), `${from.name} waitPath`);
    return this.path(from, to);
  }

  /**
   * A small transfer so that disco runs, then waits until both ends use the direct path: a measured transfer
   * that follows starts direct instead of spending its first part on DERP while the path is proven.
   */
  async warmDirect(client: Node, server: Node): Promise<void> {
    if (!server.warm) server.warm = String(ok(await server.child.call({ op: 'serve', port: WARM_PORT, bytes: 65536 }), `${server.name} serve`).sha256);
    const r = ok(await client.child.call({ op: 'fetch', host: server.ip, port: WARM_PORT, timeoutMs: 20_000 }, 25_000), `${client.name} warm-up fetch`);
    assert.equal(r.sha256, server.warm, `${client.name} warm-up fetch: SHA-256 matches`);
    for (const [a, b] of [[client, server], [server, client]] as const) {
      const p = await this.settledPath(a, b, { curAddr: DIRECT.source }, 15_000);
      assert.match(String(p.curAddr), DIRECT, `${a.name} reaches ${b.name} directly: ${JSON.stringify(p)}`);
    }
  }

  /** Removes the namespaces and everything in them. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#children].map((c) => c.stop(2000)));
    this.topo.destroy();
    fs.rmSync(this.#tmp, { recursive: true, force: true });
    assert.equal(this.topo.exists(), false, 'namespaces removed');
  }
}

export { ADDR_A, ADDR_B, HUB_SERVICE };

export interface Rate { ms: number; mbps: number }

/** `client` fetches `server`'s blob by tailnet IP and checks length and SHA-256; returns the rate. */
export async function fetchBlob(t: TestContext, label: string, client: Node, server: Node, timeoutMs = 60_000): Promise<Rate> {
  const r = ok(await client.child.call({ op: 'fetch', host: server.ip, port: PORT, timeoutMs }, timeoutMs + 5000), `${label}: ${client.name} fetch from ${server.name}`);
  assert.equal(r.status, 200, label);
  assert.equal(r.bytes, BYTES, `${label}: every byte arrived`);
  assert.equal(r.sha256, server.sha256, `${label}: SHA-256 of what ${client.name} received matches what ${server.name} sent`);
  const ms = Math.max(1, Number(r.ms));
  const rate = { ms, mbps: (BYTES * 8) / ms / 1000 };
  t.diagnostic(`${label}: ${server.name} (${server.impl}) → ${client.name} (${client.impl}) ${BYTES >> 20} MiB in ${ms} ms, ${rate.mbps.toFixed(1)} Mbit/s`);
  return rate;
}

/** A Go node's view of how its TCP repaired losses, and its DERP send drops (counters since it started). */
export interface GoSenderStats { timeouts: number; fastRetransmits: number; retransmits: number; derpDropped: number }

/** Reads a tsnet node's gVisor TCP counters (test/interop/go/tcpstats.go) and `magicsock_send_derp_dropped`. */
export async function goSenderStats(n: Node): Promise<GoSenderStats> {
  assert.equal(n.impl, 'go', `${n.name} is a tsnet node`);
  const tcp = ok(await n.child.call({ op: 'tcpstats' }), `${n.name} tcpstats`) as Record<string, number>;
  const m = ok(await n.child.call({ op: 'metrics', prefix: 'magicsock_send_derp_dropped' }), `${n.name} metrics`) as Record<string, number>;
  return {
    timeouts: Number(tcp.counter_tcp_timeouts),
    fastRetransmits: Number(tcp.counter_tcp_fast_retransmit),
    retransmits: Number(tcp.counter_tcp_retransmits),
    derpDropped: Number(m.magicsock_send_derp_dropped ?? 0),
  };
}
