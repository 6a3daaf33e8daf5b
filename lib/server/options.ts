// The Server's options: their types, the list that refuses unknown names, and where state lives by default.
import * as os from 'node:os';
import * as path from 'node:path';
import type { Store } from '../control/store.js';
import type { LogLevel, LogRecord } from '../util/log.js';

export const DEFAULT_CONTROL_URL = 'https://controlplane.tailscale.com';

export interface ServerOptions {
  /**
   * Node name on the tailnet; default: the program's name. DNS labels (1-63 letters, digits, hyphens; no
   * leading or trailing hyphen) joined by dots, at most 253 characters: else ERR_TSNET_INVALID_HOSTNAME.
   */
  hostname?: string;
  /**
   * State directory; default: <user config dir>/tsnet-<program>, or tsnet-<program>-<hostname> when a hostname
   * is given (so several Servers of one program keep separate identities). Ignored when `store` is given.
   */
  dir?: string;
  /** Where the node keeps its identity; default: a file store in `dir` (a memory store when ephemeral). */
  store?: Store;
  /** Auth key; default: TS_AUTHKEY, then TS_AUTH_KEY, then an interactive login URL through userLogf. */
  authKey?: string;
  /**
   * OAuth client secret ("tskey-client-…", optionally "?ephemeral=false&preauthorized=true&baseURL=…") that mints
   * a tagged auth key when no auth key is set; needs advertiseTags. Default: TS_CLIENT_SECRET.
   */
  clientSecret?: string;
  /**
   * Workload identity federation (needs `import 'tsnet/identity-federation'`): the federated client ID (optionally
   * "?ephemeral=false&preauthorized=true") with either an OIDC ID token or an audience to fetch one for; used when
   * there is neither an auth key nor a client secret; needs advertiseTags. Default: TS_CLIENT_ID, TS_ID_TOKEN,
   * TS_AUDIENCE.
   */
  clientID?: string;
  idToken?: string;
  audience?: string;
  /** Coordination server; default: TS_CONTROL_URL or Tailscale's. */
  controlURL?: string;
  ephemeral?: boolean;
  advertiseTags?: string[];
  /** Diagnostic log as text lines ("warn control: connection failed; retrying error=..."); quiet by default. */
  logf?: (message: string) => void;
  /** Diagnostic log as structured records { time, level, component, msg, ...fields }; quiet by default. */
  logger?: (record: LogRecord) => void;
  /** The least severe level that reaches `logf` and `logger`: "debug", "info" (the default), "warn", "error". */
  logLevel?: LogLevel;
  /** Messages for a person (the login URL); default: console.error. */
  userLogf?: (message: string) => void;
  /** Local UDP port for WireGuard, disco and STUN (0, the default: any free port). */
  port?: number;
  /**
   * Debugging: never use a direct path, relay everything through DERP (as Tailscale's
   * TS_DEBUG_ALWAYS_USE_DERP=1, which is also honoured). Default false.
   */
  alwaysUseDERP?: boolean;
  /**
   * ACME directory for HTTPS certificates (certPair, listenTLS); default: TS_DEBUG_ACME_DIRECTORY_URL (as
   * tailscaled), else Let's Encrypt. The bundled devnet's is `devnet.acme.directoryURL`.
   */
  acmeDirectoryURL?: string;
  /**
   * Root certificates (PEM) trusted for the ACME server's HTTPS, e.g. the devnet's `devnet.acme.caPEM`; default:
   * the file named by SSL_CERT_FILE (as Go), else Node's roots.
   */
  acmeCA?: string;
}

// Every option, so that a typo ("authkey") is refused instead of ignored; the type check below keeps this
// list and ServerOptions the same set.
export const SERVER_OPTIONS = [
  'hostname', 'dir', 'store', 'authKey', 'clientSecret', 'clientID', 'idToken', 'audience', 'controlURL',
  'ephemeral', 'advertiseTags', 'logf', 'logger', 'logLevel', 'userLogf', 'port', 'alwaysUseDERP',
  'acmeDirectoryURL', 'acmeCA',
] as const satisfies readonly (keyof ServerOptions)[];
type UnlistedOption = Exclude<keyof ServerOptions, (typeof SERVER_OPTIONS)[number]>;
const everyOptionListed: [UnlistedOption] extends [never] ? true : UnlistedOption = true;
void everyOptionListed;

export const programName = (): string => path.basename(process.argv[1] ?? 'node').replace(/\.[cm]?[jt]s$/, '') || 'node';

export function defaultDir(hostname: string | undefined): string {
  const base =
    process.env.XDG_CONFIG_HOME ??
    (process.platform === 'darwin' ? path.join(os.homedir(), 'Library', 'Application Support') : path.join(os.homedir(), '.config'));
  const prog = programName();
  const name = hostname && hostname !== prog ? `${prog}-${hostname.replace(/[^\w.-]/g, '_')}` : prog;
  return path.join(base, `tsnet-${name}`);
}

