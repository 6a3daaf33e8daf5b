// HTTP over the tailnet with the usual Node clients: an http.Agent / https.Agent whose connections dial
// through the node, an undici dispatcher, and fetch() bound to it.
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type * as Undici from 'undici';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';
import { joinHostPort } from '../wire/ip.js';

/** What the helpers need from a node: a synchronous connect, as http.Agent's createConnection expects. */
export interface Connector {
  connect(network: 'tcp', address: string): net.Socket;
}


/** An http.Agent whose connections go over the tailnet (keep-alive on by default). */
export function httpAgent(node: Connector, options: http.AgentOptions = {}): http.Agent {
  const agent = new http.Agent({ keepAlive: true, ...options });
  agent.createConnection = ((o: { host?: string; port?: number }) =>
    node.connect('tcp', joinHostPort(o.host ?? 'localhost', Number(o.port ?? 80)))) as typeof agent.createConnection;
  return agent;
}

/** An https.Agent whose TLS connections run over tailnet sockets (certificate checks as usual). */
export function httpsAgent(node: Connector, options: https.AgentOptions = {}): https.Agent {
  const agent = new https.Agent({ keepAlive: true, ...options });
  agent.createConnection = ((o: tls.ConnectionOptions & { host?: string; port?: number }) => {
    const socket = node.connect('tcp', joinHostPort(o.host ?? 'localhost', Number(o.port ?? 443)));
    return tls.connect({ ...o, socket, servername: o.servername ?? (net.isIP(o.host ?? '') ? undefined : o.host) });
  }) as typeof agent.createConnection;
  return agent;
}

// undici added about 7 MiB of RSS and 95 modules to require('tsnet'), so the package loads it on the first dispatcher()
// or fetch(), not with require('tsnet') (docs/performance.md, "What requiring the package costs").
let undici: typeof Undici | undefined;
// The package's own file, not the bare 'undici': Bun answers that name with its built-in fetch, which
// ignores a dispatcher's connector and would resolve tailnet names with the system's DNS.
const loadUndici = (): typeof Undici => (undici ??= require('undici/index.js') as typeof Undici);

/** TLS settings for https:// requests of a dispatcher or fetch (a private CA, a client certificate...). */
export type TailnetTLSOptions = Pick<tls.ConnectionOptions, 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'servername' | 'minVersion' | 'checkServerIdentity'>;

/** undici's Agent options, with `tls` for https:// connections (its own `connect` is replaced by the tailnet's). */
export type TailnetDispatcherOptions = Omit<UndiciAgent.Options, 'connect' | 'tls'> & { tls?: TailnetTLSOptions };

/** An undici dispatcher (for undici.request, undici.fetch, or Node's fetch `dispatcher` option). */
export function dispatcher(node: Connector, options: TailnetDispatcherOptions = {}): Dispatcher {
  const { tls: tlsOptions, ...agentOptions } = options;
  return new (loadUndici().Agent)({
    ...agentOptions,
    connect: (opts, cb) => {
      const port = Number(opts.port || (opts.protocol === 'https:' ? 443 : 80));
      let socket: net.Socket;
      try {
        socket = node.connect('tcp', joinHostPort(opts.hostname, port));
      } catch (err) {
        cb(err as Error, null);
        return;
      }
      let settled = false;
      const ready = () => {
        if (settled) return;
        settled = true;
        socket.off('error', failed);
        cb(null, socket);
      };
      const failed = (err: Error) => {
        if (settled) return;
        settled = true;
        cb(err, null);
      };
      if (opts.protocol === 'https:') {
        const servername = tlsOptions?.servername ?? opts.servername ?? (net.isIP(opts.hostname) ? undefined : opts.hostname);
        socket = tls.connect({ ...tlsOptions, socket, ...(servername ? { servername } : {}), ALPNProtocols: ['http/1.1'] });
        socket.once('secureConnect', ready);
      } else {
        socket.once('connect', ready);
      }
      socket.once('error', failed);
    },
  });
}

/** fetch() over the tailnet: the WHATWG fetch of undici with this node's dispatcher. */
export function tailnetFetch(d: Dispatcher): (input: string | URL, init?: Parameters<typeof Undici.fetch>[1]) => ReturnType<typeof Undici.fetch> {
  return (input, init = {}) => loadUndici().fetch(input, { ...init, dispatcher: d });
}
