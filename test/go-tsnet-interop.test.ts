// Interop with Tailscale's own implementation: a Go tsnet node (bench/go/tsnode, tailscale.com v1.102.5) joins
// the development tailnet with an auth key and exchanges TCP streams both ways with our Server, relayed
// through the devnet's DERP relay (both sides forced to DERP, so all traffic stays on 127.0.0.1). Runs only
// when a Go toolchain is on PATH (or GO names one); the first build of the Go program takes minutes
// (docs/dependencies.md).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { startDevnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server } from '../lib/server.js';

const root = path.join(__dirname, '..');

function findGo(): string | null {
  for (const g of [process.env.GO, 'go'].filter((x): x is string => !!x)) {
    try {
      execFileSync(g, ['version'], { stdio: 'ignore' });
      return g;
    } catch {
      // try the next
    }
  }
  return null;
}

class GoNode {
  readonly p: ChildProcessWithoutNullStreams;
  readonly lines: AsyncIterator<string>;
  stderr = '';
  constructor(exe: string, env: Record<string, string>) {
    this.p = spawn(exe, [], { env: { ...process.env, TS_DEBUG_ALWAYS_USE_DERP: '1', ...env } });
    this.p.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
    this.lines = readline.createInterface({ input: this.p.stdout })[Symbol.asyncIterator]();
  }
  async next(): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error(`Go node exited: ${this.stderr}`);
    const o = JSON.parse(r.value) as Record<string, unknown>;
    if (o.error) throw new Error(`Go node: ${String(o.error)}`);
    return o;
  }
  call(cmd: object): Promise<Record<string, unknown>> {
    this.p.stdin.write(JSON.stringify(cmd) + '\n');
    return this.next();
  }
  async stop(): Promise<void> {
    if (this.p.exitCode !== null) return;
    const exited = once(this.p, 'exit');
    this.p.kill('SIGKILL'); // a test's node: nothing of it needs a clean shutdown
    await exited;
  }
}

test('a Go tsnet node joins the devnet and exchanges TCP streams both ways with our Server through DERP', { timeout: 900_000 }, async (t) => {
  const go = findGo();
  if (!go) {
    t.skip('no Go toolchain on PATH (set GO=/path/to/go)');
    return;
  }
  const exe = path.join(root, 'build-go', 'tsnode');
  execFileSync(go, ['build', '-o', exe, './tsnode'], { cwd: path.join(root, 'bench', 'go'), stdio: ['ignore', 'ignore', 'inherit'] });

  const devnet = await startDevnet();
  t.after(() => devnet.close());
  const authKey = devnet.createAuthKey({ reusable: true, ephemeral: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'go-interop-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const goEnv = (name: string): Record<string, string> => {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    return { CONTROL_URL: devnet.controlURL, AUTH_KEY: authKey, HOSTNAME: name, STATE_DIR: dir };
  };

  const ours = new Server({ hostname: 'ours', controlURL: devnet.controlURL, authKey, store: new MemoryStore(), alwaysUseDERP: true, ephemeral: true });
  t.after(() => ours.close());
  await ours.up();
  const sink = ours.listen('tcp', ':5001');
  const counted = new Promise<number>((resolve) => {
    sink.on('connection', (s) => {
      let n = 0;
      s.on('data', (d: Buffer) => (n += d.length));
      s.on('end', () => {
        s.end(String(n));
        resolve(n);
      });
    });
  });

  // Go serves, ours sends.
  const gob = new GoNode(exe, goEnv('gob'));
  t.after(() => gob.stop());
  assert.deepEqual(await gob.next(), { ready: true });
  while (!ours.status()?.peers.some((p) => p.hostName === 'gob')) await once(ours, 'peers').catch(() => undefined);
  const bytes = 1 << 20;
  const s = ours.connect('tcp', 'gob:5001');
  await once(s, 'connect');
  s.end(Buffer.alloc(bytes, 0x5a));
  let reply = '';
  s.on('data', (d: Buffer) => (reply += d.toString()));
  await once(s, 'end');
  assert.equal(reply, String(bytes), 'the Go sink counted every byte our node sent');
  const peer = ours.status()!.peers.find((p) => p.hostName === 'gob')!;
  assert.equal(peer.curAddr, '', 'relayed, not direct');
  assert.ok(peer.txRelayPackets > 0);

  // Go dials, ours serves: the Go client checks the count our sink writes back.
  const goa = new GoNode(exe, { ...goEnv('goa'), ROLE: 'client' });
  t.after(() => goa.stop());
  assert.deepEqual(await goa.next(), { ready: true });
  const sent = await goa.call({ op: 'send', host: 'ours', bytes });
  assert.equal(sent.bytes, bytes);
  assert.equal(await counted, bytes);
});
