// Go tsnet README, "Identifying callers": LocalClient's whoIs names the node and user behind a connection.
// Run: node examples/identifying-callers.mjs
import http from 'node:http';
import { Server, MemoryStore } from 'tsnet';
import { startDevnet } from 'tsnet/devnet';

const devnet = process.env.TS_CONTROL_URL ? null : await startDevnet();
const controlURL = process.env.TS_CONTROL_URL ?? devnet.controlURL;
const key = () => process.env.TS_AUTHKEY ?? devnet.createAuthKey({ ephemeral: true });

const srv = new Server({ hostname: 'whoami', controlURL, authKey: key(), ephemeral: true, store: new MemoryStore() });
const lc = srv.localClient();
srv.listen('tcp', ':80').serve(http.createServer(async (req, res) => {
  const who = await lc.whoIs(req.socket);
  res.end(who ? `hello ${who.userProfile?.LoginName} on ${who.node.Name}\n` : 'who are you?\n');
}));

const caller = new Server({ hostname: 'caller', controlURL, authKey: key(), ephemeral: true, store: new MemoryStore() });
console.log(await (await caller.fetch('http://whoami/')).text());
await Promise.all([srv.close(), caller.close()]);
await devnet?.close();
