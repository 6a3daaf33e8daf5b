#!/usr/bin/env node
// The tsnet command line (docs/cli.md): `tsnet demo`, `tsnet devnet` (run the development tailnet, and talk to
// a running one through its admin endpoint), `tsnet status` (a running node, through its LocalAPI).
// Usage errors print one line and the command's usage, and exit 2; failures print one line and exit 1.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { startDevnet, type DevnetNodeInfo, type PendingLoginInfo } from './devnet/index.js';
import { callDevnetAdmin, findDevnetAdmin } from './devnet/admin-client.js';
import { findLocalAPI, localAPIGet } from './loopback/localapi-file.js';
import { STATUS_PAGE_PATH } from './loopback/status-http.js';
import { MemoryStore } from './control/store.js';
import { DEFAULT_CONTROL_URL, Server } from './server.js';
import { DEVNET_MANAGE_USAGE, devnetManageCommand } from './cli/devnet-manage.js';
import { DIR, devnetDir, HelpRequest, UsageError, intOption, parse, printTable, str, tagList } from './cli/args.js';


const USAGE: Record<string, string> = {
  '': `usage: tsnet <command> [options]

commands:
  demo                 start a development tailnet and two nodes; one serves a page, the other fetches it
  devnet               run the development tailnet (control server, DERP relay, STUN) until interrupted
  devnet nodes         list the nodes of a running devnet
  devnet pending       list the interactive logins waiting for approval
  devnet key           mint an auth key on a running devnet
  devnet approve ID    approve a waiting login (its URL or ID) or a node waiting for approval
  devnet page          print the URL of the running devnet's status page
  devnet services      list its Tailscale Services (devnet service define|approve to change them)
  devnet routes        approve subnet routes and exit nodes
  devnet policy        print or replace its ACL policy
  status --dir DIR     show a running node: peers, paths, traffic, health (through its LocalAPI)

options:
  -h, --help           show usage (also after a command: tsnet devnet key --help)
  -v, --version        print the version

Details and examples: docs/cli.md.`,
  demo: `usage: tsnet demo

Starts a development tailnet and two nodes, "web" and "client"; client fetches web's page by its MagicDNS name.
With TS_AUTHKEY (a reusable key) it joins that tailnet instead (TS_CONTROL_URL, else Tailscale's).`,
  devnet: `usage: tsnet devnet [--dir DIR] [--port N] [--admin-port N] [--funnel]

Runs the development tailnet until interrupted (Ctrl-C); prints its control URL, an auth key and the status
page. For development and tests: production uses Tailscale or Headscale.

  ${DIR(15)}
  --port N       control server TCP port on 127.0.0.1 (default: any free port)
  --admin-port N admin endpoint and status page TCP port on 127.0.0.1 (default: any free port)
  --funnel       also run a Funnel ingress on loopback standing in for Tailscale's (one loopback port per
                 public port 443, 8443, 10000); nodes need the "funnel" attribute from the policy

On a running devnet (found through DIR/admin.json): tsnet devnet nodes|pending|key|approve|page|services|
service|routes|policy.`,
  'devnet nodes': `usage: tsnet devnet nodes [--dir DIR] [--json]

Lists the nodes of the running devnet.

  ${DIR(13)}
  --json       print the nodes as JSON`,
  'devnet pending': `usage: tsnet devnet pending [--dir DIR] [--json]

Lists the interactive logins waiting for approval (nodes started without a pre-authorized key).

  ${DIR(13)}
  --json       print them as JSON`,
  'devnet key': `usage: tsnet devnet key [--dir DIR] [--reusable] [--ephemeral] [--tags TAGS] [--user LOGIN]
                       [--not-preauthorized] [--expiry SECONDS] [--description TEXT]

Mints an auth key ("tskey-auth-…") on the running devnet and prints it.

  ${DIR(22)}
  --reusable            the key may register many nodes (default: one)
  --ephemeral           nodes registered with it are removed when they log out or stay offline
  --tags TAGS           comma separated ACL tags for its nodes, e.g. tag:server,tag:ci
  --user LOGIN          the owner (default dev@example.com)
  --not-preauthorized   its nodes wait for approval (tsnet devnet approve)
  --expiry SECONDS      lifetime of the key (default 90 days; 0: never expires)
  --description TEXT    a note kept with the key`,
  'devnet approve': `usage: tsnet devnet approve <URL|ID|NODE> [--dir DIR] [--user LOGIN] [--tags TAGS]

Approves a waiting interactive login (see tsnet devnet pending) by its approval URL or ID, or a node registered
with a key that is not pre-authorized (see tsnet devnet nodes) by its ID or name.

  ${DIR(15)}
  --user LOGIN   log the machine in as this user (default dev@example.com)
  --tags TAGS    comma separated ACL tags for the machine`,
  'devnet page': `usage: tsnet devnet page [--dir DIR]

Prints the URL of the running devnet's status page (nodes, paths, relayed traffic, pending logins, ACL policy).

  ${DIR(13)}`,
  ...DEVNET_MANAGE_USAGE,
  status: `usage: tsnet status --dir DIR [--json] [--web]

Shows a running node through its LocalAPI: itself, its peers with their paths (direct or relay) and traffic,
and its health. The node must have called server.loopback(); it then writes DIR/localapi.json.

  --dir DIR    the node's state directory (its Server's \`dir\`)
  --json       print the LocalAPI's status as JSON
  --web        print the URL of the node's status page instead`,
};

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

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

async function devnetRun(args: string[]): Promise<void> {
  const { values } = parse('devnet', args, { dir: { type: 'string' }, port: { type: 'string' }, 'admin-port': { type: 'string' }, funnel: { type: 'boolean' } });
  const dir = devnetDir(values);
  const port = intOption('devnet', 'port', values.port, 65535) ?? 0;
  const adminPort = intOption('devnet', 'admin-port', values['admin-port'], 65535) ?? 0;
  // Two devnets on one state directory would overwrite each other's state.
  const running = await findDevnetAdmin(dir).then((ep) => callDevnetAdmin(ep, 'nodes').then(() => ep), () => null);
  if (running) {
    throw Object.assign(new Error(`a devnet already runs with ${dir} (${running.url}); stop it, or pass another --dir`), { code: 'ERR_TSNET_DEVNET_RUNNING' });
  }
  const devnet = await startDevnet({ stateDir: dir, port, admin: { port: adminPort } });
  const key = devnet.createAuthKey({ reusable: true });
  const relay = devnet.relay?.derpMapOptions;
  // The ingress reaches funnel nodes over the tailnet through a node of its own (lib/devnet/funnel-ingress.ts).
  let ingressNode: Server | null = null;
  let funnel = '';
  if (values.funnel) {
    ingressNode = new Server({ hostname: 'funnel-ingress', controlURL: devnet.controlURL, authKey: devnet.createAuthKey({ ephemeral: true }), ephemeral: true, store: new MemoryStore() });
    try {
      await ingressNode.up();
      const ingress = await devnet.startFunnelIngress({ node: ingressNode });
      funnel = `\n  Funnel:       ${Object.entries(ingress.addresses).map(([pub, a]) => `${pub} at ${a}`).join(', ')} (TLS with the node's name as SNI; nodes need the "funnel" attribute)`;
    } catch (e) {
      await Promise.allSettled([ingressNode.close(), devnet.close()]);
      throw e;
    }
  }
  console.log(`tsnet development tailnet (for development and tests; production uses Tailscale or Headscale)
  control URL:  ${devnet.controlURL}
  auth key:     ${key}
  state:        ${dir}${relay ? `\n  DERP relay:   https://${relay.host ?? '127.0.0.1'}:${relay.derpPort} (self-signed)` : ''}${relay && (relay.stunPort ?? -1) > 0 ? `\n  STUN:         udp ${relay.host ?? '127.0.0.1'}:${relay.stunPort}` : ''}
  status page:  ${devnet.admin?.pageURL ?? '(none)'}${funnel}

  TS_CONTROL_URL=${devnet.controlURL} TS_AUTHKEY=${key} node your-program.js
  tsnet devnet nodes | pending | key | approve ID${values.dir === undefined ? '' : ` --dir ${dir}`}
`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await ingressNode?.close();
  await devnet.close();
}

function printNodes(nodes: DevnetNodeInfo[]): void {
  if (!nodes.length) return void console.log('no nodes');
  const rows = nodes.map((n) => [
    String(n.id),
    n.hostname || n.name,
    n.addresses[0] ?? '',
    n.tags.length ? n.tags.join(',') : n.user,
    !n.authorized ? 'needs-approval' : n.expired ? 'expired' : n.online ? 'online' : 'offline',
    n.ephemeral ? 'ephemeral' : '-',
    n.endpoints.length ? `${n.endpoints.length} endpoints, DERP ${n.homeDERP}` : `DERP ${n.homeDERP}`,
  ]);
  printTable(['ID', 'NAME', 'ADDRESS', 'OWNER', 'STATE', 'KIND', 'PATHS'], rows);
}

async function devnetCommand(sub: string, args: string[]): Promise<void> {
  const cmd = `devnet ${sub}`;
  const dirOpt = { dir: { type: 'string' } } as const;
  if (sub === 'nodes' || sub === 'pending') {
    const { values } = parse(cmd, args, { ...dirOpt, json: { type: 'boolean' } });
    const ep = await findDevnetAdmin(devnetDir(values));
    const list = await callDevnetAdmin(ep, sub);
    if (values.json) return void console.log(JSON.stringify(list, null, 2));
    if (sub === 'nodes') return printNodes(list as DevnetNodeInfo[]);
    const pending = (list as PendingLoginInfo[]).filter((p) => !p.approved);
    if (!pending.length) return void console.log('no logins waiting');
    printTable(['ID', 'MACHINE', 'ASKED', 'URL'], pending.map((p) => [p.id, p.hostname || '(unnamed)', p.created, p.url]));
    return;
  }
  if (sub === 'key') {
    const { values } = parse(cmd, args, {
      ...dirOpt,
      reusable: { type: 'boolean' },
      ephemeral: { type: 'boolean' },
      'not-preauthorized': { type: 'boolean' },
      tags: { type: 'string' },
      user: { type: 'string' },
      expiry: { type: 'string' },
      description: { type: 'string' },
    });
    const expiry = intOption(cmd, 'expiry', values.expiry, 10 * 365 * 86400);
    const body = {
      ...(values.reusable ? { reusable: true } : {}),
      ...(values.ephemeral ? { ephemeral: true } : {}),
      ...(values['not-preauthorized'] ? { preauthorized: false } : {}),
      ...(tagList(values.tags) ? { tags: tagList(values.tags) } : {}),
      ...(str(values.user) ? { user: str(values.user) } : {}),
      ...(str(values.description) !== undefined ? { description: str(values.description) } : {}),
      ...(expiry !== undefined ? { expiryMs: expiry * 1000 } : {}),
    };
    const ep = await findDevnetAdmin(devnetDir(values));
    const { key } = (await callDevnetAdmin(ep, 'keys', body)) as { key: string };
    console.log(key);
    return;
  }
  if (sub === 'approve') {
    const { values, positionals } = parse(cmd, args, { ...dirOpt, user: { type: 'string' }, tags: { type: 'string' } }, 1);
    const login = positionals[0];
    if (!login) throw new UsageError('the login to approve is missing (its URL or ID; see tsnet devnet pending)', cmd);
    const ep = await findDevnetAdmin(devnetDir(values));
    const node = (await callDevnetAdmin(ep, 'approve', { login, ...(str(values.user) ? { user: str(values.user) } : {}), ...(tagList(values.tags) ? { tags: tagList(values.tags) } : {}) })) as DevnetNodeInfo;
    console.log(`approved: ${node.hostname || node.name} (${node.addresses.join(', ')}) as ${node.tags.length ? node.tags.join(',') : node.user}`);
    return;
  }
  if (sub === 'page') {
    const { values } = parse(cmd, args, dirOpt);
    const ep = await findDevnetAdmin(devnetDir(values));
    await callDevnetAdmin(ep, 'nodes'); // running, not a stale file
    console.log(ep.pageURL);
    return;
  }
  if (await devnetManageCommand(sub, args)) return;
  throw new UsageError(`unknown devnet command ${sub}`, 'devnet');
}

interface StatusPeerJSON {
  hostName?: string;
  dnsName?: string;
  tailscaleIPs?: string[];
  online?: boolean | null;
  curAddr?: string;
  relay?: string;
  rxBytes?: number;
  txBytes?: number;
  lastHandshake?: string | null;
}

interface StatusJSON {
  BackendState?: string;
  TailscaleIPs?: string[];
  Health?: string[];
  self?: { Name?: string; Hostinfo?: { OS?: string } };
  peers?: StatusPeerJSON[];
}

async function status(args: string[]): Promise<void> {
  const { values } = parse('status', args, { dir: { type: 'string' }, json: { type: 'boolean' }, web: { type: 'boolean' } });
  const dir = str(values.dir);
  if (!dir) throw new UsageError('--dir DIR is required (the node\'s state directory)', 'status');
  const ep = await findLocalAPI(path.resolve(dir));
  const st = (await localAPIGet(ep, '/localapi/v0/status')) as StatusJSON;
  if (values.web) return void console.log(`http://${ep.address}${STATUS_PAGE_PATH}?token=${ep.credential}`);
  if (values.json) return void console.log(JSON.stringify(st, null, 2));
  const short = (n: string | undefined) => (n ?? '').replace(/\.$/, '').split('.')[0] ?? '';
  const rows = [[st.TailscaleIPs?.[0] ?? '-', short(st.self?.Name) || '-', 'self', st.BackendState ?? '?', '-', '-']];
  for (const p of st.peers ?? []) {
    const pathText = p.curAddr ? `direct ${p.curAddr}` : p.relay ? `relay "${p.relay}"` : '-';
    const state = p.online === true ? 'online' : p.online === false ? 'offline' : '-';
    rows.push([p.tailscaleIPs?.[0] ?? '-', p.hostName || short(p.dnsName) || '-', 'peer', state, pathText, `tx ${p.txBytes ?? 0} rx ${p.rxBytes ?? 0}`]);
  }
  printTable(['ADDRESS', 'NAME', 'ROLE', 'STATE', 'PATH', 'TRAFFIC (bytes)'], rows);
  const health = st.Health ?? [];
  console.log(health.length ? `\n# Health:\n${health.map((h) => `#     - ${h}`).join('\n')}` : '\n# Health: ok');
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...args] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h') return void console.log(USAGE['']);
  if (cmd === 'help') {
    const topic = args.join(' ');
    if (!(topic in USAGE)) throw new UsageError(`no help for ${topic}`, '');
    return void console.log(USAGE[topic]);
  }
  if (cmd === '--version' || cmd === '-v' || cmd === 'version') return void console.log(version());
  if (cmd === 'demo') {
    parse('demo', args, {});
    return demo();
  }
  if (cmd === 'devnet') {
    const sub = args[0];
    if (sub !== undefined && !sub.startsWith('-')) return devnetCommand(sub, args.slice(1));
    return devnetRun(args);
  }
  if (cmd === 'status') return status(args);
  throw new UsageError(cmd.startsWith('-') ? `unknown option ${cmd}` : `unknown command ${cmd}`, '');
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof HelpRequest) {
    console.log(USAGE[err.command]);
    return;
  }
  if (err instanceof UsageError) {
    console.error(`tsnet${err.command ? ` ${err.command}` : ''}: ${err.message}\n\n${USAGE[err.command] ?? USAGE['']}`);
    process.exitCode = 2;
    return;
  }
  // One line; the stack only when asked for (TSNET_DEBUG=1), for bugs rather than failures.
  const e = err as Error & { code?: string };
  console.error(`tsnet: ${e?.message ?? String(err)}${e?.code ? ` (${e.code})` : ''}`);
  if (process.env.TSNET_DEBUG) console.error(e?.stack);
  process.exitCode = 1;
});
