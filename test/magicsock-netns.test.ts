// Scenario tests for the data path between two Server nodes on the devnet, each node in its own network
// namespace behind a hub namespace that routes between them and runs the devnet (control, DERP relay, STUN):
// test/netns/topology.ts draws the picture. Issue 5: (i) with UDP between the nodes allowed they talk
// directly; (b) with UDP between them dropped by the hub, everything still works through the DERP relay.
import { test, before, after, type TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ADDR_A, ADDR_B, HUB_SERVICE, LineChild, Topology, netnsUnavailable } from './netns/topology.js';

const why = netnsUnavailable();
// CI must never skip these: there, a missing precondition is a failure.
const skip = why && !process.env.CI ? why : false;

const BLOB_BYTES = 20 * 1024 * 1024;
const PORT = 8080;
const FIXTURES = path.join(__dirname, 'fixtures', 'netns');

const topo = new Topology();
let devnet: LineChild | undefined;
let control: { controlURL: string; authKey: string; domain: string } | undefined;
const nodes = new Set<LineChild>();
const tmpDirs: string[] = [];

/** Per-peer path info as the engine reports it in status().peers (not there until the DERP/disco work lands). */
interface PeerPath { hostName?: string; tailscaleIPs?: string[]; curAddr?: string; relay?: string | number; rxBytes?: number; txBytes?: number }

async function startNode(ns: string, hostname: string): Promise<LineChild> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsnet-netns-${hostname}-`));
  tmpDirs.push(dir);
  const child = topo.spawnLineChild(ns, [process.execPath, '--import', 'tsx', path.join(FIXTURES, 'node.ts'),
    JSON.stringify({ ...control, hostname, dir })], hostname);
  nodes.add(child);
  const hello = await child.next(30_000);
  assert.equal(hello.ready, true, `${hostname} came up: ${JSON.stringify(hello)}`);
  assert.deepEqual(hello.problems, [], `${hostname}'s data plane came up`);
  return child;
}

async function stopNode(child: LineChild): Promise<void> {
  nodes.delete(child);
  await child.stop();
}

/** Starts a server in namespace a and a client in namespace b; the client waits until it sees the server. */
async function startPair(prefix: string): Promise<{ server: LineChild; client: LineChild; serverName: string; sha256: string }> {
  const serverName = `${prefix}-a`;
  const [server, client] = await Promise.all([startNode(topo.a, serverName), startNode(topo.b, `${prefix}-b`)]);
  const served = await server.call({ op: 'serve', port: PORT, bytes: BLOB_BYTES });
  assert.equal(served.bytes, BLOB_BYTES, JSON.stringify(served));
  const seen = await client.call({ op: 'waitPeer', name: serverName, timeoutMs: 10_000 }, 15_000);
  assert.equal(seen.ok, true, `${prefix}-b sees ${serverName} in its netmap`);
  return { server, client, serverName, sha256: String(served.sha256) };
}

/** The client fetches the served blob from `host` (MagicDNS name) and checks it; the time goes to the report. */
async function fetchBlob(t: TestContext, client: LineChild, host: string, sha256: string): Promise<void> {
  // Through the relay this takes 3-9 s on this 2-core machine (CPU-bound: docs/performance.md); the limit leaves room for a busy CI.
  const r = await client.call({ op: 'fetch', host, port: PORT, timeoutMs: 30_000 }, 35_000);
  assert.equal(r.error, undefined, `fetch failed: ${String(r.error)}`);
  assert.equal(r.status, 200);
  assert.equal(r.bytes, BLOB_BYTES);
  assert.equal(r.sha256, sha256);
  t.diagnostic(`${BLOB_BYTES} bytes from ${host} in ${r.ms} ms`);
}

/** The client's view of the path to `peer`, or undefined while status() has no per-peer path info. */
async function peerPath(client: LineChild, peer: string): Promise<PeerPath | undefined> {
  const r = await client.call({ op: 'status' });
  assert.equal(r.error, undefined, `status() failed: ${String(r.error)}`);
  const peers = (r.status as { peers?: PeerPath[] } | null)?.peers;
  if (!Array.isArray(peers)) return undefined;
  const p = peers.find((x) => x.hostName === peer || x.hostName?.split('.')[0] === peer);
  assert.ok(p, `status().peers lists ${peer}: ${JSON.stringify(peers)}`);
  return p;
}

/** The peer's path once its curAddr matches `curAddr` (a regular expression; disco may upgrade a relayed path to a
 * direct one a little later), or as it is after `ms`: the node waits on its own events and replies once. */
async function settledPath(client: LineChild, peer: string, curAddr: RegExp, ms = 5000): Promise<PeerPath | undefined> {
  const ip = (await peerPath(client, peer))?.tailscaleIPs?.[0];
  if (!ip) return undefined;
  const r = await client.call({ op: 'waitPath', address: ip, want: { curAddr: curAddr.source }, timeoutMs: ms }, ms + 5000);
  assert.equal(r.error, undefined, `waitPath failed: ${String(r.error)}`);
  return peerPath(client, peer);
}

async function relayForwarded(): Promise<number> {
  const r = await devnet!.call({ op: 'relay' });
  return Number((r.stats as { packetsForwarded?: number } | null)?.packetsForwarded ?? 0);
}

before(async () => {
  if (skip) return;
  if (why) throw new Error(`namespace tests cannot run: ${why}`);
  topo.create();
  devnet = topo.spawnLineChild(topo.hub, [process.execPath, '--import', 'tsx', path.join(FIXTURES, 'devnet.ts'),
    JSON.stringify({ host: HUB_SERVICE })], 'devnet');
  const hello = await devnet.next(30_000);
  assert.equal(hello.ready, true);
  control = { controlURL: String(hello.controlURL), authKey: String(hello.authKey), domain: String(hello.domain) };
  // The DERP map must point the nodes at the hub's address, not at loopback.
  const region = Object.values((hello.derpMap as { Regions: Record<string, { Nodes: { HostName: string; IPv4?: string }[] }> }).Regions)[0];
  assert.equal(region?.Nodes[0]?.HostName, HUB_SERVICE);
  assert.equal(control.controlURL.startsWith(`http://${HUB_SERVICE}:`), true, control.controlURL);
});

after(async () => {
  if (skip) return;
  await Promise.allSettled([...nodes].map((n) => n.stop()));
  await devnet?.stop().catch(() => undefined);
  topo.destroy();
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  assert.equal(topo.exists(), false, 'namespaces removed');
});

// Each node also reports 127.0.0.1 as an endpoint (right when nodes share a machine); in another namespace that
// is the sender's own loopback, so disco must pick the address that answers: a's veth address.
test('baseline: UDP between the namespaces allowed, b fetches 20 MB from a by MagicDNS name',
  { skip, timeout: 50_000 }, async (t) => {
    topo.allowUdpBetweenNodes();
    const { server, client, serverName, sha256 } = await startPair('direct');
    try {
      await fetchBlob(t, client, serverName, sha256);
      const direct = new RegExp(`^${ADDR_A.replace(/\./g, '\\.')}:\\d+$`);
      const p = await settledPath(client, serverName, direct);
      assert.ok(p, 'status() lists the peer');
      assert.match(String(p.curAddr), direct, JSON.stringify(p));
    } finally {
      await Promise.allSettled([stopNode(server), stopNode(client)]);
    }
  });

test('control: the hub drops UDP between a and b; UDP to the hub and TCP between them pass', { skip, timeout: 30_000 }, async () => {
  topo.allowUdpBetweenNodes();
  assert.equal(await topo.udpProbe(topo.a, topo.b, ADDR_B), `probe ${topo.a} -> ${topo.b}`, 'UDP a→b arrives without the rule (the probe works)');
  topo.blockUdpBetweenNodes();
  try {
    assert.equal(await topo.udpProbe(topo.a, topo.b, ADDR_B), null, 'UDP a→b is dropped');
    assert.equal(await topo.udpProbe(topo.b, topo.a, ADDR_A), null, 'UDP b→a is dropped');
    assert.ok(topo.droppedUdpPackets() >= 10, `the hub's rules counted the drops (${topo.droppedUdpPackets()})`);
    assert.equal(await topo.udpProbe(topo.a, topo.hub, HUB_SERVICE), `probe ${topo.a} -> ${topo.hub}`, 'UDP a→hub (STUN) passes');
    assert.equal(await topo.udpProbe(topo.b, topo.hub, HUB_SERVICE), `probe ${topo.b} -> ${topo.hub}`, 'UDP b→hub (STUN) passes');
    assert.equal(await topo.tcpProbe(topo.a, topo.b, ADDR_B), `probe ${topo.a} -> ${topo.b}`, 'TCP a→b passes');
    assert.equal(await topo.tcpProbe(topo.b, topo.a, ADDR_A), `probe ${topo.b} -> ${topo.a}`, 'TCP b→a passes');
  } finally {
    topo.allowUdpBetweenNodes();
  }
});

test('scenario (b): UDP between a and b dropped, b still fetches 20 MB from a, through the DERP relay',
  { skip, timeout: 50_000 }, async (t) => {
    topo.blockUdpBetweenNodes();
    const { server, client, serverName, sha256 } = await startPair('relayed');
    try {
      const forwardedBefore = await relayForwarded();
      const fqdn = `${serverName}.${control!.domain}`;
      await fetchBlob(t, client, fqdn, sha256);
      assert.ok((await relayForwarded()) - forwardedBefore > 100, 'the data went through the devnet relay');
      const p = await peerPath(client, serverName);
      assert.ok(p, 'status() lists the peer');
      assert.equal(p.curAddr, '', `relayed, not direct: ${JSON.stringify(p)}`);
      assert.ok(p.relay !== undefined && p.relay !== '', `names the relay: ${JSON.stringify(p)}`);
    } finally {
      topo.allowUdpBetweenNodes();
      await Promise.allSettled([stopNode(server), stopNode(client)]);
    }
  });
