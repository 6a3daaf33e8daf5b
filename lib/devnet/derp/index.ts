/**
 * The development tailnet's DERP relay and STUN responder, started together
 * by `startDevnet` (see ../index.ts). FOR DEVELOPMENT AND TESTS ONLY.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { DevnetDERPOptions } from '../derpmap.js';
import type { ClientInfo } from './frames.js';
import { startDerpServer, type DerpServer } from './server.js';
import { startStunServer, type StunServer } from './stun-server.js';

export { startDerpServer, type DerpServer, type DerpServerOptions, type DerpServerStats } from './server.js';
export { startStunServer, type StunServer, type StunServerOptions, type StunServerStats } from './stun-server.js';
export type { DerpRelayStats, RelayTraffic } from './relay.js';
export { generateSelfSignedCert, type SelfSignedCert, type SelfSignedCertOptions } from './cert.js';

export interface DevnetRelayOptions {
  /** DERP (HTTPS) port; default 0 (any free port). */
  port?: number;
  /** STUN responder (default true). */
  stun?: boolean;
  /** STUN UDP port; default 0 (any free port). */
  stunPort?: number;
  /** Serve plain HTTP instead of TLS (tests; real clients then need TS_DEBUG_USE_DERP_HTTP). Default false. */
  insecureHTTP?: boolean;
  /** Pin the self-signed certificate in the DERP map (CertName "sha256-raw:…") instead of InsecureForTests. */
  pinCertificate?: boolean;
  /** Let any node key connect, not only the devnet's nodes. Default false. */
  allowUnknownClients?: boolean;
  /** DERP region ID; default 900. */
  regionId?: number;
  /** Packets queued per client before the oldest is dropped; default 256. */
  sendQueuePackets?: number;
  /** Relay private key (tests); default random. */
  privateKey?: Uint8Array;
  /** Most clients past the handshake; default 1000. */
  maxConnections?: number;
  /** Connections without an accepted ClientInfo, from one IP / in all (oldest closed beyond); default 64 / 256. */
  preAuthPerIP?: number;
  preAuthTotal?: number;
  /** Time from the upgrade to an accepted ClientInfo; default 5 s. */
  preAuthTimeoutMs?: number;
  /** Bytes held in all for partial ClientInfo frames (the connection holding the most is closed beyond); default 4 MiB. */
  loginBufferBytes?: number;
  /** TLS handshake and HTTP request headers; default 10 s. */
  headersTimeoutMs?: number;
  /** Plain HTTP keep-alive idle; default 5 s. */
  keepAliveTimeoutMs?: number;
  /** A connection not upgraded with no traffic at all; default 30 s. */
  httpIdleTimeoutMs?: number;
  /** How often login and idle timers are checked; default 1 s. */
  tickMs?: number;
}

export interface DevnetRelay {
  readonly derp: DerpServer;
  readonly stun: StunServer | null;
  /** What devnetDERPMap needs to point at this relay. */
  readonly derpMapOptions: DevnetDERPOptions;
  /** Re-checks connected clients soon (coalesced): call when nodes change. */
  revalidateSoon(): void;
  close(): Promise<void>;
}

/** Starts the relay and (by default) the STUN responder on `host`. */
export async function startDevnetRelay(
  host: string,
  o: DevnetRelayOptions,
  verifyClient: (nodeKey: Uint8Array, info: ClientInfo) => boolean,
  logf: (msg: string) => void,
): Promise<DevnetRelay> {
  const derp = await startDerpServer({
    host,
    port: o.port ?? 0,
    tls: !o.insecureHTTP,
    ...(o.allowUnknownClients ? {} : { verifyClient }),
    ...(o.sendQueuePackets !== undefined ? { sendQueuePackets: o.sendQueuePackets } : {}),
    ...(o.privateKey ? { privateKey: o.privateKey } : {}),
    ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
    ...(o.preAuthPerIP !== undefined ? { preAuthPerIP: o.preAuthPerIP } : {}),
    ...(o.preAuthTotal !== undefined ? { preAuthTotal: o.preAuthTotal } : {}),
    ...(o.preAuthTimeoutMs !== undefined ? { loginTimeoutMs: o.preAuthTimeoutMs } : {}),
    ...(o.loginBufferBytes !== undefined ? { loginBufferBytes: o.loginBufferBytes } : {}),
    ...(o.headersTimeoutMs !== undefined ? { headersTimeoutMs: o.headersTimeoutMs } : {}),
    ...(o.keepAliveTimeoutMs !== undefined ? { keepAliveTimeoutMs: o.keepAliveTimeoutMs } : {}),
    ...(o.httpIdleTimeoutMs !== undefined ? { httpIdleTimeoutMs: o.httpIdleTimeoutMs } : {}),
    ...(o.tickMs !== undefined ? { tickMs: o.tickMs } : {}),
    logf,
  });
  let stun: StunServer | null = null;
  try {
    if (o.stun ?? true) stun = await startStunServer({ host, port: o.stunPort ?? 0, logf });
  } catch (e) {
    await derp.close();
    throw e;
  }
  const derpMapOptions: DevnetDERPOptions = {
    host,
    derpPort: derp.port,
    stunPort: stun ? stun.port : -1,
    ...(o.regionId !== undefined ? { regionId: o.regionId } : {}),
    ...(o.pinCertificate && derp.certName ? { certName: derp.certName } : {}),
    ...(isIPv6(host) ? { ipv4: 'none', ipv6: host } : isIPv4(host) ? { ipv4: host } : {}),
  };
  let timer: NodeJS.Timeout | null = null;
  return {
    derp,
    stun,
    derpMapOptions,
    revalidateSoon: () => {
      if (timer || o.allowUnknownClients) return;
      timer = setTimeout(() => {
        timer = null;
        derp.revalidateClients();
      }, 50);
      timer.unref();
    },
    close: async () => {
      if (timer) clearTimeout(timer);
      timer = null;
      await Promise.all([derp.close(), stun?.close()]);
    },
  };
}
