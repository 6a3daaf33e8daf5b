// An ephemeral node that leaves the tailnet when the program is stopped with Ctrl-C (SIGINT) or SIGTERM.
// Run: node examples/ephemeral-sigint.mjs   (uses the bundled development tailnet; set TS_CONTROL_URL/TS_AUTHKEY
// for a real one, TSNET_DIR to make it visible to `tsnet status --dir`). The recipe is in docs/cli.md.
import http from 'node:http';
import { Server } from 'tsnet';
import { startDevnet } from 'tsnet/devnet';

const devnet = process.env.TS_CONTROL_URL ? null : await startDevnet();
const server = new Server({
  hostname: process.env.TSNET_HOSTNAME ?? 'worker',
  ephemeral: true,
  dir: process.env.TSNET_DIR, // where the node writes localapi.json for `tsnet status` (optional)
  controlURL: process.env.TS_CONTROL_URL ?? devnet.controlURL,
  authKey: process.env.TS_AUTHKEY ?? devnet.createAuthKey({ ephemeral: true }),
});

// The recipe: Node's default for SIGINT is to exit at once, so close() would never run and an ephemeral node
// would stay listed until control times it out. Closing logs it out first. A second Ctrl-C exits at once.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    try {
      await server.close();
      await devnet?.close();
    } finally {
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
  });
}

const st = await server.up();
if (process.env.TSNET_DIR) await server.loopback(); // starts the LocalAPI that `tsnet status` talks to
server.listen('tcp', ':80').serve(http.createServer((req, res) => res.end('hello from worker\n')));
console.log(`up as ${st.tailscaleIPs[0]}; press Ctrl-C to leave the tailnet`);
