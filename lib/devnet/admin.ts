// The devnet's admin endpoint (docs/cli.md, "tsnet devnet"): a second HTTP listener, always on 127.0.0.1,
// for the CLI (`tsnet devnet nodes|key|approve|pending`) and the status page. Nothing on it is open:
// - the JSON API under /api/v0/ needs "Authorization: Bearer <token>" (a browser cannot send it cross-origin
//   without a CORS preflight, which is never answered) and refuses requests with an Origin header;
// - the page at / needs ?token=<page token>, a separate read-only token.
// Both tokens are random per start and written, with the URL, into <stateDir>/admin.json (mode 0600): only
// the user who can read the state directory can use them.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loopbackHost, pageDenied, sameSecret } from '../util/page-access.js';
import { PAGE_HEADERS } from '../util/web-page.js';
import { removePrivateJSON, writePrivateJSON } from '../util/private-file.js';
import { readJSONObject, sendJSON, sendText } from './http-util.js';
import type { Devnet } from './index.js';
import { registrationIdFrom } from './approval-page.js';
import { servicesAPI } from './admin-services.js';
import { StateError } from './state.js';
import { devnetPage } from './status-page.js';

export const ADMIN_FILE = 'admin.json';
export const ADMIN_FORMAT = 'tsnet-devnet-admin';

/** Where the admin endpoint is and its credentials (also what admin.json holds). */
export interface DevnetAdminInfo {
  /** "http://127.0.0.1:<port>" */
  url: string;
  /** Bearer token for the JSON API (mint keys, approve logins). */
  token: string;
  /** The status page, token included: "http://127.0.0.1:<port>/?token=…". */
  pageURL: string;
}

export interface DevnetAdminOptions {
  /** TCP port on 127.0.0.1; default 0 (any free port). */
  port?: number;
}

export interface DevnetAdmin {
  readonly info: DevnetAdminInfo;
  close(): Promise<void>;
}

/** The parts of the devnet the admin endpoint uses (a Devnet without its admin). */
export type AdminTarget = Omit<Devnet, 'admin'>;

function stringList(v: unknown): string[] | null {
  return Array.isArray(v) && v.every((t) => typeof t === 'string') ? (v as string[]) : null;
}

const KEY_FIELDS = ['reusable', 'ephemeral', 'preauthorized', 'tags', 'user', 'expiryMs', 'description'] as const;
const APPROVE_FIELDS = ['login', 'user', 'tags'] as const;

async function api(devnet: AdminTarget, req: http.IncomingMessage, res: http.ServerResponse, route: string): Promise<void> {
  const get = req.method === 'GET' || req.method === 'HEAD';
  if (await servicesAPI(devnet, req, res, route)) return; // admin-services.ts
  if (route === 'nodes' && get) return sendJSON(res, 200, devnet.nodes());
  if (route === 'pending' && get) return sendJSON(res, 200, devnet.pendingLogins());
  if (route === 'status' && get) {
    return sendJSON(res, 200, { controlURL: devnet.controlURL, domain: devnet.domain, nodes: devnet.nodes(), pending: devnet.pendingLogins(), policy: devnet.policy() });
  }
  if (route === 'policy' && get) return sendJSON(res, 200, { policy: devnet.policy() });
  if (route === 'policy' && req.method === 'POST') {
    // {policy: HuJSON text} replaces the policy; {policy: null} restores the default (allow all).
    const o = await readJSONObject(req, res, 1024 * 1024, ['policy']);
    if (!o) return;
    if (o.policy !== null && typeof o.policy !== 'string') return sendJSON(res, 400, { error: '"policy" must be the policy\'s HuJSON text, or null for the default' });
    try {
      devnet.setPolicy(o.policy);
    } catch (e) {
      return sendJSON(res, 400, { error: (e as Error).message }); // the policy did not parse, or its tests failed
    }
    return sendJSON(res, 200, { policy: devnet.policy() });
  }
  if ((route === 'keys' || route === 'approve') && req.method === 'POST') {
    const o = await readJSONObject(req, res, 64 * 1024, route === 'keys' ? KEY_FIELDS : APPROVE_FIELDS);
    if (!o) return;
    if (route === 'keys') {
      for (const k of ['reusable', 'ephemeral', 'preauthorized'] as const) {
        if (o[k] !== undefined && typeof o[k] !== 'boolean') return sendJSON(res, 400, { error: `"${k}" must be a boolean` });
      }
      for (const k of ['user', 'description'] as const) {
        if (o[k] !== undefined && typeof o[k] !== 'string') return sendJSON(res, 400, { error: `"${k}" must be a string` });
      }
      if (o.expiryMs !== undefined && !(Number.isInteger(o.expiryMs) && (o.expiryMs as number) >= 0)) {
        return sendJSON(res, 400, { error: '"expiryMs" must be a non-negative integer' });
      }
      const tags = o.tags === undefined ? undefined : stringList(o.tags);
      if (tags === null) return sendJSON(res, 400, { error: '"tags" must be an array of strings' });
      try {
        const key = devnet.createAuthKey({
          ...(o.reusable !== undefined ? { reusable: o.reusable as boolean } : {}),
          ...(o.ephemeral !== undefined ? { ephemeral: o.ephemeral as boolean } : {}),
          ...(o.preauthorized !== undefined ? { preauthorized: o.preauthorized as boolean } : {}),
          ...(o.user !== undefined ? { user: o.user as string } : {}),
          ...(o.description !== undefined ? { description: o.description as string } : {}),
          ...(o.expiryMs !== undefined ? { expiryMs: o.expiryMs as number } : {}),
          ...(tags ? { tags } : {}),
        });
        return sendJSON(res, 200, { key });
      } catch (e) {
        return sendJSON(res, e instanceof StateError || e instanceof TypeError || e instanceof RangeError ? 400 : 500, { error: (e as Error).message });
      }
    }
    if (typeof o.login !== 'string') return sendJSON(res, 400, { error: '"login" (the approval URL or its ID) must be a string' });
    if (o.user !== undefined && typeof o.user !== 'string') return sendJSON(res, 400, { error: '"user" must be a string' });
    const tags = o.tags === undefined ? undefined : stringList(o.tags);
    if (tags === null) return sendJSON(res, 400, { error: '"tags" must be an array of strings' });
    try {
      if (registrationIdFrom(o.login)) {
        return sendJSON(res, 200, devnet.approve(o.login, { ...(o.user ? { user: o.user as string } : {}), ...(tags ? { tags } : {}) }));
      }
      // Else a node registered with a key that is not pre-authorized, by its ID or name.
      const want = o.login.toLowerCase();
      const node = devnet.nodes().find((n) => String(n.id) === want || n.hostname.toLowerCase() === want || n.name.toLowerCase() === want);
      if (!node) return sendJSON(res, 404, { error: `no waiting login or node "${o.login}" (see tsnet devnet pending and tsnet devnet nodes)` });
      if (node.authorized) return sendJSON(res, 409, { error: `node ${node.hostname || node.id} is already approved` });
      if (o.user !== undefined || tags) return sendJSON(res, 400, { error: 'user and tags apply to interactive logins only; this node has its owner already' });
      devnet.authorizeNode(node.id);
      return sendJSON(res, 200, devnet.nodes().find((n) => n.id === node.id));
    } catch (e) {
      return sendJSON(res, e instanceof StateError ? 404 : 500, { error: (e as Error).message });
    }
  }
  if (['nodes', 'pending', 'status', 'keys', 'approve', 'policy'].includes(route)) return sendJSON(res, 405, { error: `method ${req.method} not allowed here` });
  return sendJSON(res, 404, { error: `unknown admin API path /api/v0/${route}` });
}

function pageData(devnet: AdminTarget): Parameters<typeof devnetPage>[0] {
  const relay = devnet.relay;
  const stats = relay?.derp.stats();
  const stun = relay?.stun;
  return {
    controlURL: devnet.controlURL,
    domain: devnet.domain,
    relayURL: relay?.derp.url ?? null,
    stun: stun ? `udp ${relay.derpMapOptions.host ?? '127.0.0.1'}:${relay.derpMapOptions.stunPort}` : null,
    nodes: devnet.nodes(),
    pending: devnet.pendingLogins(),
    policy: devnet.policy(),
    traffic: relay?.derp.clientTraffic() ?? new Map(),
    relay: stats ? { clients: stats.clients, packetsForwarded: stats.packetsForwarded, bytesForwarded: stats.bytesForwarded } : null,
    now: Date.now(),
  };
}

/** Starts the admin listener on 127.0.0.1; with a state directory, writes admin.json into it. */
export async function startDevnetAdmin(devnet: AdminTarget, o: DevnetAdminOptions, stateDir: string | undefined): Promise<DevnetAdmin> {
  const token = crypto.randomBytes(32).toString('hex');
  const pageToken = crypto.randomBytes(16).toString('hex');
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path.startsWith('/api/v0/')) {
      // Browsers always send Origin on cross-origin POSTs and on fetches; the CLI never does.
      if (req.headers.origin !== undefined || !loopbackHost(req.headers.host)) return sendJSON(res, 403, { error: 'not from a browser, and only on loopback' });
      const m = /^Bearer ([0-9a-f]{1,128})$/.exec(req.headers.authorization ?? '');
      if (!m) return sendJSON(res, 401, { error: `needs "Authorization: Bearer <token>" (the token is in ${ADMIN_FILE} in the devnet's state directory)` });
      if (!sameSecret(m[1]!, token)) return sendJSON(res, 403, { error: 'wrong token' });
      api(devnet, req, res, path.slice('/api/v0/'.length)).catch((e: unknown) => sendJSON(res, 500, { error: (e as Error).message }));
      return;
    }
    if (path !== '/') return sendText(res, 404, 'not found');
    const denied = pageDenied(req, pageToken);
    if (denied) return sendText(res, denied.status, denied.message);
    const body = devnetPage(pageData(devnet));
    res.writeHead(200, { ...PAGE_HEADERS, 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const info: DevnetAdminInfo = { url, token, pageURL: `${url}/?token=${pageToken}` };
  try {
    if (stateDir) await writePrivateJSON(stateDir, ADMIN_FILE, { format: ADMIN_FORMAT, ...info, controlURL: devnet.controlURL, pid: process.pid });
  } catch (e) {
    server.close();
    throw e;
  }
  let closing: Promise<void> | undefined;
  return {
    info,
    close: () =>
      (closing ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        if (stateDir) await removePrivateJSON(stateDir, ADMIN_FILE, (v) => v.token === token).catch(() => undefined);
      })()),
  };
}
