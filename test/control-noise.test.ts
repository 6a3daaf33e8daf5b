import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import {
  NoiseInitiator,
  respondToInitiation,
  encodeRecords,
  RecordDecoder,
  CipherState,
  errorMessage,
  MAX_PLAINTEXT_LEN,
  seal,
} from '../lib/control/noise.js';
import { NoiseStream } from '../lib/control/noise-stream.js';
import { encodeEarlyPayload } from '../lib/control/early-payload.js';
import {
  generatePrivateKey,
  publicFromPrivate,
  parsePrivate,
  parseMachinePublic,
  machinePublicToText,
  privateToText,
} from '../lib/wire/keys.js';
import { ControlError } from '../lib/wire/errors.js';

interface Fixture {
  protocolVersion: number;
  randomReadsHex: string[];
  machinePrivate: string;
  machinePublic: string;
  controlPrivate: string;
  controlPublic: string;
  handshakeHashHex: string;
  initiationHex: string;
  responseHex: string;
  records: Array<{ dir: 'c2s' | 's2c'; plaintextUtf8: string; frameHex: string }>;
  split5000: { framesHex: string[] };
}

const fx = JSON.parse(readFileSync(join(__dirname, 'fixtures/control/ts2021-handshake.json'), 'utf8')) as Fixture;
const rnd = fx.randomReadsHex.map((h) => Buffer.from(h, 'hex'));
const big = Buffer.alloc(5000);
for (let i = 0; i < big.length; i++) big[i] = i % 256;

function vectorHandshake() {
  const machinePrivate = generatePrivateKey(rnd[0]);
  const controlPrivate = generatePrivateKey(rnd[1]);
  const ini = new NoiseInitiator({
    version: fx.protocolVersion,
    machinePrivate,
    controlPublic: publicFromPrivate(controlPrivate),
    ephemeralPrivate: rnd[2],
  });
  const srv = respondToInitiation(ini.initiation, { controlPrivate, ephemeralPrivate: rnd[3] });
  const cli = ini.finish(srv.response);
  return { ini, srv, cli, machinePrivate, controlPrivate };
}

test('vector: keys derive from the recorded random reads', () => {
  const { machinePrivate, controlPrivate } = vectorHandshake();
  assert.equal(privateToText(machinePrivate), fx.machinePrivate);
  assert.equal(privateToText(controlPrivate), fx.controlPrivate);
  assert.equal(machinePublicToText(publicFromPrivate(machinePrivate)), fx.machinePublic);
  assert.equal(machinePublicToText(publicFromPrivate(parsePrivate(fx.controlPrivate))), fx.controlPublic);
});

test('vector: initiation and response are byte-exact, both roles agree', () => {
  const { ini, srv, cli } = vectorHandshake();
  assert.equal(ini.initiation.length, 101);
  assert.equal(ini.initiation.toString('hex'), fx.initiationHex);
  assert.equal(srv.response.length, 51);
  assert.equal(srv.response.toString('hex'), fx.responseHex);
  assert.equal(cli.handshakeHash.toString('hex'), fx.handshakeHashHex);
  assert.equal(srv.handshakeHash.toString('hex'), fx.handshakeHashHex);
  assert.deepEqual(srv.machinePublic, parseMachinePublic(fx.machinePublic));
  assert.deepEqual(cli.peerStatic, parseMachinePublic(fx.controlPublic));
  assert.equal(srv.version, 145);
});

test('vector: responder processes the recorded initiation bytes', () => {
  const srv = respondToInitiation(Buffer.from(fx.initiationHex, 'hex'), {
    controlPrivate: parsePrivate(fx.controlPrivate),
    ephemeralPrivate: rnd[3],
  });
  assert.equal(srv.response.toString('hex'), fx.responseHex);
  assert.equal(srv.handshakeHash.toString('hex'), fx.handshakeHashHex);
});

test('vector: record frames both directions and the 5000-byte split', () => {
  const { srv, cli } = vectorHandshake();
  for (const r of fx.records) {
    const tx = r.dir === 'c2s' ? cli.tx : srv.tx;
    const frames = encodeRecords(tx, Buffer.from(r.plaintextUtf8));
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.toString('hex'), r.frameHex);
  }
  const frames = encodeRecords(cli.tx, big);
  assert.deepEqual(frames.map((f) => f.length), [4096, 942]);
  assert.deepEqual(frames.map((f) => f.toString('hex')), fx.split5000.framesHex);
});

test('vector: recorded frames decrypt on the receiving side, byte by byte', () => {
  const { srv, cli } = vectorHandshake();
  const toServer = new RecordDecoder(srv.rx);
  const toClient = new RecordDecoder(cli.rx);
  const got: string[] = [];
  for (const r of fx.records) {
    const dec = r.dir === 'c2s' ? toServer : toClient;
    const bytes = Buffer.from(r.frameHex, 'hex');
    let out: Buffer[] = [];
    for (const b of bytes) out = out.concat(dec.push(Buffer.from([b])));
    assert.equal(out.length, 1);
    got.push(out[0]!.toString());
  }
  assert.deepEqual(got, fx.records.map((r) => r.plaintextUtf8));
  const all = toServer.push(Buffer.from(fx.split5000.framesHex.join(''), 'hex'));
  assert.deepEqual(Buffer.concat(all), big);
  assert.equal(toServer.pending, 0);
});

test('handshake: tampering and bad messages fail with codes', () => {
  const { ini, controlPrivate } = vectorHandshake();
  const bad = Buffer.from(ini.initiation);
  bad[50] = bad[50]! ^ 1;
  assert.throws(() => respondToInitiation(bad, { controlPrivate }), { code: 'ERR_NOISE_DECRYPT' });
  assert.throws(() => respondToInitiation(ini.initiation.subarray(0, 100), { controlPrivate }), { code: 'ERR_NOISE_MESSAGE' });
  const wrongType = Buffer.from(ini.initiation);
  wrongType[2] = 2;
  assert.throws(() => respondToInitiation(wrongType, { controlPrivate }), { code: 'ERR_NOISE_MESSAGE' });
  // Wrong server key: the initiation does not authenticate.
  assert.throws(() => respondToInitiation(ini.initiation, { controlPrivate: generatePrivateKey() }), { code: 'ERR_NOISE_DECRYPT' });
  // Version mismatch changes the prologue.
  const v2 = Buffer.from(ini.initiation);
  v2.writeUInt16BE(146, 0);
  assert.throws(() => respondToInitiation(v2, { controlPrivate }), { code: 'ERR_NOISE_DECRYPT' });

  const fresh = new NoiseInitiator({ version: 145, machinePrivate: generatePrivateKey(), controlPublic: publicFromPrivate(controlPrivate) });
  assert.throws(() => fresh.finish(errorMessage('version too old')), (e: unknown) => {
    assert.ok(e instanceof ControlError);
    assert.equal(e.code, 'ERR_NOISE_SERVER_ERROR');
    assert.match(e.message, /version too old/);
    return true;
  });
  const srv = respondToInitiation(fresh.initiation, { controlPrivate });
  const resp = Buffer.from(srv.response);
  resp[40] = resp[40]! ^ 0x80;
  assert.throws(() => fresh.finish(resp), { code: 'ERR_NOISE_DECRYPT' });
  assert.throws(() => new NoiseInitiator({ version: 70000, machinePrivate: generatePrivateKey(), controlPublic: publicFromPrivate(controlPrivate) }), {
    code: 'ERR_NOISE_VERSION',
  });
});

test('records: malformed frames are refused', () => {
  const { srv, cli } = vectorHandshake();
  const dec = new RecordDecoder(srv.rx);
  assert.throws(() => dec.push(Buffer.from([0x05, 0, 16])), { code: 'ERR_NOISE_FRAME' });
  const dec2 = new RecordDecoder(new CipherState(Buffer.alloc(32)));
  assert.throws(() => dec2.push(Buffer.from([0x04, 0x0f, 0xfe])), { code: 'ERR_NOISE_FRAME' }); // 4094 > 4093
  const dec3 = new RecordDecoder(new CipherState(Buffer.alloc(32)));
  assert.throws(() => dec3.push(Buffer.from([0x04, 0, 3, 1, 2, 3])), { code: 'ERR_NOISE_FRAME' });
  // A record encrypted under the other direction's key does not authenticate.
  const frame = encodeRecords(cli.tx, Buffer.from('x'))[0]!;
  const dec4 = new RecordDecoder(cli.rx);
  assert.throws(() => dec4.push(frame), { code: 'ERR_NOISE_DECRYPT' });
  // Replayed frame (counter moved on) fails too.
  const ok = new RecordDecoder(srv.rx);
  assert.equal(ok.push(frame)[0]!.toString(), 'x');
  assert.throws(() => ok.push(frame), { code: 'ERR_NOISE_DECRYPT' });
  assert.equal(MAX_PLAINTEXT_LEN, 4077);
});

async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  assert.ok(addr && typeof addr === 'object');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const c = connect(addr.port, '127.0.0.1');
  await once(c, 'connect');
  const [s] = await accepted;
  server.close();
  return [c, s];
}

function readAll(s: NoiseStream, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer): void => {
      parts.push(chunk);
      got += chunk.length;
      if (got >= n) {
        s.off('data', onData);
        s.off('error', reject);
        s.pause();
        resolve(Buffer.concat(parts));
      }
    };
    s.on('data', onData);
    s.on('error', reject);
  });
}

test('NoiseStream: both roles over loopback TCP, large writes, early payload', async () => {
  const controlPrivate = generatePrivateKey();
  const ini = new NoiseInitiator({ version: 145, machinePrivate: generatePrivateKey(), controlPublic: publicFromPrivate(controlPrivate) });
  const srv = respondToInitiation(ini.initiation, { controlPrivate });
  const cli = ini.finish(srv.response);
  const [a, b] = await socketPair();
  const server = new NoiseStream(b, srv);
  const client = new NoiseStream(a, cli, { earlyPayload: true });
  const early = once(client, 'earlyPayload');
  server.write(encodeEarlyPayload({ nodeKeyChallenge: 'chalpub:' + '00'.repeat(32) }));
  const payload = Buffer.alloc(300_000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
  server.write(payload);
  const [ep] = await early;
  assert.deepEqual(ep, { nodeKeyChallenge: 'chalpub:' + '00'.repeat(32) });
  assert.deepEqual(await readAll(client, payload.length), payload);
  client.write('ping from client');
  assert.equal((await readAll(server, 16)).toString(), 'ping from client');
  client.destroy();
  server.destroy();
});

test('NoiseStream: without early payload the first bytes pass through; garbage destroys with a code', async () => {
  const controlPrivate = generatePrivateKey();
  const ini = new NoiseInitiator({ version: 145, machinePrivate: generatePrivateKey(), controlPublic: publicFromPrivate(controlPrivate) });
  const srv = respondToInitiation(ini.initiation, { controlPrivate });
  const cli = ini.finish(srv.response);
  const [a, b] = await socketPair();
  const server = new NoiseStream(b, srv);
  const client = new NoiseStream(a, cli, { earlyPayload: true });
  server.write('PRI * HTTP/2.0 and more');
  assert.equal((await readAll(client, 23)).toString(), 'PRI * HTTP/2.0 and more');
  b.write(Buffer.from([0x04, 0x00, 0x20, ...Buffer.alloc(32)]));
  const [err] = (await once(client, 'error')) as [ControlError];
  assert.equal(err.code, 'ERR_NOISE_DECRYPT');
  server.destroy();
});

test('NoiseStream: a slow reader pauses the transport (bounded buffering)', async () => {
  const controlPrivate = generatePrivateKey();
  const ini = new NoiseInitiator({ version: 145, machinePrivate: generatePrivateKey(), controlPublic: publicFromPrivate(controlPrivate) });
  const srv = respondToInitiation(ini.initiation, { controlPrivate });
  const cli = ini.finish(srv.response);
  const [a, b] = await socketPair();
  const server = new NoiseStream(b, srv);
  const client = new NoiseStream(a, cli);
  client.pause();
  const chunk = Buffer.alloc(1 << 20, 7);
  let written = 0;
  for (let more = true; more && written < 64 << 20; ) {
    more = server.write(chunk);
    written += chunk.length;
  }
  // The reader is paused: wait until backpressure reaches the transport (the test's timeout bounds this).
  while (!a.isPaused()) await new Promise((r) => setImmediate(r));
  assert.ok(client.readableLength < 4 << 20, `client buffered ${client.readableLength} bytes`);
  // Reading resumes the flow and everything arrives.
  let got = 0;
  const target = written + chunk.length;
  server.write(chunk);
  await new Promise<void>((resolve) => {
    client.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= target) resolve();
    });
    client.resume();
  });
  assert.equal(got, target);
  client.destroy();
  server.destroy();
});

test('CipherState: big-endian counter nonce; 2^64-1 is never used', () => {
  const key = Buffer.alloc(32, 9);
  const a = new CipherState(key);
  const b = new CipherState(key);
  (a as unknown as { counter: bigint }).counter = 0xffff_ffff_ffff_fffen;
  (b as unknown as { counter: bigint }).counter = 0xffff_ffff_ffff_fffen;
  const ct = a.encrypt(Buffer.from('last'));
  assert.equal(b.decrypt(ct).toString(), 'last');
  assert.throws(() => a.encrypt(Buffer.from('x')), { code: 'ERR_NOISE_NONCE_EXHAUSTED' });
  assert.throws(() => b.decrypt(ct), { code: 'ERR_NOISE_NONCE_EXHAUSTED' });
  // Counter 1 → nonce bytes 00000000 0000000000000001 (BE): differs from a little-endian layout.
  const c = new CipherState(key);
  c.encrypt(Buffer.alloc(0));
  const viaBE = c.encrypt(Buffer.from('n1'));
  const nonce = Buffer.alloc(12);
  nonce[11] = 1;
  assert.deepEqual(viaBE, seal(key, nonce, Buffer.alloc(0), Buffer.from('n1')));
});
