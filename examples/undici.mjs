// undici over the tailnet: a connection pool and request() through the node's dispatcher, and a JSON API
// served by plain node:http on another node.
// Run: node examples/undici.mjs   (uses the bundled development tailnet; set TS_CONTROL_URL/TS_AUTHKEY for a real one)
import http from 'node:http';
import { request } from 'undici';
import { Server, MemoryStore } from 'tsnet';
import { startDevnet } from 'tsnet/devnet';

const devnet = process.env.TS_CONTROL_URL ? null : await startDevnet();
const controlURL = process.env.TS_CONTROL_URL ?? devnet.controlURL;
const key = () => process.env.TS_AUTHKEY ?? devnet.createAuthKey({ ephemeral: true });

const inventory = new Server({ hostname: 'inventory', controlURL, authKey: key(), ephemeral: true, store: new MemoryStore() });
await inventory.up();
let served = 0;
inventory.listen('tcp', ':8080').serve(http.createServer((req, res) => {
  served++;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ item: req.url.slice(1), inStock: req.url.length % 2 === 0 }));
}));

const shop = new Server({ hostname: 'shop', controlURL, authKey: key(), ephemeral: true, store: new MemoryStore() });
await shop.up();
// The dispatcher is an undici Agent whose connections dial over the tailnet; MagicDNS names work.
const dispatcher = shop.dispatcher();
const items = ['apples', 'pears', 'plums', 'figs'];
const answers = await Promise.all(
  items.map(async (item) => (await request(`http://inventory:8080/${item}`, { dispatcher })).body.json()),
);
console.log(answers.map((a) => `${a.item}: ${a.inStock ? 'in stock' : 'sold out'}`).join(', '));
console.log(`inventory answered ${served} requests`);

await Promise.all([inventory.close(), shop.close()]);
await devnet?.close();
