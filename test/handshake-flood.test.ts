// A flood of handshake initiations with a valid mac1 (all it takes is the node's public key) against a real
// WireGuard node over loopback: it goes under load, answers with cookie replies instead of doing a
// Diffie-Hellman per message (handshakeLoad() says so), withholds further replies from the one flooding
// address, and the tunnel keeps carrying data meanwhile.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { WireGuard } from '../lib/index.js';
import { generateKeyPair } from '../lib/wire/keys.js';

// Keyed BLAKE2s (RFC 7693) with a chosen output length: node:crypto has only the unkeyed 256-bit form.
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4], [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13], [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11], [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5], [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];
function blake2s(outLen: number, data: Uint8Array, key: Uint8Array = new Uint8Array(0)): Buffer {
  const h = new Uint32Array(IV);
  h[0] = (h[0]! ^ 0x01010000 ^ (key.length << 8) ^ outLen) >>> 0;
  const input = Buffer.concat(key.length ? [Buffer.alloc(64), Buffer.from(data)] : [Buffer.from(data)]);
  if (key.length) Buffer.from(key).copy(input);
  const v = new Uint32Array(16), m = new Uint32Array(16);
  const rotr = (x: number, n: number) => ((x >>> n) | (x << (32 - n))) >>> 0;
  const g = (a: number, b: number, c: number, d: number, x: number, y: number) => {
    v[a] = v[a]! + v[b]! + x; v[d] = rotr(v[d]! ^ v[a]!, 16);
    v[c] = v[c]! + v[d]!; v[b] = rotr(v[b]! ^ v[c]!, 12);
    v[a] = v[a]! + v[b]! + y; v[d] = rotr(v[d]! ^ v[a]!, 8);
    v[c] = v[c]! + v[d]!; v[b] = rotr(v[b]! ^ v[c]!, 7);
  };
  const compress = (block: Buffer, t: number, last: boolean) => {
    for (let i = 0; i < 16; i++) m[i] = block.readUInt32LE(i * 4);
    for (let i = 0; i < 8; i++) { v[i] = h[i]!; v[i + 8] = IV[i]!; }
    v[12] = (v[12]! ^ t) >>> 0; // inputs here are far below 2^32 bytes: the high counter word stays 0
    if (last) v[14] = ~v[14]! >>> 0;
    for (const s of SIGMA) {
      g(0, 4, 8, 12, m[s[0]!]!, m[s[1]!]!); g(1, 5, 9, 13, m[s[2]!]!, m[s[3]!]!);
      g(2, 6, 10, 14, m[s[4]!]!, m[s[5]!]!); g(3, 7, 11, 15, m[s[6]!]!, m[s[7]!]!);
      g(0, 5, 10, 15, m[s[8]!]!, m[s[9]!]!); g(1, 6, 11, 12, m[s[10]!]!, m[s[11]!]!);
      g(2, 7, 8, 13, m[s[12]!]!, m[s[13]!]!); g(3, 4, 9, 14, m[s[14]!]!, m[s[15]!]!);
    }
    for (let i = 0; i < 8; i++) h[i] = h[i]! ^ v[i]! ^ v[i + 8]!;
  };
  let off = 0;
  while (input.length - off > 64) { compress(input.subarray(off, off + 64), off + 64, false); off += 64; }
  const lastBlock = Buffer.alloc(64);
  input.copy(lastBlock, 0, off);
  compress(lastBlock, input.length, true);
  const out = Buffer.alloc(32);
  for (let i = 0; i < 8; i++) out.writeUInt32LE(h[i]!, i * 4);
  return out.subarray(0, outLen);
}

const b64 = (b: Buffer) => b.toString('base64');
const open: Array<WireGuard | dgram.Socket> = [];
after(async () => {
  for (const o of open) await (o instanceof WireGuard ? o.close() : new Promise<void>((r) => o.close(() => r())));
});

test('blake2s matches node:crypto unkeyed and RFC 7693 keyed output', () => {
  for (const s of ['', 'abc', 'x'.repeat(64), 'y'.repeat(200)])
    assert.equal(blake2s(32, Buffer.from(s)).toString('hex'), createHash('blake2s256').update(s).digest('hex'));
  // RFC 7693 appendix B / the BLAKE2 reference keyed test vector: key 00..1f, empty input.
  const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  assert.equal(blake2s(32, Buffer.alloc(0), key).toString('hex'),
    '48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49');
});

test('a flood of valid-mac1 initiations costs no DH each: a few cookie replies, then only mac1 checks; the tunnel keeps working', { timeout: 60_000 }, async () => {
  const ka = generateKeyPair(), kb = generateKeyPair();
  const B = new WireGuard({ privateKey: b64(kb.privateKey), address: ['10.7.0.2/32'],
    peers: [{ publicKey: b64(ka.publicKey), allowedIPs: ['10.7.0.1/32'] }] });
  open.push(B);
  await B.start();
  const A = new WireGuard({ privateKey: b64(ka.privateKey), address: ['10.7.0.1/32'],
    peers: [{ publicKey: B.publicKey, endpoint: `127.0.0.1:${B.listenPort}`, allowedIPs: ['10.7.0.2/32'] }] });
  open.push(A);
  await A.start();

  const ln = B.listen('tcp', '10.7.0.2:7');
  ln.on('connection', (s) => s.pipe(s));
  const conn = await A.dial('tcp', '10.7.0.2:7');
  const echo = async (msg: string) => {
    const got = once(conn, 'data');
    conn.write(msg);
    return String((await got)[0]);
  };
  assert.equal(await echo('before'), 'before');
  const before = B.handshakeLoad();
  assert.equal(before.handshakesComputed, 1); // A's initiation
  assert.equal(before.underLoad, false);

  // The flooder: random initiations, mac1 = MAC(HASH("mac1----" || B's public key), message up to mac1).
  const mac1Key = blake2s(32, Buffer.concat([Buffer.from('mac1----'), Buffer.from(B.publicKey, 'base64')]));
  const sock = dgram.createSocket('udp4');
  open.push(sock);
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const senders = new Set<number>();
  let cookies = 0;
  sock.on('message', (msg) => {
    if (msg.length === 64 && msg[0] === 3 && senders.has(msg.readUInt32LE(4))) cookies++;
  });
  // B takes in each datagram and replies within a turn of this event loop (the engine runs inline here);
  // yield until it has and its replies have all arrived.
  let sent = 0;
  const settle = async () => {
    for (;;) {
      const l = B.handshakeLoad();
      if (l.handshakesComputed + l.cookieReplies + l.cookiesWithheld >= 1 + sent && cookies >= l.cookieReplies) return l;
      await new Promise((r) => setImmediate(r));
    }
  };
  const N = 1000;
  let load = B.handshakeLoad();
  while (sent < N) {
    for (let i = 0; i < 100; i++, sent++) {
      const m = randomBytes(148);
      m.writeUInt32LE(1, 0);
      senders.add(m.readUInt32LE(4));
      blake2s(16, m.subarray(0, 116), mac1Key).copy(m, 116);
      m.fill(0, 132);
      await new Promise<void>((r, j) => sock.send(m, B.listenPort!, '127.0.0.1', (e) => (e ? j(e) : r())));
    }
    load = await settle();
  }
  // Under load after at most 128 handshake messages in a second (the default threshold). From then on no
  // DH: a cookie reply, or once this one source address had its 5 (then 20/s), nothing but the mac1 check.
  assert.equal(load.underLoad, true);
  assert.ok(load.handshakesComputed <= 1 + 128, `${load.handshakesComputed} Noise computations`);
  assert.equal(load.handshakesComputed + load.cookieReplies + load.cookiesWithheld, 1 + N);
  assert.ok(load.cookieReplies >= 5 && load.cookiesWithheld > N / 2, JSON.stringify(load));
  assert.equal(cookies, load.cookieReplies);
  assert.equal(load.rateLimited, 0);
  // The established session is untouched: data still flows both ways.
  assert.equal(await echo('during'), 'during');
  conn.destroy();
  ln.close();
});
