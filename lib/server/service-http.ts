/**
 * HTTP-mode services (docs/services.md): the headers Tailscale's serve proxy adds to each request it
 * forwards to a service's HTTP backend, added here in process to the requests of the http.Server a
 * ServiceListener serves, before the application's handlers see them. Incoming values of these headers
 * are removed first, so a caller cannot claim an identity.
 */
import type * as http from 'node:http';
import type * as net from 'node:net';
import type { WhoIs } from './types.js';

const IDENTITY = ['tailscale-user-login', 'tailscale-user-name', 'tailscale-user-profile-pic', 'tailscale-funnel-request', 'tailscale-headers-info'];

/** RFC 2047 Q-encoding for non-ASCII UTF-8 (ASCII passes unchanged), as Tailscale encodes header values. */
export function encodeHeaderValue(v: string): string {
  if (/^[\x00-\x7f]*$/.test(v)) return v;
  let out = '';
  for (const b of Buffer.from(v, 'utf8')) {
    const c = String.fromCharCode(b);
    out += b === 0x20 ? '_' : b >= 0x21 && b <= 0x7e && c !== '=' && c !== '?' && c !== '_' ? c : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `=?utf-8?q?${out}?=`;
}

/** Adds the identity and forwarding headers to every request of server (prepended to its 'request' listeners). */
export function addIdentityHeaders(server: http.Server, whoIs: (s: net.Socket) => WhoIs | null): void {
  server.prependListener('request', (req: http.IncomingMessage) => {
    const h = req.headers;
    for (const k of IDENTITY) delete h[k];
    if (h.host) h['x-forwarded-host'] = h.host;
    const src = req.socket.remoteAddress;
    if (src) h['x-forwarded-for'] = src;
    const who = whoIs(req.socket);
    // Tagged callers get no identity headers, as in Tailscale.
    if (!who || (who.node.Tags ?? []).length || !who.userProfile) return;
    h['tailscale-user-login'] = encodeHeaderValue(who.userProfile.LoginName ?? '');
    h['tailscale-user-name'] = encodeHeaderValue(who.userProfile.DisplayName ?? '');
    h['tailscale-user-profile-pic'] = who.userProfile.ProfilePicURL ?? '';
    h['tailscale-headers-info'] = 'https://tailscale.com/s/serve-headers';
  });
}
