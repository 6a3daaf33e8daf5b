/**
 * Persistent state: a Store maps names to byte values. FileStore keeps them
 * in one JSON file (name → base64, like tailscaled.state) written atomically
 * (temp file + fsync + rename, mode 0600) inside a 0700 directory.
 *
 * The state holds private keys, so an existing directory or file that other users can access is made private
 * when it is ours (group and other permissions removed), and refused with ERR_STORE when it belongs to
 * someone else: we cannot tighten it, and its owner could read or swap our keys (docs/api.md, "State
 * directory").
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { ControlError } from '../wire/errors.js';
import { ownCopy } from '../util/own-buffer.js';

export interface Store {
  /** The value stored under `key`, or undefined. */
  get(key: string): Promise<Buffer | undefined>;
  /** Stores (replaces) a value; resolves once durable. */
  set(key: string, value: Uint8Array): Promise<void>;
  /** Removes a value (no error if absent). */
  delete(key: string): Promise<void>;
  /** True when the store keeps its values encrypted at rest; reported to control as Hostinfo.StateEncrypted. */
  readonly encrypted?: boolean;
}

export class MemoryStore implements Store {
  private readonly map = new Map<string, Buffer>();

  async get(key: string): Promise<Buffer | undefined> {
    const v = this.map.get(key);
    return v ? ownCopy(v) : undefined;
  }

  // Values are private copies (get returns copies), so a replaced or deleted one is zeroed: it may hold a key.
  async set(key: string, value: Uint8Array): Promise<void> {
    const old = this.map.get(key);
    this.map.set(key, ownCopy(value));
    old?.fill(0);
  }

  async delete(key: string): Promise<void> {
    this.map.get(key)?.fill(0);
    this.map.delete(key);
  }
}

export const DEFAULT_STATE_FILE = 'tailscaled.state';

/**
 * Removes group and other permissions from a state directory or file of ours; refuses (ERR_STORE) one that
 * others can access and that belongs to another user. No-op on Windows, where mode bits mean little.
 */
async function makePrivate(what: string, where: string, st: Stats, chmod: (mode: number) => Promise<void>): Promise<void> {
  const mode = st.mode & 0o777;
  if (process.platform === 'win32' || (mode & 0o077) === 0) return;
  const uid = process.getuid?.();
  const octal = mode.toString(8).padStart(4, '0');
  if (uid !== undefined && st.uid !== uid) {
    throw new ControlError(
      'ERR_STORE',
      `${what} ${where} is accessible to other users (mode ${octal}) and belongs to another user (uid ${st.uid}); ` +
        `make it private (chmod go-rwx) or choose another directory`,
    );
  }
  try {
    await chmod(mode & 0o700);
  } catch (cause) {
    throw new ControlError('ERR_STORE', `cannot make ${what} ${where} private (mode ${octal})`, { cause });
  }
}

export class FileStore implements Store {
  readonly dir: string;
  readonly file: string;
  private data: Map<string, Buffer> | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(dir: string, fileName = DEFAULT_STATE_FILE) {
    this.dir = path.resolve(dir);
    this.file = path.join(this.dir, fileName);
  }

  /** Runs operations one at a time so writes never interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async ensureDir(): Promise<void> {
    let created: string | undefined;
    try {
      created = await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw new ControlError('ERR_STORE', `cannot create state directory ${this.dir}`, { cause });
    }
    if (created !== undefined) await fsp.chmod(this.dir, 0o700);
    const st = await fsp.stat(this.dir);
    if (!st.isDirectory()) throw new ControlError('ERR_STORE', `${this.dir} is not a directory`);
    await makePrivate('state directory', this.dir, st, (m) => fsp.chmod(this.dir, m));
  }

  private async load(): Promise<Map<string, Buffer>> {
    if (this.data) return this.data;
    await this.ensureDir();
    let text: string;
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(this.file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.data = new Map();
        return this.data;
      }
      throw new ControlError('ERR_STORE', `cannot read state file ${this.file}`, { cause: err });
    }
    try {
      const h = fh;
      await makePrivate('state file', this.file, await h.stat(), (m) => h.chmod(m));
      text = await h.readFile('utf8');
    } catch (err) {
      if (err instanceof ControlError) throw err;
      throw new ControlError('ERR_STORE', `cannot read state file ${this.file}`, { cause: err });
    } finally {
      await fh.close().catch(() => undefined);
    }
    let obj: unknown;
    try {
      obj = text.trim() === '' ? {} : JSON.parse(text);
    } catch (cause) {
      throw new ControlError('ERR_STORE', `state file ${this.file} is not valid JSON`, { cause });
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new ControlError('ERR_STORE', `state file ${this.file} must hold a JSON object`);
    }
    const m = new Map<string, Buffer>();
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      if (typeof v !== 'string') throw new ControlError('ERR_STORE', `state file entry ${k} is not a base64 string`);
      m.set(k, Buffer.from(v, 'base64'));
    }
    this.data = m;
    return m;
  }

  private async flush(m: Map<string, Buffer>): Promise<void> {
    const obj: Record<string, string> = {};
    for (const [k, v] of [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) obj[k] = v.toString('base64');
    const tmp = path.join(this.dir, `.${path.basename(this.file)}.${randomBytes(6).toString('hex')}.tmp`);
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(tmp, 'wx', 0o600);
      await fh.writeFile(JSON.stringify(obj, null, 1) + '\n', 'utf8');
      await fh.sync();
      await fh.close();
      fh = undefined;
      await fsp.rename(tmp, this.file);
    } catch (cause) {
      await fh?.close().catch(() => undefined);
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw new ControlError('ERR_STORE', `cannot write state file ${this.file}`, { cause });
    }
    // Make the rename durable too (best effort: not every platform can fsync a directory).
    try {
      const d = await fsp.open(this.dir, 'r');
      await d.sync().catch(() => undefined);
      await d.close();
    } catch {
      /* ignore */
    }
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.serial(async () => {
      const v = (await this.load()).get(key);
      return v ? ownCopy(v) : undefined;
    });
  }

  set(key: string, value: Uint8Array): Promise<void> {
    return this.serial(async () => {
      const cur = await this.load();
      const m = new Map(cur);
      const copy = Buffer.from(value);
      m.set(key, copy);
      try {
        await this.flush(m);
      } catch (err) {
        copy.fill(0);
        throw err;
      }
      this.data = m;
      cur.get(key)?.fill(0); // values are private copies (get returns copies): a replaced one may hold a key
    });
  }

  delete(key: string): Promise<void> {
    return this.serial(async () => {
      const cur = await this.load();
      if (!cur.has(key)) return;
      const m = new Map(cur);
      m.delete(key);
      await this.flush(m);
      this.data = m;
      cur.get(key)?.fill(0);
    });
  }

  /** Drops the in-memory copy; the next access re-reads the file. */
  reload(): void {
    this.data = null;
  }
}
