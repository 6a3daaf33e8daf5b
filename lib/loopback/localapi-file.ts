// How `tsnet status` finds a running node (docs/cli.md), as `tailscale status` finds tailscaled through its
// socket: the node writes its loopback listener's address and LocalAPI credential into its state directory
// (localapi.json, mode 0600) when loopback() starts, and removes it on close.
import * as http from 'node:http';
import * as path from 'node:path';
import { readPrivateJSON, removePrivateJSON, writePrivateJSON } from '../util/private-file.js';

export const LOCALAPI_FILE = 'localapi.json';
const FORMAT = 'tsnet-localapi';

export interface LocalAPIEndpoint {
  /** "127.0.0.1:port" */
  address: string;
  credential: string;
}

export async function writeLocalAPIFile(dir: string, ep: LocalAPIEndpoint): Promise<void> {
  await writePrivateJSON(dir, LOCALAPI_FILE, { format: FORMAT, ...ep, pid: process.pid });
}

export async function removeLocalAPIFile(dir: string, ep: LocalAPIEndpoint): Promise<void> {
  await removePrivateJSON(dir, LOCALAPI_FILE, (v) => v.credential === ep.credential);
}

/** A coded error for the CLI to print (no stack). */
export class LocalAPIError extends Error {
  override name = 'LocalAPIError';
  constructor(
    message: string,
    readonly code: 'ERR_TSNET_NODE_NOT_RUNNING' | 'ERR_TSNET_LOCALAPI',
  ) {
    super(message);
  }
}

/** The LocalAPI of the node whose state is in `dir`. */
export async function findLocalAPI(dir: string): Promise<LocalAPIEndpoint> {
  const file = path.join(dir, LOCALAPI_FILE);
  const v = await readPrivateJSON(file);
  if (!v) {
    throw new LocalAPIError(`no running node uses ${dir} (no ${LOCALAPI_FILE}: the node writes it when its program calls server.loopback())`, 'ERR_TSNET_NODE_NOT_RUNNING');
  }
  if (v.format !== FORMAT || typeof v.address !== 'string' || typeof v.credential !== 'string') {
    throw new LocalAPIError(`${file} is not a tsnet LocalAPI file`, 'ERR_TSNET_LOCALAPI');
  }
  return { address: v.address, credential: v.credential };
}

/** GET a LocalAPI path (e.g. "/localapi/v0/status"); resolves with the parsed JSON. */
export function localAPIGet(ep: LocalAPIEndpoint, route: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `http://${ep.address}${route}`,
      {
        headers: { 'Sec-Tailscale': 'localapi', Authorization: `Basic ${Buffer.from(`tsnet:${ep.credential}`).toString('base64')}` },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) return reject(new LocalAPIError(`the node's LocalAPI answered ${res.statusCode}: ${text.trim()}`, 'ERR_TSNET_LOCALAPI'));
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new LocalAPIError("the node's LocalAPI answered with no JSON", 'ERR_TSNET_LOCALAPI'));
          }
        });
        res.on('error', (e) => reject(new LocalAPIError(`the LocalAPI's answer broke off: ${e.message}`, 'ERR_TSNET_LOCALAPI')));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ECONNREFUSED'
          ? new LocalAPIError(`the node at ${ep.address} is not running (stale ${LOCALAPI_FILE})`, 'ERR_TSNET_NODE_NOT_RUNNING')
          : new LocalAPIError(`cannot reach the node at ${ep.address}: ${e.message}`, 'ERR_TSNET_LOCALAPI'),
      ),
    );
    req.end();
  });
}
