/**
 * A Tailscale Service's listener (Go's ServiceListener; docs/services.md): the connections to the service's
 * VIPs on one port, handed over by the node's catch-all listener (foreign.ts). Also the service name rule.
 */
import type * as http from 'node:http';
import type * as net from 'node:net';
import { TailnetListener } from '../net/listener.js';
import { codedError } from '../util/errors.js';
import { addIdentityHeaders } from './service-http.js';
import type { WhoIs } from './types.js';

export interface ServiceModeOptions {
  mode: 'tcp' | 'http';
  port: number;
  /** HTTP mode: serve HTTPS with the certificate of the service's FQDN (Go's ServiceModeHTTP.HTTPS). */
  https?: boolean;
  /** TCP mode: terminate TLS with the certificate of the service's FQDN (Go's ServiceModeTCP.TerminateTLS). */
  terminateTLS?: boolean;
}

const SERVICE_NAME = /^svc:[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Checks a service name as tailcfg.ServiceName.Validate does ("svc:" and a DNS label). */
export function checkServiceName(name: unknown): string {
  if (typeof name !== 'string') throw codedError('ERR_INVALID_ARG_TYPE', 'service name must be a string like "svc:web"', TypeError);
  if (!SERVICE_NAME.test(name)) throw codedError('ERR_INVALID_ARG_VALUE', `service name must be "svc:" and a DNS label, got ${JSON.stringify(name)}`, RangeError);
  return name;
}

/** A listener for a Tailscale Service (Go's ServiceListener): connections to the service's VIPs on its port. */
export class ServiceListener extends TailnetListener {
  /** The service's fully qualified domain name ("web.example.ts.net"). */
  readonly fqdn: string;
  readonly service: string;
  readonly mode: 'tcp' | 'http';
  readonly #onClose: () => void;
  readonly #whoIs: ((s: net.Socket) => WhoIs | null) | undefined;

  /** @internal made by Server.listenService */
  constructor(init: ConstructorParameters<typeof TailnetListener>[0], fqdn: string, service: string, mode: 'tcp' | 'http', onClose: () => void, whoIs?: (s: net.Socket) => WhoIs | null) {
    super(init);
    this.#whoIs = whoIs;
    this.fqdn = fqdn;
    this.service = service;
    this.mode = mode;
    this.#onClose = onClose;
    this.once('close', () => this.#onClose());
  }

  /**
   * As TailnetListener#serve; in HTTP mode, requests also get the identity headers Tailscale's serve proxy
   * adds (Tailscale-User-Login, -Name, -Profile-Pic for user nodes; X-Forwarded-Host/-For): service-http.ts.
   */
  override serve<S extends net.Server>(server: S): S {
    if (this.mode === 'http' && this.#whoIs && typeof (server as unknown as http.Server).setTimeout === 'function') {
      addIdentityHeaders(server as unknown as http.Server, this.#whoIs);
    }
    return super.serve(server);
  }

  /** Go's Addr(): the FQDN and port (a service listens on two VIPs, so the name stands for them). */
  addr(): string {
    return `${this.fqdn}:${this.address().port}`;
  }
}

