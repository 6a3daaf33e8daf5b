// The LocalAPI's unix socket (loopback({ socketPath })), where Tailscale's CLI finds it on Linux and macOS
// (`tailscale --socket=<path>`). Its mode, 0600, is the credential: only this user can connect, as only root
// (or the operator) can reach tailscaled's socket. A stale socket file from a dead process is replaced; a
// live one is EADDRINUSE.
import * as fs from 'node:fs';
import * as net from 'node:net';

function inUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export async function listenUnix(path: string, onConnection: (c: net.Socket) => void): Promise<net.Server> {
  if (typeof path !== 'string' || path === '') throw new TypeError('socketPath must be a non-empty path');
  if (fs.existsSync(path)) {
    if (!fs.lstatSync(path).isSocket()) throw Object.assign(new Error(`socketPath ${path} exists and is not a socket`), { code: 'EEXIST' });
    if (await inUse(path)) throw Object.assign(new Error(`socketPath ${path} is in use`), { code: 'EADDRINUSE' });
    fs.unlinkSync(path);
  }
  const server = net.createServer({ allowHalfOpen: true }, onConnection);
  server.on('error', () => undefined);
  // Created 0600 from the start (umask; listen() binds synchronously, so the process-wide mask is changed
  // only for that call), not chmod-ed after: no window where others could connect.
  // Worker threads cannot set the umask: there the socket is chmod-ed right after it is bound.
  let old: number | null = null;
  try {
    old = process.umask(0o177);
  } catch {
    /* a worker thread */
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      if (old !== null) process.umask(old);
    }
  });
  if (old === null) fs.chmodSync(path, 0o600);
  return server;
}
