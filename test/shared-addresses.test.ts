// Devices in one process may hold the same addresses (a program on two tailnets, WireGuard networks that
// overlap). Closing one must leave the others' connections and sockets alone: lwIP tells every pcb with a
// removed address that it changed, whatever its netif, so native/core/stack/netif.c clears a closing device's
// addresses without that notice.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import type * as net from 'node:net';
import { Netstack } from '../lib/net/netstack.js';

function pair(): [Netstack, Netstack] {
  const a = new Netstack();
  const b = new Netstack();
  a.addAddress('100.64.0.1');
  a.addAddress('fd7a:115c:a1e0::1');
  b.addAddress('100.64.0.2');
  b.addAddress('fd7a:115c:a1e0::2');
  a.device.linkMemory(b.device);
  return [a, b];
}

async function echo(s: net.Socket, text: string): Promise<string> {
  s.write(text);
  const [d] = (await once(s, 'data')) as [Buffer];
  return d.toString();
}

test('closing a device with the same addresses leaves another device\'s connections (v4 and v6) and UDP sockets working', async () => {
  const [a1, b1] = pair();
  const [a2, b2] = pair();
  try {
    const sockets: net.Socket[] = [];
    for (const [host, port] of [['100.64.0.1', 7001], ['fd7a:115c:a1e0::1', 7002]] as const) {
      a1.listen('tcp', `:${port}`).on('connection', (s: net.Socket) => s.pipe(s));
      a2.listen('tcp', `:${port}`).on('connection', (s: net.Socket) => s.pipe(s));
      sockets.push(await b1.dial('tcp', host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`));
      await b2.dial('tcp', host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
    }
    const u1 = a1.listenPacket('udp', '100.64.0.1:5300');
    const u2 = a2.listenPacket('udp', '100.64.0.1:5300');
    await Promise.all([once(u1, 'listening'), once(u2, 'listening')]);
    for (const s of sockets) assert.equal(await echo(s, 'before'), 'before');
    a2.close();
    b2.close();
    for (const s of sockets) assert.equal(await echo(s, 'after'), 'after', 'the other device\'s connection lives');
    const c = b1.dialPacket('udp', '100.64.0.1:5300');
    const got = once(u1, 'message') as Promise<[Buffer, { address: string }]>;
    c.send(Buffer.from('dgram'));
    const [m, rinfo] = await got;
    assert.equal(m.toString(), 'dgram');
    assert.equal(rinfo.address, '100.64.0.2');
    assert.equal(u1.address().address, '100.64.0.1', 'its UDP socket keeps its address');
    for (const s of sockets) s.destroy();
    c.close();
    u1.close();
  } finally {
    a1.close();
    b1.close();
  }
});
