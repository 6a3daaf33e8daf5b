/**
 * lib/magicsock JavaScript transport pieces against the devnet DERP relay on
 * loopback: TLS dialing (insecure, pinned, meta certificate, abort, timeout),
 * the per-region manager with a fake engine speaking DERP through its Duplex,
 * home region choice, endpoint lists and the netcheck driver.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { generatePrivateKey, publicFromPrivate } from '../lib/wire/keys.js';
import { derpRegionsFrom, type EngineDERPRegion } from '../lib/wire/engine-config.js';
import type { DERPMap, DERPRegion } from '../lib/wire/tailcfg.js';
import { devnetDERPMap } from '../lib/devnet/derpmap.js';
import { der, derOid, derSeq, derUInt } from '../lib/devnet/derp/cert.js';
import { FrameReader, decodeFrame, encodeFrame, type Frame } from '../lib/devnet/derp/frames.js';
import { boxOpen, boxSeal } from '../lib/devnet/derp/nacl.js';
import { startDerpServer, type DerpServer, type DerpServerOptions } from '../lib/devnet/derp/server.js';
import { dialDERPRegion, type DERPDialError } from '../lib/magicsock/derp-dial.js';
import { DERPManager } from '../lib/magicsock/derp-manager.js';
import { httpsLatency } from '../lib/magicsock/https-latency.js';
import { startDevnet } from '../lib/devnet/index.js';
import { chooseHomeRegion, localEndpoints, mergeEndpoints, Netcheck, type NetcheckReport, type STUNTarget } from '../lib/magicsock/netcheck.js';

const root = path.join(__dirname, '..');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function region(o: { port: number; id?: number; certName?: string | null; extra?: Partial<DERPRegion> }): EngineDERPRegion {
  const m = devnetDERPMap({ derpPort: o.port, ...(o.id ? { regionId: o.id } : {}), ...(o.certName ? { certName: o.certName } : {}) });
  const r = Object.values(m.Regions!)[0]!;
  Object.assign(r, o.extra ?? {});
  return derpRegionsFrom(m)[0]!;
}

async function relay(t: { after(fn: () => unknown): void }, o: DerpServerOptions = {}): Promise<DerpServer> {
  const s = await startDerpServer(o);
  t.after(() => s.close());
  return s;
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Accepts TCP and never answers the TLS hello. */
async function blackHole(t: { after(fn: () => unknown): void }): Promise<number> {
  const socks = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    socks.add(s);
    s.on('error', () => {});
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => {
    for (const s of socks) s.destroy();
    srv.close();
  });
  return (srv.address() as net.AddressInfo).port;
}

// --- a DERP client speaking through a Duplex, as the engine will ----------------

function duplexPair(): [Duplex, Duplex] {
  const mk = (other: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(c: Buffer, _e, cb) {
        other().push(c);
        cb();
      },
      final(cb) {
        other().push(null);
        cb();
      },
    });
  const a: Duplex = mk(() => b);
  const b: Duplex = mk(() => a);
  return [a, b];
}

class FakeEngine {
  readonly priv = generatePrivateKey();
  readonly pub = publicFromPrivate(this.priv);
  readonly frames: Frame[] = [];
  head = '';
  private buf = Buffer.alloc(0);
  private readonly reader = new FrameReader();
  closed = false;

  constructor(readonly end: Duplex) {
    end.on('data', (d: Buffer) => {
      if (!this.head) {
        this.buf = Buffer.concat([this.buf, d]);
        const i = this.buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        this.head = this.buf.subarray(0, i).toString('latin1');
        d = this.buf.subarray(i + 4);
      }
      this.reader.push(d);
      for (let f = this.reader.next(); f; f = this.reader.next()) this.frames.push(decodeFrame(f.frameType, f.payload));
    });
    end.on('close', () => (this.closed = true));
    end.on('error', () => {});
  }

  async next<T extends Frame['type']>(type: T): Promise<Extract<Frame, { type: T }>> {
    let i = -1;
    await until(() => (i = this.frames.findIndex((f) => f.type === type)) >= 0, type);
    return this.frames.splice(i, 1)[0] as Extract<Frame, { type: T }>;
  }

  /** HTTP upgrade, ServerKey → ClientInfo → ServerInfo. */
  async login(): Promise<{ serverKey: Buffer; info: unknown }> {
    this.end.write('GET /derp HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n');
    const serverKey = Buffer.from((await this.next('ServerKey')).key);
    const nonce = randomBytes(24);
    this.end.write(encodeFrame({ type: 'ClientInfo', key: this.pub, nonce, box: boxSeal(Buffer.from('{"version":2}'), nonce, serverKey, this.priv) }));
    const si = await this.next('ServerInfo');
    const clear = boxOpen(si.box, si.nonce, serverKey, this.priv);
    assert.ok(clear, 'ServerInfo opens');
    return { serverKey, info: JSON.parse(Buffer.from(clear).toString()) };
  }
}

// --- certificates whose chain Node links (the meta certificate issues the leaf) -------

const pem = (b: Buffer): string => `-----BEGIN CERTIFICATE-----\n${b.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
const cnName = (cn: string): Buffer => derSeq(der(0x31, derSeq(derOid('2.5.4.3'), der(0x0c, Buffer.from(cn)))));
const utc = (d: Date): Buffer => der(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'));
const ext = (oid: string, v: Buffer): Buffer => derSeq(derOid(oid), der(0x01, Buffer.of(0xff)), der(0x04, v));

function certDER(o: { serial: Uint8Array; issuer: string; subject: string; pub: KeyObject; signer: KeyObject; ca: boolean; ip?: string }): Buffer {
  const alg = derSeq(derOid('1.2.840.10045.4.3.2'));
  const exts = [
    ext('2.5.29.19', derSeq(...(o.ca ? [der(0x01, Buffer.of(0xff))] : []))),
    ext('2.5.29.15', der(0x03, o.ca ? Buffer.of(0x02, 0x84) : Buffer.of(0x07, 0x80))), // keyCertSign+digitalSignature / digitalSignature
    ...(o.ip ? [derSeq(derOid('2.5.29.17'), der(0x04, derSeq(der(0x87, Buffer.from(o.ip.split('.').map(Number))))))] : []),
  ];
  const tbs = derSeq(
    der(0xa0, derUInt(Buffer.of(2))),
    derUInt(o.serial),
    alg,
    cnName(o.issuer),
    derSeq(utc(new Date(Date.now() - 3600_000)), utc(new Date(Date.now() + 86400_000))),
    cnName(o.subject),
    o.pub.export({ format: 'der', type: 'spki' }),
    der(0xa3, derSeq(...exts)),
  );
  return derSeq(tbs, alg, der(0x03, Buffer.of(0), sign('sha256', tbs, o.signer)));
}

/** A TLS server whose meta certificate (CN derpkey<hex>, serial 2) issued its leaf, so Node links it into the chain. */
async function linkedMetaServer(t: { after(fn: () => unknown): void }, serverPub: Buffer, maxVersion?: tls.SecureVersion): Promise<{ port: number; leafPin: string }> {
  const meta = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const metaCN = `derpkey${serverPub.toString('hex')}`;
  const metaDER = certDER({ serial: Buffer.of(2), issuer: metaCN, subject: metaCN, pub: meta.publicKey, signer: meta.privateKey, ca: true });
  const leafDER = certDER({ serial: Buffer.of(0x11, 0x22, 0x33), issuer: metaCN, subject: 'localhost', pub: leaf.publicKey, signer: meta.privateKey, ca: false, ip: '127.0.0.1' });
  const srv = tls.createServer({ cert: pem(leafDER) + pem(metaDER), key: leaf.privateKey.export({ format: 'pem', type: 'pkcs8' }), ...(maxVersion ? { maxVersion } : {}) }, (s) => {
    s.on('error', () => {});
    s.end();
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => srv.close());
  return { port: (srv.address() as net.AddressInfo).port, leafPin: createHash('sha256').update(leafDER).digest('hex') };
}

// --- dial -------------------------------------------------------------------------

test('dial: InsecureForTests reaches the relay, the engine-style upgrade gets 101 + ServerKey; metaCert:false gives serverKey null', async (t) => {
  const s = await relay(t, { metaCert: false });
  const r = region({ port: s.port });
  assert.equal(r.nodes[0]!.insecureForTests, true);
  const tr = await dialDERPRegion(r);
  t.after(() => tr.socket.destroy());
  assert.equal(tr.node, r.nodes[0]);
  assert.equal(tr.serverKey, null);
  const eng = new FakeEngine(tr.socket);
  const { serverKey, info } = await eng.login();
  assert.match(eng.head, /^HTTP\/1\.1 101 /);
  assert.deepEqual(serverKey, s.publicKey);
  assert.deepEqual(info, { version: 2 });
});

test('dial: sha256-raw pin accepted, a wrong pin and unpinned verification of the self-signed cert rejected', async (t) => {
  const s = await relay(t);
  assert.ok(s.certName?.startsWith('sha256-raw:'));
  const good = await dialDERPRegion(region({ port: s.port, certName: s.certName }));
  good.socket.destroy();
  assert.equal(good.node.certName, s.certName);

  const hex = s.certName!.slice('sha256-raw:'.length);
  const wrong = `sha256-raw:${(hex[0] === '0' ? '1' : '0') + hex.slice(1)}`;
  await assert.rejects(dialDERPRegion(region({ port: s.port, certName: wrong })), (e: DERPDialError) => {
    assert.equal(e.code, 'ERR_TSNET_DERP_DIAL');
    assert.equal(e.regionID, 900);
    assert.equal((e.cause as { code?: string }).code, 'ERR_TSNET_DERP_CERT_PIN');
    return true;
  });
  // No InsecureForTests, no CertName: ordinary verification, which a self-signed cert fails.
  await assert.rejects(dialDERPRegion(region({ port: s.port, extra: { Nodes: [{ Name: 'x', RegionID: 900, HostName: '127.0.0.1', IPv4: '127.0.0.1', DERPPort: s.port }] } })), (e: DERPDialError) => {
    assert.equal(e.code, 'ERR_TSNET_DERP_DIAL');
    assert.match(String((e.cause as Error).message), /self[- ]signed/i);
    return true;
  });
});

test('dial: serverKey from a meta certificate in the linked chain (TLS 1.3 only); a pin skips the meta cert', async (t) => {
  const key = publicFromPrivate(generatePrivateKey());
  const linked = await linkedMetaServer(t, key);
  const tr = await dialDERPRegion(region({ port: linked.port }));
  tr.socket.destroy();
  assert.deepEqual(tr.serverKey, key);
  const pinned = await dialDERPRegion(region({ port: linked.port, certName: `sha256-raw:${linked.leafPin}` }));
  pinned.socket.destroy();
  assert.deepEqual(pinned.serverKey, key);
  const tls12 = await linkedMetaServer(t, key, 'TLSv1.2');
  const old = await dialDERPRegion(region({ port: tls12.port }));
  old.socket.destroy();
  assert.equal(old.serverKey, null, 'TLS 1.2: the chain travelled in the clear, not trusted for fast start');
});

test("dial: the devnet relay's appended meta certificate is not visible to Node (serverKey null, no error)", async (t) => {
  // derper appends an unrelated self-signed meta certificate; Node's getPeerCertificate only links issuers.
  const s = await relay(t);
  const tr = await dialDERPRegion(region({ port: s.port }));
  tr.socket.destroy();
  assert.ok(tr.serverKey === null || tr.serverKey.equals(s.publicKey));
  if (tr.serverKey === null) t.diagnostic('meta certificate not exposed by this Node version: no fast start');
});

test('dial: nodes tried in order (STUN-only skipped), timeout and abort reject with codes', async (t) => {
  const s = await relay(t);
  const dead = await deadPort();
  const base = devnetDERPMap({ derpPort: s.port });
  const node = base.Regions!['900']!.Nodes![0]!;
  base.Regions!['900']!.Nodes = [
    { ...node, Name: 'stun', STUNOnly: true, DERPPort: dead },
    { ...node, Name: 'down', DERPPort: dead },
    { ...node, Name: 'up' },
  ];
  const logs: string[] = [];
  const tr = await dialDERPRegion(derpRegionsFrom(base)[0]!, { logf: (m) => logs.push(m) });
  tr.socket.destroy();
  assert.equal(tr.node.name, 'up');
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, /node down/);

  const hole = await blackHole(t);
  const t0 = Date.now();
  await assert.rejects(dialDERPRegion(region({ port: hole }), { timeoutMs: 200 }), { code: 'ERR_TSNET_DERP_TIMEOUT' });
  assert.ok(Date.now() - t0 < 2000);

  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(dialDERPRegion(region({ port: hole }), { signal: ac.signal }), { code: 'ABORT_ERR', name: 'AbortError' });
  await assert.rejects(dialDERPRegion(region({ port: s.port }), { signal: AbortSignal.abort() }), { code: 'ABORT_ERR' });
  await assert.rejects(dialDERPRegion({ ...region({ port: s.port }), nodes: [] }), { code: 'ERR_TSNET_DERP_NO_NODES' });
});

// --- manager ----------------------------------------------------------------------

function manager(t: { after(fn: () => unknown): void }, onAttach?: (regionID: number, end: Duplex, serverKey: Buffer | null) => void) {
  const attached: Array<{ regionID: number; peer: Duplex }> = [];
  const dials = new Map<number, number>();
  const events: string[] = [];
  const m = new DERPManager({
    attach(regionID, serverKey) {
      const [mine, theirs] = duplexPair();
      attached.push({ regionID, peer: theirs });
      onAttach?.(regionID, theirs, serverKey);
      return mine;
    },
    dial: (r, o) => {
      dials.set(r.id, (dials.get(r.id) ?? 0) + 1);
      return dialDERPRegion(r, o);
    },
  });
  m.on('connected', (id) => events.push(`up ${id}`));
  m.on('disconnected', (id, e) => events.push(`down ${id}${e ? ' ' + e.message : ''}`));
  t.after(() => m.close());
  return { m, attached, dials, events };
}

test('manager: bytes flow both ways between the engine Duplex and the relay (login, packet to and from another client)', async (t) => {
  const s = await relay(t);
  let eng: FakeEngine | null = null;
  const { m, events } = manager(t, (_id, end) => (eng = new FakeEngine(end)));
  m.setRegions([region({ port: s.port })]);
  assert.equal(m.want(900), true);
  assert.equal(m.want(901), false, 'not in the map');
  await until(() => m.connected(900), 'connected');
  assert.deepEqual(events, ['up 900']);
  const e = eng as unknown as FakeEngine;
  const { serverKey } = await e.login();
  assert.deepEqual(serverKey, s.publicKey);

  const other = await dialDERPRegion(region({ port: s.port }));
  const o = new FakeEngine(other.socket);
  t.after(() => other.socket.destroy());
  await o.login();
  e.end.write(encodeFrame({ type: 'SendPacket', dst: o.pub, packet: Buffer.from('engine → relay') }));
  assert.equal(Buffer.from((await o.next('RecvPacket')).packet).toString(), 'engine → relay');
  o.end.write(encodeFrame({ type: 'SendPacket', dst: e.pub, packet: Buffer.alloc(60_000, 7) }));
  const back = await e.next('RecvPacket');
  assert.deepEqual(Buffer.from(back.src), o.pub);
  assert.equal(back.packet.length, 60_000);

  // The engine closing its end takes the TLS connection down.
  e.end.end();
  await until(() => !m.connected(900), 'disconnected');
  await until(() => s.clients().length === 1, 'relay sees the engine gone');
});

test('manager: the home region is redialled after the relay restarts; a non-home region waits for want()', async (t) => {
  const home = await relay(t);
  const away = await relay(t);
  // Each connection logs in, as the engine would: the devnet relay's close() only ends DERP clients promptly.
  const { m, dials, events, attached } = manager(t, (_id, end) => void new FakeEngine(end).login().catch(() => {}));
  const rh = region({ port: home.port, id: 1 });
  const ra = region({ port: away.port, id: 2 });
  m.setRegions([rh, ra]);
  m.setHome(1);
  m.want(2);
  await until(() => m.connected(1) && m.connected(2) && home.clients().length === 1 && away.clients().length === 1, 'both connected and logged in');

  await Promise.all([home.close(), away.close()]);
  await until(() => !m.connected(1) && !m.connected(2), 'both down');
  const home2 = await startDerpServer({ port: home.port });
  const away2 = await startDerpServer({ port: away.port });
  t.after(() => Promise.all([home2.close(), away2.close()]));
  await until(() => m.connected(1), 'home reconnected');
  assert.equal(attached.length, 3);
  await sleep(300);
  assert.equal(m.connected(2), false, 'non-home not redialled');
  assert.equal(dials.get(2), 1);
  assert.ok(dials.get(1)! >= 2);
  m.want(2);
  await until(() => m.connected(2), 'wanted again');
  assert.equal(dials.get(2), 2);
  assert.ok(events.includes('down 2') && events.filter((e) => e === 'up 1').length >= 2, events.join(','));

  // Removing a region from the map closes it; close() is final and idempotent.
  m.setRegions([rh]);
  await until(() => !m.connected(2), 'removed region closed');
  assert.equal(m.want(2), false);
  m.close();
  m.close();
  assert.equal(m.connected(1), false);
  await sleep(300);
  assert.equal(m.connected(1), false, 'no reconnect after close');
});

test('manager: a failing home dial backs off (not a tight loop) and attach errors count as failures', async (t) => {
  const dead = await deadPort();
  const { m, dials, events } = manager(t);
  m.setRegions([region({ port: dead, id: 3 })]);
  m.setHome(3);
  await sleep(700);
  const n = dials.get(3) ?? 0;
  // 100 ms doubling with jitter: about 4–6 attempts in 700 ms, not hundreds.
  assert.ok(n >= 2 && n <= 8, `attempts ${n}`);
  assert.ok(events.every((e) => e.startsWith('down 3')));
  m.close();
  const after = dials.get(3);
  await sleep(400);
  assert.equal(dials.get(3), after, 'no dials after close');

  const s = await relay(t);
  const bad = new DERPManager({
    attach: () => {
      throw new Error('engine refused');
    },
  });
  t.after(() => bad.close());
  const errs: string[] = [];
  bad.on('disconnected', (_id, e) => errs.push(e?.message ?? ''));
  bad.setRegions([region({ port: s.port })]);
  bad.want(900);
  await until(() => errs.length === 1, 'attach failure reported');
  assert.equal(errs[0], 'engine refused');
  assert.equal(bad.connected(900), false);
});

test('manager: close() leaves no sockets or timers behind (child process exits by itself)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'magicsock-js-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const script = path.join(dir, 'child.mts');
  writeFileSync(
    script,
    `
import net from 'node:net';
import { Duplex } from 'node:stream';
import { startDerpServer } from ${JSON.stringify(path.join(root, 'lib/devnet/derp/server.ts'))};
import { devnetDERPMap } from ${JSON.stringify(path.join(root, 'lib/devnet/derpmap.ts'))};
import { derpRegionsFrom } from ${JSON.stringify(path.join(root, 'lib/wire/engine-config.ts'))};
import { DERPManager } from ${JSON.stringify(path.join(root, 'lib/magicsock/derp-manager.ts'))};
const s = await startDerpServer();
const hole = net.createServer((c) => c.on('error', () => {}).resume()).listen(0, '127.0.0.1');
await new Promise((r) => hole.once('listening', r));
const reg = (port: number, id: number) => derpRegionsFrom(devnetDERPMap({ derpPort: port, regionId: id }))[0]!;
const m = new DERPManager({ attach: () => new Duplex({ read() {}, write(_c, _e, cb) { cb(); } }) });
m.setRegions([reg(s.port, 1), reg((hole.address() as net.AddressInfo).port, 2)]);
m.setHome(1);
m.want(2); // stays dialling: the black hole never answers TLS
await new Promise<void>((r) => m.once('connected', () => r()));
const t0 = Date.now();
m.close();
await s.close();
await new Promise((r) => hole.close(r)); // waits for every accepted connection: a leaked dial would hang here
await new Promise((r) => setTimeout(r, 100)); // closed handles leave the list on a later loop turn
const left = process.getActiveResourcesInfo().filter((x) => x !== 'TTYWrap' && x !== 'PipeWrap');
console.log(JSON.stringify({ left, ms: Date.now() - t0 }));
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(timer);
  assert.equal(signal, null, `child hung after close(): ${err}`);
  assert.equal(code, 0, err);
  const { left, ms } = JSON.parse(out.trim().split('\n').pop()!) as { left: string[]; ms: number };
  assert.ok(!left.some((x) => /TCP|TLS/.test(x)), `sockets left: ${left.join(',')}`);
  // The relay's close takes about a second; a dial left running would hold the black hole for its 10 s timeout.
  assert.ok(ms < 5000, `shutdown took ${ms} ms`);
});

// --- home region choice -----------------------------------------------------------

function regionsMap(flags: Record<number, Partial<DERPRegion>>): EngineDERPRegion[] {
  const dm: DERPMap = { Regions: {} };
  for (const [id, f] of Object.entries(flags)) {
    dm.Regions![id] = { RegionID: Number(id), RegionCode: `r${id}`, RegionName: id, Nodes: [{ Name: `${id}a`, RegionID: Number(id), HostName: `derp${id}.example`, IPv4: `192.0.2.${id}` }], ...f };
  }
  return derpRegionsFrom(dm);
}

test('chooseHomeRegion: lowest scaled latency, excluded regions, hysteresis (10 ms, 2/3, heard recently), keep-alive fallback', () => {
  const regs = regionsMap({ 1: {}, 2: {}, 3: {}, 4: { Avoid: true }, 5: { NoMeasureNoHome: true }, 6: {} });
  regs[5] = { ...regs[5]!, nodes: regs[5]!.nodes.map((n) => ({ ...n, stunOnly: true })) }; // region 6: STUN only
  const L = (o: Record<number, number>): Map<number, number> => new Map(Object.entries(o).map(([k, v]) => [Number(k), v]));
  const now = 1_000_000;

  assert.equal(chooseHomeRegion(0, L({ 1: 50, 2: 30, 3: 40 }), regs), 2);
  assert.equal(chooseHomeRegion(0, new Map(), regs), 0);
  assert.equal(chooseHomeRegion(0, L({ 1: 50, 2: 30 }), regs, { regionScore: { '2': 2 } }), 1, 'score 2 makes 30 ms count as 60');
  assert.equal(chooseHomeRegion(0, L({ 1: 50, 4: 5, 5: 5, 6: 5 }), regs), 1, 'Avoid, NoMeasureNoHome, STUN-only never become home');
  assert.equal(chooseHomeRegion(4, L({ 1: 50, 4: 45 }), regs), 4, 'an Avoid region that is already home stays eligible');

  // Hysteresis.
  assert.equal(chooseHomeRegion(1, L({ 1: 30, 2: 21 }), regs), 1, 'gain under 10 ms');
  assert.equal(chooseHomeRegion(1, L({ 1: 100, 2: 70 }), regs), 1, '70 > 2/3 of 100');
  assert.equal(chooseHomeRegion(1, L({ 1: 100, 2: 60 }), regs), 2, 'clearly better');
  assert.equal(chooseHomeRegion(1, L({ 2: 60 }), regs, { now }), 2, 'old home unreachable');
  assert.equal(chooseHomeRegion(1, L({ 2: 60 }), regs, { now, lastHeard: new Map([[1, now - 3000]]) }), 1, 'old home heard 3 s ago');
  assert.equal(chooseHomeRegion(1, L({ 2: 60 }), regs, { now, lastHeard: new Map([[1, now - 20_000]]) }), 2, 'heard 20 s ago is stale');
  assert.equal(chooseHomeRegion(1, L({ 2: 60 }), regs, { now, roundStart: now - 30_000, lastHeard: new Map([[1, now - 20_000]]) }), 1, 'heard since the round started');
  assert.equal(chooseHomeRegion(5, L({ 1: 60 }), regs, { now, lastHeard: new Map([[5, now]]) }), 1, 'NoMeasureNoHome home is left');
  assert.equal(chooseHomeRegion(1, new Map(), regs, { now, lastHeard: new Map([[1, now - 60_000]]) }), 1, 'no data, keep-alive seen within 120 s');
  assert.equal(chooseHomeRegion(1, new Map(), regs, { now, lastHeard: new Map([[1, now - 200_000]]) }), 0);
  assert.equal(chooseHomeRegion(0, L({ 1: 20, 2: 25 }), regs, { bestRecent: L({ 2: 5 }) }), 2, 'best recent latency decides');
  assert.equal(chooseHomeRegion(0, L({ 1: 20 }), regs, { bestRecent: L({ 2: 5 }) }), 1, 'only regions measured now');
});

// --- endpoints --------------------------------------------------------------------

test('localEndpoints / mergeEndpoints: loopback, IPv4, global IPv6; fallbacks; STUN first and deduplicated', () => {
  const ifc = (address: string, family: 'IPv4' | 'IPv6', netmask: string, internal = false): os.NetworkInterfaceInfo =>
    ({ address, family, netmask, internal, mac: '00:00:00:00:00:00', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as os.NetworkInterfaceInfo;
  const m64 = 'ffff:ffff:ffff:ffff::';
  const eps = localEndpoints(41641, {
    lo: [ifc('127.0.0.1', 'IPv4', '255.0.0.0', true), ifc('::1', 'IPv6', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true)],
    eth0: [ifc('192.168.1.20', 'IPv4', '255.255.255.0'), ifc('fe80::1', 'IPv6', m64), ifc('2001:db8::1', 'IPv6', m64), ifc('2001:db8::2', 'IPv6', m64), ifc('2001:db8::3', 'IPv6', m64), ifc('fd00::5', 'IPv6', m64)],
    tailscale0: [ifc('100.101.102.103', 'IPv4', '255.255.255.255'), ifc('fd7a:115c:a1e0::1', 'IPv6', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')],
    ll: [ifc('169.254.3.4', 'IPv4', '255.255.0.0')],
    eth1: [ifc('10.0.0.7', 'IPv4', '255.0.0.0'), ifc('2001:db8:1::9', 'IPv6', m64)],
  });
  assert.deepEqual(
    eps.map((e) => e.addr),
    ['127.0.0.1:41641', '192.168.1.20:41641', '10.0.0.7:41641', '[2001:db8::1]:41641', '[2001:db8::2]:41641', '[2001:db8:1::9]:41641'],
  );
  assert.ok(eps.every((e) => e.type === 1));
  // Nothing regular: link-local IPv4 and ULA are better than nothing.
  assert.deepEqual(
    localEndpoints(7, { a: [ifc('169.254.3.4', 'IPv4', '255.255.0.0'), ifc('fd00::5', 'IPv6', m64), ifc('fe80::1', 'IPv6', m64)] }).map((e) => e.addr),
    ['127.0.0.1:7', '169.254.3.4:7', '[fd00::5]:7'],
  );
  assert.deepEqual(localEndpoints(7, {}), [{ addr: '127.0.0.1:7', type: 1 }]);

  const merged = mergeEndpoints(eps.slice(0, 2), ['203.0.113.9:50000', '192.168.1.20:41641', '203.0.113.9:50000', '[::ffff:198.51.100.1]:9', 'junk', '[2001:DB8::1]:41641']);
  assert.deepEqual(merged, [
    { addr: '203.0.113.9:50000', type: 2 },
    { addr: '192.168.1.20:41641', type: 2 },
    { addr: '198.51.100.1:9', type: 2 },
    { addr: '[2001:db8::1]:41641', type: 2 },
    { addr: '127.0.0.1:41641', type: 1 },
  ]);
});

// --- netcheck driver -----------------------------------------------------------------

test('Netcheck: targets per STUN node, report when all answered or on the round timeout, periodic rounds, stop()', async () => {
  const regs = regionsMap({ 1: {}, 2: {}, 3: { NoMeasureNoHome: true }, 4: {} });
  regs[1] = { ...regs[1]!, nodes: regs[1]!.nodes.map((n) => ({ ...n, ipv4: null, hostName: 'derp2.test' })) };
  regs[3] = { ...regs[3]!, nodes: [...regs[3]!.nodes.map((n) => ({ ...n, stunPort: null })), { ...regs[3]!.nodes[0]!, name: '4b', ipv4: null, hostName: 'nxdomain.test' }] };
  const probes: STUNTarget[][] = [];
  const reports: NetcheckReport[] = [];
  const nc = new Netcheck({
    probe: (t) => probes.push(t),
    resolve: async (h) => {
      if (h === 'derp2.test') return '198.51.100.2';
      throw new Error('no such host');
    },
    roundTimeoutMs: 150,
    intervalMs: 100,
    onReport: (r) => reports.push(r),
    lastDERPActivity: () => undefined,
    httpsLatency: null, // these regions are documentation addresses: never dial them
  });
  nc.setRegions(regs);
  nc.start();
  await until(() => probes.length === 1, 'first probe');
  assert.deepEqual(
    probes[0]!.map((p) => `${p.regionID} ${p.ip}:${p.port}`).sort(),
    ['1 192.0.2.1:3478', '2 198.51.100.2:3478'],
    'NoMeasureNoHome skipped, no-STUN node skipped, unresolvable node skipped',
  );
  nc.runNow(); // a round is in progress: no second probe
  nc.result(1, 40, '203.0.113.5', 1234);
  nc.result(7, 1, '203.0.113.99', 1); // not probed: ignored
  assert.equal(reports.length, 0);
  nc.result(2, 25, '203.0.113.5', 1234);
  assert.equal(reports.length, 1, 'report as soon as every probed region answered');
  assert.equal(reports[0]!.home, 2);
  assert.deepEqual([...reports[0]!.latencies], [[1, 40], [2, 25]]);
  assert.deepEqual(reports[0]!.mapped, ['203.0.113.5:1234']);
  assert.equal(probes.length, 1);

  // Next round after intervalMs; only region 1 answers: the report comes on the round timeout.
  await until(() => probes.length === 2, 'second round');
  const t0 = Date.now();
  nc.result(1, 35, '203.0.113.5', 1234);
  await until(() => reports.length === 2, 'timed-out round');
  assert.ok(Date.now() - t0 >= 100);
  assert.deepEqual([...reports[1]!.latencies], [[1, 35]]);
  assert.equal(reports[1]!.home, 1, 'old home silent and not heard from: move');
  nc.stop();
  const n = probes.length;
  await sleep(300);
  assert.equal(probes.length, n, 'no rounds after stop()');
  assert.equal(reports.length, 2);
});

test('Netcheck: with no STUN answer (UDP blocked) the home region follows HTTPS latency; httpsLatency measures a real relay', async () => {
  const regs = regionsMap({ 1: {}, 2: {}, 3: {} });
  const measured: number[] = [];
  const reports: NetcheckReport[] = [];
  const nc = new Netcheck({
    probe: () => undefined, // nothing ever answers
    roundTimeoutMs: 50,
    intervalMs: 60_000,
    onReport: (r) => reports.push(r),
    httpsLatency: async (reg) => {
      measured.push(reg.id);
      if (reg.id === 3) throw new Error('unreachable');
      return reg.id === 2 ? 12 : 40;
    },
  });
  nc.setRegions(regs);
  nc.start();
  await until(() => reports.length === 1, 'report after the HTTPS fallback');
  nc.stop();
  assert.deepEqual(measured.sort(), [1, 2, 3]);
  assert.equal(reports[0]!.home, 2, 'the lowest HTTPS latency wins');
  assert.deepEqual([...reports[0]!.latencies].sort(), [[1, 40], [2, 12]]);
  assert.deepEqual(reports[0]!.mapped, [], 'no STUN, no mapped address');

  const dn = await startDevnet(); // its relay on 127.0.0.1, InsecureForTests
  try {
    const ms = await httpsLatency(derpRegionsFrom(dn.derpMap)[0]!);
    assert.ok(ms > 0 && ms < 3000, `latency ${ms} ms`);
  } finally {
    await dn.close();
  }
});
