// The inline engine's turn end (docs/performance.md, "Round trip: the tail and the hops"): events for the
// main thread are delivered as the engine turn that queued them ends, and JavaScript's calls into the
// engine run through the driver's kick. Each case runs test/fixtures/engine/turn-end.mjs in a child: 200
// one-byte round trips through an echo server, one 'data' handler throwing on the way.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const fixture = path.join(__dirname, 'fixtures', 'engine', 'turn-end.mjs');

for (const [engine, bridge] of [['inline', 'stream'], ['inline', 'fd'], ['thread', 'stream']] as const) {
  test(`engine ${engine}, bridge ${bridge}: every answer arrives in order, and a handler's exception reaches uncaughtException without stopping later events`, { timeout: 60_000 }, () => {
    const env: NodeJS.ProcessEnv = { ...process.env, TSNET_ENGINE: engine, TSNET_BRIDGE: bridge };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(process.execPath, [fixture], { encoding: 'utf8', env, timeout: 50_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { mode: string; bridge: string; caught: string | null; echoed: number; bytes: number };
    assert.equal(out.mode, engine);
    assert.equal(out.bridge, bridge);
    assert.equal(out.caught, 'thrown by a data handler');
    assert.equal(out.echoed, 200);
    assert.equal(out.bytes, 200);
  });
}
