/**
 * The optional early payload a ts2021 server sends as the first plaintext
 * bytes after the handshake (docs/protocol/control.md §6): magic "\xff\xff\xffTS",
 * u32 BE length (≤ 10 MiB), JSON EarlyNoise. If the first 9 bytes are not
 * the magic, they are the start of HTTP/2 and pass through untouched.
 */
import { ControlError } from '../wire/errors.js';
import type { EarlyNoise } from '../wire/tailcfg.js';

export const EARLY_PAYLOAD_MAGIC: Readonly<Buffer> = Buffer.from([0xff, 0xff, 0xff, 0x54, 0x53]);
export const EARLY_PAYLOAD_HEADER_LEN = 9;
export const MAX_EARLY_PAYLOAD_LEN = 10 << 20;

export function encodeEarlyPayload(payload: EarlyNoise): Buffer {
  const json = Buffer.from(JSON.stringify(payload), 'utf8');
  const out = Buffer.alloc(EARLY_PAYLOAD_HEADER_LEN + json.length);
  EARLY_PAYLOAD_MAGIC.copy(out, 0);
  out.writeUInt32BE(json.length, 5);
  json.copy(out, EARLY_PAYLOAD_HEADER_LEN);
  return out;
}

export interface EarlyPayloadStep {
  /** Set once, when a complete early payload was parsed. */
  payload?: EarlyNoise;
  /** Bytes that belong to the stream after the early payload (or the whole stream if none). */
  data: Buffer[];
}

/** Sans-I/O filter over the first plaintext bytes of the client's read side. */
export class EarlyPayloadParser {
  private buf: Buffer = Buffer.alloc(0);
  private state: 'header' | 'body' | 'done' = 'header';
  private bodyLen = 0;

  get done(): boolean {
    return this.state === 'done';
  }

  push(chunk: Buffer): EarlyPayloadStep {
    if (this.state === 'done') return { data: chunk.length ? [chunk] : [] };
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const step: EarlyPayloadStep = { data: [] };
    if (this.state === 'header') {
      if (this.buf.length < EARLY_PAYLOAD_HEADER_LEN) return step;
      if (!this.buf.subarray(0, EARLY_PAYLOAD_MAGIC.length).equals(EARLY_PAYLOAD_MAGIC)) {
        this.state = 'done';
        step.data.push(this.buf);
        this.buf = Buffer.alloc(0);
        return step;
      }
      this.bodyLen = this.buf.readUInt32BE(5);
      if (this.bodyLen > MAX_EARLY_PAYLOAD_LEN) {
        throw new ControlError('ERR_EARLY_PAYLOAD', `early payload of ${this.bodyLen} bytes exceeds ${MAX_EARLY_PAYLOAD_LEN}`);
      }
      this.buf = this.buf.subarray(EARLY_PAYLOAD_HEADER_LEN);
      this.state = 'body';
    }
    if (this.buf.length < this.bodyLen) return step;
    const body = this.buf.subarray(0, this.bodyLen);
    const rest = this.buf.subarray(this.bodyLen);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (cause) {
      throw new ControlError('ERR_EARLY_PAYLOAD', 'early payload is not valid JSON', { cause });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ControlError('ERR_EARLY_PAYLOAD', 'early payload must be a JSON object');
    }
    step.payload = parsed as EarlyNoise;
    if (rest.length) step.data.push(Buffer.from(rest));
    this.buf = Buffer.alloc(0);
    this.state = 'done';
    return step;
  }

  /** End of stream before the parser decided: returns the held bytes (they were not an early payload). */
  flush(): Buffer[] {
    if (this.state === 'header' && this.buf.length) {
      const b = this.buf;
      this.buf = Buffer.alloc(0);
      this.state = 'done';
      return [b];
    }
    if (this.state === 'body') throw new ControlError('ERR_EARLY_PAYLOAD', 'stream ended inside the early payload');
    return [];
  }
}
