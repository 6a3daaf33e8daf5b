// Interop with the real WireGuard: Debian's wireguard-go (with Linux TCP behind a TUN device) in one network
// namespace, our node in another, joined by a veth pair the test creates. Nothing leaves the namespaces.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { blobSha256, blockOf } from './interop/blob.js';
import { generateKeyPair } from '../lib/wire/keys.js';

const tag = String(process.pid % 100000);
const NS_US = `tsn${tag}u`;
const NS_WG = `tsn${tag}w`;
const VETH_US = `tv${tag}u`;
const VETH_WG = `tv${tag}w`;
const WG_IF = `wg${tag}`;
const LINK_US = '10.213.7.1';
const LINK_WG = '10.213.7.2';
const TUN_US = '10.99.0.1';
const TUN_WG = '10.99.0.2';
const WG_PORT = 51820;
const MIB = 100;

const have = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const why =
  process.getuid?.() !== 0 ? 'needs root (network namespaces)' :
  !have('ip') || !have('wireguard-go') || !have('wg') ? 'needs iproute2, wireguard-go and wireguard-tools (scripts/test-deps.sh)' :
  !fs.existsSync('/dev/net/tun') ? 'needs /dev/net/tun' : '';
// CI must never skip these: there, a missing precondition is a failure.
const skip = why && !process.env.CI ? why : false;

const sh = (args: string[], opts: { input?: string } = {}) =>
  execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] });
const inWg = (args: string[], opts: { input?: string } = {}) => sh(['ip', 'netns', 'exec', NS_WG, ...args], opts);

let tmp = '';
let wgGo: ChildProcess | undefined;
let httpd: ChildProcess | undefined;
let udpEcho: ChildProcess | undefined;
let node: NodeChild | undefined;
let wgPriv = '';
let wgPub = '';
const ours = generateKeyPair();

class NodeChild {
  readonly proc: ChildProcess;
  readonly lines: AsyncIterator<string>;
  constructor(ns: string | null, config: object) {
    const args = ['--import', 'tsx', path.join(__dirname, 'interop', 'node.mts'), JSON.stringify(config)];
    this.proc = ns
      ? spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
      : spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = readline.createInterface({ input: this.proc.stdout! })[Symbol.asyncIterator]();
  }
  async next(): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error('node process exited');
    return JSON.parse(r.value);
  }
  async call(cmd: object): Promise<Record<string, unknown>> {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
    return this.next();
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    this.proc.stdin!.write('{"op":"exit"}\n');
    await new Promise((r) => { this.proc.once('exit', r); setTimeout(() => { this.proc.kill('SIGKILL'); r(null); }, 5000); });
  }
}

async function waitFor(what: string, fn: () => boolean, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startWireguardGo(): void {
  wgGo = spawn('ip', ['netns', 'exec', NS_WG, 'wireguard-go', '-f', WG_IF], {
    stdio: 'ignore',
    env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' },
  });
}

async function configureWireguardGo(): Promise<void> {
  await waitFor('wireguard-go socket', () => fs.existsSync(`/var/run/wireguard/${WG_IF}.sock`));
  const keyFile = path.join(tmp, 'wg.key');
  fs.writeFileSync(keyFile, wgPriv + '\n', { mode: 0o600 });
  inWg(['wg', 'set', WG_IF, 'private-key', keyFile, 'listen-port', String(WG_PORT),
    'peer', ours.publicKey.toString('base64'), 'allowed-ips', `${TUN_US}/32`]);
  inWg(['ip', 'addr', 'replace', `${TUN_WG}/24`, 'dev', WG_IF]);
  inWg(['ip', 'link', 'set', WG_IF, 'up']);
}

function cleanup(): void {
  for (const p of [wgGo, httpd, udpEcho]) p?.kill('SIGKILL');
  for (const ns of [NS_US, NS_WG]) {
    try { sh(['ip', 'netns', 'del', ns]); } catch { /* not there */ }
  }
  try { fs.rmSync(`/var/run/wireguard/${WG_IF}.sock`, { force: true }); } catch { /* gone */ }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}

before(async () => {
  if (skip) return;
  if (why) throw new Error(`interop tests cannot run: ${why}`);
  cleanup();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-interop-'));
  sh(['ip', 'netns', 'add', NS_US]);
  sh(['ip', 'netns', 'add', NS_WG]);
  sh(['ip', 'link', 'add', VETH_US, 'netns', NS_US, 'type', 'veth', 'peer', 'name', VETH_WG, 'netns', NS_WG]);
  sh(['ip', '-n', NS_US, 'addr', 'add', `${LINK_US}/24`, 'dev', VETH_US]);
  sh(['ip', '-n', NS_WG, 'addr', 'add', `${LINK_WG}/24`, 'dev', VETH_WG]);
  for (const [ns, dev] of [[NS_US, VETH_US], [NS_WG, VETH_WG]] as const) {
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
  }
  wgPriv = sh(['wg', 'genkey']).trim();
  wgPub = sh(['wg', 'pubkey'], { input: wgPriv + '\n' }).trim();
  startWireguardGo();
  await configureWireguardGo();

  // Linux TCP's side of the transfers: a plain HTTP server in the WireGuard namespace, on the tunnel address.
  const www = path.join(tmp, 'www');
  fs.mkdirSync(www);
  const fd = fs.openSync(path.join(www, 'blob'), 'w');
  for (let i = 0; i < MIB * 16; i++) fs.writeSync(fd, blockOf(i));
  fs.closeSync(fd);
  httpd = spawn('ip', ['netns', 'exec', NS_WG, '/usr/bin/python3', '-m', 'http.server', '8000', '--bind', TUN_WG, '--directory', www], { stdio: 'ignore' });

  // A UDP echo server on Linux's side.
  udpEcho = spawn('ip', ['netns', 'exec', NS_WG, '/usr/bin/python3', '-c',
    `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('${TUN_WG}',7))\nwhile True:\n d,a=s.recvfrom(65535)\n s.sendto(d,a)`],
    { stdio: 'ignore' });

  node = new NodeChild(NS_US, {
    privateKey: ours.privateKey.toString('base64'),
    address: [`${TUN_US}/32`],
    listenPort: 0,
    peers: [{ publicKey: wgPub, endpoint: `${LINK_WG}:${WG_PORT}`, allowedIPs: [`${TUN_WG}/32`] }],
  });
  const hello = await node.next();
  assert.equal(hello.ready, true);
  await waitFor('http server in the namespace', () => {
    try { inWg(['curl', '-s', '-o', '/dev/null', `http://${TUN_WG}:8000/`]); return true; } catch { return false; }
  });
});

after(async () => {
  if (skip) return;
  await node?.stop();
  cleanup();
});

const expected = skip ? '' : blobSha256(MIB);

test('our node fetches 100 MB from Linux TCP behind wireguard-go (handshake, data, sha256)', { skip, timeout: 120_000 }, async () => {
  const r = await node!.call({ op: 'get', url: `http://${TUN_WG}:8000/blob` });
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.status, 200);
  assert.equal(r.length, MIB * 1024 * 1024);
  assert.equal(r.sha256, expected);
  const hs = inWg(['wg', 'show', WG_IF, 'latest-handshakes']).trim().split(/\s+/);
  assert.equal(hs[0], ours.publicKey.toString('base64'));
  assert.ok(Number(hs[1]) > 0, 'wireguard-go recorded a handshake with our node');
});

test('Linux TCP behind wireguard-go fetches 100 MB from our listener', { skip, timeout: 120_000 }, async () => {
  const out = inWg(['sh', '-c', `curl -sS --max-time 90 http://${TUN_US}:8080/blob/${MIB} | sha256sum`]);
  assert.equal(out.split(' ')[0], expected);
});

test('ping from the wireguard-go side reaches our address (ICMP echo from the userspace stack)', { skip, timeout: 30_000 }, () => {
  const out = inWg(['ping', '-c', '3', '-i', '0.2', '-W', '2', TUN_US]);
  assert.match(out, /3 received/);
});

test('UDP echo both ways between our node and Linux behind wireguard-go', { skip, timeout: 30_000 }, async () => {
  const r = await node!.call({ op: 'udp', address: TUN_WG, port: 7, text: 'hello from tsnet' });
  assert.equal(r.answer, 'hello from tsnet');
  const out = inWg(['/usr/bin/python3', '-c',
    `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(5)\ns.sendto(b'hello from linux',('${TUN_US}',7))\nprint(s.recvfrom(100)[0].decode())`]);
  assert.equal(out.trim(), 'hello from linux');
});

test('the tunnel recovers after wireguard-go restarts', { skip, timeout: 120_000 }, async () => {
  wgGo!.kill('SIGKILL');
  await new Promise((r) => wgGo!.once('exit', r));
  await waitFor('old socket gone', () => { try { inWg(['ip', 'link', 'show', WG_IF]); return false; } catch { return true; } }, 5000).catch(() => undefined);
  fs.rmSync(`/var/run/wireguard/${WG_IF}.sock`, { force: true });
  startWireguardGo();
  await configureWireguardGo();
  // Our session keys are stale now: WireGuard's timers notice the silence and handshake again.
  const r = await node!.call({ op: 'get', url: `http://${TUN_WG}:8000/blob`, timeoutMs: 90_000 });
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.sha256, expected);
});

test('two of our nodes in two Node processes talk over UDP on loopback', { timeout: 120_000 }, async () => {
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const b = new NodeChild(null, { privateKey: kb.privateKey.toString('base64'), address: ['10.98.0.2/32'], listenPort: 0,
    peers: [{ publicKey: ka.publicKey.toString('base64'), allowedIPs: ['10.98.0.1/32'] }] });
  const hb = await b.next();
  const a = new NodeChild(null, { privateKey: ka.privateKey.toString('base64'), address: ['10.98.0.1/32'], listenPort: 0,
    peers: [{ publicKey: kb.publicKey.toString('base64'), endpoint: `127.0.0.1:${hb.port}`, allowedIPs: ['10.98.0.2/32'] }] });
  await a.next();
  try {
    const r = await a.call({ op: 'get', url: `http://10.98.0.2:8080/blob/64` });
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.length, 64 * 1024 * 1024);
    assert.equal(r.sha256, blobSha256(64));
  } finally {
    await a.stop();
    await b.stop();
  }
});
