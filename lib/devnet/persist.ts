/**
 * Optional persistence of the development server: one JSON file in a
 * directory (mode 0700), written atomically (temp file, fsync, rename; mode
 * 0600). Holds the control server's Noise private key, users, nodes,
 * pre-auth keys, the policy text, and services with their approved hosts and approved routes — so
 * `npx tsnet devnet` keeps its tailnet across restarts. Pending interactive logins are not kept.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ServicesSnapshot } from './services.js';
import type { StateSnapshot } from './state.js';
import { writePrivateJSON } from '../util/private-file.js';

export const DEVNET_STATE_FILE = 'devnet-state.json';

export interface PersistedDevnet {
  format: 'tsnet-devnet';
  /** "privkey:<hex>" */
  controlPrivate: string;
  state: StateSnapshot;
  /** Absent in files written before services were kept. */
  services?: ServicesSnapshot;
}

export async function loadDevnetState(dir: string): Promise<PersistedDevnet | null> {
  const file = path.join(dir, DEVNET_STATE_FILE);
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
  } catch (cause) {
    throw new Error(`devnet state file ${file} is not valid JSON`, { cause });
  }
  const p = v as Partial<PersistedDevnet> | null;
  if (!p || p.format !== 'tsnet-devnet' || typeof p.controlPrivate !== 'string' || !p.state || typeof p.state !== 'object') {
    throw new Error(`devnet state file ${file} has an unexpected shape`);
  }
  return p as PersistedDevnet;
}

export async function saveDevnetState(dir: string, data: PersistedDevnet): Promise<void> {
  await writePrivateJSON(dir, DEVNET_STATE_FILE, data);
}
