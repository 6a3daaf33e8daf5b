// Who may see a status page (docs/cli.md, "Status pages"): a GET whose URL carries the page's token
// (`?token=…`, printed by the CLI) and whose Host is a loopback name (no DNS rebinding). No cookie: cookies
// on 127.0.0.1 are shared by every port, so another local user's server would receive them.
import * as crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import * as net from 'node:net';

/** Equal strings, in time that depends only on the lengths. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) {
    crypto.timingSafeEqual(y, y);
    return false;
  }
  return crypto.timingSafeEqual(x, y);
}

/** A Host header naming this machine's loopback: localhost, 127.x.y.z or [::1], with a port. */
export function loopbackHost(h: string | undefined): boolean {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):\d{1,5}$/.exec(h ?? '');
  const name = m?.[1] ?? m?.[2];
  if (!name) return false;
  if (name === 'localhost') return true;
  return net.isIPv4(name) ? name.startsWith('127.') : name === '::1';
}

export interface PageDenied {
  status: number;
  message: string;
}

/** null if the request may see the page, else the status and a message for the refusal. */
export function pageDenied(req: IncomingMessage, token: string): PageDenied | null {
  if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, message: 'use GET' };
  if (!loopbackHost(req.headers.host)) return { status: 403, message: 'the page is served to loopback host names only' };
  let given: string | null = null;
  try {
    given = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
  } catch {
    return { status: 400, message: 'bad request' };
  }
  if (given === null) return { status: 401, message: 'this page needs its token: open the URL the tsnet command printed (…/?token=…)' };
  if (!sameSecret(given, token)) return { status: 403, message: 'wrong token' };
  return null;
}
