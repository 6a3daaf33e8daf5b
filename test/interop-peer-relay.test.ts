// Interop tier, peer relays (docs/protocol/peer-relay.md, docs/interop.md): our development tailnet (lib/devnet)
// in the hub namespace grants a tsnet node in the hub the peer-relay capability with a plain policy grant
// (`tailscale.com/cap/relay`; the devnet adds the relays' `relay-target` companion, lib/devnet/peer-relay-grants.ts).
// That node runs Tailscale's UDP relay server. Two tsnet nodes in namespaces a and b, whose UDP to each other
// the hub drops, then carry their traffic through the peer relay instead of through DERP: both report the
// peer-relay path, the relay server reports the session, our DERP relay forwards almost nothing of it, and
// transfers in both directions arrive with the right SHA-256.
//
// Then the same scene with our own nodes as the two clients (docs/protocol/peer-relay.md §6): our engine allocates
// the endpoint on the Go relay over DERP, binds from its UDP socket, sends CallMeMaybeVia to the other node and
// pings through the relay. Our nodes claim a capability version past 121, so both ends find each other as
// relay-path peers as Tailscale's clients do (lib/magicsock/peer-relay-lists.ts), with no debug switch.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { BYTES, Scene, fetchBlob, interopSkip, ok, type Control, type Node, withDevnetScene } from './interop/harness.js';
import type { LineChild } from './netns/topology.js';

const skip = interopSkip();
const goRates: number[] = [];
let scene: Scene | undefined;
let control: Control | undefined;
let devnet: LineChild | undefined;

withDevnetScene(skip, (s) => ({ scene, control, devnet } = s));

async function derpForwarded(): Promise<number> {
  const r = ok(await devnet!.call({ op: 'relay' }), 'relay stats');
  return Number((r.stats as { packetsForwarded?: number } | null)?.packetsForwarded ?? 0);
}

interface RelayView { hostName?: string; ips?: string[]; curAddr?: string; relay?: string; peerRelay?: string }
interface Session { vni: number; client1: string; client2: string; packets1: number; packets2: number }

async function peerRelays(n: Node): Promise<{ peers: RelayView[]; sessions: Session[] }> {
  const r = ok(await n.child.call({ op: 'peerRelays' }), `${n.name} peerRelays`);
  return { peers: r.peers as RelayView[], sessions: r.sessions as Session[] };
}

/** `from`'s view of `to` once it reports a peer-relay path (disco settles it a little after traffic starts). */
async function viaPeerRelay(from: Node, to: Node, ms = 30_000): Promise<RelayView> {
  await from.child.call({ op: 'waitPath', ip: to.ip, want: { peerRelay: true }, timeoutMs: ms }, ms + 5000);
  const p = (await peerRelays(from)).peers.find((x) => (x.ips ?? []).includes(to.ip));
  assert.ok(p, `${from.name} lists ${to.name}`);
  return p;
}

test('peer relay: two tsnet nodes without a direct path relay through a granted tsnet peer relay, not DERP', { skip, timeout: 240_000 }, async (t) => {
  const s = scene!;
  s.topo.blockUdpBetweenNodes();
  try {
    const relay = await s.node('go', s.topo.hub, 'pr-relay', control!);
    ok(await relay.child.call({ op: 'relayServer', port: 0 }), 'start the relay server');
    ok(await devnet!.call({
      op: 'policy',
      policy: {
        grants: [
          { src: ['*'], dst: ['*'], ip: ['*'] },
          { src: ['*'], dst: [relay.ip], app: { 'tailscale.com/cap/relay': [] } },
        ],
      },
    }), 'grant the relay capability');
    const [a, b] = await Promise.all([s.node('go', s.topo.a, 'pr-a', control!), s.node('go', s.topo.b, 'pr-b', control!)]);
    await Promise.all([s.waitPeer(a, b), s.waitPeer(b, a), s.waitPeer(a, relay), s.waitPeer(b, relay)]);

    // A first transfer starts on DERP while the relay path is set up; both ends then report the peer relay.
    await fetchBlob(t, 'peer relay warm-up', a, b);
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const p = await viaPeerRelay(from, to);
      assert.match(String(p.peerRelay), /^10\.231\.\d+\.\d+:\d+:vni:\d+$/, `${from.name} reaches ${to.name} through the peer relay: ${JSON.stringify(p)}`);
      assert.equal(p.curAddr, '', `${from.name} has no direct path to ${to.name}`);
    }
    const sessions = (await peerRelays(relay)).sessions;
    assert.equal(sessions.length, 1, `the relay server holds one session: ${JSON.stringify(sessions)}`);
    assert.ok(sessions[0]!.client1 !== 'invalid AddrPort' && sessions[0]!.client2 !== 'invalid AddrPort', 'both clients bound');

    // Now both directions: the bytes go through the peer relay, and our DERP relay carries next to nothing.
    const derpBefore = await derpForwarded();
    const relayedBefore = sessions[0]!.packets1 + sessions[0]!.packets2;
    goRates.push((await fetchBlob(t, 'via peer relay', a, b)).mbps);
    goRates.push((await fetchBlob(t, 'via peer relay', b, a)).mbps);
    const derp = (await derpForwarded()) - derpBefore;
    const after = (await peerRelays(relay)).sessions[0]!;
    const relayed = after.packets1 + after.packets2 - relayedBefore;
    t.diagnostic(`packets through the peer relay: ${relayed}; through DERP: ${derp}`);
    assert.ok(relayed > (2 * BYTES) / 1400, `the peer relay carried the transfers (${relayed} packets)`);
    assert.ok(derp < relayed / 20, `DERP carried almost none of it (${derp} packets)`);
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const p = await viaPeerRelay(from, to);
      assert.ok(p.peerRelay, `${from.name} still uses the peer relay: ${JSON.stringify(p)}`);
    }
    await Promise.all([relay, a, b].map((n) => n.child.stop()));
  } finally {
    s.topo.allowUdpBetweenNodes();
    ok(await devnet!.call({ op: 'policy', policy: null }), 'reset policy');
  }
});

interface OurPeer { curAddr?: string; peerRelay?: string; txPeerRelayPackets?: number; tailscaleIPs?: string[] }

async function ourView(from: Node, to: Node): Promise<OurPeer> {
  const r = ok(await from.child.call({ op: 'status' }), `${from.name} status`);
  const p = (r.status as { peers: OurPeer[] }).peers.find((x) => (x.tailscaleIPs ?? []).includes(to.ip));
  assert.ok(p, `${from.name} lists ${to.name}`);
  if (!p.peerRelay && !p.curAddr) {
    const ms = ok(await from.child.call({ op: 'magicsock' }), `${from.name} magicsock`);
    return { ...p, engine: ms } as OurPeer;
  }
  return p;
}

/** Our node's view of `to` once its 'path' events name a peer relay (or after `ms`). */
async function ourViaPeerRelay(from: Node, to: Node, ms = 30_000): Promise<OurPeer> {
  await from.child.call({ op: 'waitPath', address: to.ip, want: { peerRelay: true }, timeoutMs: ms }, ms + 5000);
  return ourView(from, to);
}

test('peer relay: our two nodes without a direct path relay through a granted tsnet peer relay, not DERP', { skip, timeout: 240_000 }, async (t) => {
  const s = scene!;
  s.topo.blockUdpBetweenNodes();
  try {
    const relay = await s.node('go', s.topo.hub, 'pr-relay2', control!);
    ok(await relay.child.call({ op: 'relayServer', port: 0 }), 'start the relay server');
    ok(await devnet!.call({
      op: 'policy',
      policy: {
        grants: [
          { src: ['*'], dst: ['*'], ip: ['*'] },
          { src: ['*'], dst: [relay.ip], app: { 'tailscale.com/cap/relay': [] } },
        ],
      },
    }), 'grant the relay capability');
    const [a, b] = await Promise.all([s.node('ours', s.topo.a, 'pr-oa', control!), s.node('ours', s.topo.b, 'pr-ob', control!)]);
    await Promise.all([s.waitPeer(a, b), s.waitPeer(b, a), s.waitPeer(a, relay), s.waitPeer(b, relay)]);

    await fetchBlob(t, 'ours: peer relay warm-up', a, b);
    for (const n of [a, b]) {
      const peers = ok(await n.child.call({ op: 'magicsock' }), `${n.name} magicsock`).peers as Record<string, unknown>[];
      const keys = ['peerRelayState', 'peerRelayAllocs', 'callMeMaybeViaSent', 'callMeMaybeViaReceived', 'txPeerRelay', 'txRelay'];
      t.diagnostic(`${n.name} engine after the warm-up: ${JSON.stringify(peers.map((p) => Object.fromEntries(keys.map((k) => [k, p[k]]))))}`);
    }
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const p = await ourViaPeerRelay(from, to);
      assert.match(String(p.peerRelay), /^10\.231\.\d+\.\d+:\d+:vni:\d+$/, `${from.name} reaches ${to.name} through the peer relay: ${JSON.stringify(p)}`);
      assert.equal(p.curAddr, '', `${from.name} has no direct path to ${to.name}`);
    }
    const sessions = (await peerRelays(relay)).sessions;
    assert.equal(sessions.length, 1, `the relay server holds one session: ${JSON.stringify(sessions)}`);
    assert.ok(sessions[0]!.client1 !== 'invalid AddrPort' && sessions[0]!.client2 !== 'invalid AddrPort', 'both clients bound');

    const derpBefore = await derpForwarded();
    const relayedBefore = sessions[0]!.packets1 + sessions[0]!.packets2;
    const ours = [(await fetchBlob(t, 'ours via peer relay', a, b)).mbps, (await fetchBlob(t, 'ours via peer relay', b, a)).mbps];
    const derp = (await derpForwarded()) - derpBefore;
    const after = (await peerRelays(relay)).sessions[0]!;
    const relayed = after.packets1 + after.packets2 - relayedBefore;
    t.diagnostic(`ours: packets through the peer relay: ${relayed}; through DERP: ${derp}`);
    t.diagnostic(`rate through the peer relay, Mbit/s: ours ${ours.map((x) => x.toFixed(1)).join(', ')}; Go↔Go in this run ${goRates.map((x) => x.toFixed(1)).join(', ') || '(not run)'}`);
    assert.ok(relayed > (2 * BYTES) / 1400, `the peer relay carried the transfers (${relayed} packets)`);
    assert.ok(derp < relayed / 20, `DERP carried almost none of it (${derp} packets)`);
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const p = await ourView(from, to);
      assert.ok(p.peerRelay, `${from.name} still uses the peer relay: ${JSON.stringify(p)}`);
      assert.ok((p.txPeerRelayPackets ?? 0) > BYTES / 1400 / 4, `${from.name} sent through the peer relay: ${JSON.stringify(p)}`);
    }
    await Promise.all([relay, a, b].map((n) => n.child.stop()));
  } finally {
    s.topo.allowUdpBetweenNodes();
    ok(await devnet!.call({ op: 'policy', policy: null }), 'reset policy');
  }
});

// A Go client and ours. Go tries relay paths only toward peers claiming 121 or more, as ours does
// (docs/protocol/capver.md): each end may allocate and send CallMeMaybeVia, and both must end up on one endpoint
// of the Go relay.
test('peer relay: our node and a tsnet node relay through a tsnet peer relay', { skip, timeout: 240_000 }, async (t) => {
  const s = scene!;
  s.topo.blockUdpBetweenNodes();
  try {
    const relay = await s.node('go', s.topo.hub, 'pr-relay3', control!);
    ok(await relay.child.call({ op: 'relayServer', port: 0 }), 'start the relay server');
    ok(await devnet!.call({
      op: 'policy',
      policy: {
        grants: [
          { src: ['*'], dst: ['*'], ip: ['*'] },
          { src: ['*'], dst: [relay.ip], app: { 'tailscale.com/cap/relay': [] } },
        ],
      },
    }), 'grant the relay capability');
    const [a, b] = await Promise.all([s.node('ours', s.topo.a, 'pr-ma', control!), s.node('go', s.topo.b, 'pr-mb', control!)]);
    await Promise.all([s.waitPeer(a, b), s.waitPeer(b, a), s.waitPeer(a, relay), s.waitPeer(b, relay)]);

    await fetchBlob(t, 'mixed: peer relay warm-up', a, b);
    const pa = await ourViaPeerRelay(a, b);
    assert.match(String(pa.peerRelay), /^10\.231\.\d+\.\d+:\d+:vni:\d+$/, `${a.name} reaches ${b.name} through the peer relay: ${JSON.stringify(pa)}`);
    const pb = await viaPeerRelay(b, a);
    assert.match(String(pb.peerRelay), /^10\.231\.\d+\.\d+:\d+:vni:\d+$/, `${b.name} reaches ${a.name} through the peer relay: ${JSON.stringify(pb)}`);
    // The same endpoint (port and VNI); the address is the hub's on each end's side.
    const endpoint = (x: string | undefined): string => String(x).replace(/^[\d.]+/, '');
    assert.equal(endpoint(pa.peerRelay), endpoint(pb.peerRelay), `both ends use the same relay endpoint: ${pa.peerRelay}, ${pb.peerRelay}`);

    const sessions = (await peerRelays(relay)).sessions;
    const derpBefore = await derpForwarded();
    const before = sessions.reduce((n, x) => n + x.packets1 + x.packets2, 0);
    const rates = [(await fetchBlob(t, 'mixed via peer relay', a, b)).mbps, (await fetchBlob(t, 'mixed via peer relay', b, a)).mbps];
    const derp = (await derpForwarded()) - derpBefore;
    const relayed = (await peerRelays(relay)).sessions.reduce((n, x) => n + x.packets1 + x.packets2, 0) - before;
    t.diagnostic(`mixed: packets through the peer relay: ${relayed}; through DERP: ${derp}; Mbit/s ${rates.map((x) => x.toFixed(1)).join(', ')}`);
    assert.ok(relayed > (2 * BYTES) / 1400, `the peer relay carried the transfers (${relayed} packets)`);
    assert.ok(derp < relayed / 20, `DERP carried almost none of it (${derp} packets)`);
    await Promise.all([relay, a, b].map((n) => n.child.stop()));
  } finally {
    s.topo.allowUdpBetweenNodes();
    ok(await devnet!.call({ op: 'policy', policy: null }), 'reset policy');
  }
});
