/**
 * Server side of the ts2021 HTTP upgrade (docs/protocol/control.md §3): validates the
 * request, runs the responder handshake, writes "101 Switching Protocols"
 * plus the 51-byte response, and returns the Noise stream. For the
 * development server and tests; the HTTP/2 server goes on top of the stream.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ControlError } from '../wire/errors.js';
import { encodeEarlyPayload } from './early-payload.js';
import { INITIATION_LEN, errorMessage, initiationVersion, respondToInitiation } from './noise.js';
import { NoiseStream } from './noise-stream.js';
import type { EarlyNoise } from '../wire/tailcfg.js';

export const UPGRADE_PROTOCOL = 'tailscale-control-protocol';
export const HANDSHAKE_HEADER = 'X-Tailscale-Handshake';
export const TS2021_PATH = '/ts2021';

export interface AcceptUpgradeOptions {
  /** The server's Noise static private key. */
  controlPrivate: Uint8Array;
  /** Lowest protocol (capability) version accepted; lower gets a Noise error frame. */
  minVersion?: number;
  /** Early payload to send first (Tailscale and Headscale send one; optional). */
  earlyPayload?: EarlyNoise | null;
  /** Test hook: fixed ephemeral key. */
  ephemeralPrivate?: Uint8Array;
}

export interface AcceptedUpgrade {
  stream: NoiseStream;
  /** The client's machine public key. */
  machinePublic: Buffer;
  /** The client's protocol (capability) version. */
  version: number;
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.on('error', () => {});
  const body = text + '\n';
  socket.end(
    `HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : 'Error'}\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Handles an http.Server 'upgrade' event for POST /ts2021. Returns null after
 * answering the client with an error (the socket is then closed).
 */
export function acceptTs2021Upgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  opts: AcceptUpgradeOptions,
): AcceptedUpgrade | null {
  const upgrade = String(req.headers['upgrade'] ?? '').toLowerCase();
  if (upgrade !== UPGRADE_PROTOCOL) {
    reject(socket, 400, `unsupported upgrade ${JSON.stringify(upgrade)}`);
    return null;
  }
  const hdr = req.headers[HANDSHAKE_HEADER.toLowerCase()];
  const init = typeof hdr === 'string' ? Buffer.from(hdr, 'base64') : Buffer.alloc(0);
  if (init.length !== INITIATION_LEN) {
    reject(socket, 400, `missing or malformed ${HANDSHAKE_HEADER} header`);
    return null;
  }
  const version = initiationVersion(init);
  const switching = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${UPGRADE_PROTOCOL}\r\nConnection: upgrade\r\n\r\n`;
  if (opts.minVersion !== undefined && version < opts.minVersion) {
    socket.on('error', () => {});
    socket.end(Buffer.concat([Buffer.from(switching), errorMessage(`unsupported client version ${version}`)]));
    return null;
  }
  let res;
  try {
    res = respondToInitiation(init, {
      controlPrivate: opts.controlPrivate,
      ...(opts.ephemeralPrivate ? { ephemeralPrivate: opts.ephemeralPrivate } : {}),
    });
  } catch (err) {
    const msg = err instanceof ControlError ? err.message : 'handshake failed';
    socket.on('error', () => {});
    socket.end(Buffer.concat([Buffer.from(switching), errorMessage(msg)]));
    return null;
  }
  socket.write(Buffer.concat([Buffer.from(switching), res.response]));
  const stream = new NoiseStream(socket, res, head.length ? { initial: Buffer.from(head) } : {});
  // A peer vanishing must not crash the server; users still see errors through their own listeners.
  stream.on('error', () => {});
  if (opts.earlyPayload) stream.write(encodeEarlyPayload(opts.earlyPayload));
  return { stream, machinePublic: res.machinePublic, version };
}
