// Interop tier, scenario (a) (docs/interop.md): our node joins Tailscale's own coordination server
// (tstest/integration/testcontrol) and exchanges data both ways with a real tsnet node, once directly and once
// through Tailscale's own DERP relay (derpserver), with UDP between the node namespaces dropped by the hub.
// Two tsnet nodes make the same transfer on the same path in the same run: their rate is the baseline.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { BYTES, DIRECT, Scene, buildPrograms, fetchBlob, goSenderStats, interopSkip, ok, type Control, type GoSenderStats, type Node } from './interop/harness.js';
import type { LineChild } from './netns/topology.js';

const skip = interopSkip();
let scene: Scene | undefined;
let control: Control | undefined;
let derper: LineChild | undefined;

before(async () => {
  if (skip) return;
  const { tsinterop } = buildPrograms('tsinterop');
  scene = new Scene(tsinterop!);
  const d = await scene.derper();
  derper = d.child;
  control = await scene.testcontrol(d.derpMap);
});

after(async () => {
  await scene?.close();
});

async function relayedPackets(): Promise<number> {
  return Number(ok(await derper!.call({ op: 'stats' }), 'derper stats').packetsSent);
}

/** ours and a Go node in different namespaces, and a second Go node beside ours for the Go-to-Go baseline. */
async function trio(prefix: string): Promise<{ ours: Node; go: Node; go2: Node }> {
  const s = scene!;
  const [ours, go, go2] = await Promise.all([
    s.node('ours', s.topo.a, `${prefix}-ours`, control!),
    s.node('go', s.topo.b, `${prefix}-go`, control!),
    s.node('go', s.topo.a, `${prefix}-go2`, control!),
  ]);
  await Promise.all([s.waitPeer(ours, go), s.waitPeer(go, ours), s.waitPeer(go2, go)]);
  return { ours, go, go2 };
}

test('(a) testcontrol, direct: our node and a tsnet node exchange 8 MiB both ways over a direct UDP path', { skip, timeout: 180_000 }, async (t) => {
  const s = scene!;
  s.topo.allowUdpBetweenNodes();
  const { ours, go, go2 } = await trio('tcd');
  await s.warmDirect(ours, go);
  await s.warmDirect(go2, go);
  await fetchBlob(t, 'testcontrol direct', ours, go);
  await fetchBlob(t, 'testcontrol direct', go, ours);
  await fetchBlob(t, 'testcontrol direct, Go↔Go baseline', go2, go);
  const mine = await s.settledPath(ours, go, { curAddr: DIRECT.source });
  assert.match(String(mine.curAddr), DIRECT, `our node talks to the tsnet node directly: ${JSON.stringify(mine)}`);
  const theirs = await s.settledPath(go, ours, { curAddr: DIRECT.source });
  assert.match(String(theirs.curAddr), DIRECT, `the tsnet node talks to ours directly: ${JSON.stringify(theirs)}`);
  await Promise.all([ours, go, go2].map((n) => n.child.stop()));
});

test('(a) testcontrol, DERP: UDP between the namespaces dropped, the same exchange goes through a real derper', { skip, timeout: 180_000 }, async (t) => {
  const s = scene!;
  s.topo.blockUdpBetweenNodes();
  try {
    const { ours, go, go2 } = await trio('tcr');
    const before = await relayedPackets();
    // The tsnet sender's loss repair for each transfer it sends (to ours, then to another tsnet node).
    const sent = async (label: string, from: GoSenderStats): Promise<void> => {
      const now = await goSenderStats(go);
      t.diagnostic(`${label}: ${go.name}'s TCP timeouts ${now.timeouts - from.timeouts}, fast retransmits ` +
        `${now.fastRetransmits - from.fastRetransmits}, retransmits ${now.retransmits - from.retransmits}, DERP send drops ${now.derpDropped - from.derpDropped}`);
    };
    let mark = await goSenderStats(go);
    await fetchBlob(t, 'testcontrol DERP', ours, go);
    await sent('testcontrol DERP, tsnet → ours', mark);
    await fetchBlob(t, 'testcontrol DERP', go, ours);
    const relayed = (await relayedPackets()) - before;
    // Two transfers of BYTES in packets of at most ~1.3 kB each.
    assert.ok(relayed > (2 * BYTES) / 1400, `the derper carried the data (${relayed} packets)`);
    mark = await goSenderStats(go);
    await fetchBlob(t, 'testcontrol DERP, Go↔Go baseline', go2, go);
    await sent('testcontrol DERP, tsnet → tsnet', mark);
    const mine = await s.path(ours, go);
    assert.equal(mine.curAddr, '', `relayed, not direct: ${JSON.stringify(mine)}`);
    assert.equal(mine.relay, 'interop', `through the derper's region: ${JSON.stringify(mine)}`);
    const theirs = await s.path(go, ours);
    assert.equal(theirs.curAddr, '', `the tsnet node relays too: ${JSON.stringify(theirs)}`);
    assert.ok(s.topo.droppedUdpPackets() > 0, 'the hub dropped UDP between the nodes');
    await Promise.all([ours, go, go2].map((n) => n.child.stop()));
  } finally {
    s.topo.allowUdpBetweenNodes();
  }
});
