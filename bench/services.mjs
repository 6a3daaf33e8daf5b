// node bench/services.mjs: what the catch-all listener (docs/services.md, "Foreign destinations") costs. Two
// nodes on the bundled devnet; the client writes SERVICES_MB MiB (default 32) in 64 KiB chunks to the host,
// alternately to a listener of the host's own address and to a Tailscale Service on its VIP (the catch-all
// path), SERVICES_ROUNDS times (default 3); prints Mbit/s per run for each.
import { Server, MemoryStore } from '../dist/index.js';
import { startDevnet } from '../dist/devnet/index.js';

const SIZE = Number(process.env.SERVICES_MB ?? 32) << 20;
const ROUNDS = Number(process.env.SERVICES_ROUNDS ?? 3);
const devnet = await startDevnet({ autoApproveServices: true });
devnet.defineService('svc:bench');
const host = new Server({ hostname: 'h', controlURL: devnet.controlURL, authKey: devnet.createAuthKey({ tags: ['tag:b'] }), advertiseTags: ['tag:b'], store: new MemoryStore() });
const cli = new Server({ hostname: 'c', controlURL: devnet.controlURL, authKey: devnet.createAuthKey({}), store: new MemoryStore() });
await Promise.all([host.up(), cli.up()]);
const sink = (s) => {
  let n = 0;
  s.on('data', (d) => (n += d.length));
  s.on('end', () => s.end(String(n)));
};
host.listen('tcp', ':9000').on('connection', sink);
(await host.listenService('svc:bench', { mode: 'tcp', port: 9001 })).on('connection', sink);
const vip = devnet.services()[0].addresses[0];
const chunk = Buffer.alloc(64 << 10, 7);
async function run(addr) {
  for (;;) {
    try {
      const s = await cli.dial('tcp', addr);
      const t0 = process.hrtime.bigint();
      for (let sent = 0; sent < SIZE; sent += chunk.length) if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
      s.end();
      let reply = '';
      for await (const d of s) reply += d;
      if (Number(reply) !== SIZE) throw new Error(`the host got ${reply} bytes`);
      return Math.round((SIZE * 8) / (Number(process.hrtime.bigint() - t0) / 1e6) / 1000);
    } catch (err) {
      if (err.code !== 'EHOSTUNREACH' && err.code !== 'ENOTFOUND') throw err;
      await new Promise((r) => cli.once('netmap', r)); // the VIP is not routed until control approved the host
    }
  }
}
const own = host.tailscaleIPs()[0];
const out = { own: [], vip: [] };
for (let i = 0; i < ROUNDS; i++) {
  out.own.push(await run(`${own}:9000`));
  out.vip.push(await run(`${vip}:9001`));
}
console.log(`own address ${out.own.join(' ')} Mbit/s; service VIP ${out.vip.join(' ')} Mbit/s`);
await Promise.all([host.close(), cli.close()]);
await devnet.close();
