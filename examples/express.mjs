// An express app on a tailnet node, and a second node calling it with fetch().
// Run: node examples/express.mjs   (uses the bundled development tailnet; set TS_CONTROL_URL/TS_AUTHKEY for a real one)
import express from 'express';
import http from 'node:http';
import { Server, MemoryStore } from 'tsnet';
import { startDevnet } from 'tsnet/devnet';

const devnet = process.env.TS_CONTROL_URL ? null : await startDevnet();
const controlURL = process.env.TS_CONTROL_URL ?? devnet.controlURL;
const key = () => process.env.TS_AUTHKEY ?? devnet.createAuthKey({ ephemeral: true });

const api = new Server({ hostname: 'api', controlURL, authKey: key(), ephemeral: true, store: new MemoryStore() });
await api.up();
const app = express();
app.use(express.json());
app.post('/echo', (req, res) => {
  const who = api.whoIs(req.socket);                       // the caller's node and user, from the netmap
  res.json({ you: who?.node.Name, user: who?.userProfile?.LoginName, body: req.body });
});
api.listen('tcp', ':80').serve(http.createServer(app));

const cli = new Server({ hostname: 'cli', controlURL, authKey: key(), ephemeral: true, store: new MemoryStore() });
await cli.up();
const res = await cli.fetch('http://api/echo', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ hello: 'tailnet' }),
});
console.log(await res.json());

await Promise.all([api.close(), cli.close()]);
await devnet?.close();
