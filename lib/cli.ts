#!/usr/bin/env node
// The tsnet command line: `tsnet demo` (two nodes on a bundled development tailnet) and `tsnet devnet`
// (run the development tailnet for other programs).
import * as http from 'node:http';
import * as path from 'node:path';
import { startDevnet } from './devnet/index.js';
import { MemoryStore } from './control/store.js';
import { DEFAULT_CONTROL_URL, Server } from './server.js';

const usage = `usage:
  tsnet demo                 start a development tailnet and two nodes; one serves a page, the other fetches it
  tsnet devnet [--dir DIR] [--port N]
                             run the development tailnet (control server) until interrupted; prints its URL and
                             an auth key. For development and tests: production uses Tailscale or Headscale.`;

async function demo(): Promise<void> {
  const t0 = Date.now();
  const ms = () => `${String(Date.now() - t0).padStart(5)} ms`;
  const say = (m: string) => console.log(`${ms()}  ${m}`);
  // With TS_AUTHKEY (a reusable key) the demo joins that tailnet (TS_CONTROL_URL, else Tailscale's);
  // otherwise it starts the bundled development tailnet.
  const real = process.env.TS_AUTHKEY;
  const devnet = real ? null : await startDevnet();
  const controlURL = devnet?.controlURL ?? process.env.TS_CONTROL_URL ?? DEFAULT_CONTROL_URL;
  say(devnet ? `development tailnet up at ${controlURL}` : `joining the tailnet at ${controlURL} with TS_AUTHKEY`);
  const authKey = real ?? devnet!.createAuthKey({ reusable: true, ephemeral: true });
  const suffix = real ? `-${process.pid}` : '';
  const node = (hostname: string) =>
    new Server({ hostname: `${hostname}${suffix}`, controlURL, authKey, ephemeral: true, store: new MemoryStore() });
  const web = node('web');
  const client = node('client');
  try {
    const [ws, cs] = await Promise.all([web.up(), client.up()]);
    say(`node "web" joined as ${ws.tailscaleIPs.join(', ')}`);
    say(`node "client" joined as ${cs.tailscaleIPs.join(', ')}`);

    const ln = web.listen('tcp', ':80');
    ln.serve(http.createServer((req, res) => {
      const who = web.whoIs(req.socket);
      const name = who?.node.Name?.split('.')[0] ?? req.socket.remoteAddress;
      res.end(`Hello, ${name} (${who?.userProfile?.LoginName ?? 'unknown user'})! This page came over WireGuard inside Node.\n`);
    }));
    say('web serves http://web/ on the tailnet (userspace TCP/IP, WireGuard over UDP, no root, no TUN)');

    const body = await (await client.fetch(`http://web${suffix}/`)).text();
    say(`client fetched http://web${suffix}/ by its MagicDNS name:\n\n    ${body.trim()}\n`);
    const peer = client.status()?.peers.find((p) => p.dnsName.startsWith(`web${suffix}.`));
    if (peer) say(peer.curAddr ? `path: direct UDP to ${peer.curAddr} (disco)` : `path: through the DERP relay "${peer.relay}"`);
    ln.close();
  } finally {
    await Promise.allSettled([web.close(), client.close()]);
    await devnet?.close();
  }
  say(`done: both nodes logged out (ephemeral)${devnet ? ' and the development tailnet stopped' : ''}`);
}

async function devnetMain(args: string[]): Promise<void> {
  let dir = path.resolve('.tsnet-devnet');
  let port = 0;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--dir') dir = path.resolve(args[++i] ?? '');
    else if (args[i] === '--port') port = Number(args[++i]);
    else throw new TypeError(`unknown option ${args[i]}\n${usage}`);
  }
  const devnet = await startDevnet({ stateDir: dir, port });
  const key = devnet.createAuthKey({ reusable: true });
  const relay = devnet.relay?.derpMapOptions;
  console.log(`tsnet development tailnet (for development and tests; production uses Tailscale or Headscale)
  control URL:  ${devnet.controlURL}
  auth key:     ${key}
  state:        ${dir}${relay ? `\n  DERP relay:   https://${relay.host ?? '127.0.0.1'}:${relay.derpPort} (self-signed)` : ''}${relay && (relay.stunPort ?? -1) > 0 ? `\n  STUN:         udp ${relay.host ?? '127.0.0.1'}:${relay.stunPort}` : ''}

  TS_CONTROL_URL=${devnet.controlURL} TS_AUTHKEY=${key} node your-program.js
`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await devnet.close();
}

async function main(): Promise<void> {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'demo') await demo();
  else if (cmd === 'devnet') await devnetMain(args);
  else {
    console.log(usage);
    process.exitCode = cmd === undefined || cmd === 'help' || cmd === '--help' ? 0 : 2;
  }
}

main().catch((err: unknown) => {
  console.error(`tsnet: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
});
