// Tailscale's own CLI (cmd/tailscale v1.102.5, built by scripts/interop.sh) against our node's LocalAPI on
// its unix socket (loopback({ socketPath })): status, status --json, ping --tsmp and whois, on the devnet.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server } from '../lib/server.js';
import { buildPrograms, findGo } from './interop/harness.js';

const run = promisify(execFile);
const skip = findGo() ? false : "no Go toolchain: Tailscale's CLI is built with it";
let devnet: Devnet;
let a: Server;
let b: Server;
let cli: string;
let sock: string;
let dir: string;

before(async () => {
  if (skip) return;
  cli = buildPrograms('tailscale').tailscale!;
  devnet = await startDevnet();
  const authKey = devnet.createAuthKey({ reusable: true });
  a = new Server({ hostname: 'cli-a', controlURL: devnet.controlURL, authKey, store: new MemoryStore(), logLevel: 'error' });
  b = new Server({ hostname: 'cli-b', controlURL: devnet.controlURL, authKey, store: new MemoryStore(), logLevel: 'error' });
  await Promise.all([a.up(), b.up()]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-cli-'));
  sock = path.join(dir, 'tailscaled.sock');
  const info = await a.loopback({ socketPath: sock });
  assert.equal(info.socketPath, sock);
});

after(async () => {
  if (skip) return;
  await Promise.allSettled([a.close(), b.close()]);
  await devnet.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const tailscale = (...args: string[]) => run(cli, [`--socket=${sock}`, ...args], { timeout: 30_000 });
const re = (s: string) => s.replace(/[.@+()]/g, '\\$&');

test('the socket is private to this user (mode 0600)', { skip }, () => {
  assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
});

test('tailscale status lists the peer by name and IP; --json is ipnstate.Status', { skip }, async () => {
  const { stdout } = await tailscale('status');
  const bIP = b.tailscaleIPs()[0]!;
  const line = stdout.split('\n').find((l) => l.startsWith(bIP));
  assert.ok(line, stdout);
  assert.match(line!, /\bcli-b\b/);
  assert.match(stdout, new RegExp(`^${re(a.tailscaleIPs()[0]!)}\\s+cli-a\\b`, 'm'));
  const st = JSON.parse((await tailscale('status', '--json')).stdout) as {
    BackendState: string; Self: { HostName: string; TailscaleIPs: string[] }; Peer: Record<string, { HostName: string; TailscaleIPs: string[] }>;
  };
  assert.equal(st.BackendState, 'Running');
  assert.equal(st.Self.HostName, 'cli-a');
  assert.deepEqual(st.Self.TailscaleIPs, a.tailscaleIPs());
  const peer = st.Peer[b.status()!.self.Key!];
  assert.equal(peer?.HostName, 'cli-b');
  assert.deepEqual(peer?.TailscaleIPs, b.tailscaleIPs());
});

test('tailscale ping --tsmp is answered by the peer, by IP and by name; a disco ping too', { skip }, async () => {
  const bIP = b.tailscaleIPs()[0]!;
  for (const target of [bIP, 'cli-b']) {
    const { stdout } = await tailscale('ping', '--tsmp', '--c=1', target);
    assert.match(stdout, new RegExp(`^pong from cli-b \\(${re(bIP)}\\) via TSMP in (\\d+(\\.\\d+)?m?s)$`, 'm'));
  }
  // A disco ping (the CLI's default): answered on a direct address or through a relay, as the CLI prints it.
  const { stdout } = await tailscale('ping', '--c=1', '--until-direct=false', bIP);
  assert.match(stdout, new RegExp(`^pong from cli-b \\(${re(bIP)}\\) via (\\S+:\\d+|DERP\\(\\w+\\)) in (\\d+(\\.\\d+)?m?s)$`, 'm'));
});

test('tailscale whois names the peer machine and its user', { skip }, async () => {
  const { stdout } = await tailscale('whois', b.tailscaleIPs()[0]!);
  const who = a.whoIs(b.tailscaleIPs()[0]!)!;
  assert.match(stdout, /Machine:/);
  assert.match(stdout, new RegExp(`Name:\\s+${re(who.node.Name!.replace(/\.$/, ''))}`));
  assert.match(stdout, new RegExp(`Name:\\s+${re(who.userProfile!.LoginName ?? "")}`));
});

test('tailscale debug prefs and debug watch-ipn read the node through the LocalAPI', { skip }, async () => {
  const prefs = JSON.parse((await tailscale('debug', 'prefs')).stdout) as { ControlURL: string; Hostname: string; WantRunning: boolean };
  assert.equal(prefs.ControlURL, devnet.controlURL);
  assert.equal(prefs.Hostname, 'cli-a');
  assert.equal(prefs.WantRunning, true);
  const { stdout } = await tailscale('debug', 'watch-ipn', '--initial', '--count=1');
  const first = JSON.parse(stdout) as { State?: number; Prefs?: { Hostname: string }; Version?: string };
  assert.equal(first.State, 6); // Running
  assert.equal(first.Prefs?.Hostname, 'cli-a');
  assert.match(first.Version ?? '', /tsnet/);
});

// Last: it logs the node out.
test('tailscale logout expires the node: the node says NeedsLogin and the CLI "Logged out."', { skip }, async () => {
  await tailscale('logout');
  assert.equal(a.status(), null);
  const r = await tailscale('status').then(() => null, (e: { code: number; stdout: string }) => e);
  assert.ok(r, 'status exits non-zero once logged out');
  assert.match(r.stdout, /Logged out/);
});
