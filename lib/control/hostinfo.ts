/**
 * The Hostinfo this client reports (docs/protocol/control.md §13).
 */
import os from 'node:os';
import type { Hostinfo } from '../wire/tailcfg.js';

export const CLIENT_VERSION = '0.1.0';

function osName(): string {
  switch (process.platform) {
    case 'darwin':
      return 'macOS';
    case 'win32':
      return 'windows';
    default:
      return process.platform;
  }
}

function goArch(): string {
  switch (process.arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    default:
      return process.arch;
  }
}

export interface HostinfoOptions {
  hostname: string;
  backendLogID: string;
  requestTags?: readonly string[];
  app?: string;
  /** Whether the state store encrypts at rest (capability 118); false unless the Store says so. */
  stateEncrypted?: boolean;
}

export function defaultHostinfo(opts: HostinfoOptions): Hostinfo {
  const hi: Hostinfo = {
    IPNVersion: `${CLIENT_VERSION}-tsnet-node`,
    BackendLogID: opts.backendLogID,
    OS: osName(),
    OSVersion: os.release(),
    Package: 'tsnet',
    Hostname: opts.hostname,
    NoLogsNoSupport: true,
    Machine: typeof os.machine === 'function' ? os.machine() : process.arch,
    GoArch: goArch(),
    Userspace: true,
    UserspaceRouter: true,
    // Capability 118: whether the node's state is encrypted at rest. IngressEnabled (113) stays unset: no funnel.
    StateEncrypted: opts.stateEncrypted === true,
  };
  if (opts.app) hi.App = opts.app;
  if (opts.requestTags && opts.requestTags.length) hi.RequestTags = [...opts.requestTags];
  return hi;
}

/** Default hostname: the machine's, first label, lower-case. */
export function defaultHostname(): string {
  const h = os.hostname().split('.')[0]?.toLowerCase() ?? '';
  return h || 'tsnet';
}
