// The loopback listener's HTTP CONNECT proxy onto the tailnet, for clients that speak HTTP proxies but not
// SOCKS5 (HTTPS_PROXY-style settings, grpc-js's http_proxy). Guarded like the SOCKS5 proxy: basic auth with
// user "tsnet" and the proxy credential, compared in constant time.
import type * as http from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { splitHostPort } from '../wire/ip.js';
import { safeEqual } from './credentials.js';
import type { LoopbackHost } from './host.js';
import { DIAL_MS, PROXY_USER } from './socks5.js';
import { splice } from './splice.js';

/** The answer to a failed dial, by the error's code (our dial errors are shaped like Node's). */
function failureStatus(err: unknown): [number, string] {
  switch ((err as { code?: string }).code) {
    case 'ENOTFOUND':
      return [502, 'unknown host'];
    case 'ECONNREFUSED':
      return [502, 'connection refused'];
    case 'ETIMEDOUT':
      return [504, 'connect timed out'];
    case 'EHOSTUNREACH':
      return [502, 'host unreachable'];
    default:
      return [502, 'connect failed'];
  }
}

function credentialOK(header: string | undefined, password: string): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  const text = m ? Buffer.from(m[1]!, 'base64').toString('latin1') : '';
  const colon = text.indexOf(':');
  const user = colon < 0 ? '' : text.slice(0, colon);
  const pass = colon < 0 ? '' : text.slice(colon + 1);
  // Both compared, whatever the first gives.
  const userOK = safeEqual(user, PROXY_USER);
  const passOK = safeEqual(pass, password);
  return userOK && passOK;
}

/** Handles node:http's 'connect' event: CONNECT host:port, dialed over the tailnet and spliced. */
export async function httpConnect(
  req: http.IncomingMessage,
  client: Duplex,
  head: Buffer,
  host: LoopbackHost,
  password: string,
  track: (s: net.Socket) => void,
): Promise<void> {
  const answer = (status: number, reason: string, extra = ''): void =>
    void client.end(`HTTP/1.1 ${status} ${reason}\r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`, () => client.destroy());
  if (!credentialOK(req.headers['proxy-authorization'], password)) {
    return answer(407, 'Proxy Authentication Required', 'Proxy-Authenticate: Basic realm="tsnet"\r\n');
  }
  let target: string;
  try {
    const { host: h, port } = splitHostPort(req.url ?? '');
    if (!port || (!net.isIP(h) && !/^[\w.-]+$/.test(h))) throw new Error('bad target');
    target = req.url!;
  } catch {
    return answer(400, 'Bad Request');
  }
  let remote: net.Socket;
  try {
    remote = await host.dial('tcp', target, { timeout: DIAL_MS, allowHalfOpen: true });
  } catch (err) {
    if (!client.destroyed) answer(...failureStatus(err));
    return;
  }
  track(remote);
  if (client.destroyed) return void remote.destroy();
  client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  if (head.length) remote.write(head);
  splice(client as net.Socket, remote);
}
