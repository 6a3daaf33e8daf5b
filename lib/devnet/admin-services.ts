// The admin endpoint's part for services and routes (lib/devnet/admin.ts; docs/services.md):
//   GET  /api/v0/services                   the services, their VIPs and approved hosts
//   POST /api/v0/services {name, addresses?} define a service
//   POST /api/v0/services/approve {name, node}       approve node (ID, hostname or MagicDNS name) as a host
//   POST /api/v0/routes/approve {node, routes}       approve routes the node advertises
import type * as http from 'node:http';
import { readJSONObject, sendJSON } from './http-util.js';
import type { Devnet } from './index.js';

type Target = Omit<Devnet, 'admin'>;

const ROUTES = ['services', 'services/approve', 'routes/approve'];

function strings(v: unknown): string[] | null {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
}

/** Answers the request if its route is one of these; false otherwise. */
export async function servicesAPI(devnet: Target, req: http.IncomingMessage, res: http.ServerResponse, route: string): Promise<boolean> {
  if (!ROUTES.includes(route)) return false;
  if (route === 'services' && (req.method === 'GET' || req.method === 'HEAD')) return sendJSON(res, 200, devnet.services()), true;
  if (req.method !== 'POST') return sendJSON(res, 405, { error: `method ${req.method} not allowed here` }), true;
  const allowed = route === 'services' ? ['name', 'addresses'] : route === 'services/approve' ? ['name', 'node'] : ['node', 'routes'];
  const o = await readJSONObject(req, res, 64 * 1024, allowed);
  if (!o) return true;
  const findNode = (): { id: number } | undefined => {
    const want = String(o['node'] ?? '').toLowerCase();
    return devnet.nodes().find((n) => String(n.id) === want || n.hostname.toLowerCase() === want || n.name.toLowerCase() === want);
  };
  try {
    if (route === 'services') {
      if (typeof o['name'] !== 'string') return sendJSON(res, 400, { error: '"name" must be a string like "svc:web"' }), true;
      const addresses = o['addresses'] === undefined ? undefined : strings(o['addresses']);
      if (addresses === null) return sendJSON(res, 400, { error: '"addresses" must be an array of strings' }), true;
      return sendJSON(res, 200, devnet.defineService(o['name'], addresses ? { addresses } : {})), true;
    }
    const node = findNode();
    if (!node) return sendJSON(res, 404, { error: `no node "${String(o['node'])}"` }), true;
    if (route === 'services/approve') {
      if (typeof o['name'] !== 'string') return sendJSON(res, 400, { error: '"name" must be a string' }), true;
      devnet.approveServiceHost(o['name'], node.id);
      return sendJSON(res, 200, devnet.services().find((s) => s.name === o['name'])), true;
    }
    const routes = strings(o['routes']);
    if (!routes) return sendJSON(res, 400, { error: '"routes" must be an array of "ip/bits" strings' }), true;
    devnet.approveRoutes(node.id, routes);
    return sendJSON(res, 200, devnet.nodes().find((n) => n.id === node.id)), true;
  } catch (e) {
    return sendJSON(res, e instanceof RangeError ? 400 : 500, { error: (e as Error).message }), true;
  }
}
