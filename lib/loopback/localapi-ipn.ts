// The LocalAPI's prefs, logout and watch-ipn-bus, answered by the node's LocalClient (docs/api.md, "LocalClient"):
// GET /localapi/v0/prefs, POST /localapi/v0/logout (204), GET /localapi/v0/watch-ipn-bus?mask=N (one JSON
// Notify per line, streamed until the client goes away), as Tailscale's LocalAPI serves them.
import type * as http from 'node:http';
import type { LoopbackHost } from './host.js';

// ipn.NotifyWatchOpt bits we honour (the others are accepted and ignored).
const INITIAL_STATE = 1 << 1;
const INITIAL_PREFS = 1 << 2;
const INITIAL_NETMAP = 1 << 3;
const INITIAL_HEALTH = 1 << 7;
const NO_NETMAP = 1 << 13;

type Send = (code: number, body: string) => void;
type Json = (v: unknown) => void;

/** Serves the path if it is one of ours; false when it is not. */
export function serveIPN(path: string, url: URL, req: http.IncomingMessage, res: http.ServerResponse, host: LoopbackHost, send: Send, json: Json): boolean {
  const lc = host.localClient?.();
  if (path === '/localapi/v0/prefs') {
    if (!lc) return send(501, 'not supported\n'), true;
    if (req.method !== 'GET') return send(405, 'use GET\n'), true;
    lc.getPrefs().then(json, (e: Error) => send(500, `${e.message}\n`));
    return true;
  }
  if (path === '/localapi/v0/logout') {
    if (!lc) return send(501, 'not supported\n'), true;
    if (req.method !== 'POST') return send(405, 'want POST\n'), true;
    lc.logout().then(
      () => {
        res.writeHead(204);
        res.end();
      },
      (e: Error) => send(500, `${e.message}\n`),
    );
    return true;
  }
  if (path === '/localapi/v0/watch-ipn-bus') {
    if (!lc) return send(501, 'not supported\n'), true;
    const mask = Number(url.searchParams.get('mask') ?? '0');
    if (!Number.isInteger(mask) || mask < 0) return send(400, 'bad mask\n'), true;
    const w = lc.watchIPNBus({
      initialState: (mask & INITIAL_STATE) !== 0,
      initialPrefs: (mask & INITIAL_PREFS) !== 0,
      initialNetMap: (mask & INITIAL_NETMAP) !== 0 && (mask & NO_NETMAP) === 0,
      initialHealth: (mask & INITIAL_HEALTH) !== 0,
    });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    w.on('notify', (n) => {
      if (mask & NO_NETMAP && n.NetMap) {
        const { NetMap: _omit, ...rest } = n;
        if (Object.keys(rest).length === 0) return;
        res.write(`${JSON.stringify(rest)}\n`);
        return;
      }
      res.write(`${JSON.stringify(n)}\n`);
    });
    res.on('close', () => w.close());
    return true;
  }
  return false;
}
