/**
 * DERP frame codec and NaCl box of the development relay, against Tailscale's
 * own frames (test/fixtures/devnet-derp/vectors.json, copied from
 * test/fixtures/devnet-derp/vectors.json) and published NaCl / RFC 8439 vectors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DerpFrameError,
  FrameReader,
  FrameType,
  MAX_PACKET_SIZE,
  decodeFrame,
  encodeFrame,
  encodeRawFrame,
  splitFrames,
  type Frame,
} from '../lib/devnet/derp/frames.js';
import { boxBeforeNm, boxOpen, boxSeal, hsalsa20, poly1305, secretboxOpen, secretboxSeal } from '../lib/devnet/derp/nacl.js';
import { publicFromPrivate } from '../lib/wire/keys.js';

interface Vectors {
  derp: {
    aPrivate: string;
    aPublic: string;
    bPrivate: string;
    bPublic: string;
    serverPrivate: string;
    serverPublic: string;
    payloadAtoB: string;
    pingData: string;
    wire: { a: string[]; b: string[] };
  };
  naclBox: Record<string, string>;
  poly1305: { key: string; message: string; tag: string };
  disco: {
    aPrivateHex: string;
    aPublic: string;
    bPrivateHex: string;
    bPublic: string;
    ping: { cleartextHex: string; packetHex: string; from: string; to: string };
    pong: { cleartextHex: string; packetHex: string; from: string; to: string };
    callMeMaybe: { cleartextHex: string; packetHex: string; from: string; to: string };
  };
}

const V = JSON.parse(readFileSync(join(__dirname, 'fixtures/devnet-derp/vectors.json'), 'utf8')) as Vectors;
const hex = (s: string): Buffer => Buffer.from(s.replace(/^[a-z]+:/, ''), 'hex');
const D = V.derp;

function wire(side: 'a' | 'b'): { dir: string; bytes: Buffer }[] {
  return D.wire[side].map((l) => {
    const [dir, h] = l.split(' ');
    return { dir: dir!, bytes: hex(h!) };
  });
}

test('every frame in the vectors parses and re-encodes byte for byte', () => {
  const seen = new Set<string>();
  for (const side of ['a', 'b'] as const) {
    for (const { bytes } of wire(side)) {
      const frames = splitFrames(bytes);
      assert.equal(frames.length, 1);
      const f = decodeFrame(frames[0]!.frameType, frames[0]!.payload);
      assert.notEqual(f.type, 'Unknown');
      seen.add(f.type);
      assert.deepEqual(encodeFrame(f), bytes, `${f.type} re-encodes`);
    }
  }
  assert.deepEqual([...seen].sort(), ['ClientInfo', 'NotePreferred', 'Ping', 'Pong', 'RecvPacket', 'SendPacket', 'ServerInfo', 'ServerKey']);
});

test('vector frames carry the expected fields', () => {
  const a = wire('a').map(({ bytes }) => {
    const [r] = splitFrames(bytes);
    return decodeFrame(r!.frameType, r!.payload);
  });
  const sk = a[0] as Extract<Frame, { type: 'ServerKey' }>;
  assert.deepEqual(Buffer.from(sk.key), hex(D.serverPublic));
  assert.equal(sk.rest.length, 0);
  const ci = a[1] as Extract<Frame, { type: 'ClientInfo' }>;
  assert.deepEqual(Buffer.from(ci.key), hex(D.aPublic));
  assert.deepEqual(a[3], { type: 'NotePreferred', preferred: true });
  const sp = a[4] as Extract<Frame, { type: 'SendPacket' }>;
  assert.deepEqual(Buffer.from(sp.dst), hex(D.bPublic));
  assert.equal(Buffer.from(sp.packet).toString(), D.payloadAtoB);
  const ping = a[5] as Extract<Frame, { type: 'Ping' }>;
  assert.deepEqual(Buffer.from(ping.data), hex(D.pingData));
  assert.equal(a[6]!.type, 'Pong');
  const b = wire('b').map(({ bytes }) => {
    const [r] = splitFrames(bytes);
    return decodeFrame(r!.frameType, r!.payload);
  });
  const rp = b[3] as Extract<Frame, { type: 'RecvPacket' }>;
  assert.deepEqual(Buffer.from(rp.src), hex(D.aPublic));
  assert.equal(Buffer.from(rp.packet).toString(), D.payloadAtoB);
});

test('ClientInfo and ServerInfo boxes open with our crypto_box, and re-seal to the same bytes', () => {
  for (const side of ['a', 'b'] as const) {
    const priv = hex(side === 'a' ? D.aPrivate : D.bPrivate);
    const frames = wire(side).map(({ bytes }) => {
      const [r] = splitFrames(bytes);
      return decodeFrame(r!.frameType, r!.payload);
    });
    const ci = frames[1] as Extract<Frame, { type: 'ClientInfo' }>;
    const clear = boxOpen(ci.box, ci.nonce, ci.key, hex(D.serverPrivate));
    assert.ok(clear, 'ClientInfo opens');
    assert.deepEqual(JSON.parse(Buffer.from(clear).toString()), { version: 2, CanAckPings: true });
    assert.deepEqual(Buffer.from(boxSeal(clear, ci.nonce, hex(D.serverPublic), priv)), Buffer.from(ci.box));
    const si = frames[2] as Extract<Frame, { type: 'ServerInfo' }>;
    const sclear = boxOpen(si.box, si.nonce, hex(D.serverPublic), priv);
    assert.ok(sclear, 'ServerInfo opens');
    assert.deepEqual(JSON.parse(Buffer.from(sclear).toString()), { version: 2 });
    assert.deepEqual(Buffer.from(boxSeal(sclear, si.nonce, hex(side === 'a' ? D.aPublic : D.bPublic), hex(D.serverPrivate))), Buffer.from(si.box));
    // Tampering fails.
    const bad = Buffer.from(si.box);
    bad[bad.length - 1]! ^= 1;
    assert.equal(boxOpen(bad, si.nonce, hex(D.serverPublic), priv), null);
    assert.equal(boxOpen(si.box, si.nonce, hex(D.aPublic), priv), null, 'wrong peer key');
  }
});

test('disco packets open and re-seal byte for byte (NaCl box with the disco keys)', () => {
  const X = V.disco;
  const privOf = (who: string): Buffer => hex(who === 'a' ? X.aPrivateHex : X.bPrivateHex);
  for (const m of [X.ping, X.pong, X.callMeMaybe]) {
    const pkt = hex(m.packetHex);
    assert.deepEqual(pkt.subarray(0, 6), Buffer.from('5453f09f92ac', 'hex'));
    const senderPub = pkt.subarray(6, 38);
    assert.deepEqual(senderPub, publicFromPrivate(privOf(m.from)));
    const nonce = pkt.subarray(38, 62);
    const box = pkt.subarray(62);
    const clear = boxOpen(box, nonce, senderPub, privOf(m.to));
    assert.ok(clear);
    assert.equal(Buffer.from(clear).toString('hex'), m.cleartextHex);
    const toPub = publicFromPrivate(privOf(m.to));
    assert.deepEqual(Buffer.from(boxSeal(clear, nonce, toPub, privOf(m.from))), box);
  }
});

test('NaCl crypto_box known-answer vector (NaCl/libsodium test suite)', () => {
  const N = V.naclBox;
  const sk = hex(N.aliceSecretKey!);
  const bobPk = hex(N.bobPublicKey!);
  const k = boxBeforeNm(bobPk, sk);
  assert.equal(Buffer.from(k).toString('hex'), N.beforenm);
  assert.equal(Buffer.from(hsalsa20(hex(N.sharedSecret!), new Uint8Array(16))).toString('hex'), N.beforenm);
  assert.equal(Buffer.from(hsalsa20(hex(N.beforenm!), hex(N.hsalsa20Nonce16!))).toString('hex'), N.hsalsa20Out);
  const box = boxSeal(hex(N.message!), hex(N.nonce!), bobPk, sk);
  assert.equal(Buffer.from(box).toString('hex'), N.box);
  assert.equal(Buffer.from(secretboxSeal(k, hex(N.nonce!), hex(N.message!))).toString('hex'), N.box);
  assert.equal(Buffer.from(secretboxOpen(k, hex(N.nonce!), hex(N.box!))!).toString('hex'), N.message);
  assert.equal(secretboxOpen(k, hex(N.nonce!), new Uint8Array(15)), null);
});

test('Poly1305 RFC 8439 §2.5.2 vector', () => {
  const t = poly1305(hex(V.poly1305.key), Buffer.from(V.poly1305.message));
  assert.equal(Buffer.from(t).toString('hex'), V.poly1305.tag);
});

test('secretbox round-trips lengths across block boundaries', () => {
  const key = Buffer.alloc(32, 7);
  const nonce = Buffer.alloc(24, 9);
  for (const n of [0, 1, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000]) {
    const m = Buffer.alloc(n);
    for (let i = 0; i < n; i++) m[i] = (i * 31) & 0xff;
    const b = secretboxSeal(key, nonce, m);
    assert.equal(b.length, n + 16);
    assert.deepEqual(Buffer.from(secretboxOpen(key, nonce, b)!), m);
  }
});

test('frames the vectors do not cover round-trip', () => {
  const k = Buffer.alloc(32, 0xab);
  const k2 = Buffer.alloc(32, 0xcd);
  const frames: Frame[] = [
    { type: 'KeepAlive' },
    { type: 'NotePreferred', preferred: false },
    { type: 'PeerGone', key: k },
    { type: 'PeerGone', key: k, reason: 1 },
    { type: 'PeerPresent', key: k },
    { type: 'PeerPresent', key: k, endpoint: { ip: Buffer.alloc(16, 1), port: 41641 }, flags: 1 },
    { type: 'ForwardPacket', src: k, dst: k2, packet: Buffer.from('x') },
    { type: 'WatchConns' },
    { type: 'ClosePeer', key: k },
    { type: 'Health', problem: 'duplicate connection' },
    { type: 'Health', problem: '' },
    { type: 'Restarting', reconnectInMs: 1500, tryForMs: 60000 },
    { type: 'Unknown', frameType: 0x7f, payload: Buffer.from('zz') },
  ];
  for (const f of frames) {
    const bytes = encodeFrame(f);
    const [r] = splitFrames(bytes);
    const back = decodeFrame(r!.frameType, r!.payload);
    assert.deepEqual(encodeFrame(back), bytes, f.type);
    assert.equal(back.type, f.type);
  }
  assert.deepEqual(encodeFrame({ type: 'Restarting', reconnectInMs: 1500, tryForMs: 60000 }), Buffer.from('1500000008000005dc0000ea60', 'hex'));
  assert.deepEqual(encodeFrame({ type: 'PeerGone', key: k, reason: 1 }).subarray(0, 5), Buffer.from('0800000021', 'hex'));
});

test('FrameReader: byte-at-a-time input, oversized frames refused at the header, short frames malformed', () => {
  const all = Buffer.concat(wire('a').map((w) => w.bytes));
  const r = new FrameReader();
  const got: number[] = [];
  for (const byte of all) {
    r.push(Uint8Array.of(byte));
    for (let f = r.next(); f; f = r.next()) got.push(f.frameType);
  }
  assert.deepEqual(got, [1, 2, 3, 7, 4, 0x12, 0x13]);
  assert.equal(r.bufferedBytes, 0);

  const big = new FrameReader(32 + MAX_PACKET_SIZE);
  big.push(Buffer.from([FrameType.SendPacket, 0, 1, 0, 0x21]));
  assert.throws(() => big.next(), (e: unknown) => e instanceof DerpFrameError && e.code === 'ERR_DERP_FRAME_TOO_LARGE');
  const ok = new FrameReader(32 + MAX_PACKET_SIZE);
  ok.push(Buffer.from([FrameType.SendPacket, 0, 1, 0, 0x20]));
  assert.equal(ok.next(), null, 'exactly 32 + 64 KiB is allowed (waits for the payload)');

  assert.throws(() => decodeFrame(FrameType.SendPacket, Buffer.alloc(31)), DerpFrameError);
  assert.throws(() => decodeFrame(FrameType.ServerKey, Buffer.alloc(40)), /magic/);
  assert.throws(() => decodeFrame(FrameType.Ping, Buffer.alloc(7)), DerpFrameError);
  assert.throws(() => splitFrames(Buffer.from([1, 0, 0])), /trailing/);
  assert.throws(() => encodeFrame({ type: 'SendPacket', dst: Buffer.alloc(32), packet: Buffer.alloc(MAX_PACKET_SIZE + 1) }), RangeError);
  assert.deepEqual(encodeRawFrame(0x06), Buffer.from('0600000000', 'hex'));
});
