// The LocalClient's methods beyond whoIs and status (logout, ping, getPrefs, watchIPNBus), built from what
// the Server hands in, so lib/server.ts only delegates (docs/api.md, "LocalClient").
import { argumentError, invalidArgType } from '../util/errors.js';
import { IPNBusWatcher, type BusSnapshot, type BusSource, type WatchOptions } from './ipn-bus.js';
import type { LocalClient, PingResult, Prefs } from './types.js';

export interface LocalClientHost {
  logout(): Promise<void>;
  ping(target: string, options: { timeout?: number; signal?: AbortSignal }): Promise<PingResult>;
  discoPing(target: string, options: { timeout?: number; signal?: AbortSignal }): Promise<PingResult>;
  prefs(): Prefs;
  snapshot(): BusSnapshot;
  bus: BusSource;
}

type Extra = Omit<LocalClient, 'whoIs' | 'status' | 'certPair' | 'editPrefs'>;

export function localClientExtras(h: LocalClientHost): Extra {
  return {
    logout: () => h.logout(),
    ping: async (target, options = {}) => {
      if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
      const { type = 'TSMP', ...rest } = options;
      if (rest.timeout !== undefined && (!Number.isFinite(rest.timeout) || rest.timeout <= 0)) {
        throw argumentError('RangeError', 'ERR_OUT_OF_RANGE', `options.timeout must be a positive number of ms, got ${String(rest.timeout)}`);
      }
      if (type === 'disco') return h.discoPing(target, rest);
      if (type !== 'TSMP') throw argumentError('TypeError', 'ERR_INVALID_ARG_VALUE', `options.type must be "TSMP" or "disco", got ${JSON.stringify(type)}`);
      return h.ping(target, rest);
    },
    getPrefs: async () => h.prefs(),
    watchIPNBus: (options: WatchOptions = {}) => {
      if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
      return new IPNBusWatcher(h.bus, h.snapshot(), options);
    },
  };
}
