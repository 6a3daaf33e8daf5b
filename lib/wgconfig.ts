// wg-quick configuration files: [Interface] and [Peer] sections of "Key = Value" lines.
import type { WireGuardOptions, WireGuardPeer } from './wireguard.js';

const INTERFACE_KEYS = new Set(['privatekey', 'address', 'listenport', 'mtu']);
const PEER_KEYS = new Set(['publickey', 'presharedkey', 'endpoint', 'allowedips', 'persistentkeepalive']);

export interface ParsedConfig {
  options: WireGuardOptions;
  /** Keys that wg-quick knows but this userspace node ignores (DNS, PostUp, Table, ...). */
  ignored: string[];
}

const list = (v: string): string[] => v.split(',').map((x) => x.trim()).filter(Boolean);

/** Parses a wg-quick file. Throws TypeError naming the line for anything malformed. */
export function parseWgQuick(text: string): ParsedConfig {
  if (typeof text !== 'string') throw new TypeError('WireGuard.fromConfig(text): text must be a string');
  let section: 'interface' | 'peer' | null = null;
  let privateKey: string | undefined;
  const address: string[] = [];
  let listenPort: number | undefined;
  let mtu: number | undefined;
  const peers: WireGuardPeer[] = [];
  const ignored: string[] = [];
  let peer: Partial<WireGuardPeer> & { allowedIPs: string[] } = { allowedIPs: [] };
  const finishPeer = (line: number) => {
    if (section !== 'peer') return;
    if (!peer.publicKey) throw new TypeError(`wg config: [Peer] ending before line ${line} has no PublicKey`);
    peers.push({ ...peer, publicKey: peer.publicKey, allowedIPs: peer.allowedIPs });
    peer = { allowedIPs: [] };
  };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const head = /^\[(\w+)\]$/.exec(line);
    if (head) {
      finishPeer(n);
      const name = head[1]!.toLowerCase();
      if (name !== 'interface' && name !== 'peer') throw new TypeError(`wg config line ${n}: unknown section [${head[1]}]`);
      section = name;
      return;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new TypeError(`wg config line ${n}: expected "Key = Value"`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const k = key.toLowerCase();
    if (section === null) throw new TypeError(`wg config line ${n}: "${key}" outside a section`);
    const known = section === 'interface' ? INTERFACE_KEYS : PEER_KEYS;
    if (!known.has(k)) {
      ignored.push(`${section === 'interface' ? 'Interface' : 'Peer'}.${key}`);
      return;
    }
    const int = (lo: number, hi: number): number => {
      if (!/^\d+$/.test(value)) throw new TypeError(`wg config line ${n}: ${key} must be a number`);
      const v = Number(value);
      if (v < lo || v > hi) throw new RangeError(`wg config line ${n}: ${key} must be ${lo}..${hi}`);
      return v;
    };
    if (section === 'interface') {
      if (k === 'privatekey') privateKey = value;
      else if (k === 'address') address.push(...list(value));
      else if (k === 'listenport') listenPort = int(0, 65535);
      else if (k === 'mtu') mtu = int(576, 65535);
    } else {
      if (k === 'publickey') peer.publicKey = value;
      else if (k === 'presharedkey') peer.presharedKey = value;
      else if (k === 'endpoint') peer.endpoint = value;
      else if (k === 'allowedips') peer.allowedIPs.push(...list(value));
      else if (k === 'persistentkeepalive') peer.persistentKeepalive = value === 'off' ? 0 : int(0, 65535);
    }
  });
  finishPeer(lines.length);
  if (!privateKey) throw new TypeError('wg config: [Interface] has no PrivateKey');
  const options: WireGuardOptions = { privateKey, address, peers };
  if (listenPort !== undefined) options.listenPort = listenPort;
  if (mtu !== undefined) options.mtu = mtu;
  return { options, ignored };
}
