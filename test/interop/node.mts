// A tsnet WireGuard node in its own process (the interop tests run it inside a network namespace).
// argv[2]: JSON { privateKey, address, listenPort, peers }. It serves GET /blob/<MiB> on tunnel port 8080
// with deterministic content, and answers line commands on stdin with JSON lines on stdout:
//   {"op":"get","url":...}     fetch over the tunnel, reply { status, length, sha256 }
//   {"op":"stats"}             reply the WireGuard peer stats
//   {"op":"tcpstats"}          reply the process's TCP loss recovery counters (docs/tcp.md)
//   {"op":"exit"}
import * as http from 'node:http';
import * as readline from 'node:readline';
import { createHash } from 'node:crypto';
import { WireGuard } from '../../lib/wireguard.js';
import { loadNative } from '../../lib/native.js';
import { blockOf } from './blob.js';

const config = JSON.parse(process.argv[2] ?? '{}');
const wg = new WireGuard(config);
await wg.start();

const ln = wg.listen('tcp', ':8080');
ln.serve(http.createServer((req, res) => {
  const m = /^\/blob\/(\d+)$/.exec(req.url ?? '');
  if (!m) { res.writeHead(404).end(); return; }
  const blocks = Number(m[1]) * 16;
  res.writeHead(200, { 'content-length': String(blocks * 65536) });
  let i = 0;
  const pump = () => {
    while (i < blocks) if (!res.write(blockOf(i++))) { res.once('drain', pump); return; }
    res.end();
  };
  pump();
}));

// UDP echo on tunnel port 7.
const echo = wg.listenPacket('udp', ':7');
echo.on('message', (m, r) => echo.send(m, r.port, r.address));

const agent = new http.Agent({ keepAlive: false });
agent.createConnection = ((o: { host?: string; port?: number }) => wg.connect('tcp', `${o.host}:${o.port}`)) as typeof agent.createConnection;

const reply = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
reply({ ready: true, publicKey: wg.publicKey, port: wg.listenPort });

for await (const line of readline.createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line);
  if (cmd.op === 'get') {
    try {
      const r = await new Promise<{ status: number; length: number; sha256: string }>((resolve, reject) => {
        const req = http.get(cmd.url, { agent }, (res) => {
          const h = createHash('sha256');
          let n = 0;
          res.on('data', (d: Buffer) => { n += d.length; h.update(d); });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, length: n, sha256: h.digest('hex') }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.setTimeout(cmd.timeoutMs ?? 60000, () => req.destroy(new Error('timeout')));
      });
      reply(r);
    } catch (err) {
      reply({ error: (err as Error).message, code: (err as { code?: string }).code });
    }
  } else if (cmd.op === 'udp') {
    // Sends cmd.text to cmd.address:cmd.port and replies with the first answer (or a timeout).
    const sock = wg.dialPacket('udp', `${cmd.address}:${cmd.port}`);
    const answer = await new Promise<string | null>((resolve) => {
      const t = setTimeout(() => resolve(null), 5000);
      sock.once('message', (m: Buffer) => { clearTimeout(t); resolve(m.toString()); });
      sock.send(cmd.text);
    });
    sock.close();
    reply({ answer });
  } else if (cmd.op === 'stats') {
    reply({ stats: wg.stats() });
  } else if (cmd.op === 'tcpstats') {
    reply({ tcp: loadNative().tcpRecoveryStats?.() ?? null });
  } else if (cmd.op === 'exit') {
    await wg.close();
    reply({ bye: true });
    process.exit(0);
  }
}
