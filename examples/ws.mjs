// A WebSocket server on a tailnet node and a client on another node.
// Run: node examples/ws.mjs
import http from 'node:http';
import { WebSocketServer, WebSocket } from 'ws';
import { Server, MemoryStore } from 'tsnet';
import { startDevnet } from 'tsnet/devnet';

const devnet = await startDevnet();
const node = (hostname) =>
  new Server({ hostname, controlURL: devnet.controlURL, authKey: devnet.createAuthKey({ ephemeral: true }), ephemeral: true, store: new MemoryStore() });
const chat = node('chat');
const user = node('user');
await Promise.all([chat.up(), user.up()]);

const server = http.createServer();
const wss = new WebSocketServer({ server });
wss.on('connection', (ws, req) => {
  const who = chat.whoIs(req.socket)?.node.Name;
  ws.on('message', (m) => ws.send(`${who} said: ${m}`));
});
chat.listen('tcp', ':80').serve(server);

// ws dials through the tailnet with createConnection.
const ws = new WebSocket('ws://chat/', { createConnection: () => user.connect('tcp', 'chat:80') });
ws.on('open', () => ws.send('hello over WireGuard'));
const reply = await new Promise((resolve) => ws.once('message', (m) => resolve(String(m))));
console.log(reply);
ws.close();

await Promise.all([chat.close(), user.close()]);
await devnet.close();
