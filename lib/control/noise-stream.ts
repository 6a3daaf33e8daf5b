/**
 * The ts2021 record layer as a stream.Duplex over any byte Duplex (a TCP or
 * TLS socket, or anything else). Plaintext written is split into ≤4077-byte
 * records; received records are decrypted and pushed in order. Any framing or
 * authentication error destroys the stream with a ControlError.
 */
import { Duplex } from 'node:stream';
import { ControlError } from '../wire/errors.js';
import { EarlyPayloadParser } from './early-payload.js';
import { RecordDecoder, encodeRecords, type HandshakeResult } from './noise.js';
import type { EarlyNoise } from '../wire/tailcfg.js';

export interface NoiseStreamOptions {
  /** Bytes already read from the transport after the handshake message (e.g. the HTTP upgrade `head`). */
  initial?: Buffer;
  /**
   * Client side: strip the server's optional early payload from the start of the
   * read side and emit it as an 'earlyPayload' event.
   */
  earlyPayload?: boolean;
}

/** Events beyond Duplex's: 'earlyPayload' (payload: EarlyNoise), client side only. */
export class NoiseStream extends Duplex {
  readonly handshakeHash: Buffer;
  /** The peer's static key (machine key on a server, control key on a client). */
  readonly peerStatic: Buffer;
  /** Protocol version agreed in the handshake. */
  readonly protocolVersion: number;
  /** The early payload, once received (client side). */
  earlyPayload: EarlyNoise | undefined;

  private readonly transport: Duplex;
  private readonly hs: HandshakeResult;
  private readonly decoder: RecordDecoder;
  private early: EarlyPayloadParser | null;
  private transportEnded = false;

  constructor(transport: Duplex, hs: HandshakeResult, opts: NoiseStreamOptions = {}) {
    super({ allowHalfOpen: true });
    this.transport = transport;
    this.hs = hs;
    this.handshakeHash = hs.handshakeHash;
    this.peerStatic = hs.peerStatic;
    this.protocolVersion = hs.version;
    this.decoder = new RecordDecoder(hs.rx);
    this.early = opts.earlyPayload ? new EarlyPayloadParser() : null;

    transport.on('data', this.onData);
    transport.on('end', this.onEnd);
    transport.on('error', this.onError);
    transport.on('close', this.onClose);
    if (opts.initial && opts.initial.length) {
      const initial = opts.initial;
      queueMicrotask(() => this.onData(initial));
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.destroyed) return;
    let plain: Buffer[];
    try {
      plain = this.decoder.push(chunk);
      if (this.early) {
        const out: Buffer[] = [];
        for (const p of plain) {
          if (!this.early) {
            out.push(p);
            continue;
          }
          const step = this.early.push(p);
          if (step.payload) {
            this.earlyPayload = step.payload;
            this.emit('earlyPayload', step.payload);
          }
          out.push(...step.data);
          if (this.early.done) this.early = null;
        }
        plain = out;
      }
    } catch (err) {
      this.destroy(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    let more = true;
    for (const p of plain) more = this.push(p);
    if (!more) this.transport.pause();
  };

  private readonly onEnd = (): void => {
    this.transportEnded = true;
    if (this.destroyed) return;
    if (this.decoder.pending > 0) {
      this.destroy(new ControlError('ERR_NOISE_FRAME', `noise: connection ended inside a record (${this.decoder.pending} bytes)`));
      return;
    }
    try {
      if (this.early) for (const b of this.early.flush()) this.push(b);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    this.push(null);
  };

  private readonly onError = (err: Error): void => {
    this.destroy(err);
  };

  private readonly onClose = (): void => {
    if (this.destroyed) return;
    if (!this.transportEnded) {
      this.destroy(new ControlError('ERR_NOISE_CLOSED', 'noise: underlying connection closed'));
      return;
    }
    // Clean EOF, then the transport closed: nothing more can be written. Let the
    // reader drain to 'end' first, then release everything.
    if (this.readableEnded) this.destroy();
    else this.once('end', () => this.destroy());
  };

  override _read(): void {
    if (this.transport.isPaused()) this.transport.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sendPlain(chunk, cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.sendPlain(Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  private sendPlain(data: Buffer, cb: (err?: Error | null) => void): void {
    let frames: Buffer[];
    try {
      frames = encodeRecords(this.hs.tx, data);
    } catch (err) {
      cb(err as Error);
      return;
    }
    if (frames.length === 0) {
      cb();
      return;
    }
    if (this.transport.destroyed || this.transport.writableEnded) {
      cb(new ControlError('ERR_NOISE_CLOSED', 'noise: write after the connection closed'));
      return;
    }
    const ok = this.transport.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
    if (ok) cb();
    else this.transport.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.transport.end(() => cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.transport.off('data', this.onData);
    this.transport.off('end', this.onEnd);
    this.transport.off('error', this.onError);
    this.transport.off('close', this.onClose);
    this.transport.on('error', () => {}); // late errors from a torn-down transport
    if (!this.transport.destroyed) this.transport.destroy();
    cb(err);
  }
}
