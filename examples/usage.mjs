// Go tsnet README, "Usage": a Server whose listen() starts the node (no up() needed), serving HTTP.
// Run: node examples/usage.mjs   (uses the bundled development tailnet; set TS_CONTROL_URL/TS_AUTHKEY for a real one)
import http from 'node:http';
import { once } from 'node:events';
import { Server, MemoryStore } from 'tsnet';
import { startDevnet } from 'tsnet/devnet';

const devnet = process.env.TS_CONTROL_URL ? null : await startDevnet();
const controlURL = process.env.TS_CONTROL_URL ?? devnet.controlURL;
const key = () => process.env.TS_AUTHKEY ?? devnet.createAuthKey({ ephemeral: true });

const srv = new Server({ hostname: 'hello', controlURL, authKey: key(), ephemeral: true, store: new MemoryStore() });
const ln = srv.listen('tcp', ':80'); // as Go's srv.Listen: starts the node, binds once it is up
ln.serve(http.createServer((req, res) => res.end(`Hi there! You're at ${srv.tailscaleIPs()[0]}\n`)));
await once(ln, 'listening');

const visitor = new Server({ hostname: 'visitor', controlURL, authKey: key(), ephemeral: true, store: new MemoryStore() });
const res = await visitor.fetch('http://hello/'); // fetch, like dial and listen, starts its node and waits
console.log(await res.text());
await Promise.all([srv.close(), visitor.close()]);
await devnet?.close();
