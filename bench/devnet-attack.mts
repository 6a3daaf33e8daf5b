// Cheap attacks on the development tailnet, and the relay/control process's RSS before, during and after them
// (docs/architecture.md, "Development tailnet limits"). Loopback only. Run:
//   node --import tsx bench/devnet-attack.mts [--n=1000] [--spread] [--gc] [--declared=BYTES] [--repeat=R]
//     [--attack=derp-prelogin,derp-idle,noise,http-idle]
// The devnet runs in a child process (so its RSS is its own); this process is the attacker and a real client.
// --spread sends the attack from 127.0.0.2..127.0.0.251 instead of 127.0.0.1 only (per-IP caps then do not
// apply, the global ones do). --gc runs the devnet with --expose-gc and adds the RSS after a full collection
// (how much of what stays is garbage not yet collected). --declared: the pre-login frame's declared length
// (default 1 MiB). --repeat: the same attack R times on one devnet (is what stays reused?). Prints one JSON
// line per attack and round.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { startDevnet } from '../lib/devnet/index.js';
import { NoiseInitiator } from '../lib/control/noise.js';
import { generatePrivateKey, parseMachinePublic } from '../lib/wire/keys.js';
import { TestDerpClient } from '../test/fixtures/devnet-derp/client.js';
import { MiniClient } from '../test/fixtures/devnet/mini-client.js';

interface Info {
  pid: number;
  controlURL: string;
  publicKey: string;
  derpPort: number;
  ca: string;
  authKey: string;
}

if (process.argv.includes('--server')) {
  const d = await startDevnet({ relay: { allowUnknownClients: true } });
  const info: Info = {
    pid: process.pid,
    controlURL: d.controlURL,
    publicKey: d.publicKey,
    derpPort: d.relay!.derp.port,
    ca: d.relay!.derp.certificate!,
    authKey: d.createAuthKey({ reusable: true, ephemeral: true }),
  };
  process.stdout.write(JSON.stringify(info) + '\n');
  // "gc" on stdin (with --expose-gc): collect garbage, answer "gc done".
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l === 'gc' && globalThis.gc) {
      globalThis.gc();
      process.stdout.write('gc done\n');
    }
  });
  process.stdin.on('end', () => void d.close().then(() => process.exit(0)));
} else {
  await main();
}

function arg(name: string, dflt: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : dflt;
}

async function main(): Promise<void> {
  const N = Number(arg('n', '1000'));
  const spread = process.argv.includes('--spread');
  const attacks = arg('attack', 'derp-prelogin,derp-idle,noise,http-idle').split(',');
  const repeat = Number(arg('repeat', '1'));
  for (const attack of attacks) {
    for (const r of await run(attack, attack === 'noise' ? Number(arg('n', '1100')) : N, spread, repeat)) console.log(JSON.stringify(r));
  }
}

async function run(attack: string, N: number, spread: boolean, repeat: number): Promise<object[]> {
  // A fresh devnet per attack, so each starts from the same baseline.
  const gcFlag = process.argv.includes('--gc') ? ['--expose-gc'] : [];
  const child = spawn(process.execPath, [...gcFlag, ...process.execArgv, new URL(import.meta.url).pathname, '--server'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  const info = JSON.parse(line) as Info;
  const rssMB = (): number => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${info.pid}/status`, 'utf8'));
    return Math.round(Number(m![1]) / 1024);
  };
  const url = new URL(info.controlURL);
  let srcIdx = 0;
  const src = (): string | undefined => (spread ? `127.0.0.${2 + (srcIdx++ % 250)}` : undefined);
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  const realRegister = async (): Promise<string> => {
    try {
      const c = await MiniClient.connect(info.controlURL);
      try {
        const r = await c.register({ Auth: { AuthKey: info.authKey } });
        return r.MachineAuthorized ? 'ok' : 'not authorized';
      } finally {
        c.close();
      }
    } catch (e) {
      return `failed: ${(e as Error).message}`;
    }
  };
  const realDerp = async (): Promise<string> => {
    try {
      const a = await TestDerpClient.connect({ host: '127.0.0.1', port: info.derpPort, ca: info.ca });
      const b = await TestDerpClient.connect({ host: '127.0.0.1', port: info.derpPort, ca: info.ca });
      a.sendPacket(b.publicKey, Buffer.from('hello'));
      await b.next('RecvPacket');
      a.close();
      b.close();
      return 'ok';
    } catch (e) {
      return `failed: ${(e as Error).message}`;
    }
  };
  // Warm up both sides once so the baseline includes what any use pays.
  await realRegister();
  await realDerp();
  await sleep(500);

  const derpSocket = async (): Promise<tls.TLSSocket> => {
    const localAddress = src();
    const s = tls.connect({ host: '127.0.0.1', port: info.derpPort, ca: info.ca, ...(localAddress ? { localAddress } : {}) });
    s.on('error', () => {});
    await once(s, 'secureConnect');
    s.write('GET /derp HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n');
    return s;
  };
  const noiseSocket = async (): Promise<net.Socket> => {
    const ini = new NoiseInitiator({ version: 145, machinePrivate: generatePrivateKey(), controlPublic: parseMachinePublic(info.publicKey) });
    const localAddress = src();
    const s = net.connect({ host: url.hostname, port: Number(url.port), ...(localAddress ? { localAddress } : {}) });
    s.on('error', () => {});
    await once(s, 'connect');
    s.write(
      `POST /ts2021 HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: tailscale-control-protocol\r\nConnection: upgrade\r\n` +
        `X-Tailscale-Handshake: ${ini.initiation.toString('base64')}\r\nContent-Length: 0\r\n\r\n`,
    );
    return s;
  };
  const httpSocket = async (): Promise<net.Socket> => {
    const localAddress = src();
    const s = net.connect({ host: url.hostname, port: Number(url.port), ...(localAddress ? { localAddress } : {}) });
    s.on('error', () => {});
    await once(s, 'connect');
    s.write(`GET /health HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
    s.resume();
    return s;
  };

  const results: object[] = [];
  for (let round = 1; round <= repeat; round++) {
    const base = rssMB();
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMB())), 100);
    const socks: net.Socket[] = [];
    let closedByServer = 0;
    const t0 = Date.now();
    const open = async (mk: () => Promise<net.Socket>): Promise<void> => {
      for (let i = 0; i < N; i += 50) {
        const batch = await Promise.all(Array.from({ length: Math.min(50, N - i) }, () => mk().catch(() => null)));
        for (const s of batch) {
          if (!s) continue;
          s.resume(); // read, so a close by the server is seen
          socks.push(s);
          s.once('close', () => closedByServer++);
        }
      }
    };
    if (attack === 'derp-prelogin') {
      // A ClientInfo frame declaring 1 MiB (the old limit), all but its last byte sent.
      const declared = Number(arg('declared', String(1 << 20)));
      const body = Buffer.alloc(declared - 1, 0x41);
      const hdr = Buffer.from([0x02, 0, 0, 0, 0]);
      hdr.writeUInt32BE(declared, 1);
      await open(async () => {
        const s = await derpSocket();
        s.write(hdr);
        s.write(body);
        return s;
      });
    } else if (attack === 'derp-idle') {
      await open(derpSocket);
    } else if (attack === 'noise') {
      await open(noiseSocket);
    } else if (attack === 'http-idle') {
      await open(httpSocket);
    }
    const opened = socks.length;
    const openSeconds = (Date.now() - t0) / 1000;
    // Real use while the attack connections are open.
    const realClient = attack.startsWith('derp') ? await realDerp() : await realRegister();
    await sleep(Math.max(0, 10_000 - (Date.now() - t0 - openSeconds * 1000)));
    const during = rssMB();
    const closedBy10s = closedByServer;
    for (const s of socks) s.destroy();
    await sleep(3000);
    const after3s = rssMB();
    await sleep(12_000);
    const after15s = rssMB();
    clearInterval(sampler);
    let afterGC: number | null = null;
    if (gcFlag.length) {
      child.stdin!.write('gc\n');
      await once(lines, 'line');
      await sleep(500);
      afterGC = rssMB();
    }
    results.push({
      attack,
      round,
      n: N,
      spread,
      opened,
      openSeconds: Math.round(openSeconds * 10) / 10,
      closedByServerWithin10s: closedBy10s,
      rssMB: { before: base, peak, at10s: during, after3s, after15s, ...(afterGC !== null ? { afterGC } : {}) },
      realClientDuring: realClient,
      realClientAfter: attack.startsWith('derp') ? await realDerp() : await realRegister(),
    });
  }
  child.stdin!.end();
  await once(child, 'exit');
  return results;
}
