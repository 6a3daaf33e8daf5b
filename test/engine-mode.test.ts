// The engine's two ways of running (docs/architecture.md): inline on the main thread's loop (the default),
// on its own thread (TSNET_ENGINE=thread, and always when a worker thread wants it first). Each mode runs
// the same child: HTTP and a 4 MiB transfer between two devices, and the delayed-ACK policy measured in
// WireGuard bytes the server sends per message (80 bytes is one packet here).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const fixture = path.join(__dirname, 'fixtures', 'engine');

interface ModeReport {
  mode: string;
  http: string;
  sent: string;
  received: string;
  pingpongBytesPerMessage: number;
  oneWayBytesPerMessage: number;
}

function runChild(engine: string | undefined, args: string[] = []): ModeReport {
  const env = { ...process.env };
  delete env.TSNET_ENGINE;
  if (engine) env.TSNET_ENGINE = engine;
  const r = spawnSync(process.execPath, [path.join(fixture, 'modes.mjs'), ...args], { encoding: 'utf8', env, timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ModeReport;
}

for (const [name, engine, args, mode] of [
  ['default: inline on the main thread', undefined, [], 'inline'],
  ['TSNET_ENGINE=thread', 'thread', [], 'thread'],
  ['first wanted by a worker thread: its own thread', undefined, ['worker'], 'thread'],
] as const) {
  test(`engine ${name}: data intact, answers carry their ACKs, one-way data is ACKed at once`, { timeout: 90_000 }, () => {
    const r = runChild(engine, [...args]);
    assert.equal(r.mode, mode);
    assert.equal(r.http, 'hi');
    assert.equal(r.received, r.sent);
    // Request/response: one packet per answer (two if the ACK went out on its own, about twice this bound; TCP
    // timestamps, docs/tcp.md, add 12 bytes to each).
    assert.ok(r.pingpongBytesPerMessage <= 112, `pingpong: ${r.pingpongBytesPerMessage} bytes per message`);
    // One-way: each lone segment ACKed (half of them if ACKs stayed held for lwIP's timer).
    assert.ok(r.oneWayBytesPerMessage >= 64, `one-way: ${r.oneWayBytesPerMessage} bytes per message`);
  });
}

test('worker threads share the engine in thread mode too; terminating a worker with open nodes is safe', { timeout: 60_000 }, () => {
  const r = spawnSync(process.execPath, [path.join(fixture, 'workers.mjs')], {
    encoding: 'utf8', timeout: 50_000, env: { ...process.env, TSNET_ENGINE: 'thread' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /hi from main[\s\S]*worker: hi from worker[\s\S]*worker: hi from worker[\s\S]*main again: hi from main/);
});

test('a TSNET_ENGINE other than inline or thread is a coded error, not a guess', { timeout: 30_000 }, () => {
  const script = `
    const { WireGuard } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'index.js'))});
    const key = require('node:crypto').generateKeyPairSync('x25519').privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('base64');
    new WireGuard({ privateKey: key, address: ['10.9.0.1/32'] }).start().then(
      () => console.log('started'), (e) => console.log(e.code + ' ' + e.message));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, TSNET_ENGINE: 'threads' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ERR_TSNET_ENGINE TSNET_ENGINE must be "inline" or "thread", not "threads"/);
});
