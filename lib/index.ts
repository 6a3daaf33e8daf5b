// Public entry point of the tsnet package.
export { loadNative, NativeMissingError } from './native.js';
export type { NativeAddon } from './native.js';
export { WireGuard } from './wireguard.js';
export type { WireGuardOptions, WireGuardPeer, PeerStats, HandshakeLoad, Dialer } from './wireguard.js';
export type { WireGuardDrops } from './wg-drops.js';
export { parseWgQuick } from './wgconfig.js';
export { TailnetSocket } from './net/socket.js';
export { TailnetListener } from './net/listener.js';
export type { TailnetListenerEvents } from './net/listener.js';
export { TailnetPacketSocket } from './net/packet.js';
export type { TailnetPacketSocketEvents } from './net/packet.js';
export type { DialOptions, ListenOptions } from './net/netstack.js';
export { Server, DEFAULT_CONTROL_URL } from './server.js';
export type { ServerOptions, ServerEvents, HealthWarning, NetcheckResult, PathChange, PingResult, Status, PeerStatus, PeerInfo, PeersChange, LocalClient, WhoIs } from './server.js';
export type { AddrPort, FallbackTCPHandler, RoutePrefs, ServiceListener, ServiceModeOptions, ServiceTLSListener } from './server.js';
export type { LogRecord, LogLevel } from './util/log.js';
export type { FunnelListener, FunnelOptions, FunnelListenerEvents } from './server/funnel.js';
export { OAuthKeyError } from './oauth-key-error.js';
export type { LoopbackInfo } from './loopback/index.js';
export type { Forwarder } from './loopback/forward.js';
export type { TailnetTLSOptions, TailnetDispatcherOptions } from './net/http.js';
export { MemoryStore, FileStore } from './control/store.js';
// HTTPS certificates and listenTLS (docs/api.md, "Certificates and listenTLS").
export { TLSListener, certContexts } from './server/tls.js';
export type { TLSListenerEvents, ListenTLSOptions, CertSource } from './server/tls.js';
export type { CertPair, CertEvent } from './server/cert.js';
export { AcmeError, LETS_ENCRYPT_DIRECTORY } from './cert/acme-error.js';
export type { AcmeProblem } from './cert/acme-error.js';
export type { Store } from './control/store.js';
// LocalClient parity (lib/server/local-client.ts).
export type { Prefs } from './server/types.js';
export { IPNBusWatcher } from './server/ipn-bus.js';
export type { IPNNotify, WatchOptions } from './server/ipn-bus.js';
export type { PcapCapture } from './server/pcap.js';
