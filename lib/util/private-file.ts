// Small files only their owner may read (mode 0600 in a 0700 directory), written atomically: how a running
// devnet or node tells the CLI where its admin endpoint or LocalAPI is and the credential for it
// (docs/cli.md). On Windows the modes are not enforced; the per-user directories' ACLs are what protect them.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/** Writes `data` as JSON to dir/name (temp file, mode 0600, fsync, rename); creates dir with mode 0700. */
export async function writePrivateJSON(dir: string, name: string, data: unknown): Promise<string> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, name);
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await fsp.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(data, null, 1)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  return file;
}

/** Removes dir/name if it still holds what `mine` recognises (another process may have replaced it since). */
export async function removePrivateJSON(dir: string, name: string, mine: (v: Record<string, unknown>) => boolean): Promise<void> {
  const file = path.join(dir, name);
  const v = await readPrivateJSON(file).catch(() => null);
  if (v && mine(v)) await fsp.rm(file, { force: true });
}

/** Reads a JSON object from `file`; null if it does not exist. Throws a coded error if it is not an object. */
export async function readPrivateJSON(file: string): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = null;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw Object.assign(new Error(`${file} is not a JSON object`), { code: 'ERR_TSNET_BAD_FILE' });
  }
  return v as Record<string, unknown>;
}
