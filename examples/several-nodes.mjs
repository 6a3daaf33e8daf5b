// Go tsnet README, several nodes per process: each Server is its own node (own name, state, addresses).
// Run: node examples/several-nodes.mjs
import { Server, MemoryStore } from 'tsnet';
import { startDevnet } from 'tsnet/devnet';

const devnet = process.env.TS_CONTROL_URL ? null : await startDevnet();
const controlURL = process.env.TS_CONTROL_URL ?? devnet.controlURL;
const key = () => process.env.TS_AUTHKEY ?? devnet.createAuthKey({ ephemeral: true });

const names = ['red', 'green', 'blue'];
const nodes = names.map((hostname) => new Server({ hostname, controlURL, authKey: key(), ephemeral: true, store: new MemoryStore() }));
for (const [i, n] of nodes.entries()) {
  n.listen('tcp', ':80').on('connection', (s) => s.end(`${names[i]} here`));
}
// Each node dials the next one by name.
for (const [i, n] of nodes.entries()) {
  const s = await n.dial('tcp', `${names[(i + 1) % names.length]}:80`);
  let text = '';
  for await (const c of s) text += c;
  console.log(`${names[i]} -> ${text}`);
}
await Promise.all(nodes.map((n) => n.close()));
await devnet?.close();
