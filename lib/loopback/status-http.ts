// Serves the node's status page (status-page.ts) on the loopback listener: GET /status?token=<LocalAPI
// credential> from a loopback Host (lib/util/page-access.ts); `tsnet status --web` prints that URL.
import type * as http from 'node:http';
import { pageDenied } from '../util/page-access.js';
import { PAGE_HEADERS } from '../util/web-page.js';
import type { LoopbackHost } from './host.js';
import { nodePage } from './status-page.js';

export const STATUS_PAGE_PATH = '/status';

export function serveStatusPage(req: http.IncomingMessage, res: http.ServerResponse, host: LoopbackHost, token: string): void {
  const denied = pageDenied(req, token);
  if (denied) {
    res.writeHead(denied.status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
    res.end(`${denied.message}\n`);
    return;
  }
  const body = nodePage(host.status(), Date.now(), host);
  res.writeHead(200, { ...PAGE_HEADERS, 'Content-Length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}
