// The layers a Server needs only once it starts: the control client (HTTP/2, TLS), the data plane (DERP, STUN)
// and the loopback servers (HTTP). They load on first use, so that requiring the package costs little
// (docs/performance.md, "What requiring the package costs"; test/require-cost.test.ts guards it).
import type * as ControlClientModule from '../control/client.js';
import type * as DataPlaneModule from '../magicsock/data-plane.js';
import type * as LoopbackModule from '../loopback/index.js';
import type * as ForwardModule from '../loopback/forward.js';
import type * as MetricsModule from '../loopback/metrics.js';
import type * as OAuthKeyModule from '../oauth-key.js';
import type * as C2NModule from './c2n.js';
import type * as CertModule from './cert.js';
import type * as FunnelModule from './funnel.js';
import type * as ForeignModule from './foreign.js';
import type * as LocalClientModule from './local-client.js';
import type * as DiscoPingModule from './disco-ping.js';
import type * as PcapModule from './pcap.js';
import type * as PendingModule from './pending.js';
import type * as HostinfoModule from '../control/hostinfo.js';
import type * as FilterModule from '../wire/filter.js';

export const controlLayer = (): typeof ControlClientModule => require('../control/client.js') as typeof ControlClientModule;
export const dataPlaneLayer = (): typeof DataPlaneModule => require('../magicsock/data-plane.js') as typeof DataPlaneModule;
export const loopbackLayer = (): typeof LoopbackModule => require('../loopback/index.js') as typeof LoopbackModule;
export const forwardLayer = (): typeof ForwardModule => require('../loopback/forward.js') as typeof ForwardModule;
export const metricsLayer = (): typeof MetricsModule => require('../loopback/metrics.js') as typeof MetricsModule;
export const oauthKeyLayer = (): typeof OAuthKeyModule => require('../oauth-key.js') as typeof OAuthKeyModule;
export const certLayer = (): typeof CertModule => require('./cert.js') as typeof CertModule;
export const c2nLayer = (): typeof C2NModule => require('./c2n.js') as typeof C2NModule;
export const funnelLayer = (): typeof FunnelModule => require('./funnel.js') as typeof FunnelModule;
// What a Server's constructor or a later call needs: loading these at require would cost more than their size
// (docs/performance.md, "Memory (issue 17, part 4): where it goes and what changed"; each module resolved makes Node's path code
// hotter, and once it is optimized the optimizing compiler's own pages count in RSS).
export const foreignLayer = (): typeof ForeignModule => require('./foreign.js') as typeof ForeignModule;
export const localClientLayer = (): typeof LocalClientModule => require('./local-client.js') as typeof LocalClientModule;
export const discoPingLayer = (): typeof DiscoPingModule => require('./disco-ping.js') as typeof DiscoPingModule;
export const pcapLayer = (): typeof PcapModule => require('./pcap.js') as typeof PcapModule;
export const pendingLayer = (): typeof PendingModule => require('./pending.js') as typeof PendingModule;
export const hostinfoLayer = (): typeof HostinfoModule => require('../control/hostinfo.js') as typeof HostinfoModule;
export const filterLayer = (): typeof FilterModule => require('../wire/filter.js') as typeof FilterModule;
