// The loopback listener's LocalAPI over HTTP under /localapi/v0/ (status, whois, ping, usermetrics; prefs,
// logout and watch-ipn-bus in localapi-ipn.ts), guarded as Tailscale's LocalAPI handler is.
import type * as http from 'node:http';
import * as net from 'node:net';
import { parseAddrPort } from '../wire/ip.js';
import { safeEqual } from './credentials.js';
import { metricsText } from './metrics.js';
import { healthWarnings } from './health.js';
import type { LoopbackHost } from './host.js';
import { goPingResult, goStatus } from './localapi-go.js';
import { serveIPN } from './localapi-ipn.js';

// The release whose LocalAPI shapes we answer Go clients in (ipnstate.Status's Version). No Tailscale-Version
// header: the CLI would warn that it differs from its own.
const GO_VERSION = '1.102.5';

// Go's strconv.ParseBool spellings of false (for ?peers=false).
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** As Tailscale's LocalAPI handler: the Host must be the LocalAPI's pseudo-host or a loopback host:port. */
function validHost(h: string): boolean {
  if (h === '' || h === 'local-tailscaled.sock') return true;
  const m = /^(?:\[([^\]]+)\]|([^:]+)):\d+$/.exec(h);
  const name = m?.[1] ?? m?.[2];
  if (!name) return false;
  if (name === 'localhost') return true;
  return net.isIPv4(name) ? name.startsWith('127.') : name === '::1';
}

/** The basic-auth password, or null if the header is missing or malformed. */
function basicPassword(header: string | undefined): string | null {
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i < 0 ? null : decoded.slice(i + 1);
}

/** "ip" or "ip:port" or "[ip6]:port" to an IP (v4-mapped IPv6 as IPv4), or null. */
function whoIsAddress(v: string): string | null {
  let ip = v;
  if (!net.isIP(v)) {
    const ap = parseAddrPort(v);
    if (!ap) return null;
    ip = ap.ip;
  }
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip) ? ip.slice(7) : ip;
}

/**
 * `trusted`: the request came over the node's unix socket (loopback({ socketPath })), whose file mode (0600)
 * is the credential, as tailscaled's socket on Linux, so Tailscale's CLI needs no password there.
 */
export function serveLocalAPI(req: http.IncomingMessage, res: http.ServerResponse, host: LoopbackHost, cred: string, trusted = false): void {
  const send = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
    res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  const json = (v: unknown) => send(200, `${JSON.stringify(v, null, '\t')}\n`, 'application/json');
  // tsnet checks this header first, for every path: browsers cannot send it cross-origin without a preflight.
  if (!trusted && req.headers['sec-tailscale'] !== 'localapi') return send(403, "missing 'Sec-Tailscale: localapi' header");
  // Then the LocalAPI's own checks: no browser context (Referer, Origin), a loopback Host (DNS rebinding).
  if (req.headers.referer !== undefined || req.headers.origin !== undefined || !validHost(req.headers.host ?? '')) {
    return send(403, 'invalid localapi request\n');
  }
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  const pass = trusted ? cred : basicPassword(req.headers.authorization);
  if (pass === null) {
    res.setHeader('WWW-Authenticate', 'Basic realm="localapi"');
    return send(401, 'auth required\n');
  }
  if (!safeEqual(pass, cred)) return send(403, 'bad password\n');
  // Tailscale's Go LocalClient sends its capability version on every request: answer in its types.
  const goClient = req.headers['tailscale-cap'] !== undefined;

  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://local-tailscaled.sock');
  } catch {
    return send(400, 'bad request\n');
  }
  if (url.pathname === '/localapi/v0/status' && goClient) {
    goStatus(host, GO_VERSION, !FALSE.has(url.searchParams.get('peers') ?? '')).then(json, (e: Error) => send(500, `${e.message}\n`));
    return;
  }
  if (serveIPN(url.pathname, url, req, res, host, send, json)) return;
  if (url.pathname === '/localapi/v0/ping') {
    if (req.method !== 'POST') return send(405, 'want POST\n');
    const ip = url.searchParams.get('ip') ?? '';
    const type = url.searchParams.get('type') ?? '';
    if (!net.isIP(ip)) return send(400, 'invalid IP\n');
    if (type !== 'TSMP' && type !== 'disco') return send(400, `ping type ${JSON.stringify(type)} is not supported (only TSMP and disco)\n`);
    if (!host.localClient) return send(501, 'ping not supported\n');
    host.localClient().ping(ip, { type, timeout: 5000 }).then(
      (r) => json(goPingResult(ip, r, null, type)),
      (err: Error) => json(goPingResult(ip, null, err, type)),
    );
    return;
  }
  if (url.pathname === '/localapi/v0/status') {
    const st = host.status();
    const peers = !FALSE.has(url.searchParams.get('peers') ?? '');
    if (!st) return json({ BackendState: 'NoState', TailscaleIPs: [], Health: healthWarnings(null, host) });
    // Our Status (camelCase), plus three of Tailscale's ipnstate.Status fields under their own names.
    const body: Record<string, unknown> = { BackendState: st.backendState, TailscaleIPs: st.tailscaleIPs, Health: healthWarnings(st, host), ...st };
    if (!peers) delete body.peers;
    return json(body);
  }
  if (url.pathname === '/localapi/v0/usermetrics') {
    return send(200, metricsText(host.status(), host.health?.().length ?? 0), 'text/plain; version=0.0.4; charset=utf-8');
  }
  if (url.pathname === '/localapi/v0/whois') {
    const addr = url.searchParams.get('addr') ?? '';
    if (!addr) return send(400, "missing 'addr' parameter\n");
    let ip: string | null;
    if (addr.startsWith('nodekey:')) {
      if (!/^nodekey:[0-9a-f]{64}$/.test(addr)) return send(400, "invalid nodekey in 'addr' parameter\n");
      const st = host.status();
      const self = st?.self.Key === addr ? st.tailscaleIPs : undefined;
      ip = (self ?? st?.peers.find((p) => p.publicKey === addr)?.tailscaleIPs)?.[0] ?? null;
      if (!ip) return send(404, 'no match for IP:port\n');
    } else {
      ip = whoIsAddress(addr);
      if (!ip) return send(400, "invalid 'addr' parameter\n");
    }
    const who = host.whoIs(ip);
    if (!who) return send(404, 'no match for IP:port\n');
    // apitype.WhoIsResponse: Node and UserProfile are never null in a success.
    const profile = who.userProfile ?? { ID: who.node.User ?? 0, LoginName: '', DisplayName: '' };
    return json({ Node: who.node, UserProfile: profile, CapMap: who.capMap });
  }
  return send(404, '404 page not found\n');
}
