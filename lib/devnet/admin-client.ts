// The CLI's side of the devnet admin endpoint (lib/devnet/admin.ts): finds the running devnet through
// <dir>/admin.json and calls its JSON API.
import * as http from 'node:http';
import * as path from 'node:path';
import { readPrivateJSON } from '../util/private-file.js';
import { ADMIN_FILE, ADMIN_FORMAT } from './admin.js';

/** A coded error for the CLI to print (no stack). */
export class AdminError extends Error {
  override name = 'AdminError';
  constructor(
    message: string,
    readonly code: 'ERR_TSNET_DEVNET_NOT_RUNNING' | 'ERR_TSNET_DEVNET_ADMIN',
  ) {
    super(message);
  }
}

export interface AdminEndpoint {
  url: string;
  token: string;
  pageURL: string;
}

/** The admin endpoint of the devnet whose state is in `dir`. */
export async function findDevnetAdmin(dir: string): Promise<AdminEndpoint> {
  const file = path.join(dir, ADMIN_FILE);
  const v = await readPrivateJSON(file);
  if (!v) throw new AdminError(`no running devnet uses ${dir} (no ${ADMIN_FILE}); start one with \`tsnet devnet\`${dir ? ' or pass its --dir' : ''}`, 'ERR_TSNET_DEVNET_NOT_RUNNING');
  if (v.format !== ADMIN_FORMAT || typeof v.url !== 'string' || typeof v.token !== 'string' || typeof v.pageURL !== 'string') {
    throw new AdminError(`${file} is not a devnet admin file`, 'ERR_TSNET_DEVNET_ADMIN');
  }
  return { url: v.url, token: v.token, pageURL: v.pageURL };
}

/** Calls the admin API: GET without a body, POST with one. Resolves with the parsed JSON answer. */
export function callDevnetAdmin(ep: AdminEndpoint, route: string, body?: unknown): Promise<unknown> {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${ep.url}/api/v0/${route}`,
      {
        method: data ? 'POST' : 'GET',
        headers: { Authorization: `Bearer ${ep.token}`, ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}) },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let v: unknown;
          try {
            v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            return reject(new AdminError(`the devnet answered ${res.statusCode} with no JSON`, 'ERR_TSNET_DEVNET_ADMIN'));
          }
          if (res.statusCode === 200) return resolve(v);
          const msg = (v as { error?: unknown } | null)?.error;
          reject(new AdminError(`the devnet refused: ${typeof msg === 'string' ? msg : `HTTP ${res.statusCode}`}`, 'ERR_TSNET_DEVNET_ADMIN'));
        });
        res.on('error', (e) => reject(new AdminError(`the devnet's answer broke off: ${e.message}`, 'ERR_TSNET_DEVNET_ADMIN')));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        new AdminError(
          e.code === 'ECONNREFUSED' ? `the devnet at ${ep.url} is not running (stale ${ADMIN_FILE})` : `cannot reach the devnet at ${ep.url}: ${e.message}`,
          e.code === 'ECONNREFUSED' ? 'ERR_TSNET_DEVNET_NOT_RUNNING' : 'ERR_TSNET_DEVNET_ADMIN',
        ),
      ),
    );
    req.end(data);
  });
}
