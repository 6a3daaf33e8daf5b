// WireGuard's per-reason drop counters, read through WireGuard#drops(): malformed and replayed datagrams sent
// from a loopback UDP socket each raise the counter of their reason. Node B reaches node A through a UDP relay
// in this test (127.0.0.1), which records B's data packets and can inject datagrams from the same source.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { WireGuard, type WireGuardDrops } from '../lib/index.js';
import { generateKeyPair } from '../lib/wire/keys.js';
import type { TailnetSocket } from '../lib/net/socket.js';

const b64 = (b: Buffer) => b.toString('base64');
const open: Array<{ close(): unknown }> = [];
after(async () => {
  for (const o of open.reverse()) await o.close();
});

async function echoOnce(s: TailnetSocket, text: string): Promise<void> {
  let got = '';
  const done = new Promise<void>((resolve, reject) => {
    const onData = (c: Buffer) => {
      got += c.toString();
      if (got.length >= text.length) {
        s.off('data', onData);
        resolve();
      }
    };
    s.on('data', onData).once('error', reject);
  });
  s.write(text);
  await done;
  assert.equal(got, text);
}

test('malformed and replayed datagrams are dropped and counted per reason', async () => {
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const A = new WireGuard({ privateKey: b64(ka.privateKey), address: ['10.7.0.1/32'] });
  open.push(A);
  await A.start();
  const relay = dgram.createSocket('udp4');
  open.push({ close: () => new Promise<void>((r) => relay.close(() => r())) });
  relay.bind(0, '127.0.0.1');
  await once(relay, 'listening');
  const aPort = A.listenPort!;
  let bPort = 0;
  let lastData: Buffer | undefined;
  relay.on('message', (msg, rinfo) => {
    if (rinfo.port === aPort) {
      if (bPort) relay.send(msg, bPort, '127.0.0.1');
      return;
    }
    bPort = rinfo.port;
    if (msg[0] === 4 && msg.length > 32) lastData = Buffer.from(msg); // a data message with a payload
    relay.send(msg, aPort, '127.0.0.1');
  });

  const B = new WireGuard({ privateKey: b64(kb.privateKey), address: ['10.7.0.2/32'],
    peers: [{ publicKey: A.publicKey, endpoint: `127.0.0.1:${relay.address().port}`, allowedIPs: ['10.7.0.1/32'] }] });
  open.push(B);
  await B.start();
  await A.addPeer({ publicKey: B.publicKey, allowedIPs: ['10.7.0.2/32'] }); // A learns the relay's address by roaming

  const ln = A.listen('tcp', '10.7.0.1:7');
  ln.on('connection', (s: TailnetSocket) => s.pipe(s));
  const s = await B.dial('tcp', '10.7.0.1:7');
  await echoOnce(s, 'one');
  assert.ok(lastData, 'the relay saw a data message from B');

  const before: WireGuardDrops = A.drops();
  assert.equal(before.badType, 0);
  const mac1Bad = randomBytes(148);
  mac1Bad.writeUInt32LE(1, 0); // an initiation whose mac1 is not computed for A's key
  for (const d of [
    Buffer.from([9, 0, 0, 0, 1, 2, 3, 4]), // unknown type
    Buffer.from([4, 0, 0, 0, 1, 2]), // data message shorter than its header
    mac1Bad,
    lastData, // a data message A already accepted
  ]) {
    relay.send(d, aPort, '127.0.0.1');
  }
  // B's next packet leaves the relay's socket after the injected ones, so once its echo is back A has
  // processed them all.
  await echoOnce(s, 'two');
  const after_ = A.drops();
  assert.equal(after_.badType, before.badType + 1);
  assert.equal(after_.badLength, before.badLength + 1);
  assert.equal(after_.mac1, before.mac1 + 1);
  assert.equal(after_.replay, before.replay + 1);
  for (const k of Object.keys(before) as Array<keyof WireGuardDrops>) {
    if (!['badType', 'badLength', 'mac1', 'replay'].includes(k)) assert.equal(after_[k], before[k], k);
  }
  assert.equal(B.drops().replay, 0);
  s.destroy();
  ln.close();
  await A.close();
  assert.throws(() => A.drops(), { code: 'ERR_TSNET_CLOSED' });
});
