// Memory: RSS growth per idle WireGuard device, and per open TCP connection (both ends in this process,
// counted per connection pair). Prints one JSON line.
import { WireGuard } from '../dist/index.js';
import { generateKeyPairSync } from 'node:crypto';

const key = () => {
  const { privateKey } = generateKeyPairSync('x25519');
  return privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('base64');
};
const rss = () => { global.gc?.(); return process.memoryUsage().rss; };
const settle = () => new Promise((r) => setTimeout(r, 200));

const DEVICES = 100;
const warm = new WireGuard({ privateKey: key(), address: ['10.77.0.254/32'] });
await warm.start(); // the engine thread and lwIP's pools are paid once per process, not per device
await settle();
const before = rss();
const devs = [];
for (let i = 0; i < DEVICES; i++) {
  const wg = new WireGuard({ privateKey: key(), address: [`10.77.${i >> 8}.${(i & 255) + 1}/32`] });
  await wg.start();
  devs.push(wg);
}
await settle();
const perDevice = (rss() - before) / DEVICES;

// Two devices peered over loopback, CONNS idle connections between them.
const CONNS = 1000;
const a = devs[0], b = devs[1];
await a.addPeer({ publicKey: b.publicKey, endpoint: `127.0.0.1:${b.listenPort}`, allowedIPs: ['10.77.0.2/32'] });
await b.addPeer({ publicKey: a.publicKey, endpoint: `127.0.0.1:${a.listenPort}`, allowedIPs: ['10.77.0.1/32'] });
const ln = b.listen('tcp', ':80');
const accepted = [];
ln.on('connection', (s) => accepted.push(s));
const first = await a.dial('tcp', '10.77.0.2:80'); // handshake done before measuring
await settle();
const before2 = rss();
const socks = [];
for (let i = 0; i < CONNS; i++) socks.push(await a.dial('tcp', '10.77.0.2:80'));
await settle();
const perConn = (rss() - before2) / CONNS;
console.log(JSON.stringify({ devices: DEVICES, perDeviceKiB: perDevice / 1024, connections: CONNS, perConnectionPairKiB: perConn / 1024 }));
for (const s of [first, ...socks, ...accepted]) s.destroy();
for (const d of [warm, ...devs]) await d.close();
