/**
 * A tolerant parser for HuJSON ("human JSON"), the format of Tailscale policy
 * files: JSON plus `//` line comments, `/* *\/` block comments and trailing
 * commas in objects and arrays. Everything else is strict JSON (double-quoted
 * strings, JSON numbers, true/false/null). Errors name line and column.
 *
 * Written from the format's description; the output is plain JSON values.
 */

export type HuJSONValue = string | number | boolean | null | HuJSONValue[] | { [key: string]: HuJSONValue };

export class HuJSONError extends SyntaxError {
  readonly line: number;
  readonly column: number;
  constructor(message: string, line: number, column: number) {
    super(`${message} at line ${line}, column ${column}`);
    this.name = 'HuJSONError';
    this.line = line;
    this.column = column;
  }
}

/** Maximum nesting depth accepted (a guard against stack exhaustion). */
export const HUJSON_MAX_DEPTH = 256;

export function parseHuJSON(text: string): HuJSONValue {
  const p = new Parser(text);
  p.skipSpace();
  const v = p.value(0);
  p.skipSpace();
  if (!p.eof()) p.fail('unexpected content after the top-level value');
  return v;
}

/** Standard JSON text for a HuJSON document (comments and trailing commas dropped). */
export function standardizeHuJSON(text: string): string {
  return JSON.stringify(parseHuJSON(text));
}

class Parser {
  private pos = 0;
  constructor(private readonly s: string) {}

  eof(): boolean {
    return this.pos >= this.s.length;
  }

  fail(msg: string, at = this.pos): never {
    let line = 1;
    let col = 1;
    for (let i = 0; i < at && i < this.s.length; i++) {
      if (this.s.charCodeAt(i) === 10) {
        line++;
        col = 1;
      } else col++;
    }
    throw new HuJSONError(msg, line, col);
  }

  skipSpace(): void {
    const s = this.s;
    for (;;) {
      const c = s.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 10 || c === 13 || c === 0xfeff) {
        this.pos++;
      } else if (c === 47 /* / */) {
        const n = s.charCodeAt(this.pos + 1);
        if (n === 47) {
          const end = s.indexOf('\n', this.pos + 2);
          this.pos = end < 0 ? s.length : end + 1;
        } else if (n === 42 /* * */) {
          const end = s.indexOf('*/', this.pos + 2);
          if (end < 0) this.fail('unterminated block comment');
          this.pos = end + 2;
        } else {
          this.fail('unexpected "/"');
        }
      } else {
        return;
      }
    }
  }

  value(depth: number): HuJSONValue {
    if (depth > HUJSON_MAX_DEPTH) this.fail('nesting too deep');
    const c = this.s[this.pos];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      case undefined:
        return this.fail('unexpected end of input');
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.number();
        return this.fail(`unexpected character ${JSON.stringify(c)}`);
    }
  }

  private literal<T extends HuJSONValue>(word: string, v: T): T {
    if (this.s.startsWith(word, this.pos)) {
      this.pos += word.length;
      return v;
    }
    return this.fail('invalid literal');
  }

  private number(): number {
    const re = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    re.lastIndex = this.pos;
    const m = re.exec(this.s);
    if (!m || m[0] === '-') this.fail('invalid number');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  private string(): string {
    const start = this.pos;
    this.pos++; // opening quote
    let out = '';
    let chunkStart = this.pos;
    const s = this.s;
    for (;;) {
      if (this.pos >= s.length) this.fail('unterminated string', start);
      const c = s.charCodeAt(this.pos);
      if (c === 34) {
        out += s.slice(chunkStart, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c === 92) {
        out += s.slice(chunkStart, this.pos);
        const e = s[this.pos + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) {
          out += simple[e];
          this.pos += 2;
        } else if (e === 'u') {
          const hex = s.slice(this.pos + 2, this.pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 6;
        } else {
          this.fail('invalid escape');
        }
        chunkStart = this.pos;
        continue;
      }
      this.pos++;
    }
  }

  private array(depth: number): HuJSONValue[] {
    this.pos++;
    const out: HuJSONValue[] = [];
    for (;;) {
      this.skipSpace();
      if (this.s[this.pos] === ']') {
        this.pos++;
        return out;
      }
      out.push(this.value(depth + 1));
      this.skipSpace();
      const c = this.s[this.pos];
      if (c === ',') {
        this.pos++;
      } else if (c === ']') {
        this.pos++;
        return out;
      } else {
        this.fail('expected "," or "]"');
      }
    }
  }

  private object(depth: number): { [key: string]: HuJSONValue } {
    this.pos++;
    const out: { [key: string]: HuJSONValue } = Object.create(null) as { [key: string]: HuJSONValue };
    for (;;) {
      this.skipSpace();
      const c = this.s[this.pos];
      if (c === '}') {
        this.pos++;
        return { ...out };
      }
      if (c !== '"') this.fail('expected a string key');
      const keyAt = this.pos;
      const key = this.string();
      if (Object.prototype.hasOwnProperty.call(out, key)) this.fail(`duplicate key ${JSON.stringify(key)}`, keyAt);
      this.skipSpace();
      if (this.s[this.pos] !== ':') this.fail('expected ":"');
      this.pos++;
      this.skipSpace();
      out[key] = this.value(depth + 1);
      this.skipSpace();
      const d = this.s[this.pos];
      if (d === ',') {
        this.pos++;
      } else if (d === '}') {
        this.pos++;
        return { ...out };
      } else {
        this.fail('expected "," or "}"');
      }
    }
  }
}
