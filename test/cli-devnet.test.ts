// The command line (tsnet demo, tsnet devnet) and reconnection after the development tailnet restarts.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { startDevnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server } from '../lib/server.js';

const cli = path.join(__dirname, '..', 'lib', 'cli.ts');

test('tsnet demo: two nodes on a development tailnet, one fetches the other\'s page', { timeout: 60_000 }, async () => {
  const p = spawn(process.execPath, ['--import', 'tsx', cli, 'demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  const code = await new Promise((r) => p.once('exit', r));
  assert.equal(code, 0, out);
  assert.match(out, /client fetched http:\/\/web\/ by its MagicDNS name/);
  assert.match(out, /Hello, client \(dev@example.com\)!/);
});

test('tsnet devnet: prints a control URL and an auth key that a node can join with; state is kept in --dir', { timeout: 60_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-devnet-cli-'));
  const p = spawn(process.execPath, ['--import', 'tsx', cli, 'devnet', '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let url = '';
    let key = '';
    for await (const line of readline.createInterface({ input: p.stdout })) {
      url ||= /control URL:\s+(\S+)/.exec(line)?.[1] ?? '';
      key ||= /auth key:\s+(\S+)/.exec(line)?.[1] ?? '';
      if (url && key) break;
    }
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const s = new Server({ hostname: 'cli-node', controlURL: url, authKey: key, store: new MemoryStore() });
    const st = await s.up();
    assert.equal(st.backendState, 'Running');
    await s.close();
    p.kill('SIGINT');
    assert.equal(await new Promise((r) => p.once('exit', r)), 0);
    assert.ok(fs.readdirSync(dir).length > 0, 'state written to --dir');
  } finally {
    p.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('nodes reconnect after the development tailnet restarts, keeping their addresses, and see new peers', { timeout: 90_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-devnet-restart-'));
  let devnet = await startDevnet({ stateDir: dir });
  const port = Number(new URL(devnet.controlURL).port);
  const authKey = devnet.createAuthKey({ reusable: true });
  const a = new Server({ hostname: 'a', controlURL: devnet.controlURL, authKey, store: new MemoryStore() });
  try {
    const ipA = (await a.up()).tailscaleIPs[0];
    await devnet.flush();
    await devnet.close();
    devnet = await startDevnet({ stateDir: dir, port });
    // A node joining the restarted server must show up in a's netmap: a has reconnected and streams again.
    const b = new Server({ hostname: 'b', controlURL: devnet.controlURL, authKey, store: new MemoryStore() });
    const ipB = (await b.up()).tailscaleIPs[0]!;
    const deadline = Date.now() + 60_000;
    while (!a.whoIs(ipB) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(a.whoIs(ipB), 'a sees b after the restart');
    assert.deepEqual(a.tailscaleIPs()[0], ipA);
    await b.close();
  } finally {
    await a.close();
    await devnet.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
