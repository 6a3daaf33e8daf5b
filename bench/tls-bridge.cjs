// node bench/tls-bridge.cjs: TLS over a tailnet TCP connection between two nodes of one process (a devnet in it
// too), 256 MiB per round, three rounds: Gbit/s and the process's CPU seconds per GiB for the bridge chosen by
// TSNET_BRIDGE (fd or stream). Run it once per bridge and compare (docs/performance.md, top).
const tls = require('node:tls');
const { Server, MemoryStore } = require('../dist/index.js');
const { startDevnet } = require('../dist/devnet/index.js');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-bridge-'));
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-subj', '/CN=a'], { stdio: 'ignore' });
const key = fs.readFileSync(path.join(dir, 'k.pem')), cert = fs.readFileSync(path.join(dir, 'c.pem'));
fs.rmSync(dir, { recursive: true, force: true });
const BYTES = 256 * 1024 * 1024;
(async () => {
  const dn = await startDevnet();
  const k = dn.createAuthKey({ reusable: true, ephemeral: true });
  const a = new Server({ hostname: 'a', controlURL: dn.controlURL, authKey: k, store: new MemoryStore(), ephemeral: true });
  const b = new Server({ hostname: 'b', controlURL: dn.controlURL, authKey: k, store: new MemoryStore(), ephemeral: true });
  await Promise.all([a.up(), b.up()]);
  const ln = a.listen('tcp', ':443');
  const chunk = Buffer.alloc(64 * 1024, 7);
  ln.on('connection', (s) => {
    const t = new tls.TLSSocket(s, { isServer: true, key, cert });
    let sent = 0;
    const pump = () => { while (sent < BYTES) { sent += chunk.length; if (!t.write(chunk)) return t.once('drain', pump); } t.end(); };
    t.once('secure', pump);
  });
  const ip = a.tailscaleIPs()[0];
  for (let round = 0; round < 3; round++) {
    const s = await b.dial('tcp', `${ip}:443`);
    const c0 = process.cpuUsage(); const t0 = process.hrtime.bigint();
    const t = tls.connect({ socket: s, rejectUnauthorized: false });
    let got = 0;
    await new Promise((res) => { t.on('data', (d) => { got += d.length; }); t.on('end', res); });
    const sec = Number(process.hrtime.bigint() - t0) / 1e9; const cu = process.cpuUsage(c0);
    console.log(`${process.env.TSNET_BRIDGE || 'fd'} round ${round}: ${(got * 8 / sec / 1e9).toFixed(2)} Gbit/s, ${(((cu.user + cu.system) / 1e6) / (got / 2 ** 30)).toFixed(2)} CPU-s/GiB (main process)`);
    t.destroy();
  }
  await Promise.all([a.close(), b.close()]); await dn.close(); process.exit(0);
})();
