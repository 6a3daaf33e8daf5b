// Interop tier, peer relays (docs/protocol/peer-relay.md, docs/interop.md): our development tailnet (lib/devnet)
// in the hub namespace grants a tsnet node in the hub the peer-relay capability with a plain policy grant
// (`tailscale.com/cap/relay`; the devnet adds the relays' `relay-target` companion, lib/devnet/peer-relay-grants.ts).
// That node runs Tailscale's UDP relay server. Two tsnet nodes in namespaces a and b, whose UDP to each other
// the hub drops, then carry their traffic through the peer relay instead of through DERP: both report the
// peer-relay path, the relay server reports the session, our DERP relay forwards almost nothing of it, and
// transfers in both directions arrive with the right SHA-256.
//
// Our own node is not in this scene: its engine does not use peer relays yet (docs/protocol/peer-relay.md §6).
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { BYTES, Scene, buildPrograms, fetchBlob, interopSkip, ok, type Control, type Node } from './interop/harness.js';
import type { LineChild } from './netns/topology.js';

const skip = interopSkip();
let scene: Scene | undefined;
let control: Control | undefined;
let devnet: LineChild | undefined;

before(async () => {
  if (skip) return;
  const { tsinterop } = buildPrograms('tsinterop');
  scene = new Scene(tsinterop!);
  const d = await scene.devnet();
  devnet = d.child;
  control = d;
});

after(async () => {
  await scene?.close();
});

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

/** Polls `from`'s view of `to` until it reports a peer-relay path (disco settles it a little after traffic starts). */
async function viaPeerRelay(from: Node, to: Node, ms = 30_000): Promise<RelayView> {
  const end = Date.now() + ms;
  for (;;) {
    const p = (await peerRelays(from)).peers.find((x) => (x.ips ?? []).includes(to.ip));
    assert.ok(p, `${from.name} lists ${to.name}`);
    if (p.peerRelay || Date.now() > end) return p;
    await new Promise((r) => setTimeout(r, 200));
  }
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
    await fetchBlob(t, 'via peer relay', a, b);
    await fetchBlob(t, 'via peer relay', b, a);
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
