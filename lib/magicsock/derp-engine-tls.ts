/**
 * Engine TLS for DERP relays (docs/architecture.md, "DERP relays": the engine's TLS record layer). The engine
 * dials the relay's TCP itself; Node's tls does the handshake over a stream whose bytes the engine carries
 * (so system CAs, pinning, the meta certificate and Electron's certificate handling all apply, unchanged);
 * then the engine takes over with the two application traffic secrets from the 'keylog' event and seals and
 * opens the TLS records itself: no relayed byte crosses into JavaScript any more.
 *
 * Only with TLS 1.3 and TLS_CHACHA20_POLY1305_SHA256 (the engine's one AEAD). A handshake that ends with
 * anything else (Electron's BoringSSL does not take TLS 1.3 suites from `ciphers`; a server without ChaCha20) marks engine TLS
 * unusable for the node's lifetime and the region is dialled again the JavaScript way.
 * TSNET_DERP_TLS=node turns it off.
 */
import type { Duplex } from 'node:stream';
import type { Device } from '../net/device.js';
import { DERPStream } from './derp-stream.js';

export const ENGINE_TLS_CIPHER = 'TLS_CHACHA20_POLY1305_SHA256';

/** What the dial needs of the engine (injectable for tests). */
export interface DERPEngineTLS {
  /** False once a handshake could not be taken over: dials go the JavaScript way from then on. */
  usable: boolean;
  /** Starts the engine's TCP connection to `server` ("ip:port") for the region; returns the handshake stream. */
  open(regionID: number, hostName: string, server: string): Duplex;
  /** Hands the connection to the engine. Throws if the engine no longer has it. */
  takeover(stream: Duplex, serverKey: Buffer | null, clientSecret: Buffer, serverSecret: Buffer): void;
}

/** TSNET_DERP_TLS: "engine" (the default under Node) or "node" (Node's tls carries every record, as before; the
 * default under Bun and Deno, whose tls over a Duplex and 'keylog' are untested). */
export function engineTLSWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.TSNET_DERP_TLS;
  if (v === 'engine') return true;
  if (v === 'node') return false;
  if (v === undefined || v === '') return process.versions.bun === undefined && !('Deno' in globalThis);
  throw Object.assign(new Error(`TSNET_DERP_TLS must be "engine" or "node", not ${JSON.stringify(v)}`), { code: 'ERR_TSNET_DERP_TLS' });
}

export function deviceEngineTLS(device: Device): DERPEngineTLS {
  return {
    usable: true,
    open(regionID, hostName, server) {
      const s = new DERPStream(device);
      try {
        device.derpAttach(regionID, hostName, null, s.id, server);
      } catch (err) {
        s.destroy();
        throw err;
      }
      return s;
    },
    takeover(stream, serverKey, clientSecret, serverSecret) {
      device.derpTakeover((stream as DERPStream).id, serverKey, clientSecret, serverSecret);
    },
  };
}

/** Collects the application traffic secrets from a TLSSocket's 'keylog' lines (NSS key log format). */
export class TrafficSecrets {
  client: Buffer | null = null;
  server: Buffer | null = null;

  onLine(line: Buffer): void {
    const m = /^(CLIENT|SERVER)_TRAFFIC_SECRET_0 [0-9a-fA-F]+ ([0-9a-fA-F]{64})\s*$/.exec(line.toString('latin1'));
    line.fill(0);
    if (!m) return;
    const secret = Buffer.from(m[2]!, 'hex');
    if (m[1] === 'CLIENT') this.client = secret;
    else this.server = secret;
  }

  wipe(): void {
    this.client?.fill(0);
    this.server?.fill(0);
    this.client = this.server = null;
  }
}
