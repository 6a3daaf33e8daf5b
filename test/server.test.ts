// The tsnet Server on the bundled development tailnet: two nodes join with an auth key, reach each other by
// MagicDNS name over WireGuard, identify callers; errors are coded.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server, dataPlaneOf } from '../lib/server.js';
import { MiniClient } from './fixtures/devnet/mini-client.js';

let devnet: Devnet;
let web: Server;
let client: Server;
let authKey: string;

before(async () => {
  devnet = await startDevnet();
  authKey = devnet.createAuthKey({ reusable: true });
  web = new Server({ hostname: 'web', controlURL: devnet.controlURL, authKey, store: new MemoryStore() });
  client = new Server({ hostname: 'client', controlURL: devnet.controlURL, authKey, store: new MemoryStore() });
  await Promise.all([web.up(), client.up()]);
});

after(async () => {
  await Promise.allSettled([web.close(), client.close()]);
  await devnet.close();
});

test('up() reports the node; tailscaleIPs come from 100.64.0.0/10 and fd7a:115c:a1e0::/48', async () => {
  const st = await web.up();
  assert.equal(st.backendState, 'Running');
  assert.match(st.tailscaleIPs[0]!, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./);
  assert.match(st.tailscaleIPs[1]!, /^fd7a:115c:a1e0:/);
  assert.deepEqual(web.tailscaleIPs(), st.tailscaleIPs);
  assert.deepEqual(web.status()?.tailscaleIPs, st.tailscaleIPs);
  assert.deepEqual(web.certDomains(), []); // the devnet does not enable HTTPS certificates
});

test('status().drops counts malformed datagrams sent to the node\'s UDP port, per reason', { timeout: 10_000 }, async () => {
  const before = web.status()!.drops;
  const port = dataPlaneOf(web)!.port;
  const sock = dgram.createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  sock.send(Buffer.from([9, 0, 0, 0, 1, 2, 3, 4]), port, '127.0.0.1'); // no WireGuard message type
  sock.send(Buffer.from([4, 0, 0, 0, 1]), port, '127.0.0.1'); // a data message shorter than its header
  // The engine has no event for a drop: wait until the counters move (or the test times out).
  while (web.status()!.drops.badLength === before.badLength || web.status()!.drops.badType === before.badType) {
    await new Promise((r) => setTimeout(r, 10));
  }
  sock.close();
  const d = web.status()!.drops;
  assert.equal(d.badType, before.badType + 1);
  assert.equal(d.badLength, before.badLength + 1);
  assert.equal(d.replay, before.replay);
});

test('a netmap peer with a low-order node key is left out of the data plane and listed in status().skippedPeers', { timeout: 20_000 }, async () => {
  const mini = await MiniClient.connect(devnet.controlURL, { hostname: 'lowkey' });
  // A point of order 8 (RFC 7748 section 6.1): X25519 with it is all zeros, so no handshake could succeed.
  const key = 'nodekey:e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800';
  try {
    await mini.register({ NodeKey: key, Auth: { AuthKey: authKey } });
    const id = devnet.nodes().find((n) => n.hostname === 'lowkey')!.id;
    const skipped = () => web.status()!.skippedPeers.find((p) => p.id === id);
    while (!skipped()) await once(web, 'netmap');
    assert.equal(skipped()!.reason, 'low-order node key');
    const ms = dataPlaneOf(web)!.stats();
    assert.ok(!ms.peers.some((p) => p.nodeKey.toString('hex') === key.slice(8)), 'not configured natively');
    devnet.removeNode(id);
    while (skipped()) await once(web, 'netmap');
  } finally {
    mini.close();
  }
});

test('http between two nodes by MagicDNS short name and FQDN; whoIs names the caller', async () => {
  const ln = web.listen('tcp', ':80');
  ln.serve(http.createServer((req, res) => {
    const who = web.whoIs(req.socket);
    res.end(JSON.stringify({ host: who?.node.Name, user: who?.userProfile?.LoginName }));
  }));
  const get = (host: string) =>
    new Promise<string>((resolve, reject) => {
      const agent = new http.Agent();
      agent.createConnection = ((o: { host?: string; port?: number }) => client.connect('tcp', `${o.host}:${o.port}`)) as typeof agent.createConnection;
      http.get({ host, port: 80, agent }, (res) => {
        let b = '';
        res.on('data', (d) => (b += d));
        res.on('end', () => { agent.destroy(); resolve(b); });
      }).on('error', reject);
    });
  const short = JSON.parse(await get('web'));
  assert.match(short.host, /^client\./);
  assert.equal(short.user, 'dev@example.com');
  const fqdn = (await web.up()).self.Name!.replace(/\.$/, '');
  assert.equal(JSON.parse(await get(fqdn)).user, 'dev@example.com');
  assert.equal(JSON.parse(await get(web.tailscaleIPs()[0]!)).user, 'dev@example.com');
  ln.close();
});

test('fetch, an undici dispatcher and an http.Agent dial over the tailnet', async () => {
  const ln = web.listen('tcp', ':8080');
  ln.serve(http.createServer((req, res) => {
    let n = 0;
    req.on('data', (d: Buffer) => (n += d.length));
    req.on('end', () => res.end(`${req.method} ${req.url} ${n}`));
  }));
  const r = await client.fetch('http://web:8080/hello', { method: 'POST', body: 'x'.repeat(100_000) });
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'POST /hello 100000');
  // Node's own fetch accepts the dispatcher too.
  const r2 = await fetch('http://web:8080/two', { dispatcher: client.dispatcher() } as RequestInit);
  assert.equal(await r2.text(), 'GET /two 0');
  const agent = client.httpAgent();
  const body = await new Promise<string>((resolve, reject) => {
    http.get('http://web:8080/agent', { agent }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
  agent.destroy();
  assert.equal(body, 'GET /agent 0');
  await assert.rejects(client.fetch('http://nosuchhost:8080/'), (err: Error & { cause?: { code?: string } }) => err.cause?.code === 'ENOTFOUND');
  await new Promise<void>((r) => ln.close(() => r()));
});

test('whoIs for an unknown address is null; an unknown name is ENOTFOUND', async () => {
  assert.equal(web.whoIs('100.100.1.1'), null);
  await assert.rejects(client.dial('tcp', 'nosuchhost:80'), { code: 'ENOTFOUND' });
});

test('a node keeps its identity across restarts (file store in dir, made private)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-server-'));
  fs.chmodSync(dir, 0o755); // an existing state directory that others can read is made private
  try {
    const one = new Server({ hostname: 'keeper', controlURL: devnet.controlURL, authKey, dir });
    const ip1 = (await one.up()).tailscaleIPs[0];
    await one.close();
    // No auth key the second time: the stored registration is used.
    const two = new Server({ hostname: 'keeper', controlURL: devnet.controlURL, dir });
    const ip2 = (await two.up()).tailscaleIPs[0];
    await two.close();
    assert.equal(ip2, ip1);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(dir, 'tailscaled.state')).mode & 0o777, 0o600);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad arguments throw TypeError; a second close rejects with ERR_TSNET_CLOSED; listen before up binds once up', async () => {
  assert.throws(() => new Server({ controlURL: 'ftp://x' }), TypeError);
  assert.throws(() => new Server({ advertiseTags: ['web'] }), TypeError);
  assert.throws(() => new Server({ hostname: 5 as unknown as string }), TypeError);
  for (const bad of ['a'.repeat(300), 'my host', '', '-web', 'web-', 'a'.repeat(64), 'web..x', 'web.', 'wéb', 'web_1']) {
    assert.throws(() => new Server({ hostname: bad }), { name: 'TypeError', code: 'ERR_TSNET_INVALID_HOSTNAME' }, JSON.stringify(bad));
  }
  for (const good of ['web', 'Web-1', 'a'.repeat(63), '9', 'web.example', `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`]) {
    assert.doesNotThrow(() => new Server({ hostname: good, store: new MemoryStore() }), JSON.stringify(good));
  }
  const s = new Server({ controlURL: devnet.controlURL, authKey, store: new MemoryStore(), ephemeral: true });
  // As Go's tsnet since v1.80: listen starts the node; the listener binds once it is up (test/localclient.test.ts).
  const early = s.listen('tcp', ':80');
  assert.throws(() => s.listen('sctp' as 'tcp', ':80'), TypeError);
  await once(early, 'listening');
  await s.up();
  await s.close();
  await assert.rejects(s.close(), { code: 'ERR_TSNET_CLOSED' });
});

test('the tailnet policy is enforced in the data plane: allowed ports connect, others time out, replies flow', async () => {
  devnet.setPolicy({ acls: [{ action: 'accept', src: ['*'], dst: ['*:80'] }] });
  const l80 = web.listen('tcp', ':80');
  const l81 = web.listen('tcp', ':81');
  for (const l of [l80, l81]) {
    l.on('connection', (s: import('node:net').Socket) => {
      s.on('error', () => {}); // the probing client below resets some of these
      s.end('ok');
    });
  }
  // Wait until the new filter reached web: port 81 stops accepting.
  const deadline = Date.now() + 10_000;
  let blocked = false;
  while (!blocked && Date.now() < deadline) {
    try {
      const s = await client.dial('tcp', 'web:81', { timeout: 300 });
      s.destroy();
      await new Promise((r) => setTimeout(r, 100));
    } catch (err) {
      blocked = (err as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    }
  }
  assert.ok(blocked, 'port 81 is not allowed by the policy');
  const s = await client.dial('tcp', 'web:80', { timeout: 3000 });
  const reply = await new Promise<string>((resolve) => {
    let b = '';
    s.on('data', (d) => (b += d));
    s.on('end', () => resolve(b));
  });
  assert.equal(reply, 'ok', 'allowed port: the reply (web -> client) gets through as part of the flow');
  devnet.setPolicy(null);
  l80.close();
  l81.close();
});

test("listen follows tsnet's address rules: service names, unspecified hosts, port 0 from 10002-19999", async () => {
  const byName = web.listen('tcp', ':https');
  assert.equal(byName.address()?.port, 443);
  byName.close();
  const unspecified = web.listen('', '0.0.0.0:8443');
  assert.equal(unspecified.address()?.port, 8443);
  unspecified.close();
  const ports = new Set<number>();
  const lns = Array.from({ length: 5 }, () => web.listen('tcp', ':0'));
  for (const l of lns) {
    const p = l.address()!.port;
    assert.ok(p >= 10002 && p <= 19999, `port ${p} in 10002-19999`);
    ports.add(p);
    l.close();
  }
  assert.equal(ports.size, 5);
  assert.throws(() => web.listen('tcp', 'example.com:80'), TypeError);
  assert.throws(() => web.listen('tcp', ':nosuchservice'), TypeError);
  assert.throws(() => web.listen('tcp', '100.100.100.100:80'), { code: 'EADDRNOTAVAIL' });
  // @ts-expect-error listen is for TCP: the types refuse "udp" as they refuse "tcpx"
  assert.throws(() => web.listen('udp', ':80'), TypeError);
});

test('listenPacket needs one of the node IPs; UDP datagrams cross the tailnet both ways', async () => {
  assert.throws(() => web.listenPacket('udp', ':5353'), TypeError);
  assert.throws(() => web.listenPacket('udp', '0.0.0.0:5353'), TypeError);
  const webIP = web.tailscaleIPs()[0]!;
  const clientIP = client.tailscaleIPs()[0]!;
  const echo = web.listenPacket('udp', `${webIP}:5353`);
  echo.on('message', (msg: Buffer, rinfo: { address: string; port: number }) => echo.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address));
  const sock = client.listenPacket('udp4', `${clientIP}:0`);
  const got = new Promise<{ msg: string; from: string }>((resolve) =>
    sock.once('message', (m: Buffer, r: { address: string }) => resolve({ msg: m.toString(), from: r.address })));
  // The first datagram may race the WireGuard handshake; send a few.
  const timer = setInterval(() => sock.send(Buffer.from('hi'), 5353, webIP), 100);
  try {
    assert.deepEqual(await got, { msg: 'echo:hi', from: webIP });
  } finally {
    clearInterval(timer);
    sock.close();
    echo.close();
  }
});

test('localClient() answers whoIs and status; peers events report nodes joining and leaving; the port option binds UDP', async () => {
  const lc = web.localClient();
  const who = await lc.whoIs(client.tailscaleIPs()[0]!);
  assert.match(who?.node.Name ?? '', /^client\./);
  const st = await lc.status();
  assert.equal(st?.backendState, 'Running');
  assert.ok(st?.peers.some((p) => p.dnsName.startsWith('client.')));

  const events: Array<import('../lib/server.js').PeersChange> = [];
  const onPeers = (c: import('../lib/server.js').PeersChange): void => void events.push(c);
  web.on('peers', onPeers);
  const udp = await import('node:dgram');
  const probe = udp.createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const port = probe.address().port;
  await new Promise<void>((r) => probe.close(() => r()));
  const extra = new Server({ hostname: 'extra', controlURL: devnet.controlURL, authKey, store: new MemoryStore(), ephemeral: true, port });
  await extra.up();
  const deadline = Date.now() + 5000;
  while (!events.some((e) => e.added.some((p) => p.dnsName.startsWith('extra.'))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const added = events.flatMap((e) => e.added).find((p) => p.dnsName.startsWith('extra.'));
  assert.ok(added, `web saw extra join: ${JSON.stringify(events)}`);
  assert.deepEqual(added.tailscaleIPs, extra.tailscaleIPs());
  // The node's UDP socket is on the requested port: it is busy now.
  const again = udp.createSocket('udp6');
  await assert.rejects(new Promise((resolve, reject) => { again.once('error', reject); again.bind(port, '::', () => resolve(undefined)); }), { code: 'EADDRINUSE' });
  again.close();
  await extra.close();
  const gone = Date.now() + 5000;
  while (!events.some((e) => e.removed.includes(added.publicKey)) && Date.now() < gone) await new Promise((r) => setTimeout(r, 20));
  assert.ok(events.some((e) => e.removed.includes(added.publicKey)), 'web saw extra leave');
  web.off('peers', onPeers);
  assert.throws(() => new Server({ port: 70000 }), RangeError);
});

test('whoIs carries the capability map that the tailnet grants give the caller toward this node', async () => {
  devnet.setPolicy({
    acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }],
    grants: [{ src: ['*'], dst: ['*'], app: { 'example.com/cap/reports': [{ level: 'read' }] } }],
  });
  try {
    const deadline = Date.now() + 5000;
    let who = web.whoIs(client.tailscaleIPs()[0]!);
    while (!who?.capMap['example.com/cap/reports'] && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      who = web.whoIs(client.tailscaleIPs()[0]!);
    }
    assert.deepEqual(who?.capMap['example.com/cap/reports'], [{ level: 'read' }]);
    // Socket form and the v6 address name the same node.
    assert.equal(web.whoIs(`[${client.tailscaleIPs()[1]!}]:1234`)?.node.ID, who?.node.ID);
  } finally {
    devnet.setPolicy(null);
  }
  const plain = web.whoIs(client.tailscaleIPs()[0]!);
  const until = Date.now() + 5000;
  let cleared = plain;
  while (cleared && Object.keys(cleared.capMap).length && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    cleared = web.whoIs(client.tailscaleIPs()[0]!);
  }
  assert.deepEqual(cleared?.capMap, {}, 'no grants, no capabilities');
});

test('without an auth key the node asks a person: the login URL goes to userLogf and the authURL event, then up() completes', async () => {
  const saved = { a: process.env.TS_AUTHKEY, b: process.env.TS_AUTH_KEY, c: process.env.TS_CLIENT_SECRET };
  delete process.env.TS_AUTHKEY;
  delete process.env.TS_AUTH_KEY;
  delete process.env.TS_CLIENT_SECRET;
  const said: string[] = [];
  const s = new Server({ hostname: 'person', controlURL: devnet.controlURL, store: new MemoryStore(), ephemeral: true, userLogf: (m) => said.push(m) });
  try {
    const url = new Promise<string>((resolve) => s.once('authURL', resolve));
    const up = s.up();
    const u = await url;
    assert.match(u, /^https?:\/\//);
    assert.ok(said.some((m) => m.includes(u)), `userLogf got the URL: ${JSON.stringify(said)}`);
    assert.equal(s.status(), null, 'not up before approval');
    devnet.approve(u, { user: 'person@example.com' });
    const st = await up;
    assert.equal(st.backendState, 'Running');
    // Peers see the node under the person who approved it.
    const deadline = Date.now() + 5000;
    while (!web.whoIs(st.tailscaleIPs[0]!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(web.whoIs(st.tailscaleIPs[0]!)?.userProfile?.LoginName, 'person@example.com');
  } finally {
    await s.close().catch(() => undefined);
    Object.assign(process.env, Object.fromEntries(Object.entries(saved).filter(([, v]) => v !== undefined)));
  }
});

test("rootPath(): Go's GetRootPath, the state directory, or \"\" for a node whose state lives elsewhere", () => {
  const dir = path.join(os.tmpdir(), 'tsnet-rootpath-test');
  assert.equal(new Server({ hostname: 'rp', dir }).rootPath(), dir);
  assert.equal(new Server({ hostname: 'rp', ephemeral: true }).rootPath(), '');
  assert.equal(new Server({ hostname: 'rp', store: new MemoryStore() }).rootPath(), '');
  assert.match(new Server({ hostname: 'rp' }).rootPath(), /tsnet-.*rp$/);
});
