/**
 * Client side of the ts2021 HTTP upgrade (docs/protocol/control.md §3): POST /ts2021
 * carrying the Noise initiation, read the 101 and the Noise response, and
 * return the record-layer stream. Port choice and the 80/443 race follow
 * Tailscale's client.
 */
import { isIP } from '../wire/ip-literal.js';
import type { Duplex } from 'node:stream';
import { ControlError } from '../wire/errors.js';
import { http1Request } from './http1.js';
import { HEADER_LEN, MSG_TYPE_ERROR, MSG_TYPE_RESPONSE, NoiseInitiator, RESPONSE_LEN } from './noise.js';
import { NoiseStream } from './noise-stream.js';
import { HANDSHAKE_HEADER, TS2021_PATH, UPGRADE_PROTOCOL } from './upgrade-server.js';

export interface DialCandidate {
  protocol: 'http:' | 'https:';
  hostname: string;
  port: number;
}

/** TLS options passed to https (e.g. a test CA). */
export interface DialTLSOptions {
  ca?: string | Buffer | Array<string | Buffer>;
  rejectUnauthorized?: boolean;
  servername?: string;
}

export interface DialOptions {
  controlURL: string | URL;
  /** Capability version = Noise protocol version. */
  version: number;
  machinePrivate: Uint8Array;
  controlPublic: Uint8Array;
  /** Dial + handshake budget; default 10 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  tls?: DialTLSOptions;
  /** Delay before the second candidate starts (Tailscale: 500 ms). */
  raceDelayMs?: number;
}

function stripBrackets(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** True for localhost, loopback, RFC 1918, link-local, CGNAT-free private and ULA addresses. */
export function isPrivateHost(hostname: string): boolean {
  const h = stripBrackets(hostname).toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const fam = isIP(h);
  if (fam === 4) {
    const [a, b] = h.split('.').map(Number) as [number, number];
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
  }
  if (fam === 6) {
    return h === '::1' || /^f[cd][0-9a-f]{2}:/.test(h) || /^fe[89ab][0-9a-f]:/.test(h);
  }
  return false;
}

/** Which (scheme, port) pairs to try, in order (docs/protocol/control.md §3). */
export function dialCandidates(url: URL): DialCandidate[] {
  const hostname = stripBrackets(url.hostname);
  const explicit = url.port !== '' ? Number(url.port) : 0;
  if (url.protocol === 'https:') {
    if (explicit) return [{ protocol: 'https:', hostname, port: explicit }];
    return [
      { protocol: 'http:', hostname, port: 80 },
      { protocol: 'https:', hostname, port: 443 },
    ];
  }
  if (url.protocol !== 'http:') throw new ControlError('ERR_UPGRADE', `unsupported control URL scheme ${url.protocol}`);
  const port = explicit || 80;
  const out: DialCandidate[] = [{ protocol: 'http:', hostname, port }];
  if (!isPrivateHost(hostname)) out.push({ protocol: 'https:', hostname, port: 443 });
  return out;
}

/** Reads the Noise reply (response or error frame) from the upgraded socket. */
function readReply(socket: Duplex, head: Buffer): Promise<{ reply: Buffer; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = head;
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
    };
    const check = (): boolean => {
      if (buf.length < HEADER_LEN) return false;
      const type = buf[0];
      let total: number;
      if (type === MSG_TYPE_RESPONSE) total = RESPONSE_LEN;
      else if (type === MSG_TYPE_ERROR) total = HEADER_LEN + buf.readUInt16BE(1);
      else {
        cleanup();
        reject(new ControlError('ERR_NOISE_MESSAGE', `unexpected noise message type ${type} from server`));
        return true;
      }
      if (buf.length < total) return false;
      cleanup();
      socket.pause();
      resolve({ reply: buf.subarray(0, total), rest: Buffer.from(buf.subarray(total)) });
      return true;
    };
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      check();
    };
    const onEnd = (): void => {
      cleanup();
      reject(new ControlError('ERR_NOISE_MESSAGE', 'connection closed before the noise response'));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    if (check()) return;
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.resume(); // the upgraded socket arrives paused
  });
}

async function attempt(c: DialCandidate, opts: DialOptions, signal: AbortSignal): Promise<NoiseStream> {
  const ini = new NoiseInitiator({ version: opts.version, machinePrivate: opts.machinePrivate, controlPublic: opts.controlPublic });
  try {
    return await attemptWith(ini, c, opts, signal);
  } finally {
    ini.wipe(); // its copy of the machine key, whether the handshake finished or not
  }
}

async function attemptWith(ini: NoiseInitiator, c: DialCandidate, opts: DialOptions, signal: AbortSignal): Promise<NoiseStream> {
  const r = await http1Request(c, {
    method: 'POST',
    path: TS2021_PATH,
    signal,
    upgrade: true,
    headers: {
      Upgrade: UPGRADE_PROTOCOL,
      Connection: 'upgrade',
      [HANDSHAKE_HEADER]: ini.initiation.toString('base64'),
      'Content-Length': '0',
    },
    maxBody: 4096,
    truncate: true,
    errorCode: 'ERR_UPGRADE',
    ...(c.protocol === 'https:' && opts.tls ? { tls: opts.tls } : {}),
  });
  if (!('socket' in r)) {
    const text = r.body.toString('utf8').slice(0, 500).trim();
    throw new ControlError('ERR_UPGRADE', `control server answered ${r.status} to the ts2021 upgrade: ${text}`, { status: r.status });
  }
  const { socket, head } = r;
  const up = r.headers.get('upgrade') ?? '';
  if (up.toLowerCase() !== UPGRADE_PROTOCOL) {
    socket.destroy();
    throw new ControlError('ERR_UPGRADE', `unexpected upgrade response 101 ${JSON.stringify(up)}`);
  }
  const onAbort = (): void => {
    socket.destroy();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const { reply, rest } = await readReply(socket, head);
    const hs = ini.finish(reply);
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') (socket as { setNoDelay(b: boolean): void }).setNoDelay(true);
    const stream = new NoiseStream(socket, hs, { initial: rest, earlyPayload: true });
    socket.resume();
    return stream;
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Dials the control server and completes the Noise handshake. The returned
 * stream carries HTTP/2 (h2c prior knowledge); the server's early payload, if
 * any, arrives as the stream's 'earlyPayload' event.
 */
export async function dialTs2021(opts: DialOptions): Promise<NoiseStream> {
  const url = typeof opts.controlURL === 'string' ? new URL(opts.controlURL) : opts.controlURL;
  const candidates = dialCandidates(url);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const raceDelay = opts.raceDelayMs ?? 500;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new ControlError('ERR_TIMEOUT', `ts2021 dial timed out after ${timeoutMs} ms`)), timeoutMs);
  const onOuterAbort = (): void => ac.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    return await new Promise<NoiseStream>((resolve, reject) => {
      let failures = 0;
      let started = 0;
      let won = false;
      const errors: unknown[] = [];
      let raceTimer: NodeJS.Timeout | undefined;
      const attempts: AbortController[] = [];
      ac.signal.addEventListener('abort', () => attempts.forEach((a) => a.abort(ac.signal.reason)), { once: true });
      const startNext = (): void => {
        if (won || started >= candidates.length) return;
        const c = candidates[started++]!;
        const mine = new AbortController();
        attempts.push(mine);
        attempt(c, opts, mine.signal).then(
          (s) => {
            if (won) {
              s.destroy();
              return;
            }
            won = true;
            if (raceTimer) clearTimeout(raceTimer);
            for (const a of attempts) if (a !== mine) a.abort(new ControlError('ERR_CLOSED', 'another dial won'));
            resolve(s);
          },
          (err: unknown) => {
            errors.push(err);
            failures++;
            if (won) return;
            if (failures === candidates.length || ac.signal.aborted) {
              if (raceTimer) clearTimeout(raceTimer);
              const first = ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason : errors[0];
              reject(first instanceof Error ? first : new ControlError('ERR_UPGRADE', String(first)));
            } else {
              startNext();
            }
          },
        );
        if (started < candidates.length) raceTimer = setTimeout(startNext, raceDelay);
      };
      startNext();
    });
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
}
