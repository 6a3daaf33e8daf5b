// Which transport carries a tailnet TCP connection's bytes between the engine and JavaScript
// (docs/architecture.md, "The bridge to JavaScript"):
//   fd:     a socketpair per connection, adopted as a net.Socket's handle (fastest where it works);
//   stream: no descriptor; bytes travel in engine events and Device calls (Bun's net.Socket cannot adopt a
//           socketpair, Windows has none, and it costs no descriptor per connection).
// One choice per process, made on first use: TSNET_BRIDGE=fd|stream overrides the default.

export type BridgeMode = 'fd' | 'stream';

let chosen: BridgeMode | undefined;

function isBun(): boolean {
  return typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';
}

/** The default without TSNET_BRIDGE: stream on Bun and Windows, fd elsewhere. */
export function defaultBridgeMode(): BridgeMode {
  return isBun() || process.platform === 'win32' ? 'stream' : 'fd';
}

export function bridgeMode(): BridgeMode {
  if (chosen) return chosen;
  const env = process.env.TSNET_BRIDGE;
  if (env !== undefined && env !== '' && env !== 'fd' && env !== 'stream') {
    throw Object.assign(new Error(`TSNET_BRIDGE must be "fd" or "stream", not ${JSON.stringify(env)}`), {
      code: 'ERR_TSNET_BRIDGE',
    });
  }
  chosen = env === 'fd' || env === 'stream' ? env : defaultBridgeMode();
  return chosen;
}
