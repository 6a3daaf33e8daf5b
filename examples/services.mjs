// A Tailscale Service (Go tsnet's ListenService): a tagged node hosts "svc:hello" over HTTP, and another
// node reaches it by the service's name, whichever host serves it.
// Run: node examples/services.mjs   (uses the bundled development tailnet, which approves service hosts here)
import http from 'node:http';
import { once } from 'node:events';
import { Server, MemoryStore } from 'tsnet';
import { startDevnet } from 'tsnet/devnet';

const devnet = await startDevnet({ autoApproveServices: true });
devnet.defineService('svc:hello');                          // an admin defines the service; it gets VIP addresses
const hostKey = devnet.createAuthKey({ ephemeral: true, tags: ['tag:web'] });
const host = new Server({ hostname: 'web1', controlURL: devnet.controlURL, authKey: hostKey, advertiseTags: ['tag:web'], ephemeral: true, store: new MemoryStore() });
const ln = await host.listenService('svc:hello', { mode: 'http', port: 80 }); // starts the node; it must be tagged
ln.serve(http.createServer((req, res) => res.end(`hello from ${ln.fqdn} (VIP ${req.socket.localAddress})\n`)));

const cli = new Server({ hostname: 'cli', controlURL: devnet.controlURL, authKey: devnet.createAuthKey({ ephemeral: true }), ephemeral: true, store: new MemoryStore() });
await cli.up();
let res;
for (;;) {
  try {
    res = await cli.fetch(`http://${ln.fqdn}/`);
    break;
  } catch (err) {
    if (err.code !== 'ENOTFOUND') throw err;
    await once(cli, 'netmap');                              // the name appears once control approved the host
  }
}
process.stdout.write(await res.text());
await Promise.all([cli.close(), host.close()]);
await devnet.close();
