// The package's logging: quiet unless the user plugs something in, then leveled and structured. A record is
// { time, level, component, msg, ...fields }; `logf` users get the same records as one line of text each.
// docs/api.md, "Logging".

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One log record: the fields are flat, as pino and most JSON log pipelines expect. */
export interface LogRecord {
  time: Date;
  level: LogLevel;
  /** Which part of the node speaks: control, derp, magicsock, netcheck, wireguard, tsnet. */
  component: string;
  msg: string;
  [field: string]: unknown;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** The same sinks, speaking as another component. */
  child(component: string): Logger;
}

export interface LogSinks {
  /** One line of text per record: "warn control: ... key=value". */
  logf?: ((message: string) => void) | undefined;
  /** Structured records. */
  logger?: ((record: LogRecord) => void) | undefined;
  /** The least severe level delivered; default "info". */
  logLevel?: LogLevel | undefined;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
export const LOG_LEVELS = Object.keys(RANK) as LogLevel[];

/** Text form of a record, as `logf` receives it. */
export function formatRecord(r: LogRecord): string {
  const { time: _t, level, component, msg, ...fields } = r;
  const extra = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${level} ${component}: ${msg}${extra ? ` ${extra}` : ''}`;
}

export function createLogger(sinks: LogSinks, component = 'tsnet'): Logger {
  const { logf, logger } = sinks;
  const min = RANK[sinks.logLevel ?? 'info'];
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if ((!logf && !logger) || RANK[level] < min) return;
    const record: LogRecord = { ...fields, time: new Date(), level, component, msg };
    logger?.(record);
    logf?.(formatRecord(record));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (c) => createLogger(sinks, c),
  };
}

/** Discards everything (the default: the package is quiet unless asked). */
export const silentLogger: Logger = createLogger({});
