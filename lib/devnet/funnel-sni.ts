/**
 * The server name (SNI) of a TLS ClientHello, read without terminating TLS: the devnet's Funnel ingress routes a
 * public connection by it (lib/devnet/README.md, "Funnel ingress"). The bytes come from anyone, so every length
 * is checked against what is there and a malformed hello is an answer ('bad'), never an exception.
 */

/** At most this many bytes are buffered while waiting for a complete ClientHello. */
export const MAX_CLIENT_HELLO = 16 * 1024;

export type ClientHelloResult =
  | { status: 'more' }
  | { status: 'bad'; reason: string }
  | { status: 'ok'; serverName: string | null };

const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const NAME_TYPE_HOST = 0;

/**
 * Reads the ClientHello at the start of `buf` (the bytes received so far): 'more' while it is incomplete, 'bad'
 * with a reason when it cannot be one, else the host name it asks for (null when it sends no SNI). Handles a
 * hello split across several TLS records.
 */
export function parseClientHello(buf: Uint8Array): ClientHelloResult {
  // Reassemble the handshake message from consecutive handshake records.
  const parts: Uint8Array[] = [];
  let have = 0;
  let need = -1; // the handshake message's total length, once its header is in
  let off = 0;
  while (need < 0 || have < need) {
    if (buf.length - off < 5) return buf.length >= MAX_CLIENT_HELLO ? bad('the ClientHello is too long') : { status: 'more' };
    if (buf[off] !== HANDSHAKE) return bad(`not a TLS handshake record (content type ${buf[off]})`);
    if (buf[off + 1] !== 3) return bad('not a TLS record (version)');
    const len = (buf[off + 3]! << 8) | buf[off + 4]!;
    if (len === 0 || len > 16384) return bad(`bad TLS record length ${len}`);
    if (buf.length - off - 5 < len) return off + 5 + len > MAX_CLIENT_HELLO ? bad('the ClientHello is too long') : { status: 'more' };
    parts.push(buf.subarray(off + 5, off + 5 + len));
    have += len;
    off += 5 + len;
    if (need < 0 && have >= 4) {
      const first = concat(parts, 4);
      if (first[0] !== CLIENT_HELLO) return bad(`not a ClientHello (handshake type ${first[0]})`);
      need = 4 + ((first[1]! << 16) | (first[2]! << 8) | first[3]!);
      if (need > MAX_CLIENT_HELLO) return bad('the ClientHello is too long');
    }
  }
  return readHello(concat(parts, need).subarray(4));
}

function bad(reason: string): ClientHelloResult {
  return { status: 'bad', reason };
}

function concat(parts: readonly Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    if (at >= n) break;
    const take = Math.min(p.length, n - at);
    out.set(p.subarray(0, take), at);
    at += take;
  }
  return out;
}

/** A bounds-checked reader over the ClientHello body. */
class Reader {
  #at = 0;
  constructor(private readonly b: Uint8Array) {}
  get left(): number {
    return this.b.length - this.#at;
  }
  skip(n: number): boolean {
    if (n > this.left) return false;
    this.#at += n;
    return true;
  }
  u8(): number {
    return this.left >= 1 ? this.b[this.#at++]! : -1;
  }
  u16(): number {
    if (this.left < 2) return -1;
    const v = (this.b[this.#at]! << 8) | this.b[this.#at + 1]!;
    this.#at += 2;
    return v;
  }
  take(n: number): Uint8Array | null {
    if (n < 0 || n > this.left) return null;
    const v = this.b.subarray(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }
}

function readHello(body: Uint8Array): ClientHelloResult {
  const r = new Reader(body);
  if (!r.skip(2 + 32)) return bad('truncated ClientHello (version, random)'); // legacy_version, random
  const sid = r.u8();
  if (sid < 0 || sid > 32 || !r.skip(sid)) return bad('bad session id');
  const suites = r.u16();
  if (suites < 2 || suites % 2 !== 0 || !r.skip(suites)) return bad('bad cipher suites');
  const comp = r.u8();
  if (comp < 1 || !r.skip(comp)) return bad('bad compression methods');
  if (r.left === 0) return { status: 'ok', serverName: null }; // no extensions at all
  const extLen = r.u16();
  const exts = extLen < 0 ? null : r.take(extLen);
  if (!exts) return bad('bad extensions length');
  const e = new Reader(exts);
  while (e.left > 0) {
    const type = e.u16();
    const len = e.u16();
    const data = len < 0 ? null : e.take(len);
    if (type < 0 || !data) return bad('truncated extension');
    if (type === EXT_SERVER_NAME) return readServerName(data);
  }
  return { status: 'ok', serverName: null };
}

function readServerName(data: Uint8Array): ClientHelloResult {
  const r = new Reader(data);
  const listLen = r.u16();
  const list = listLen < 0 ? null : r.take(listLen);
  if (!list || r.left !== 0) return bad('bad server_name extension');
  const l = new Reader(list);
  while (l.left > 0) {
    const type = l.u8();
    const len = l.u16();
    const name = len < 0 ? null : l.take(len);
    if (type < 0 || !name) return bad('bad server_name entry');
    if (type !== NAME_TYPE_HOST) continue;
    // A DNS name: letters, digits, '-', '.', at most 253 bytes (RFC 6066 §3: no trailing dot).
    if (name.length === 0 || name.length > 253) return bad('bad server name length');
    let s = '';
    for (const c of name) {
      const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f;
      if (!ok) return bad('the server name is not a DNS name');
      s += String.fromCharCode(c);
    }
    return { status: 'ok', serverName: s.toLowerCase() };
  }
  return { status: 'ok', serverName: null };
}
