// Go tsnet README, "Authentication": the first start logs in with an auth key (authKey or TS_AUTHKEY); the node
// keeps its identity in its state directory, so later starts need no key.
// Run: node examples/authentication.mjs
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Server } from 'tsnet';
import { startDevnet } from 'tsnet/devnet';

const devnet = process.env.TS_CONTROL_URL ? null : await startDevnet();
const controlURL = process.env.TS_CONTROL_URL ?? devnet.controlURL;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-auth-'));

const first = new Server({ hostname: 'auth-demo', dir, controlURL, authKey: process.env.TS_AUTHKEY ?? devnet.createAuthKey() });
const before = await first.up();
await first.close();

const again = new Server({ hostname: 'auth-demo', dir, controlURL }); // no key: the state directory has the node
const after = await again.up();
console.log(`logged in once; restarted as ${after.self.Name} with the same address: ${after.tailscaleIPs[0] === before.tailscaleIPs[0]}`);
await again.close();
fs.rmSync(dir, { recursive: true, force: true });
await devnet?.close();
