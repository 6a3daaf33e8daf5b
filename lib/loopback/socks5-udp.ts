// SOCKS5 UDP ASSOCIATE (RFC 1928 §7) for the loopback proxy: a UDP relay on 127.0.0.1 whose datagrams
// (RSV(2) FRAG ATYP DST.ADDR DST.PORT DATA) go to tailnet peers, one connected tailnet UDP socket per
// destination; answers come back to the client with the peer's address in the same header. The association
// lives as long as its TCP control connection (docs/api.md, "SOCKS5 UDP").
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { joinHostPort } from '../wire/ip.js';
import type { TailnetPacketSocket } from '../net/packet.js';

/** What the relay needs from the node: a connected tailnet UDP socket to "host:port" (names resolved). */
export type DialPacket = (network: 'udp', address: string) => TailnetPacketSocket;

// Destinations per association: each holds a tailnet UDP port; a client spraying addresses gets no more.
const MAX_TARGETS = 64;

interface Parsed {
  host: string;
  port: number;
  data: Buffer;
}

/** A client datagram's header, or null when malformed or fragmented (FRAG != 0 is dropped, as RFC 1928 allows). */
export function parseUdpRequest(b: Buffer): Parsed | null {
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0 || b[2] !== 0) return null;
  let off = 4;
  let host: string;
  if (b[3] === 0x01) {
    if (b.length < off + 6) return null;
    host = [...b.subarray(off, off + 4)].join('.');
    off += 4;
  } else if (b[3] === 0x04) {
    if (b.length < off + 18) return null;
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(off + i).toString(16));
    host = new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
    off += 16;
  } else if (b[3] === 0x03) {
    const len = b[off] ?? 0;
    if (len === 0 || b.length < off + 1 + len + 2) return null;
    host = b.subarray(off + 1, off + 1 + len).toString('latin1');
    if (!/^[\w.-]+$/.test(host)) return null;
    off += 1 + len;
  } else return null;
  const port = b.readUInt16BE(off);
  if (port === 0) return null;
  return { host, port, data: b.subarray(off + 2) };
}

/** The header for an answer from `ip:port`. */
export function udpReplyHeader(ip: string, port: number): Buffer {
  const v4 = net.isIPv4(ip);
  const addr = Buffer.alloc(v4 ? 4 : 16);
  if (v4) ip.split('.').forEach((o, i) => addr.writeUInt8(Number(o), i));
  else {
    const full = new net.SocketAddress({ address: ip, family: 'ipv6' }).address;
    const [h = '', t = ''] = full.split('::');
    const hg = h ? h.split(':') : [];
    const tg = t ? t.split(':') : [];
    const groups = full.includes('::') ? [...hg, ...Array<string>(8 - hg.length - tg.length).fill('0'), ...tg] : hg;
    groups.forEach((g, i) => addr.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  }
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  return Buffer.concat([Buffer.from([0, 0, 0, v4 ? 0x01 : 0x04]), addr, p]);
}

export interface UdpAssociation {
  /** The relay's address for the reply's BND.ADDR / BND.PORT. */
  address: string;
  port: number;
  close(): void;
}

/**
 * Opens the relay. Only datagrams from `clientIP` are taken; the first one fixes the client's port (or
 * `clientPort` when the request named one), as Tailscale's SOCKS5 server does; others are dropped.
 */
export async function udpAssociate(dial: DialPacket, clientIP: string, clientPort: number): Promise<UdpAssociation> {
  const relay = dgram.createSocket(net.isIPv6(clientIP) ? 'udp6' : 'udp4');
  relay.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    relay.once('error', reject);
    relay.bind(0, net.isIPv6(clientIP) ? '::1' : '127.0.0.1', () => {
      relay.off('error', reject);
      resolve();
    });
  });
  const targets = new Map<string, TailnetPacketSocket>();
  let client = clientPort ? { address: clientIP, port: clientPort } : null;
  let closed = false;
  relay.on('message', (msg, rinfo) => {
    if (rinfo.address !== clientIP) return;
    client ??= { address: rinfo.address, port: rinfo.port };
    if (rinfo.port !== client.port) return;
    const req = parseUdpRequest(msg);
    if (!req) return;
    const key = joinHostPort(req.host, req.port);
    let s = targets.get(key);
    if (!s) {
      if (targets.size >= MAX_TARGETS) return;
      try {
        s = dial('udp', key);
      } catch {
        return; // an unknown name or no route: UDP has no way to say so, the datagram is dropped
      }
      s.on('error', () => undefined);
      s.on('message', (data, from) => {
        if (closed || !client) return;
        relay.send(Buffer.concat([udpReplyHeader(from.address, from.port), data]), client.port, client.address);
      });
      targets.set(key, s);
    }
    s.send(req.data);
  });
  const a = relay.address();
  return {
    address: a.address,
    port: a.port,
    close: () => {
      if (closed) return;
      closed = true;
      for (const s of targets.values()) s.close();
      targets.clear();
      relay.close();
    },
  };
}
