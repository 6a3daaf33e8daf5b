// The WireGuard mode's public surface: options and wg-quick parsing, validation errors, peers at run time,
// statistics, coded errors and close semantics. Two nodes in this process talk over loopback UDP.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { WireGuard, parseWgQuick } from '../lib/index.js';
import { generateKeyPair } from '../lib/wire/keys.js';

const b64 = (b: Buffer) => b.toString('base64');
const ka = generateKeyPair();
const kb = generateKeyPair();
const open: WireGuard[] = [];
const node = (o: ConstructorParameters<typeof WireGuard>[0]) => {
  const w = new WireGuard(o);
  open.push(w);
  return w;
};
after(async () => {
  for (const w of open) await w.close();
});

test('wg-quick files: every supported key, ignored ones reported, malformed lines named', () => {
  const text = `
# a comment
[Interface]
PrivateKey = ${b64(ka.privateKey)}
Address = 10.5.0.1/32, fd00::1/128
ListenPort = 51999
MTU = 1280
DNS = 1.1.1.1
PostUp = iptables -A FORWARD

[Peer]
PublicKey = ${b64(kb.publicKey)}
PresharedKey = ${b64(Buffer.alloc(32, 7))}
Endpoint = 127.0.0.1:51820
AllowedIPs = 10.5.0.2/32, fd00::2/128
AllowedIPs = 10.6.0.0/16
PersistentKeepalive = 25
`;
  const { options, ignored } = parseWgQuick(text);
  assert.equal(options.privateKey, b64(ka.privateKey));
  assert.deepEqual(options.address, ['10.5.0.1/32', 'fd00::1/128']);
  assert.equal(options.listenPort, 51999);
  assert.equal(options.mtu, 1280);
  assert.deepEqual(options.peers, [{
    publicKey: b64(kb.publicKey), presharedKey: b64(Buffer.alloc(32, 7)), endpoint: '127.0.0.1:51820',
    allowedIPs: ['10.5.0.2/32', 'fd00::2/128', '10.6.0.0/16'], persistentKeepalive: 25,
  }]);
  assert.deepEqual(ignored, ['Interface.DNS', 'Interface.PostUp']);
  const logs: string[] = [];
  const w = WireGuard.fromConfig(text, { logf: (m) => logs.push(m) });
  assert.equal(w.publicKey, b64(ka.publicKey));
  assert.ok(logs.some((l) => l.includes('DNS')));
  assert.throws(() => parseWgQuick('[Interface]\nPrivateKey\n'), /line 2/);
  assert.throws(() => parseWgQuick('[Interface]\nListenPort = 70000\n'), RangeError);
  assert.throws(() => parseWgQuick('[Peer]\nAllowedIPs = 10.0.0.0/8\n'), /PrivateKey|PublicKey/);
  assert.throws(() => parseWgQuick('[Bogus]\n'), /unknown section/);
});

test('bad options throw TypeError or RangeError naming the field', () => {
  const good = { privateKey: b64(ka.privateKey), address: ['10.5.0.1/32'] };
  assert.throws(() => new WireGuard({ ...good, privateKey: 'short' }), { name: 'TypeError', message: /privateKey/ });
  assert.throws(() => new WireGuard({ ...good, address: [] }), { name: 'TypeError', message: /address/ });
  assert.throws(() => new WireGuard({ ...good, address: ['10.5.0.1/33'] }), { name: 'TypeError', message: /address\[0\]/ });
  assert.throws(() => new WireGuard({ ...good, listenPort: 70000 }), RangeError);
  assert.throws(() => new WireGuard({ ...good, peers: [{ publicKey: b64(kb.publicKey), allowedIPs: ['nope'] }] }), /allowedIPs\[0\]/);
  assert.throws(() => new WireGuard({ ...good, peers: [{ publicKey: b64(kb.publicKey), allowedIPs: [], persistentKeepalive: -1 }] }), RangeError);
  assert.throws(() => new WireGuard({ ...good, peers: [{ publicKey: b64(kb.publicKey), allowedIPs: [], endpoint: 'no-port' }] }), TypeError);
});

test('two nodes: http over the tunnel, stats, peers removed and re-added at run time', async () => {
  const A = node({ privateKey: b64(ka.privateKey), address: ['10.5.0.1/32'] });
  await A.start();
  assert.ok((A.listenPort ?? 0) > 0);
  const B = node({ privateKey: b64(kb.privateKey), address: ['10.5.0.2/32'],
    peers: [{ publicKey: A.publicKey, endpoint: `127.0.0.1:${A.listenPort}`, allowedIPs: ['10.5.0.1/32'] }] });
  await B.start();
  await A.addPeer({ publicKey: B.publicKey, allowedIPs: ['10.5.0.2/32'] }); // A learns B's endpoint by roaming

  const ln = A.listen('tcp', '10.5.0.1:80');
  ln.serve(http.createServer((req, res) => res.end(`hi ${req.socket.remoteAddress}`)));
  const get = async () => {
    const agent = new http.Agent();
    agent.createConnection = ((o: { host?: string; port?: number }) => B.connect('tcp', `${o.host}:${o.port}`)) as typeof agent.createConnection;
    const res = await new Promise<http.IncomingMessage>((r, j) => http.get({ host: '10.5.0.1', port: 80, agent }, r).on('error', j));
    let body = '';
    for await (const c of res) body += c;
    agent.destroy();
    return body;
  };
  assert.equal(await get(), 'hi 10.5.0.2');

  const [sa] = A.stats();
  assert.equal(sa!.publicKey, B.publicKey);
  assert.ok(sa!.lastHandshake instanceof Date && Date.now() - sa!.lastHandshake.getTime() < 10_000);
  assert.ok(sa!.rxBytes > 0 && sa!.txBytes > 0);
  assert.equal(sa!.endpoint, `127.0.0.1:${B.listenPort}`);

  // Without a peer routing the address, dialing fails at once with EHOSTUNREACH.
  assert.equal(await B.removePeer(A.publicKey), true);
  assert.equal(await B.removePeer(A.publicKey), false);
  await assert.rejects(B.dial('tcp', '10.5.0.1:80'), { code: 'EHOSTUNREACH' });
  const pkt = B.listenPacket('udp', ':53');
  const perr = once(pkt, 'error');
  pkt.send('x', 53, '10.5.0.1'); // UDP sends are queued; the failure arrives as an 'error' event
  assert.equal(((await perr)[0] as NodeJS.ErrnoException).code, 'EHOSTUNREACH');
  pkt.close();
  await B.addPeer({ publicKey: A.publicKey, endpoint: `127.0.0.1:${A.listenPort}`, allowedIPs: ['10.5.0.1/32'] });
  assert.equal(await get(), 'hi 10.5.0.2');
  ln.close();
});

test('dial timeout: a peer that never answers gives ETIMEDOUT after the timeout', async () => {
  const ke = generateKeyPair();
  const silent = generateKeyPair();
  const E = node({ privateKey: b64(ke.privateKey), address: ['10.5.0.5/32'],
    // A UDP port nobody answers on: the WireGuard handshake never completes.
    peers: [{ publicKey: b64(silent.publicKey), endpoint: '127.0.0.1:9', allowedIPs: ['10.5.0.6/32'] }] });
  await E.start();
  const t0 = Date.now();
  await assert.rejects(E.dial('tcp', '10.5.0.6:80', { timeout: 300 }), { code: 'ETIMEDOUT', syscall: 'connect' });
  assert.ok(Date.now() - t0 >= 280);
  await assert.rejects(E.dial('tcp', '10.5.0.6:80', { timeout: -1 }), RangeError);
});

test('close: idempotent, sockets destroyed, later calls rejected with ERR_TSNET_CLOSED', async () => {
  const kc = generateKeyPair();
  const C = node({ privateKey: b64(kc.privateKey), address: ['10.5.0.3/32'] });
  await assert.rejects(Promise.resolve().then(() => C.listen('tcp', ':1')), { code: 'ERR_TSNET_NOT_STARTED' });
  await C.start();
  const ln = C.listen('tcp', ':81');
  const closed = once(ln, 'close');
  await C.close();
  await C.close();
  await closed;
  await assert.rejects(C.dial('tcp', '10.5.0.1:80'), { code: 'ERR_TSNET_CLOSED' });
  await assert.rejects(C.start(), { code: 'ERR_TSNET_CLOSED' });
  assert.throws(() => C.stats(), { code: 'ERR_TSNET_CLOSED' });
});

test('EADDRINUSE when the UDP port is taken', async () => {
  const A = open[1]!; // started above
  const kd = generateKeyPair();
  const D = node({ privateKey: b64(kd.privateKey), address: ['10.5.0.4/32'], listenPort: A.listenPort });
  await assert.rejects(D.start(), { code: 'EADDRINUSE' });
});

test('worker threads: nodes in workers and the main thread share the engine; terminating a worker with open nodes is safe', { timeout: 60_000 }, () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'engine', 'workers.mjs')], { encoding: 'utf8', timeout: 50_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /hi from main[\s\S]*worker: hi from worker[\s\S]*worker: hi from worker[\s\S]*main again: hi from main/);
});

test('setPeer replaces AllowedIPs: packets from a prefix the peer no longer has are dropped', { timeout: 30_000 }, async () => {
  const kc = generateKeyPair();
  const kd = generateKeyPair();
  // D's own address is 10.9.0.5: C first allows D all of 10.9.0.0/24, then shrinks D to 10.7.0.2/32.
  const C = node({ privateKey: b64(kc.privateKey), address: ['10.5.0.1/32'] });
  await C.start();
  const D = node({ privateKey: b64(kd.privateKey), address: ['10.9.0.5/32'],
    peers: [{ publicKey: C.publicKey, endpoint: `127.0.0.1:${C.listenPort}`, allowedIPs: ['10.5.0.1/32'] }] });
  await D.start();
  await C.setPeer({ publicKey: D.publicKey, endpoint: `127.0.0.1:${D.listenPort}`, allowedIPs: ['10.9.0.0/24', '10.7.0.2/32'] });
  let accepted = 0;
  const closed: Promise<unknown>[] = [];
  C.listen('tcp', ':80').on('connection', (s) => {
    accepted++;
    s.on('error', () => {}); // closing the nodes at the end may reset it
    closed.push(new Promise((resolve) => s.on('close', resolve)));
    s.end('hi');
  });
  const ok = await D.dial('tcp', '10.5.0.1:80');
  ok.resume();
  await once(ok, 'end');
  await Promise.all(closed); // both FINs acknowledged before the prefix goes
  assert.equal(accepted, 1);

  await C.setPeer({ publicKey: D.publicKey, endpoint: `127.0.0.1:${D.listenPort}`, allowedIPs: ['10.7.0.2/32'] });
  const before = C.drops().sourceNotAllowed;
  const ac = new AbortController();
  const dial = D.dial('tcp', '10.5.0.1:80', { signal: ac.signal }).catch((e: NodeJS.ErrnoException) => e);
  // The SYN from 10.9.0.5 arrives over a live session and is dropped for its source.
  while (C.drops().sourceNotAllowed === before) await new Promise((r) => setImmediate(r));
  ac.abort();
  assert.equal(((await dial) as NodeJS.ErrnoException).code, 'ABORT_ERR');
  assert.equal(accepted, 1);
  // addPeer, by contrast, adds: the prefix is accepted again.
  await C.addPeer({ publicKey: D.publicKey, allowedIPs: ['10.9.0.0/24'] });
  const again = await D.dial('tcp', '10.5.0.1:80');
  again.resume();
  await once(again, 'end');
  assert.equal(accepted, 2);
});
