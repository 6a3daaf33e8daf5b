// Round-trip A/B: 1-byte TCP ping-pong between two processes, alternating plain Node TCP, tsnet with the
// engine inline (default) and tsnet with the engine on its own thread, ROUNDS times. Prints p50/p99 and the
// CPU time (user + system, from /proc, Linux only) each process spent per round trip.
//   node bench/rtt.mjs            (ROUNDS=3 COUNT=20000 by default)
import { spawn } from 'node:child_process';
import * as readline from 'node:readline';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKeyPairSync, createPublicKey } from 'node:crypto';

const here = path.dirname(new URL(import.meta.url).pathname);
const COUNT = Number(process.env.COUNT ?? 20000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

const keypair = () => {
  const { privateKey } = generateKeyPairSync('x25519');
  return {
    priv: privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('base64'),
    pub: createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64'),
  };
};

function proc(arg, env) {
  const p = spawn(process.execPath, [path.join(here, 'node.mjs'), arg], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const it = readline.createInterface({ input: p.stdout })[Symbol.asyncIterator]();
  const next = async () => { const r = await it.next(); if (r.done) throw new Error('bench process exited'); return JSON.parse(r.value); };
  return { p, next, call: (c) => { p.stdin.write(JSON.stringify(c) + '\n'); return next(); } };
}

// Clock ticks of CPU time (utime + stime) of a whole process.
const cpuTicks = (pid) => {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch { return NaN; }
};
const TICK_US = 1e6 / 100; // USER_HZ is 100 on Linux

async function pair(kind) {
  let server, client, host;
  if (kind === 'plain') {
    server = proc('plain', {});
    await server.next();
    client = proc('plain', { ROLE: 'client' });
    host = '127.0.0.1';
  } else {
    const env = kind === 'thread' ? { TSNET_ENGINE: 'thread' } : {};
    const ka = keypair(), kb = keypair();
    server = proc(JSON.stringify({ privateKey: kb.priv, address: ['10.66.0.2/32'], peers: [{ publicKey: ka.pub, allowedIPs: ['10.66.0.1/32'] }] }), env);
    const { port } = await server.next();
    client = proc(JSON.stringify({ privateKey: ka.priv, address: ['10.66.0.1/32'], peers: [{ publicKey: kb.pub, endpoint: `127.0.0.1:${port}`, allowedIPs: ['10.66.0.2/32'] }] }), { ...env, ROLE: 'client' });
    host = '10.66.0.2';
  }
  await client.next();
  await client.call({ op: 'pingpong', host, count: 500 }); // handshake, warm-up
  const c0 = cpuTicks(client.p.pid), s0 = cpuTicks(server.p.pid);
  const r = await client.call({ op: 'pingpong', host, count: COUNT });
  const c1 = cpuTicks(client.p.pid), s1 = cpuTicks(server.p.pid);
  client.p.kill();
  server.p.kill();
  return { ...r, clientCpuUs: ((c1 - c0) * TICK_US) / COUNT, serverCpuUs: ((s1 - s0) * TICK_US) / COUNT };
}

const f = (x) => (Number.isFinite(x) ? x.toFixed(0) : '-');
console.log(`| run | path | RTT p50 µs | RTT p99 µs | CPU µs per round trip (client / server) |`);
console.log('|---|---|---|---|---|');
for (let i = 1; i <= ROUNDS; i++) {
  for (const kind of ['plain', 'inline', 'thread']) {
    const r = await pair(kind);
    const name = kind === 'plain' ? 'plain Node TCP' : kind === 'inline' ? 'tsnet, engine inline' : 'tsnet, engine thread';
    console.log(`| ${i} | ${name} | ${f(r.p50us)} | ${f(r.p99us)} | ${f(r.clientCpuUs)} / ${f(r.serverCpuUs)} |`);
  }
}
