// The command line (docs/cli.md): help, version and usage errors; a running devnet driven through its admin
// endpoint (nodes, keys, approvals) and the endpoint's guards; the per-user default state directory;
// `tsnet status` against a running node; the Ctrl-C recipe of examples/ephemeral-sigint.mjs.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as tls from 'node:tls';
import { pathToFileURL } from 'node:url';
import { defaultDevnetDir, startDevnet, type DevnetNodeInfo, type PendingLoginInfo } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server } from '../lib/server.js';

const root = path.join(__dirname, '..');
const cli = path.join(root, 'lib', 'cli.ts');
// tsx by path: the CLI also runs from other working directories.
const tsx = pathToFileURL(path.join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tsnet(args: string[], o: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Run> {
  const p = spawn(process.execPath, ['--import', tsx, cli, ...args], { env: o.env ?? process.env, cwd: o.cwd ?? root });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => p.once('close', (code) => resolve({ code, stdout, stderr })));
}

const tmp = (name: string) => fs.mkdtempSync(path.join(os.tmpdir(), `tsnet-cli-${name}-`));

interface CliDevnet {
  proc: ChildProcessWithoutNullStreams;
  controlURL: string;
  pageURL: string;
  authKey: string;
  /** With --funnel: public port → loopback address:port of the ingress. */
  funnel: Record<string, string>;
  stop(): Promise<number | null>;
}

/** `tsnet devnet ...` in a child process, once it printed its status page (the last line of its banner). */
async function cliDevnet(args: string[], o: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliDevnet> {
  const proc = spawn(process.execPath, ['--import', tsx, cli, 'devnet', ...args], { env: o.env ?? process.env, cwd: o.cwd ?? root });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  let controlURL = '';
  let pageURL = '';
  let authKey = '';
  const funnel: Record<string, string> = {};
  for await (const line of readline.createInterface({ input: proc.stdout })) {
    controlURL ||= /control URL:\s+(\S+)/.exec(line)?.[1] ?? '';
    pageURL ||= /status page:\s+(\S+)/.exec(line)?.[1] ?? '';
    authKey ||= /auth key:\s+(\S+)/.exec(line)?.[1] ?? '';
    for (const m of /Funnel:/.test(line) ? line.matchAll(/(\d+) at (\S+?),?(?=\s)/g) : []) funnel[m[1]!] = m[2]!;
    if (pageURL && line === '') break; // the banner's end
  }
  assert.ok(controlURL && pageURL, `tsnet devnet started: ${err}`);
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  return {
    proc,
    controlURL,
    pageURL,
    authKey,
    funnel,
    stop: async () => {
      proc.kill('SIGINT');
      return exited;
    },
  };
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('--help and <command> --help print usage and exit 0; --version prints the version', async () => {
  for (const args of [['--help'], ['-h'], [], ['devnet', '--help'], ['devnet', 'key', '--help'], ['devnet', 'approve', '-h'], ['status', '--help'], ['demo', '--help'], ['help', 'devnet']]) {
    const r = await tsnet(args);
    assert.equal(r.code, 0, `tsnet ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^usage: tsnet/, `tsnet ${args.join(' ')}`);
    assert.equal(r.stderr, '');
  }
  assert.match((await tsnet(['devnet', '--help'])).stdout, /--dir DIR/);
  assert.match((await tsnet(['devnet', 'key', '--help'])).stdout, /--ephemeral/);
  for (const v of ['--version', '-v']) {
    const r = await tsnet([v]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), version);
  }
});

test('usage errors: one line naming the problem, then the usage, exit 2, never a stack trace', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['devnet', '--bogus'], /^tsnet devnet: unknown option --bogus$/],
    [['--bogus'], /^tsnet: unknown option --bogus$/],
    [['frobnicate'], /^tsnet: unknown command frobnicate$/],
    [['devnet', 'key', '--tags'], /^tsnet devnet key: option --tags needs a value$/],
    [['devnet', '--port', 'eighty'], /^tsnet devnet: --port must be an integer 0\.\.65535, got eighty$/],
    [['devnet', 'frob'], /^tsnet devnet: unknown devnet command frob$/],
    [['status'], /^tsnet status: --dir DIR is required/],
    [['devnet', 'approve'], /^tsnet devnet approve: the login to approve is missing/],
  ];
  for (const [args, first] of cases) {
    const r = await tsnet(args);
    assert.equal(r.code, 2, `tsnet ${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.split('\n');
    assert.match(lines[0]!, first);
    assert.match(r.stderr, /usage: tsnet/);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
    assert.equal(r.stdout, '');
  }
  // A failure (no devnet running there) is one line with its code, exit 1.
  const none = await tsnet(['devnet', 'nodes', '--dir', path.join(os.tmpdir(), 'tsnet-cli-no-such-dir')]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^tsnet: no running devnet uses .* \(ERR_TSNET_DEVNET_NOT_RUNNING\)\n$/);
});

test('a running devnet from the CLI: keys with options, nodes, an interactive login and a key needing approval approved', { timeout: 120_000 }, async () => {
  // In this process, so the test can wait for its events; the CLI finds it through dir/admin.json all the same.
  const dir = tmp('admin');
  const dn = await startDevnet({ stateDir: dir, admin: true });
  const nodes: Server[] = [];
  try {
    // The admin file is the user's only: 0600 in a 0700 directory.
    if (process.platform !== 'win32') {
      assert.equal(fs.statSync(path.join(dir, 'admin.json')).mode & 0o777, 0o600);
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    }
    const key = await tsnet(['devnet', 'key', '--dir', dir, '--ephemeral', '--reusable', '--tags', 'tag:ci']);
    assert.equal(key.code, 0, key.stderr);
    assert.match(key.stdout, /^tskey-auth-\S+\n$/);
    const a = new Server({ hostname: 'cli-tagged', controlURL: dn.controlURL, authKey: key.stdout.trim(), ephemeral: true, store: new MemoryStore() });
    nodes.push(a);
    await a.up();
    const listed = JSON.parse((await tsnet(['devnet', 'nodes', '--dir', dir, '--json'])).stdout) as DevnetNodeInfo[];
    const mine = listed.find((n) => n.hostname === 'cli-tagged');
    assert.ok(mine, 'the node is listed');
    assert.deepEqual(mine.tags, ['tag:ci']);
    assert.equal(mine.ephemeral, true);
    assert.equal(mine.online, true);
    const table = await tsnet(['devnet', 'nodes', '--dir', dir]);
    assert.match(table.stdout, /^ID\s+NAME\s+ADDRESS/);
    assert.match(table.stdout, /cli-tagged\s+100\.64\.\d+\.\d+\s+tag:ci\s+online\s+ephemeral/);

    // An interactive login: the node prints its URL, the CLI approves it, up() resolves.
    let onURL: (u: string) => void = () => undefined;
    const loginURL = new Promise<string>((r) => (onURL = r));
    const b = new Server({
      hostname: 'cli-interactive',
      controlURL: dn.controlURL,
      store: new MemoryStore(),
      userLogf: (m) => {
        const u = /https?:\/\/\S+\/register\/[0-9a-f]+/.exec(m)?.[0];
        if (u) onURL(u);
      },
    });
    nodes.push(b);
    const bUp = b.up();
    const url = await loginURL;
    const pending = JSON.parse((await tsnet(['devnet', 'pending', '--dir', dir, '--json'])).stdout) as PendingLoginInfo[];
    assert.deepEqual(pending.map((p) => [p.hostname, p.url, p.approved]), [['cli-interactive', url, false]]);
    const approved = await tsnet(['devnet', 'approve', url.split('/').pop()!, '--dir', dir, '--user', 'alice@example.com']);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /^approved: cli-interactive \(100\.64\.\d+\.\d+, \S+\) as alice@example\.com\n$/);
    assert.equal((await bUp).backendState, 'Running');

    // A key that is not pre-authorized: the node waits until approved by name.
    const held = await tsnet(['devnet', 'key', '--dir', dir, '--not-preauthorized']);
    const c = new Server({ hostname: 'cli-held', controlURL: dn.controlURL, authKey: held.stdout.trim(), store: new MemoryStore() });
    nodes.push(c);
    const cUp = c.up();
    await dn.waitFor(() => dn.nodes().find((n) => n.hostname === 'cli-held'));
    assert.match((await tsnet(['devnet', 'nodes', '--dir', dir])).stdout, /cli-held\s.*needs-approval/);
    const ok = await tsnet(['devnet', 'approve', 'cli-held', '--dir', dir]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await cUp).backendState, 'Running');
    const again = await tsnet(['devnet', 'approve', 'cli-held', '--dir', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already approved/);

    const page = await tsnet(['devnet', 'page', '--dir', dir]);
    assert.equal(page.stdout.trim(), dn.admin!.pageURL);
  } finally {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await dn.close();
    assert.ok(!fs.existsSync(path.join(dir, 'admin.json')), 'admin.json removed on exit');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('services, routes and the policy from the CLI; tsnet devnet --funnel runs an ingress that refuses names without Funnel', { timeout: 120_000 }, async () => {
  const dir = tmp('manage');
  const dn = await startDevnet({ stateDir: dir, admin: true });
  const nodes: Server[] = [];
  try {
    const defined = await tsnet(['devnet', 'service', 'define', 'svc:web', '--dir', dir]);
    assert.equal(defined.code, 0, defined.stderr);
    assert.match(defined.stdout, /^defined svc:web: 100\.127\.254\.\d+, fd7a:/);
    const listed = JSON.parse((await tsnet(['devnet', 'services', '--dir', dir, '--json'])).stdout) as Array<{ name: string }>;
    assert.deepEqual(listed.map((x) => x.name), ['svc:web']);
    assert.match((await tsnet(['devnet', 'services', '--dir', dir])).stdout, /^NAME\s+ADDRESSES\s+HOSTS\nsvc:web\s/);
    const dup = await tsnet(['devnet', 'service', 'define', 'svc:web', '--dir', dir]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already defined/);

    // A router advertises a route; the CLI approves it, and the node's netmap then routes it there.
    const r = new Server({ hostname: 'router', controlURL: dn.controlURL, authKey: dn.createAuthKey(), store: new MemoryStore(), advertiseRoutes: ['10.77.0.0/16'] });
    nodes.push(r);
    await r.up();
    await dn.waitFor(() => dn.nodes().find((n) => n.hostname === 'router')?.advertisedRoutes?.includes('10.77.0.0/16'));
    const routes = await tsnet(['devnet', 'routes', 'approve', 'router', '10.77.0.0/16', '--dir', dir]);
    assert.equal(routes.code, 0, routes.stderr);
    assert.match(routes.stdout, /^approved for router: 10\.77\.0\.0\/16; serving now: 10\.77\.0\.0\/16\n$/);

    // The policy: printed, replaced (checked first: a broken one is refused whole), reset.
    assert.match((await tsnet(['devnet', 'policy', '--dir', dir])).stdout, /default policy/);
    const file = path.join(dir, 'policy.hujson');
    fs.writeFileSync(file, '{ // funnel for everyone\n "acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}], "nodeAttrs": [{"target": ["*"], "attr": ["funnel"]}], }');
    const set = await tsnet(['devnet', 'policy', '--set', file, '--dir', dir]);
    assert.equal(set.code, 0, set.stderr);
    assert.match((await tsnet(['devnet', 'policy', '--dir', dir])).stdout, /funnel for everyone/);
    fs.writeFileSync(file, '{"acls": [{"action": "maybe"}]}');
    const bad = await tsnet(['devnet', 'policy', '--set', file, '--dir', dir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^tsnet: the devnet refused: .*\(ERR_TSNET_DEVNET_ADMIN\)\n$/);
    assert.match(dn.policy() ?? '', /funnel for everyone/, 'the refused policy changed nothing');
    assert.equal((await tsnet(['devnet', 'policy', '--reset', '--dir', dir])).code, 0);
    assert.equal(dn.policy(), null);
    const both = await tsnet(['devnet', 'policy', '--reset', '--set', file, '--dir', dir]);
    assert.equal(both.code, 2);
  } finally {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await dn.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  // --funnel: the banner names one loopback port per public Funnel port; a name without Funnel is refused.
  const fdir = tmp('funnel');
  try {
    const cd = await cliDevnet(['--dir', fdir, '--funnel']);
    assert.deepEqual(Object.keys(cd.funnel).sort(), ['10000', '443', '8443']);
    const [host, port] = cd.funnel['443']!.split(':');
    const closed = await new Promise<string>((resolve) => {
      const c = tls.connect({ host, port: Number(port), servername: 'nobody.devnet.internal', rejectUnauthorized: false });
      c.once('secureConnect', () => resolve('handshake'));
      c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    assert.match(closed, /ECONNRESET|EPIPE|socket disconnected/i, 'the ingress closed the connection instead of handing it on');
    assert.equal(await cd.stop(), 0);
  } finally {
    fs.rmSync(fdir, { recursive: true, force: true });
  }
});

test('the admin endpoint refuses requests without its token, from browsers and for other hosts', { timeout: 60_000 }, async () => {
  const dir = tmp('guard');
  const devnet = await startDevnet({ stateDir: dir, admin: true });
  try {
    const admin = devnet.admin!;
    const file = JSON.parse(fs.readFileSync(path.join(dir, 'admin.json'), 'utf8')) as { url: string; token: string; pageURL: string };
    assert.deepEqual([file.url, file.token, file.pageURL], [admin.url, admin.token, admin.pageURL]);
    assert.match(admin.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const auth = { Authorization: `Bearer ${admin.token}` };
    assert.equal((await get(`${admin.url}/api/v0/nodes`, auth)).status, 200);
    assert.equal((await get(`${admin.url}/api/v0/nodes`)).status, 401);
    assert.equal((await get(`${admin.url}/api/v0/nodes`, { Authorization: `Bearer ${'0'.repeat(64)}` })).status, 403);
    assert.equal((await get(`${admin.url}/api/v0/nodes`, { ...auth, Origin: 'http://evil.example' })).status, 403);
    assert.equal((await get(`${admin.url}/api/v0/nodes`, { ...auth, Host: 'evil.example:80' })).status, 403);
    // Bad bodies are 400 with a reason, not a crash.
    const post = (body: string) => get(`${admin.url}/api/v0/keys`, { ...auth, 'Content-Type': 'application/json' }, 'POST', body);
    assert.equal((await post('{"reusable":"yes"}')).status, 400);
    assert.deepEqual(JSON.parse((await post('{"authkey":1}')).body), { error: 'unknown field "authkey"' });
    assert.equal((await post('not json')).status, 400);
    assert.equal((await post('{"tags":["nottag"]}')).status, 400);
    assert.match(JSON.parse((await post('{"ephemeral":true}')).body).key as string, /^tskey-auth-/);
    // The page: its own token, loopback Host only, GET only.
    const pageBase = `${admin.url}/`;
    assert.equal((await get(pageBase)).status, 401);
    assert.equal((await get(`${pageBase}?token=${admin.token}`)).status, 403, 'the API token is not the page token');
    assert.equal((await get(admin.pageURL, { Host: 'evil.example:80' })).status, 403);
    assert.equal((await get(admin.pageURL, {}, 'POST')).status, 405);
    const ok = await get(admin.pageURL);
    assert.equal(ok.status, 200);
    assert.match(String(ok.headers['content-security-policy']), /default-src 'none'; style-src 'sha256-/);
  } finally {
    await devnet.close();
    assert.ok(!fs.existsSync(path.join(dir, 'admin.json')));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('tsnet devnet keeps its state in a per-user directory, not in the directory it was started from', { timeout: 60_000 }, async () => {
  const cwd = tmp('cwd');
  const state = tmp('xdg');
  const home = tmp('home');
  try {
    const env = { ...process.env, XDG_STATE_HOME: state, HOME: home };
    const dn = await cliDevnet([], { env, cwd });
    const dir = path.join(state, 'tsnet', 'devnet');
    assert.ok(fs.existsSync(path.join(dir, 'devnet-state.json')), 'state under $XDG_STATE_HOME/tsnet/devnet');
    assert.deepEqual(fs.readdirSync(cwd), [], 'nothing written where it was started');
    // The other commands find it there without --dir.
    const nodes = await tsnet(['devnet', 'nodes'], { env, cwd });
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.equal(nodes.stdout, 'no nodes\n');
    // A second devnet on the same state would overwrite it: refused.
    const second = await tsnet(['devnet'], { env, cwd });
    assert.equal(second.code, 1);
    assert.match(second.stderr, /^tsnet: a devnet already runs with .*\(ERR_TSNET_DEVNET_RUNNING\)\n$/);
    assert.equal(await dn.stop(), 0);
  } finally {
    for (const d of [cwd, state, home]) fs.rmSync(d, { recursive: true, force: true });
  }
  // Without XDG_STATE_HOME, per platform under the home directory.
  const home2 = os.homedir();
  assert.equal(defaultDevnetDir({}, 'linux'), path.join(home2, '.local', 'state', 'tsnet', 'devnet'));
  assert.equal(defaultDevnetDir({ XDG_STATE_HOME: 'relative' }, 'linux'), path.join(home2, '.local', 'state', 'tsnet', 'devnet'));
  assert.equal(defaultDevnetDir({}, 'darwin'), path.join(home2, 'Library', 'Application Support', 'tsnet', 'devnet'));
  assert.equal(defaultDevnetDir({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32'), 'C:\\Users\\u\\AppData\\Local\\tsnet\\devnet');
});

test('tsnet status shows a running node (peers, path, traffic, health); Ctrl-C logs the ephemeral node out', { timeout: 120_000 }, async () => {
  // A long ephemeral timeout: the node can only disappear at once by logging out.
  const devnet = await startDevnet({ ephemeralTimeoutMs: 10 * 60_000 });
  const nodeDir = tmp('node');
  const peer = new Server({ hostname: 'status-peer', controlURL: devnet.controlURL, authKey: devnet.createAuthKey({ ephemeral: true }), ephemeral: true, store: new MemoryStore() });
  let worker: ChildProcessWithoutNullStreams | undefined;
  try {
    await peer.up();
    const env = { ...process.env, TS_CONTROL_URL: devnet.controlURL, TS_AUTHKEY: devnet.createAuthKey({ ephemeral: true }), TSNET_DIR: nodeDir, TSNET_HOSTNAME: 'status-worker' };
    worker = spawn(process.execPath, [path.join(root, 'examples', 'ephemeral-sigint.mjs')], { env, cwd: root });
    let err = '';
    worker.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => worker!.once('exit', (c) => r(c)));
    for await (const line of readline.createInterface({ input: worker.stdout })) if (/^up as /.test(line)) break;
    assert.ok(fs.existsSync(path.join(nodeDir, 'localapi.json')), `the node advertised its LocalAPI: ${err}`);

    // Some traffic, so the status has bytes to show.
    const res = await peer.fetch('http://status-worker/');
    assert.equal(await res.text(), 'hello from worker\n');

    const st = await tsnet(['status', '--dir', nodeDir]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /^ADDRESS\s+NAME\s+ROLE\s+STATE\s+PATH/);
    assert.match(st.stdout, /100\.64\.\d+\.\d+\s+status-worker\s+self\s+Running/);
    assert.match(st.stdout, /100\.64\.\d+\.\d+\s+status-peer\s+peer\s+online\s+(direct \S+:\d+|relay "\w+")\s+tx [1-9]\d* rx [1-9]\d*/);
    assert.match(st.stdout, /# Health: ok/);
    const json = JSON.parse((await tsnet(['status', '--dir', nodeDir, '--json'])).stdout) as { BackendState: string; Health: string[]; peers: Array<{ hostName: string }> };
    assert.equal(json.BackendState, 'Running');
    assert.deepEqual(json.Health, []);
    assert.deepEqual(json.peers.map((p) => p.hostName), ['status-peer']);
    const web = await tsnet(['status', '--dir', nodeDir, '--web']);
    assert.match(web.stdout, /^http:\/\/127\.0\.0\.1:\d+\/status\?token=[0-9a-f]{32}\n$/);
    const page = await get(web.stdout.trim());
    assert.equal(page.status, 200);
    assert.match(page.body, /status-peer/);

    // The recipe: SIGINT closes the server, which logs the ephemeral node out; the devnet drops it at once.
    assert.ok(devnet.nodes().some((n) => n.hostname === 'status-worker'));
    worker.kill('SIGINT');
    assert.equal(await exited, 130, err);
    await devnet.waitFor(() => !devnet.nodes().some((n) => n.hostname === 'status-worker'), 5_000);
    assert.ok(!fs.existsSync(path.join(nodeDir, 'localapi.json')), 'localapi.json removed on close');
    const gone = await tsnet(['status', '--dir', nodeDir]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no running node uses .*ERR_TSNET_NODE_NOT_RUNNING/);
  } finally {
    worker?.kill('SIGKILL');
    await peer.close();
    await devnet.close();
    fs.rmSync(nodeDir, { recursive: true, force: true });
  }
});
