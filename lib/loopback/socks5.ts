// The loopback listener's SOCKS5 proxy onto the tailnet (RFC 1928, username/password auth of RFC 1929,
// CONNECT and UDP ASSOCIATE).
import * as net from 'node:net';
import { joinHostPort } from '../wire/ip.js';
import { safeEqual } from './credentials.js';
import { splice } from './splice.js';
import type { LoopbackHost } from './host.js';
import { udpAssociate, type DialPacket, type UdpAssociation } from './socks5-udp.js';

// As Tailscale's socks5 server: a CONNECT gives up after 5 s.
export const DIAL_MS = 5_000;
export const PROXY_USER = 'tsnet';

/** Reads exact byte counts from a socket during the negotiation, then hands back what came after it. */
export class Reader {
  readonly #conn: net.Socket;
  #buf: Buffer;
  #want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  #gone = false;
  readonly #onData = (d: Buffer) => {
    this.#buf = Buffer.concat([this.#buf, d]);
    // A client may send data after its request without waiting (it will be forwarded); hold off the rest.
    if (this.#buf.length >= 65_536) this.#conn.pause();
    this.#serve();
  };
  readonly #onEnd = () => {
    this.#gone = true;
    this.#serve();
  };

  constructor(conn: net.Socket, first: Buffer) {
    this.#conn = conn;
    this.#buf = first;
    conn.on('data', this.#onData);
    conn.on('end', this.#onEnd);
    conn.on('close', this.#onEnd);
    conn.resume();
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#want = { n, resolve, reject };
      this.#serve();
    });
  }

  #serve(): void {
    const w = this.#want;
    if (!w) return;
    if (this.#buf.length >= w.n) {
      this.#want = null;
      const out = this.#buf.subarray(0, w.n);
      this.#buf = this.#buf.subarray(w.n);
      if (this.#buf.length < 65_536 && !this.#conn.destroyed) this.#conn.resume();
      w.resolve(out);
    } else if (this.#gone) {
      this.#want = null;
      w.reject(new Error('socks5: the client went away during the negotiation'));
    }
  }

  /** Stops reading; returns the bytes received beyond the negotiation. The socket is left paused. */
  detach(): Buffer {
    this.#conn.pause();
    this.#conn.off('data', this.#onData);
    this.#conn.off('end', this.#onEnd);
    this.#conn.off('close', this.#onEnd);
    return this.#buf;
  }
}

const enum Reply {
  Success = 0x00,
  GeneralFailure = 0x01,
  NotAllowed = 0x02,
  NetworkUnreachable = 0x03,
  HostUnreachable = 0x04,
  ConnectionRefused = 0x05,
  CommandNotSupported = 0x07,
  AddressTypeNotSupported = 0x08,
}

/** A reply with a bound address; failures carry 0.0.0.0:0 (as Tailscale's server). */
function reply(code: Reply, address = '0.0.0.0', port = 0): Buffer {
  const v4 = net.isIPv4(address);
  const head = Buffer.from([0x05, code, 0x00, v4 ? 0x01 : 0x04]);
  const addr = v4 ? Buffer.from(address.split('.').map(Number)) : ipv6Bytes(address);
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  return Buffer.concat([head, addr, p]);
}

function ipv6Bytes(address: string): Buffer {
  const sa = new net.SocketAddress({ address, family: 'ipv6' });
  const [head = '', tail = ''] = sa.address.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = sa.address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return out;
}

function ipv6Text(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // SocketAddress prints the canonical (compressed) form.
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** The reply for a failed dial, by the error's code (our dial errors are shaped like Node's). */
function failureReply(err: unknown): Reply {
  switch ((err as { code?: string }).code) {
    case 'ECONNREFUSED':
      return Reply.ConnectionRefused;
    case 'EHOSTUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
      return Reply.HostUnreachable;
    case 'ENETUNREACH':
      return Reply.NetworkUnreachable;
    case 'EACCES':
    case 'EPERM':
      return Reply.NotAllowed;
    default:
      return Reply.GeneralFailure;
  }
}

/** UDP ASSOCIATE: a relay on loopback until the control connection ends (lib/loopback/socks5-udp.ts). */
async function associate(conn: net.Socket, r: Reader, dial: DialPacket, clientPort: number, negotiated: () => void, fail: (c: Reply) => void): Promise<void> {
  negotiated();
  const clientIP = (conn.remoteAddress ?? '127.0.0.1').replace(/^::ffff:(?=\d+\.)/i, '');
  let assoc: UdpAssociation;
  try {
    assoc = await udpAssociate(dial, clientIP, clientPort);
  } catch {
    return fail(Reply.GeneralFailure);
  }
  r.detach();
  if (conn.destroyed) return assoc.close();
  conn.write(reply(Reply.Success, assoc.address, assoc.port));
  // RFC 1928: the association ends with the TCP connection; anything the client sends on it is ignored.
  conn.on('data', () => undefined);
  const end = () => {
    assoc.close();
    conn.destroy();
  };
  conn.once('end', end);
  conn.once('close', end);
  conn.resume();
}

export async function socks(
  conn: net.Socket,
  r: Reader,
  host: LoopbackHost,
  password: string,
  track: (s: net.Socket) => void,
  negotiated: () => void,
): Promise<void> {
  // Answer, then close once the answer is flushed: our listener allows half-open connections, so end() alone
  // would leave the socket open for as long as the client keeps its side open.
  const bye = (b: Buffer) => void conn.end(b, () => conn.destroy());
  const fail = (code: Reply) => bye(reply(code));
  // Greeting: VER NMETHODS METHODS. Only username/password (0x02) is offered; otherwise 0xFF, "no method".
  const [, nMethods = 0] = await r.read(2);
  const methods = await r.read(nMethods);
  if (!methods.includes(0x02)) return bye(Buffer.from([0x05, 0xff]));
  conn.write(Buffer.from([0x05, 0x02]));
  // RFC 1929: VER(1) ULEN UNAME PLEN PASSWD; status 0 is success, anything else failure (then close).
  const [authVersion, uLen = 0] = await r.read(2);
  const user = await r.read(uLen);
  const [pLen = 0] = await r.read(1);
  const pass = await r.read(pLen);
  // Both compared, whatever the first gives, so the time says nothing about which was wrong.
  const userOK = safeEqual(user, PROXY_USER);
  const passOK = safeEqual(pass, password);
  if (authVersion !== 0x01 || !userOK || !passOK) return bye(Buffer.from([0x01, 0x01]));
  conn.write(Buffer.from([0x01, 0x00]));
  // Request: VER CMD RSV ATYP DST.ADDR DST.PORT.
  const [ver, cmd, , atyp] = await r.read(4);
  if (ver !== 0x05) return fail(Reply.GeneralFailure);
  let target: string;
  if (atyp === 0x01) target = [...(await r.read(4))].join('.');
  else if (atyp === 0x04) target = ipv6Text(await r.read(16));
  else if (atyp === 0x03) {
    const [len = 0] = await r.read(1);
    target = (await r.read(len)).toString('latin1');
    if (!/^[\w.-]+$/.test(target) && !net.isIP(target)) return fail(Reply.HostUnreachable);
  } else return fail(Reply.AddressTypeNotSupported);
  const port = (await r.read(2)).readUInt16BE(0);
  if (cmd === 0x03 && host.dialPacket) return associate(conn, r, host.dialPacket.bind(host), port, negotiated, fail);
  if (cmd !== 0x01) return fail(Reply.CommandNotSupported);
  negotiated();

  let remote: net.Socket;
  try {
    remote = await host.dial('tcp', joinHostPort(target, port), { timeout: DIAL_MS, allowHalfOpen: true });
  } catch (err) {
    if (!conn.destroyed) fail(failureReply(err));
    return;
  }
  track(remote);
  if (conn.destroyed) return void remote.destroy();
  const early = r.detach();
  conn.write(reply(Reply.Success, remote.localAddress ?? '0.0.0.0', remote.localPort ?? 0));
  if (early.length) remote.write(early);
  splice(conn, remote);
}
