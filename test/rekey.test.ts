// A node key renewal in a running Server (docs/protocol/capver.md, "Seamless key renewal"): the devnet expires
// one node's key, the node re-registers with a new key (reusable auth key), and the data plane switches to it.
// Afterwards both directions work again, directly and through the relay, and a TCP connection opened before
// the renewal carries data again: the TCP/IP stack and the addresses stay, only WireGuard's sessions are made
// anew, so TCP retransmits what was lost meanwhile.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import type * as net from 'node:net';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server, dataPlaneOf } from '../lib/server.js';
import type { NetworkMap } from '../lib/wire/netmap.js';
import { generateKeyPair, nodePublicToText } from '../lib/wire/keys.js';
import { Netstack } from '../lib/net/netstack.js';
import { readDrops } from '../lib/wg-drops.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function pair(devnet: Devnet, alwaysUseDERP: boolean): Promise<[Server, Server]> {
  const authKey = devnet.createAuthKey({ reusable: true });
  const mk = (hostname: string): Server =>
    new Server({ hostname, controlURL: devnet.controlURL, authKey, store: new MemoryStore(), alwaysUseDERP });
  const a = mk('alpha');
  const b = mk('bravo');
  cleanups.push(() => a.close(), () => b.close());
  await Promise.all([a.up(), b.up()]);
  for (const s of [a, b]) {
    s.listen('tcp', ':7000').on('connection', (c: net.Socket) => {
      c.on('error', () => undefined);
      c.pipe(c);
    });
  }
  return [a, b];
}

/** Sends msg on c and resolves with what comes back once it is `want` long (default: the echo of msg). */
function echo(c: net.Socket, msg: string, want = msg.length): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (got.length >= want) {
        c.off('data', onData).off('error', reject);
        resolve(got);
      }
    };
    c.on('data', onData).once('error', reject);
    c.write(msg);
  });
}

async function roundTrip(from: Server, to: string, msg: string): Promise<string> {
  const c = await from.dial('tcp', `${to}:7000`, { timeout: 20_000 });
  try {
    return await echo(c, msg);
  } finally {
    c.destroy();
  }
}

/** Resolves with the first netmap of s (already current or coming) that satisfies f. */
async function netmapWhere(s: Server, f: (nm: NetworkMap) => boolean): Promise<void> {
  for (;;) {
    const [nm] = (await once(s, 'netmap')) as [NetworkMap];
    if (f(nm)) return;
  }
}

async function renewal(alwaysUseDERP: boolean): Promise<void> {
  const devnet = await startDevnet();
  cleanups.push(() => devnet.close());
  const [a, b] = await pair(devnet, alwaysUseDERP);
  assert.equal(await roundTrip(b, 'alpha', 'before b->a'), 'before b->a');
  assert.equal(await roundTrip(a, 'bravo', 'before a->b'), 'before a->b');
  const held = await b.dial('tcp', 'alpha:7000', { timeout: 20_000 });
  held.on('error', () => undefined); // echo() reports errors while it waits; none may escape after the test
  cleanups.push(async () => held.destroy());
  assert.equal(await echo(held, 'held 1'), 'held 1');

  const oldKey = nodePublicToText(dataPlaneOf(a)!.nodePublic);
  const id = devnet.nodes().find((n) => n.hostname === 'alpha')!.id;
  // Both waits start before the expiry, so no netmap is missed.
  const alphaRenewed = netmapWhere(a, (nm) => nm.self.Key !== oldKey);
  const bravoSeesIt = netmapWhere(b, (nm) => nm.peers.some((p) => (p.Name ?? '').startsWith('alpha.') && p.Key !== oldKey && !p.Expired));
  assert.ok(devnet.expireNode(id));
  await Promise.all([alphaRenewed, bravoSeesIt]);

  // Both directions again, on new connections and on the one opened before. (Without the switch, alpha's
  // engine keeps the old key: the dial times out.) The first packets may race alpha's relay logging in again
  // with the new key and then wait for a handshake retransmission (5 s): docs/protocol/capver.md.
  assert.equal(await roundTrip(b, 'alpha', 'after b->a'), 'after b->a');
  assert.equal(await roundTrip(a, 'bravo', 'after a->b'), 'after a->b');
  assert.equal(await echo(held, 'held 2'), 'held 2');
  held.destroy();

  const newKey = nodePublicToText(dataPlaneOf(a)!.nodePublic);
  assert.notEqual(newKey, oldKey, "alpha's data plane switched keys");
  assert.equal(newKey, devnet.nodes().find((n) => n.id === id)!.nodeKey, 'the key control knows');
  assert.equal(b.status()!.peers.find((p) => p.hostName === 'alpha')?.publicKey, newKey);

  const peerOfB = b.status()!.peers.find((p) => p.hostName === 'alpha')!;
  if (alwaysUseDERP) {
    // alpha's relay connection logged in again, with the new key; the old one is gone.
    const clients = devnet.relay!.derp.clients();
    assert.ok(clients.includes(newKey), `relay clients: ${clients.join(', ')}`);
    assert.ok(!clients.includes(oldKey));
    assert.equal(peerOfB.curAddr, '', 'relayed only');
    assert.ok(peerOfB.txRelayPackets > 0);
  } else {
    assert.ok(peerOfB.lastHandshake !== null);
  }
}

test('after a node key renewal both directions work again, direct paths allowed; a TCP connection opened before survives', { timeout: 60_000 }, async () => {
  await renewal(false);
});

test('after a node key renewal both directions work again through the relay (alwaysUseDERP); a TCP connection opened before survives', { timeout: 60_000 }, async () => {
  await renewal(true);
});

// ---- the Device call alone, plain WireGuard over loopback (no control) ----

function wgNode(address: string): { stack: Netstack; key: ReturnType<typeof generateKeyPair>; port: number } {
  const stack = new Netstack();
  cleanups.push(async () => stack.close());
  stack.addAddress(address);
  const key = generateKeyPair();
  const port = stack.device.startWireGuard(Buffer.from(key.privateKey), 0);
  return { stack, key, port };
}

const code = (e: unknown): string | undefined => (e as { code?: string }).code;

test('Device.setPrivateKey: data on a session of the old key is refused; the peer that learns the new key handshakes again, the TCP connection carries on', { timeout: 30_000 }, async () => {
  const A = wgNode('10.7.0.1');
  const B = wgNode('10.7.0.2');
  const peerA = (publicKey: Uint8Array) => ({ publicKey, endpoints: [`127.0.0.1:${A.port}`], allowedIPs: ['10.7.0.1/32'] });
  A.stack.device.setPeers([{ publicKey: B.key.publicKey, endpoints: [`127.0.0.1:${B.port}`], allowedIPs: ['10.7.0.2/32'] }]);
  B.stack.device.setPeers([peerA(A.key.publicKey)]);
  A.stack.listen('tcp', ':80').on('connection', (c: net.Socket) => {
    c.on('error', () => undefined);
    c.pipe(c);
  });
  const held = await B.stack.dial('tcp', '10.7.0.1:80');
  held.on('error', () => undefined);
  cleanups.push(async () => held.destroy());
  assert.equal(await echo(held, 'one'), 'one');

  const next = generateKeyPair();
  A.stack.device.setPrivateKey(Buffer.from(next.privateKey));
  // B still has a session made with A's old key: what it sends on it is an unknown index to A now, and B's
  // handshakes to the old key fail mac1 at A. So nothing gets through until B learns the new key.
  const before = readDrops(A.stack.device);
  held.write('lost?');
  while (readDrops(A.stack.device).unknownIndex === before.unknownIndex) await new Promise((r) => setImmediate(r));
  // B learns the new key (a netmap would say so): the held connection carries data again (TCP retransmits).
  B.stack.device.setPeers([peerA(next.publicKey)]);
  const got = await echo(held, '!', 'lost?!'.length);
  assert.equal(got, 'lost?!');
  const stats = A.stack.device.peerStats();
  assert.equal(stats.length, 1, 'A kept its peer');
  assert.ok(stats[0]!.hasSession);
  held.destroy();
});

test('Device.setPrivateKey: bad arguments throw coded errors and change nothing', () => {
  const A = wgNode('10.8.0.1');
  const peer = generateKeyPair();
  A.stack.device.setPeers([{ publicKey: peer.publicKey, endpoints: [], allowedIPs: ['10.8.0.2/32'] }]);
  const dev = A.stack.device;
  const bad: Array<[() => void, ErrorConstructor, string]> = [
    [() => dev.setPrivateKey('x' as unknown as Uint8Array), TypeError, 'ERR_INVALID_ARG_TYPE'],
    [() => dev.setPrivateKey(new Uint8Array(31)), RangeError, 'ERR_OUT_OF_RANGE'],
    [() => dev.setPrivateKey(new Uint8Array(32)), TypeError, 'ERR_INVALID_ARG_VALUE'],
  ];
  for (const [call, kind, want] of bad) assert.throws(call, (e: unknown) => e instanceof kind && code(e) === want, call.toString());
  // A peer's own key cannot become ours.
  assert.throws(() => dev.setPrivateKey(Buffer.from(peer.privateKey)), { code: 'EEXIST' });
  assert.equal(dev.peerStats().length, 1);
  // The same key again is fine and changes nothing.
  dev.setPrivateKey(Buffer.from(A.key.privateKey));
  const B = new Netstack();
  assert.throws(() => B.device.setPrivateKey(Buffer.from(peer.privateKey)), { code: 'ENODEV' });
  B.close();
  assert.throws(() => B.device.setPrivateKey(Buffer.from(peer.privateKey)), { code: 'ERR_TSNET_CLOSED' });
});
