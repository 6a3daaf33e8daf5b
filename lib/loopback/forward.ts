// A local port forwarder (as `ssh -L`): a 127.0.0.1 listener whose every connection is dialed to one tailnet
// address and spliced, for clients that can take neither a socket nor a proxy (grpc-js, database drivers).
// Any local process may use it, as with `ssh -L`: forward only what the machine's users may reach.
import * as net from 'node:net';
import type { LoopbackHost } from './host.js';
import { DIAL_MS } from './socks5.js';
import { splice } from './splice.js';

export interface Forwarder {
  /** "127.0.0.1:port" to connect to. */
  readonly address: string;
  readonly port: number;
  /** Stops listening and ends every forwarded connection. */
  close(): Promise<void>;
}

export async function startForward(host: Pick<LoopbackHost, 'dial'>, target: string, port = 0): Promise<Forwarder> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => undefined); // ends the pair through 'close'; never an unhandled error
  };
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (local) => {
    track(local);
    host.dial('tcp', target, { timeout: DIAL_MS, allowHalfOpen: true }).then(
      (remote) => {
        track(remote);
        if (local.destroyed) return void remote.destroy();
        splice(local, remote);
        local.resume();
      },
      () => local.destroy(),
    );
  });
  server.on('error', () => undefined); // accept errors (EMFILE) after listening
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${bound}`,
    port: bound,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
