// The Device's declarative peer set (docs/architecture.md, "The native Device"): setPeers replaces every
// peer's AllowedIPs and removes unlisted peers in one engine call, so a prefix a peer lost is dropped at once
// (the stale-AllowedIPs bug). Two real WireGuard devices talk over loopback UDP; the test waits for events
// and counters, never for a fixed time. Also: the Device's bad arguments throw coded errors.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import { Netstack } from '../lib/net/netstack.js';
import type { DevicePeer } from '../lib/net/device.js';
import { readDrops } from '../lib/wg-drops.js';
import { generateKeyPair } from '../lib/wire/keys.js';

const stacks: Netstack[] = [];
after(() => {
  for (const s of stacks) s.close();
});

function node(addresses: string[]): { stack: Netstack; key: ReturnType<typeof generateKeyPair>; port: number } {
  const stack = new Netstack();
  stacks.push(stack);
  for (const a of addresses) stack.addAddress(a);
  const key = generateKeyPair();
  const port = stack.device.startWireGuard(Buffer.from(key.privateKey), 0);
  return { stack, key, port };
}

const code = (e: unknown) => (e as { code?: string }).code;

test('setPeers shrinks AllowedIPs: the removed prefix is dropped and counted, the kept one still works, unlisted peers go', { timeout: 30_000 }, async () => {
  // D has an IPv4 and an IPv6 address; C first allows D both, then only the IPv6 one.
  const C = node(['10.5.0.1', 'fd00::5:1']);
  const D = node(['10.9.0.5', 'fd00::7:2']);
  D.stack.device.setPeers([{ publicKey: C.key.publicKey, endpoints: [`127.0.0.1:${C.port}`], allowedIPs: ['10.5.0.1/32', 'fd00::5:1/128'] }]);
  const peerD = (allowedIPs: string[]): DevicePeer => ({ publicKey: D.key.publicKey, endpoints: [`127.0.0.1:${D.port}`], allowedIPs });
  const other: DevicePeer = { publicKey: generateKeyPair().publicKey, endpoints: [], allowedIPs: ['10.66.0.0/16'] };
  C.stack.device.setPeers([peerD(['10.9.0.0/24', 'fd00::7:2/128']), other]);
  assert.equal(C.stack.device.peerStats().length, 2);

  let accepted = 0;
  const closed: Promise<unknown>[] = [];
  C.stack.listen('tcp', ':80').on('connection', (s) => {
    accepted++;
    s.on('error', () => {}); // closing the stacks at the end may reset it
    closed.push(once(s, 'close'));
    s.end('hi');
  });
  const roundTrip = async (address: string): Promise<void> => {
    const s = await D.stack.dial('tcp', address);
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    await once(s, 'end');
    assert.equal(Buffer.concat(chunks).toString(), 'hi');
    s.end();
  };
  await roundTrip('10.5.0.1:80');
  await roundTrip('[fd00::5:1]:80');
  await Promise.all(closed); // both FINs acknowledged before the prefix goes
  assert.equal(accepted, 2);

  C.stack.device.setPeers([peerD(['fd00::7:2/128'])]);
  // The peer left out is gone; D remains with exactly the kept prefix.
  assert.deepEqual(C.stack.device.peerStats().map((p) => p.publicKey.toString('hex')), [Buffer.from(D.key.publicKey).toString('hex')]);
  // C no longer routes the removed prefix at all.
  await assert.rejects(C.stack.dial('tcp', '10.9.0.5:80'), { code: 'EHOSTUNREACH' });

  const before = readDrops(C.stack.device).sourceNotAllowed;
  const ac = new AbortController();
  const dial = D.stack.dial('tcp', '10.5.0.1:80', { signal: ac.signal }).catch((e: unknown) => e);
  // The SYN from 10.9.0.5 arrives over the live session and is dropped for its source.
  while (readDrops(C.stack.device).sourceNotAllowed === before) await new Promise((r) => setImmediate(r));
  ac.abort();
  assert.equal(code(await dial), 'ABORT_ERR');
  assert.equal(accepted, 2);

  // The kept prefix still works over the same session.
  await roundTrip('[fd00::5:1]:80');
  assert.equal(accepted, 3);
});

test('Device arguments: bad ones throw coded TypeError/RangeError and change nothing; a closed device says so', () => {
  const A = node(['10.5.0.9']);
  const dev = A.stack.device;
  const good: DevicePeer = { publicKey: generateKeyPair().publicKey, endpoints: ['127.0.0.1:9'], allowedIPs: ['10.6.0.0/24'] };
  dev.setPeers([good]);
  const bad: Array<[() => void, ErrorConstructor, string]> = [
    [() => dev.setPeers('x' as unknown as DevicePeer[]), TypeError, 'ERR_INVALID_ARG_TYPE'],
    [() => dev.setPeers([{ ...good, publicKey: new Uint8Array(31) }]), RangeError, 'ERR_OUT_OF_RANGE'],
    [() => dev.setPeers([{ ...good, allowedIPs: ['10.6.0.0/33'] }]), TypeError, 'ERR_INVALID_ARG_VALUE'],
    [() => dev.setPeers([{ ...good, allowedIPs: [7 as unknown as string] }]), TypeError, 'ERR_INVALID_ARG_TYPE'],
    [() => dev.setPeers([{ ...good, endpoints: ['127.0.0.1:0'] }]), TypeError, 'ERR_INVALID_ARG_VALUE'],
    [() => dev.setPeers([{ ...good, persistentKeepalive: 70000 }]), RangeError, 'ERR_OUT_OF_RANGE'],
    [() => dev.setFilter([{ protos: [6], srcs: [{ family: 4, bits: 40, addr: new Uint8Array(4) }], dsts: [] }], []), RangeError, 'ERR_OUT_OF_RANGE'],
    [() => dev.tcpListen(A.stack.device.allocId(), 0, 70000, 1), RangeError, 'ERR_OUT_OF_RANGE'],
    [() => dev.tcpListen(A.stack.device.allocId(), 5 as 4, 80, 1), RangeError, 'ERR_OUT_OF_RANGE'],
    [() => dev.udpSend(1, 'not-an-ip', 53, new Uint8Array(1)), TypeError, 'ERR_INVALID_ARG_VALUE'],
    [() => dev.stunProbe(1, '127.0.0.1', 0), TypeError, 'ERR_INVALID_ARG_VALUE'],
    [() => dev.addAddress('300.1.1.1'), TypeError, 'ERR_INVALID_ARG_VALUE'],
  ];
  // A getter that throws: its own error goes on (no crash, no second error on top of it).
  const trap = { ...good, get allowedIPs(): string[] { throw Object.assign(new Error('mine'), { code: 'MINE' }); } };
  assert.throws(() => dev.setPeers([trap]), { code: 'MINE' });
  for (const [call, kind, want] of bad) assert.throws(call, (e: unknown) => e instanceof kind && code(e) === want, call.toString());
  // None of them reached the engine: the one peer and its prefix are as set.
  assert.equal(dev.peerStats().length, 1);
  // Tailscale-mode calls on a plain WireGuard device, and link calls before startWireGuard, are coded too.
  assert.throws(() => dev.setSelf([], 1), { code: 'EINVAL' });
  const B = new Netstack();
  stacks.push(B);
  assert.throws(() => B.device.setPeers([]), { code: 'ENODEV' });
  B.close();
  assert.throws(() => B.device.setPeers([]), { code: 'ERR_TSNET_CLOSED' });
  assert.throws(() => B.device.addAddress('10.0.0.1'), { code: 'ERR_TSNET_CLOSED' });
  B.device.tcpReset(1); // acting on what a closed device already closed is a no-op
});
