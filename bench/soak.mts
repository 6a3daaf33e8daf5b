// npm run soak: the long versions of test/tcp-reliability.test.ts (docs/architecture.md, "TCP memory").
//   1,000 simultaneous 1 MiB downloads between two WireGuard nodes of one process, SHA-256 each;
//   100,000 HTTP requests answered with Connection: close, 32 at a time, none refused, and their rate;
//   20 Server nodes on the development tailnet, all to all, 1 MiB each way per pair.
// SOAK_ONLY=flows,churn,mesh picks parts. Loopback only. Prints one JSON line per part and exits non-zero if
// any part failed.
import { once } from 'node:events';
import { WireGuard, Server } from '../lib/index.js';
import { startDevnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { generateKeyPair } from '../lib/wire/keys.js';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { bulkFlows, churn, meshAllToAll } from '../test/fixtures/tcp/load.js';

const here = path.dirname(new URL(import.meta.url).pathname);
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
  // The server in its own process, as in production: its TIME-WAIT connections are its own.
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, '..', 'test', 'fixtures', 'tcp', 'node.mts'), 'http', b64(ka.privateKey), b64(kb.publicKey)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [port] = (await once(child.stdout!, 'data')) as [Buffer];
  const B = new WireGuard({ privateKey: b64(kb.privateKey), address: ['10.7.0.2/32'],
    peers: [{ publicKey: b64(ka.publicKey), endpoint: `127.0.0.1:${String(port).trim()}`, allowedIPs: ['10.7.0.1/32'] }] });
  await B.start();
  const r = await churn(B, '10.7.0.1', { requests: 100_000, concurrency: 32 });
  report('churn', r.ok === 100_000, { requests: 100_000, answered: r.ok, errors: r.errors, perSecond: Math.round(r.perSecond) });
  await B.close();
  child.kill();
}

if (want('mesh')) {
  const devnet = await startDevnet();
  const authKey = devnet.createAuthKey({ reusable: true });
  const nodes = Array.from({ length: 20 }, (_, i) => new Server({ hostname: `n${i}`, controlURL: devnet.controlURL, authKey, store: new MemoryStore(), ephemeral: true }));
  const r = await meshAllToAll(nodes, 1 << 20);
  report('mesh', r.bad.length === 0, { nodes: 20, transfers: 380, bad: r.bad.slice(0, 10), seconds: +r.seconds.toFixed(1) });
  for (const n of nodes) await n.close();
  await devnet.close();
}
process.exit(failed ? 1 : 0);
