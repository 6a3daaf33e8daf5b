// npm run soak: the long versions of test/tcp-reliability.test.ts (docs/architecture.md, "TCP memory").
//   1,000 simultaneous 1 MiB downloads between two WireGuard nodes of one process, SHA-256 each;
//   100,000 HTTP requests answered with Connection: close, 32 at a time, none refused, and their rate;
//   20 Server nodes on the development tailnet, all to all, 1 MiB each way per pair.
// SOAK_ONLY=flows,churn,mesh picks parts. Loopback only. Prints one JSON line per part and exits non-zero if
// any part failed.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { WireGuard, Server } from '../lib/index.js';
import { startDevnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { generateKeyPair } from '../lib/control/keys.js';
import { bulkFlows, churn, pattern } from '../test/fixtures/tcp/load.js';

const only = process.env.SOAK_ONLY?.split(',');
const want = (p: string) => !only || only.includes(p);
const b64 = (b: Buffer) => b.toString('base64');
let failed = false;
const report = (part: string, ok: boolean, r: object) => {
  if (!ok) failed = true;
  console.log(JSON.stringify({ part, ok, ...r }));
};

async function pair() {
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const A = new WireGuard({ privateKey: b64(ka.privateKey), address: ['10.7.0.1/32'] });
  await A.start();
  const B = new WireGuard({ privateKey: b64(kb.privateKey), address: ['10.7.0.2/32'],
    peers: [{ publicKey: A.publicKey, endpoint: `127.0.0.1:${A.listenPort}`, allowedIPs: ['10.7.0.1/32'] }] });
  await B.start();
  await A.addPeer({ publicKey: B.publicKey, endpoint: `127.0.0.1:${B.listenPort}`, allowedIPs: ['10.7.0.2/32'] });
  return { A, B, close: async () => { await B.close(); await A.close(); } };
}

if (want('flows')) {
  const { A, B, close } = await pair();
  const t0 = performance.now();
  const r = await bulkFlows(A, B, '10.7.0.1', { flows: 1000, bytes: 1 << 20 });
  report('flows', r.failed.length === 0, { flows: 1000, intact: r.intact, failed: r.failed.slice(0, 10), seconds: +((performance.now() - t0) / 1000).toFixed(1) });
  await close();
}

if (want('churn')) {
  const { A, B, close } = await pair();
  const r = await churn(A, B, '10.7.0.1', { requests: 100_000, concurrency: 32 });
  report('churn', r.ok === 100_000, { requests: 100_000, answered: r.ok, errors: r.errors, perSecond: Math.round(r.perSecond) });
  await close();
}

if (want('mesh')) {
  const devnet = await startDevnet();
  const authKey = devnet.createAuthKey({ reusable: true });
  const nodes = Array.from({ length: 20 }, (_, i) => new Server({ hostname: `n${i}`, controlURL: devnet.controlURL, authKey, store: new MemoryStore(), ephemeral: true }));
  await Promise.all(nodes.map((n) => new Promise<void>((resolve) => {
    const check = () => { if ((n.status()?.peers.length ?? 0) >= 19) { n.off('peers', check); resolve(); } };
    n.on('peers', check);
    void n.up().then(check);
  })));
  const blob = pattern(1 << 20);
  const sum = createHash('sha256').update(blob).digest('hex');
  for (const n of nodes) n.listen('tcp', ':7000').on('connection', (s) => { s.on('error', () => {}); s.end(blob); });
  const t0 = performance.now();
  const rs = await Promise.allSettled(nodes.flatMap((from, i) => nodes.map(async (to, j) => {
    if (i === j) return true;
    const s = await from.dial('tcp', `${to.tailscaleIPs()[0]}:7000`);
    const h = createHash('sha256');
    s.on('data', (d: Buffer) => h.update(d));
    await once(s, 'end');
    s.destroy();
    return h.digest('hex') === sum;
  })));
  const bad = rs.filter((r) => r.status === 'rejected' || r.value !== true).length;
  report('mesh', bad === 0, { nodes: 20, transfers: 380, bad, seconds: +((performance.now() - t0) / 1000).toFixed(1) });
  for (const n of nodes) await n.close();
  await devnet.close();
}
process.exit(failed ? 1 : 0);
