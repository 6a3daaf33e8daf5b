// Engine TLS for DERP relays (lib/magicsock/derp-engine-tls.ts, native/core/derp/tls_record.c): Node's tls
// does the handshake over the engine's TCP connection, then the engine carries the TLS records itself. Real
// nodes on the development tailnet relay through its DERP server (Node's tls.Server, over loopback), with the
// certificate trusted for tests and pinned; TSNET_DERP_TLS=node keeps the JavaScript path; a dial against a
// relay without ChaCha20-Poly1305 falls back to Node's TLS, and the secrets handed over are the handshake's.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import { startDevnetRelay } from '../lib/devnet/derp/index.js';
import { generateSelfSignedCert } from '../lib/devnet/derp/cert.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server, type PeerStatus } from '../lib/server.js';
import type { LogRecord } from '../lib/util/log.js';
import { dialDERPRegion } from '../lib/magicsock/derp-dial.js';
import type { DERPEngineTLS } from '../lib/magicsock/derp-engine-tls.js';
import type { EngineDERPRegion } from '../lib/wire/engine-config.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Two relayed-only nodes; returns them with the TLS mode each logged for its relay connections. */
async function pair(devnet: Devnet): Promise<{ a: Server; b: Server; modes: Map<string, string[]>; ended: string[] }> {
  const authKey = devnet.createAuthKey({ reusable: true });
  const modes = new Map<string, string[]>();
  const ended: string[] = [];
  const mk = (hostname: string): Server => {
    modes.set(hostname, []);
    const logger = (r: LogRecord): void => {
      if (r.msg === 'region connected') modes.get(hostname)!.push(String(r.tls));
      if (r.msg === 'region connection ended') ended.push(String(r.code));
    };
    return new Server({ hostname, controlURL: devnet.controlURL, authKey, store: new MemoryStore(), alwaysUseDERP: true, logger, logLevel: 'info' });
  };
  const a = mk('alpha');
  const b = mk('bravo');
  cleanups.push(() => a.close(), () => b.close());
  await Promise.all([a.up(), b.up()]);
  return { a, b, modes, ended };
}

/** alpha serves `size` random bytes on :7000; bravo fetches them through the relay and both sides compare. */
async function relayedTransfer(a: Server, b: Server, size: number): Promise<void> {
  const blob = crypto.randomBytes(size);
  const ln = a.listen('tcp', ':7000');
  ln.on('connection', (c: net.Socket) => c.end(blob));
  // And the other way: bravo's upload arrives at alpha intact.
  const up = crypto.randomBytes(size >> 2);
  const gotUp = new Promise<Buffer>((resolve) => {
    const ln2 = a.listen('tcp', ':7001');
    ln2.on('connection', (c: net.Socket) => {
      const parts: Buffer[] = [];
      c.on('data', (d: Buffer) => parts.push(d));
      c.on('end', () => resolve(Buffer.concat(parts)));
    });
  });
  const c = await b.dial('tcp', 'alpha:7000', { timeout: 20_000 });
  const parts: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    c.on('data', (d: Buffer) => parts.push(d));
    c.on('end', () => resolve());
    c.on('error', reject);
  });
  c.destroy();
  assert.ok(Buffer.concat(parts).equals(blob), 'download intact');
  const c2 = await b.dial('tcp', 'alpha:7001', { timeout: 20_000 });
  c2.end(up);
  assert.ok((await gotUp).equals(up), 'upload intact');
  c2.destroy();
}

function peer(s: Server): PeerStatus {
  const p = s.status()?.peers[0];
  assert.ok(p, 'the node has a peer');
  return p;
}

test('relayed traffic through the devnet relay with the engine carrying the TLS records, both ways', async () => {
  const devnet = await startDevnet();
  cleanups.push(() => devnet.close());
  const { a, b, modes } = await pair(devnet);
  await relayedTransfer(a, b, 8 << 20);
  assert.deepEqual(modes.get('alpha'), ['engine']);
  assert.deepEqual(modes.get('bravo'), ['engine']);
  assert.equal(peer(b).curAddr, '', 'relayed only');
  assert.ok(peer(b).txRelayPackets > 1000, `bravo sent through DERP (${JSON.stringify(peer(b))})`);
  assert.ok(devnet.relay!.derp.stats().packetsForwarded > 1000);
});

test('a pinned relay certificate is checked before the engine takes over', async () => {
  const relay = await startDevnetRelay('127.0.0.1', { pinCertificate: true, allowUnknownClients: true }, () => true, () => {});
  cleanups.push(() => relay.close());
  const devnet = await startDevnet({ derp: relay.derpMapOptions });
  cleanups.push(() => devnet.close());
  const { a, b, modes } = await pair(devnet);
  await relayedTransfer(a, b, 1 << 20);
  assert.deepEqual(modes.get('bravo'), ['engine']);
  // A wrong pin: the dial fails before any takeover.
  const region = engineRegion(relay.derp.port, `sha256-raw:${'00'.repeat(32)}`);
  const { engine, takeovers } = netEngine();
  await assert.rejects(dialDERPRegion(region, { engineTLS: engine, timeoutMs: 5000 }), /cert hash does not match/);
  assert.equal(takeovers.length, 0);
});

test('TSNET_DERP_TLS=node keeps the records in Node', async () => {
  const prev = process.env.TSNET_DERP_TLS;
  process.env.TSNET_DERP_TLS = 'node';
  try {
    const devnet = await startDevnet();
    cleanups.push(() => devnet.close());
    const { a, b, modes } = await pair(devnet);
    await relayedTransfer(a, b, 1 << 20);
    assert.deepEqual(modes.get('bravo'), ['node']);
  } finally {
    if (prev === undefined) delete process.env.TSNET_DERP_TLS;
    else process.env.TSNET_DERP_TLS = prev;
  }
});

function engineRegion(port: number, certName = ''): EngineDERPRegion {
  const node = { name: '900a', regionID: 900, hostName: '127.0.0.1', certName, ipv4: '127.0.0.1', useIPv4: true, ipv6: null, useIPv6: false,
    derpPort: port, stunPort: null, stunOnly: false, insecureForTests: certName === '', canPort80: false };
  return { id: 900, code: 'test', name: 'test', avoid: false, noMeasureNoHome: false, nodes: [node] };
}

/** An engine stand-in whose "TCP connection" is a net.Socket: records what takeover was given. */
function netEngine(): { engine: DERPEngineTLS; takeovers: Array<{ client: Buffer; server: Buffer; stream: Duplex }> } {
  const takeovers: Array<{ client: Buffer; server: Buffer; stream: Duplex }> = [];
  const engine: DERPEngineTLS = {
    usable: true,
    open(_region, _host, server) {
      const m = /^(.*):(\d+)$/.exec(server)!;
      return net.connect(Number(m[2]), m[1]!);
    },
    takeover(stream, _key, client, server) {
      takeovers.push({ client: Buffer.from(client), server: Buffer.from(server), stream });
    },
  };
  return { engine, takeovers };
}

test('the dial hands over the handshake\'s traffic secrets, or falls back to Node when ChaCha20-Poly1305 is not chosen', async () => {
  const { key, cert } = generateSelfSignedCert();
  for (const [ciphers, engineWanted] of [
    ['TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256', true],
    ['TLS_AES_128_GCM_SHA256', false],
  ] as const) {
    const serverLog: string[] = [];
    const srv = tls.createServer({ key, cert, ciphers, minVersion: 'TLSv1.3' }, (s) => s.on('error', () => {}));
    srv.on('keylog', (line: Buffer) => serverLog.push(line.toString()));
    // The server derives the client's secret once the client's Finished is in: after the client's handshake ends.
    const serverDone = new Promise((r) => srv.once('secureConnection', r));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => srv.close(r)));
    const { engine, takeovers } = netEngine();
    const t = await dialDERPRegion(engineRegion((srv.address() as net.AddressInfo).port), { engineTLS: engine, timeoutMs: 5000 });
    if (engineWanted) {
      assert.ok(t.engineStream, 'the engine took over');
      await serverDone;
      t.socket.destroy();
      t.engineStream.destroy();
      assert.equal(takeovers.length, 1);
      const secret = (label: string): string => serverLog.find((l) => l.startsWith(label))!.trim().split(' ')[2]!;
      assert.equal(takeovers[0]!.client.toString('hex'), secret('CLIENT_TRAFFIC_SECRET_0'));
      assert.equal(takeovers[0]!.server.toString('hex'), secret('SERVER_TRAFFIC_SECRET_0'));
      assert.equal(engine.usable, true);
    } else {
      assert.equal(t.engineStream, undefined, 'Node carries the records');
      assert.equal(takeovers.length, 0);
      assert.equal(engine.usable, false, 'engine TLS is off from then on');
      assert.equal(t.socket.getCipher().standardName, 'TLS_AES_128_GCM_SHA256');
      t.socket.destroy();
    }
  }
});

test('TSNET_DERP_TLS takes engine or node; the key log parser keeps only the application traffic secrets', async () => {
  const { engineTLSWanted, TrafficSecrets } = await import('../lib/magicsock/derp-engine-tls.js');
  assert.equal(engineTLSWanted({}), true);
  assert.equal(engineTLSWanted({ TSNET_DERP_TLS: 'engine' }), true);
  assert.equal(engineTLSWanted({ TSNET_DERP_TLS: 'node' }), false);
  assert.throws(() => engineTLSWanted({ TSNET_DERP_TLS: 'openssl' }), { code: 'ERR_TSNET_DERP_TLS' });
  const s = new TrafficSecrets();
  const cr = 'ab'.repeat(32);
  const line = (label: string, secret: string): Buffer => Buffer.from(`${label} ${cr} ${secret}\n`);
  s.onLine(line('CLIENT_HANDSHAKE_TRAFFIC_SECRET', '11'.repeat(32)));
  s.onLine(line('SERVER_TRAFFIC_SECRET_0', '22'.repeat(32)));
  s.onLine(line('CLIENT_TRAFFIC_SECRET_0', '33'.repeat(16))); // too short: not a SHA-256 secret
  assert.equal(s.client, null);
  const client = (): Buffer | null => s.client;
  const l = line('CLIENT_TRAFFIC_SECRET_0', '33'.repeat(32));
  s.onLine(l);
  assert.ok(l.every((b) => b === 0), 'the key log line is wiped');
  assert.equal(client()?.toString('hex'), '33'.repeat(32));
  assert.equal(s.server?.toString('hex'), '22'.repeat(32));
  const held = client()!;
  s.wipe();
  assert.ok(held.every((b) => b === 0));
  assert.equal(s.client, null);
});

test('a relay record that fails authentication ends the connection (an error, redialled), never the node', async () => {
  const relay = await startDevnetRelay('127.0.0.1', { allowUnknownClients: true }, () => true, () => {});
  cleanups.push(() => relay.close());
  // A TCP proxy in front of the relay flips one bit of the relay's stream, once, well after the handshake.
  let flipped = false;
  let accepted = 0;
  const proxy = net.createServer((c) => {
    accepted++;
    const up = net.connect(relay.derp.port, '127.0.0.1');
    let seen = 0;
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    c.pipe(up);
    up.on('data', (d: Buffer) => {
      if (!flipped && seen + d.length > 256 * 1024) {
        const i = Math.max(0, 256 * 1024 - seen);
        d = Buffer.from(d);
        d[i]! ^= 0x40;
        flipped = true;
      }
      seen += d.length;
      c.write(d);
    });
    up.on('end', () => c.end());
    c.on('close', () => up.destroy());
    up.on('close', () => c.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => proxy.close(r)));
  const devnet = await startDevnet({ derp: { ...relay.derpMapOptions, derpPort: (proxy.address() as net.AddressInfo).port } });
  cleanups.push(() => devnet.close());
  const { a, b, modes, ended } = await pair(devnet);
  // The transfer crosses the flipped byte; the TCP inside retransmits what the dropped connection lost.
  await relayedTransfer(a, b, 4 << 20);
  assert.ok(flipped, 'a byte of the relay stream was flipped');
  assert.ok(accepted >= 3, `one of the nodes redialled the relay (${accepted} connections)`);
  assert.ok(ended.includes('EPROTO'), `the engine reported the bad record: ${ended.join(',')}`);
  const all = [...modes.get('alpha')!, ...modes.get('bravo')!];
  assert.ok(all.length >= 3 && all.every((m) => m === 'engine'), `engine TLS on every connection: ${all.join(',')}`);
});
