// server.loopback(), tsnet's Loopback(): one 127.0.0.1 port serving a SOCKS5 proxy onto the tailnet and the
// LocalAPI over HTTP, both behind random credentials. Two Servers on the development tailnet; "client" runs
// the loopback listener, "web" serves HTTP on the tailnet. All traffic stays on loopback.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server } from '../lib/server.js';
import type { LoopbackInfo } from '../lib/loopback/index.js';

let devnet: Devnet;
let web: Server;
let client: Server;
let authKey: string;
let lb: LoopbackInfo;
let port: number;
const BIG = 3 * 1024 * 1024;

before(async () => {
  devnet = await startDevnet();
  authKey = devnet.createAuthKey({ reusable: true });
  web = new Server({ hostname: 'web', controlURL: devnet.controlURL, authKey, store: new MemoryStore() });
  client = new Server({ hostname: 'client', controlURL: devnet.controlURL, authKey, store: new MemoryStore() });
  await Promise.all([web.up(), client.up()]);
  web.listen('tcp', ':80').serve(http.createServer((req, res) => res.end(`hello from web ${req.url}`)));
  web.listen('tcp', ':81').serve(
    http.createServer((req, res) => {
      let got = 0;
      req.on('data', (d: Buffer) => (got += d.length));
      req.on('end', () => res.setHeader('X-Got', String(got)).end(Buffer.alloc(BIG, 0x61)));
    }),
  );
  lb = await client.loopback();
  port = Number(lb.address.split(':')[1]);
});

after(async () => {
  await Promise.allSettled([web.close(), client.close()]);
  await devnet.close();
});

/** Exact-length reads from a socket, and the moment it closes. */
class Wire {
  #buf = Buffer.alloc(0);
  #wake: (() => void) | null = null;
  #ended = false;
  readonly closed: Promise<void>;
  constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#wake?.();
    });
    sock.on('error', () => undefined);
    this.closed = new Promise((resolve) => sock.once('close', () => resolve()));
    sock.once('end', () => {
      this.#ended = true;
      this.#wake?.();
    });
  }
  async read(n: number): Promise<Buffer> {
    while (this.#buf.length < n) {
      if (this.#ended) throw new Error(`connection ended after ${this.#buf.length} of ${n} bytes`);
      await new Promise<void>((r) => (this.#wake = r));
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }
  /** Everything until the peer ends the connection. */
  async rest(): Promise<Buffer> {
    while (!this.#ended) await new Promise<void>((r) => (this.#wake = r));
    return this.#buf;
  }
}

async function open(allowHalfOpen = false): Promise<Wire> {
  const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen });
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  return new Wire(sock);
}

type Dest = { atyp: 1 | 3 | 4 | number; addr: Buffer; port: number };
const byName = (name: string, p: number): Dest => ({ atyp: 3, addr: Buffer.concat([Buffer.from([name.length]), Buffer.from(name)]), port: p });
const byIPv4 = (ip: string, p: number): Dest => ({ atyp: 1, addr: Buffer.from(ip.split('.').map(Number)), port: p });
function byIPv6(ip: string, p: number): Dest {
  const [h = '', t = ''] = ip.split('::');
  const hg = h ? h.split(':') : [];
  const tg = t ? t.split(':') : [];
  const groups = ip.includes('::') ? [...hg, ...Array<string>(8 - hg.length - tg.length).fill('0'), ...tg] : hg;
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return { atyp: 4, addr: b, port: p };
}

/** Greeting (username/password only) and RFC 1929 auth; returns the auth status byte. */
async function auth(w: Wire, user = 'tsnet', pass = lb.proxyCredential): Promise<number> {
  w.sock.write(Buffer.from([5, 1, 2]));
  assert.deepEqual([...(await w.read(2))], [5, 2]);
  w.sock.write(Buffer.concat([Buffer.from([1, user.length]), Buffer.from(user), Buffer.from([pass.length]), Buffer.from(pass)]));
  const [ver, status] = await w.read(2);
  assert.equal(ver, 1);
  return status!;
}

/** Sends a request; returns the reply code and bound address. */
async function request(w: Wire, d: Dest, cmd = 1): Promise<{ code: number; bind: string }> {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(d.port);
  w.sock.write(Buffer.concat([Buffer.from([5, cmd, 0, d.atyp]), d.addr, p]));
  const [ver, code, , atyp] = await w.read(4);
  assert.equal(ver, 5);
  const addr = await w.read(atyp === 1 ? 4 : 16);
  const bport = (await w.read(2)).readUInt16BE(0);
  const ip = atyp === 1 ? [...addr].join('.') : addr.toString('hex');
  return { code: code!, bind: `${ip}:${bport}` };
}

async function connectThrough(d: Dest): Promise<{ w: Wire; code: number; bind: string }> {
  const w = await open();
  assert.equal(await auth(w), 0);
  return { w, ...(await request(w, d)) };
}

async function httpGet(w: Wire, path: string, upload = 0): Promise<string> {
  w.sock.write(`${upload ? 'POST' : 'GET'} ${path} HTTP/1.0\r\nHost: web\r\nContent-Length: ${upload}\r\n\r\n`);
  if (upload) w.sock.write(Buffer.alloc(upload, 0x62));
  // Our side shuts down its sending half; the answer must still come back (half-close passed along).
  w.sock.end();
  return (await w.rest()).toString('latin1');
}

test('loopback() listens on 127.0.0.1 once: same address and credentials, 16 random bytes hex each', async () => {
  assert.match(lb.address, /^127\.0\.0\.1:\d+$/);
  assert.match(lb.proxyCredential, /^[0-9a-f]{32}$/);
  assert.match(lb.localAPICredential, /^[0-9a-f]{32}$/);
  assert.notEqual(lb.proxyCredential, lb.localAPICredential);
  const again = await Promise.all([client.loopback(), client.loopback()]);
  for (const a of again) assert.deepEqual(a, lb);
});

test('SOCKS5 CONNECT by MagicDNS name (short and FQDN) reaches the peer; success reply binds our tailnet address', async () => {
  const { w, code, bind } = await connectThrough(byName('web', 80));
  assert.equal(code, 0);
  assert.equal(bind.split(':')[0], client.tailscaleIPs()[0]);
  const page = await httpGet(w, '/by-name');
  assert.match(page, /^HTTP\/1\.1 200 OK/);
  assert.match(page, /hello from web \/by-name$/);
  const fqdn = web.status()!.self.Name!.replace(/\.$/, '');
  const second = await connectThrough(byName(fqdn, 80));
  assert.equal(second.code, 0);
  assert.match(await httpGet(second.w, '/fqdn'), /hello from web \/fqdn$/);
});

test('SOCKS5 CONNECT by IPv4 and IPv6 address; a large upload and answer arrive whole (backpressure both ways)', async () => {
  const [v4, v6] = web.tailscaleIPs();
  const a = await connectThrough(byIPv4(v4!, 80));
  assert.equal(a.code, 0);
  assert.match(await httpGet(a.w, '/v4'), /hello from web \/v4$/);
  const b = await connectThrough(byIPv6(v6!, 80));
  assert.equal(b.code, 0);
  assert.match(await httpGet(b.w, '/v6'), /hello from web \/v6$/);
  const c = await connectThrough(byName('web', 81));
  assert.equal(c.code, 0);
  const big = await httpGet(c.w, '/big', BIG);
  assert.match(big, /\r\nX-Got: 3145728\r\n/i);
  const body = big.slice(big.indexOf('\r\n\r\n') + 4);
  assert.equal(body.length, BIG);
  assert.equal(body, 'a'.repeat(BIG));
});

test('SOCKS5 data sent right after the request (before the reply) is forwarded', async () => {
  const w = await open();
  const name = Buffer.from('web');
  const req = Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, Buffer.from([0, 80])]);
  const cred = Buffer.from(lb.proxyCredential);
  // Greeting, auth, request and the HTTP request in one write.
  w.sock.write(
    Buffer.concat([
      Buffer.from([5, 1, 2]),
      Buffer.from([1, 5]),
      Buffer.from('tsnet'),
      Buffer.from([cred.length]),
      cred,
      req,
      Buffer.from('GET /early HTTP/1.0\r\n\r\n'),
    ]),
  );
  assert.deepEqual([...(await w.read(2))], [5, 2]);
  assert.deepEqual([...(await w.read(2))], [1, 0]);
  assert.equal((await w.read(10))[1], 0);
  assert.match((await w.rest()).toString(), /hello from web \/early$/);
});

test('SOCKS5 wrong password or user: auth status 0x01, then the connection closes', async () => {
  for (const [user, pass] of [['tsnet', 'x'.repeat(32)], ['tsnet', lb.proxyCredential.slice(1)], ['root', lb.proxyCredential]] as const) {
    const w = await open();
    assert.equal(await auth(w, user, pass), 1);
    await w.closed;
    assert.equal((await w.rest()).length, 0);
  }
  // A client that keeps its sending side open is closed all the same, not left half-open: once the FIN came,
  // what it sends next meets a closed socket (a reset), so its socket closes too.
  const w = await open(true);
  assert.equal(await auth(w, 'tsnet', 'nope'), 1);
  await w.rest();
  const poke = setInterval(() => w.sock.write('x'), 20);
  const timeout = new Promise<string>((r) => setTimeout(() => r('still open'), 5000).unref());
  assert.equal(await Promise.race([w.closed.then(() => 'closed'), timeout]), 'closed');
  clearInterval(poke);
});

test('SOCKS5 without username/password among the methods: 0xFF, closed', async () => {
  const w = await open();
  w.sock.write(Buffer.from([5, 1, 0]));
  assert.deepEqual([...(await w.read(2))], [5, 0xff]);
  await w.closed;
});

test('SOCKS5 BIND: 0x07; unknown address type: 0x08', async () => {
  for (const cmd of [2]) {
    const w = await open();
    assert.equal(await auth(w), 0);
    assert.equal((await request(w, byName('web', 80), cmd)).code, 0x07);
    await w.closed;
  }
  const w = await open();
  assert.equal(await auth(w), 0);
  w.sock.write(Buffer.from([5, 1, 0, 0x05, 1, 2, 3, 4, 0, 80]));
  const r = await w.read(10);
  assert.equal(r[1], 0x08);
  await w.closed;
});

test('SOCKS5 UDP ASSOCIATE: datagrams by IPv4, IPv6 and name reach a tailnet UDP echo and come back with its address', async () => {
  const echo4 = web.listenPacket('udp4', `${web.tailscaleIPs()[0]}:7`);
  const echo6 = web.listenPacket('udp6', `[${web.tailscaleIPs()[1]}]:7`);
  for (const e of [echo4, echo6]) e.on('message', (m, r) => e.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  const w = await open();
  assert.equal(await auth(w), 0);
  const { code, bind } = await request(w, byIPv4('0.0.0.0', 0), 3);
  assert.equal(code, 0);
  const [relayIP, relayPort] = bind.split(':');
  assert.equal(relayIP, '127.0.0.1');
  const u = dgram.createSocket('udp4');
  u.bind(0, '127.0.0.1');
  await once(u, 'listening');
  const header = (d: Dest) => {
    const p = Buffer.alloc(2);
    p.writeUInt16BE(d.port);
    return Buffer.concat([Buffer.from([0, 0, 0, d.atyp]), d.addr, p]);
  };
  const cases: Array<[Dest, string, Buffer]> = [
    [byIPv4(web.tailscaleIPs()[0]!, 7), 'v4', header(byIPv4(web.tailscaleIPs()[0]!, 7))],
    [byIPv6(web.tailscaleIPs()[1]!, 7), 'v6', header(byIPv6(web.tailscaleIPs()[1]!, 7))],
    // By name: the answer names the peer's address, not the name.
    [byName('web', 7), 'name', header(byIPv4(web.tailscaleIPs()[0]!, 7))],
  ];
  for (const [d, text, want] of cases) {
    // A fragment (FRAG 1) is dropped; the unfragmented datagram after it is relayed.
    const frag = header(d);
    frag[2] = 1;
    u.send(Buffer.concat([frag, Buffer.from('fragment')]), Number(relayPort), '127.0.0.1');
    u.send(Buffer.concat([header(d), Buffer.from(text)]), Number(relayPort), '127.0.0.1');
    const [m] = (await once(u, 'message')) as [Buffer];
    assert.deepEqual(m.subarray(0, want.length), want);
    assert.equal(m.subarray(want.length).toString(), `echo:${text}`);
  }
  // Closing the control connection ends the association (the relay and its tailnet sockets close).
  w.sock.destroy();
  await w.closed;
  u.close();
  echo4.close();
  echo6.close();
});

test('SOCKS5 unknown name: host unreachable (0x04); a peer port without a listener: connection refused (0x05)', async () => {
  const a = await connectThrough(byName('nosuchhost', 80));
  assert.equal(a.code, 0x04);
  await a.w.closed;
  const b = await connectThrough(byName('web', 9));
  assert.equal(b.code, 0x05);
  await b.w.closed;
});

async function api(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      })
      .on('error', reject);
  });
}
const basic = (pass: string, user = '') => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const good = (): Record<string, string> => ({ 'Sec-Tailscale': 'localapi', Authorization: basic(lb.localAPICredential) });

test('LocalAPI status: our Status as JSON with BackendState and TailscaleIPs; ?peers=false leaves peers out', async () => {
  const r = await api('/localapi/v0/status', good());
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  const st = JSON.parse(r.body);
  assert.equal(st.BackendState, 'Running');
  assert.deepEqual(st.TailscaleIPs, client.tailscaleIPs());
  assert.equal(st.backendState, 'Running');
  assert.equal(st.self.Name, client.status()!.self.Name);
  assert.ok(st.peers.some((p: { tailscaleIPs: string[] }) => p.tailscaleIPs.includes(web.tailscaleIPs()[0]!)));
  const lean = JSON.parse((await api('/localapi/v0/status?peers=false', { ...good(), Authorization: basic(lb.localAPICredential, 'anyone') })).body);
  assert.equal(lean.BackendState, 'Running');
  assert.equal('peers' in lean, false);
});

test('LocalAPI whois by ip, ip:port, [ip6]:port and nodekey: Node and UserProfile; unknown 404, bad addr 400', async () => {
  const [v4, v6] = web.tailscaleIPs();
  const webName = web.status()!.self.Name;
  for (const addr of [v4!, `${v4}:443`, `[${v6}]:80`, v6!, web.status()!.self.Key]) {
    const r = await api(`/localapi/v0/whois?addr=${encodeURIComponent(addr)}`, good());
    assert.equal(r.status, 200, addr);
    const who = JSON.parse(r.body);
    assert.equal(who.Node.Name, webName, addr);
    assert.equal(who.UserProfile.LoginName, 'dev@example.com');
    assert.ok('CapMap' in who);
  }
  assert.equal((await api('/localapi/v0/whois?addr=100.100.100.254', good())).status, 404);
  assert.equal((await api(`/localapi/v0/whois?addr=nodekey:${'0'.repeat(64)}`, good())).status, 404);
  assert.equal((await api('/localapi/v0/whois?addr=web', good())).status, 400);
  assert.equal((await api('/localapi/v0/whois', good())).status, 400);
});

test('LocalAPI request whose first byte arrives alone (the multiplexer hands it back to HTTP)', async () => {
  const w = await open();
  const auth64 = Buffer.from(`:${lb.localAPICredential}`).toString('base64');
  w.sock.write('G');
  await new Promise((r) => setTimeout(r, 50));
  w.sock.write(`ET /localapi/v0/status HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nSec-Tailscale: localapi\r\nAuthorization: Basic ${auth64}\r\nConnection: close\r\n\r\n`);
  const answer = (await w.rest()).toString();
  assert.match(answer, /^HTTP\/1\.1 200 OK/);
  assert.match(answer, /"BackendState": "Running"/);
});

test('LocalAPI guards: 403 without Sec-Tailscale, 401 without basic auth, 403 with a wrong password or a browser Origin', async () => {
  const noHeader = await api('/localapi/v0/status', { Authorization: basic(lb.localAPICredential) });
  assert.equal(noHeader.status, 403);
  assert.match(noHeader.body, /Sec-Tailscale/);
  const noAuth = await api('/localapi/v0/status', { 'Sec-Tailscale': 'localapi' });
  assert.equal(noAuth.status, 401);
  assert.match(noAuth.headers['www-authenticate'] ?? '', /^Basic/);
  // As Tailscale's LocalAPI: a wrong password is 403 ("bad password"), a missing one 401.
  const wrong = await api('/localapi/v0/status', { 'Sec-Tailscale': 'localapi', Authorization: basic(lb.proxyCredential) });
  assert.equal(wrong.status, 403);
  assert.doesNotMatch(wrong.body, /Running/);
  assert.equal((await api('/localapi/v0/status', { ...good(), Origin: 'http://evil.example' })).status, 403);
  assert.equal((await api('/localapi/v0/status', { ...good(), Host: 'evil.example:80' })).status, 403);
  assert.equal((await api('/localapi/v0/prefs', good())).status, 200);
  assert.equal((await api('/localapi/v0/prefs', { 'Sec-Tailscale': 'localapi' })).status, 401);
  assert.equal((await api('/localapi/v0/serve-config', good())).status, 404);
  assert.equal((await api('/', good())).status, 404);
});

test('garbage on the port closes the connection; the listener keeps working', async () => {
  const samples = [
    Buffer.from([0x05]), // SOCKS version, then nothing
    Buffer.from([0x05, 0xff, 1, 2, 3]), // greeting cut short
    Buffer.from([0x05, 1, 2, 9, 9, 9, 9]), // auth with a bad subnegotiation version and lengths beyond the data
    Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00]), // a TLS record goes to HTTP, which rejects it
    Buffer.from('\x00\x01\x02\r\n\r\n\xff\xfe'),
  ];
  for (const g of samples) {
    const w = await open();
    w.sock.end(g);
    await w.closed;
    const answer = await w.rest();
    // Either silence or a refusal: 0xFF "no acceptable method", 1/1 auth failure, or HTTP 400.
    assert.ok(answer.length === 0 || answer[0] === 0x05 || answer[0] === 0x01 || /^HTTP\/1\.1 400/.test(answer.toString('latin1')), answer.toString('hex'));
  }
  assert.equal((await api('/localapi/v0/status', good())).status, 200);
  const ok = await connectThrough(byName('web', 80));
  assert.equal(ok.code, 0);
  ok.w.sock.destroy();
});

test('close() ends proxied connections and releases the port; loopback() then rejects', async () => {
  const s = new Server({ hostname: 'closer', controlURL: devnet.controlURL, authKey, store: new MemoryStore() });
  await s.up();
  const info = await s.loopback();
  const p = Number(info.address.split(':')[1]);
  const sock = net.connect(p, '127.0.0.1');
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  const w = new Wire(sock);
  assert.equal(await auth(w, 'tsnet', info.proxyCredential), 0);
  assert.equal((await request(w, byName('web', 80))).code, 0);
  await s.close();
  await w.closed; // the open, proxied connection was ended
  await assert.rejects(
    new Promise<void>((resolve, reject) => net.connect(p, '127.0.0.1').once('connect', resolve).once('error', reject)),
    { code: 'ECONNREFUSED' },
  );
  await assert.rejects(s.loopback(), { code: 'ERR_TSNET_CLOSED' });
});
