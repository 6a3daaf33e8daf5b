// OAuth client secret → tagged auth key, as tsnet does when it links feature/oauthkey (docs/protocol/control.md §16, step 4).
//
// A Tailscale OAuth client secret ("tskey-client-…") cannot register a node itself: it is exchanged for an
// access token (OAuth 2 client credentials), and that token creates a one-off pre-auth key through the public
// API. The secret may carry query-style attributes: "tskey-client-…?ephemeral=false&preauthorized=true&baseURL=…".
//
// Secrets (the client secret, the access token, the minted key) never appear in logs or error messages.
//
// Workload identity federation (step 5) lives in lib/identity-federation.ts and is opt-in, as in tsnet: this file
// holds only its hook point, the precedence and validation that tsnet keeps in its core, and the key minting both
// paths share.
import { loadNodeProfile, wipeNodeProfile } from './control/identity.js';
import type { Store } from './control/store.js';
import { abortError } from './net/errors.js';

export const OAUTH_SECRET_PREFIX = 'tskey-client-';
export const DEFAULT_API_BASE_URL = 'https://api.tailscale.com';
// Tailscale's client sends this placeholder: the API identifies the OAuth client by its secret alone.
const PLACEHOLDER_CLIENT_ID = 'some-client-id';
const MAX_MESSAGE = 300;

// The error class lives apart so that the package's entry can export it without loading this module.
import { OAuthKeyError, type OAuthKeyErrorCode } from './oauth-key-error.js';
export { OAuthKeyError, type OAuthKeyErrorCode };

export interface OAuthSecret {
  /** The secret without its attributes. */
  secret: string;
  /** Nodes registered with the minted key are ephemeral (default true). */
  ephemeral: boolean;
  /** ... and need no admin approval (default false). */
  preauthorized: boolean;
  /** API base URL, without a trailing slash (default https://api.tailscale.com). */
  baseURL: string;
}

// Go's strconv.ParseBool, which Tailscale uses for the attributes.
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

export interface CredentialAttributes {
  /** The credential without its attributes. */
  bare: string;
  attrs: URLSearchParams;
  /** A boolean attribute (Go's strconv.ParseBool), `def` when absent or empty. */
  flag(name: string, def: boolean): boolean;
}

/**
 * Splits "credential?attrs" (Tailscale's query-style attributes on OAuth secrets and federated client IDs); names
 * outside `allowed` are errors. `what` names the credential in messages (never its value).
 */
export function parseAttributes(value: string, allowed: readonly string[], what: string, code: OAuthKeyErrorCode): CredentialAttributes {
  const q = value.indexOf('?');
  const attrs = new URLSearchParams(q < 0 ? '' : value.slice(q + 1));
  for (const k of attrs.keys()) {
    if (!allowed.includes(k)) throw new OAuthKeyError(code, `unknown attribute ${JSON.stringify(k)} on the ${what}`);
  }
  const flag = (name: string, def: boolean): boolean => {
    const v = attrs.get(name) ?? '';
    if (v === '') return def;
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
    throw new OAuthKeyError(code, `invalid boolean ${JSON.stringify(v)} for attribute ${name} of the ${what}`);
  };
  return { bare: q < 0 ? value : value.slice(0, q), attrs, flag };
}

/** Splits "tskey-client-…?attrs" into the secret and its attributes; unknown attributes are errors. */
export function parseOAuthSecret(value: string): OAuthSecret {
  const a = parseAttributes(value, ['ephemeral', 'preauthorized', 'baseURL'], 'OAuth client secret', 'ERR_TSNET_OAUTH');
  const baseURL = (a.attrs.get('baseURL') || DEFAULT_API_BASE_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(baseURL)) throw new OAuthKeyError('ERR_TSNET_OAUTH', `baseURL must be an http(s) URL, got ${JSON.stringify(baseURL)}`);
  return { secret: a.bare, ephemeral: a.flag('ephemeral', true), preauthorized: a.flag('preauthorized', false), baseURL };
}

export interface ResolveOAuthOptions {
  /** ACL tags for the minted key; mandatory (the API only lets OAuth clients create tagged keys). */
  tags: readonly string[];
  fetch?: typeof globalThis.fetch;
  signal?: AbortSignal;
}

/**
 * Exchanges an OAuth client secret for a new single-use auth key carrying `tags`. A value that is not an
 * OAuth client secret is returned unchanged (it already is an auth key), as in Tailscale.
 */
export async function resolveOAuthAuthKey(value: string, options: ResolveOAuthOptions): Promise<string> {
  if (!value.startsWith(OAUTH_SECRET_PREFIX)) return value;
  if (!options.tags.length) {
    throw new OAuthKeyError('ERR_TSNET_OAUTH_TAGS', 'an OAuth client secret needs advertiseTags: the auth key it mints must be tagged');
  }
  const s = parseOAuthSecret(value);
  const call = apiCaller({ ...options, secrets: [value, s.secret], code: 'ERR_TSNET_OAUTH' });
  // RFC 6749 §2.3.1: client id and secret are form-encoded, then sent as HTTP Basic credentials.
  const basic = Buffer.from(`${formEscape(PLACEHOLDER_CLIENT_ID)}:${formEscape(s.secret)}`).toString('base64');
  const tok = await call('OAuth token request', `${s.baseURL}/api/v2/oauth/token`, {
    authorization: `Basic ${basic}`,
    'content-type': 'application/x-www-form-urlencoded',
  }, 'grant_type=client_credentials');
  const token = field(tok, 'access_token');
  if (!token) throw new OAuthKeyError('ERR_TSNET_OAUTH', 'OAuth token response has no access_token');
  call.secrets.push(token);
  return mintAuthKey(call, s.baseURL, `Bearer ${token}`, { ephemeral: s.ephemeral, preauthorized: s.preauthorized, tags: options.tags });
}

export interface KeyRequest {
  ephemeral: boolean;
  preauthorized: boolean;
  tags: readonly string[];
}

/**
 * Creates a single-use pre-auth key with `POST <baseURL>/api/v2/tailnet/-/keys` (the tailnet "-" is the
 * credential's own): the last step of both the OAuth and the identity-federation path.
 */
export async function mintAuthKey(call: ApiCall, baseURL: string, authorization: string, r: KeyRequest): Promise<string> {
  const create = { reusable: false, ephemeral: r.ephemeral, preauthorized: r.preauthorized, tags: [...r.tags] };
  const res = await call(`${call.label} auth key request`, `${baseURL}/api/v2/tailnet/-/keys`, {
    authorization,
    'content-type': 'application/json',
  }, JSON.stringify({ capabilities: { devices: { create } } }));
  const key = field(res, 'key');
  if (!key) throw new OAuthKeyError(call.code, 'the API created no auth key (response has no "key")');
  return key;
}

export type Body = Record<string, unknown>;

export interface ApiCallerOptions {
  fetch?: typeof globalThis.fetch | undefined;
  signal?: AbortSignal | undefined;
  /** Values scrubbed from every error message; push more (an access token) as they appear. */
  secrets: string[];
  code: OAuthKeyErrorCode;
}

/** A request (POST with a body, else GET) resolving to the parsed answer, or rejecting with a coded error free of secrets. */
export interface ApiCall {
  (what: string, url: string, headers: Record<string, string>, body?: string): Promise<Body>;
  readonly secrets: string[];
  readonly code: OAuthKeyErrorCode;
  /** How the key request names its path in messages ("OAuth", "identity federation"). */
  readonly label: string;
}

export function apiCaller(o: ApiCallerOptions, label = 'OAuth'): ApiCall {
  const doFetch = o.fetch ?? globalThis.fetch;
  const { secrets, code } = o;
  const scrub = (m: string): string => secrets.reduce((acc, x) => (x ? acc.split(x).join('[redacted]') : acc), m).slice(0, MAX_MESSAGE);
  const call = async (what: string, url: string, headers: Record<string, string>, body?: string): Promise<Body> => {
    let res: Response;
    let text: string;
    try {
      const init: RequestInit = { method: body === undefined ? 'GET' : 'POST', headers, redirect: 'error', ...(body !== undefined ? { body } : {}) };
      res = await doFetch(url, { ...init, ...(o.signal ? { signal: o.signal } : {}) });
      text = await res.text();
    } catch (err) {
      if (o.signal?.aborted) {
        const r: unknown = o.signal.reason;
        if (r instanceof Error && r.name === 'TimeoutError') throw new OAuthKeyError(code, `${what} to ${scrub(url)} timed out`);
        throw abortError(r);
      }
      throw new OAuthKeyError(code, `${what} to ${scrub(url)} failed: ${scrub((err as Error).message)}`);
    }
    const parsed = parseBody(text, res.headers.get('content-type') ?? '');
    if (!res.ok) {
      // The API answers {"message": …}; an OAuth token endpoint may use {"error", "error_description"}.
      const msg = field(parsed, 'message') || [field(parsed, 'error'), field(parsed, 'error_description')].filter(Boolean).join(': ') || text.trim();
      throw new OAuthKeyError(code, `${what} failed: HTTP ${res.status}${msg ? `: ${scrub(msg)}` : ''}`, { status: res.status });
    }
    return parsed;
  };
  return Object.assign(call, { secrets, code, label });
}

function parseBody(text: string, contentType: string): Body {
  if (/x-www-form-urlencoded|text\/plain/.test(contentType)) return Object.fromEntries(new URLSearchParams(text));
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Body) : {};
  } catch {
    return {};
  }
}

export const field = (b: Body, k: string): string => (typeof b[k] === 'string' ? b[k] : '');

// Go's url.QueryEscape (what golang.org/x/oauth2 applies before Basic auth).
const formEscape = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');

export interface AuthKeyInputs {
  authKey?: string | undefined;
  clientSecret?: string | undefined;
  /** Workload identity federation (only with 'tsnet/identity-federation' imported); env TS_CLIENT_ID, … */
  clientID?: string | undefined;
  idToken?: string | undefined;
  audience?: string | undefined;
  tags?: readonly string[] | undefined;
  /** The node's state and control server: an enrolled node does not need (or mint) a key. */
  store: Store;
  controlURL: string;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof globalThis.fetch;
  signal?: AbortSignal;
  logf?: (message: string) => void;
}

/** What the identity-federation module is handed: inputs already resolved from options and environment. */
export interface FederationRequest {
  /** The client ID, attributes ("?ephemeral=…&preauthorized=…") included. */
  clientID: string;
  /** Exactly one of idToken and audience is non-empty. */
  idToken: string;
  audience: string;
  tags: readonly string[];
  /** tsnet sends the token exchange and the key request to the control server's URL. */
  baseURL: string;
  env: NodeJS.ProcessEnv;
  fetch?: typeof globalThis.fetch | undefined;
  signal?: AbortSignal | undefined;
}

export interface IdentityFederation {
  /** Rejects malformed inputs (client ID attributes) without network: runs even for an enrolled node. */
  check(r: FederationRequest): void;
  /** Returns a freshly minted auth key. */
  resolve(r: FederationRequest): Promise<string>;
}

// The hook point (tsnet's HookResolveAuthKeyViaWIF): empty unless the program imported 'tsnet/identity-federation',
// so the default entry carries none of that code.
let federation: IdentityFederation | undefined;

/** Installs workload identity federation for every Server in the process; lib/identity-federation.ts calls it. */
export function registerIdentityFederation(f: IdentityFederation): void {
  federation = f;
}

/**
 * The auth key a Server registers with, as tsnet chooses it: the authKey option, TS_AUTHKEY, TS_AUTH_KEY; that key
 * (or, with none, the clientSecret option or TS_CLIENT_SECRET) is exchanged when it is an OAuth client secret;
 * with neither, workload identity federation if enabled. Undefined means interactive login. Unlike tsnet, no key
 * is minted for a node that is already registered (it would be ignored and left unused in the tailnet), unless
 * TSNET_FORCE_LOGIN=1.
 */
export async function chooseAuthKey(i: AuthKeyInputs): Promise<string | undefined> {
  const env = i.env ?? process.env;
  const key = i.authKey || env.TS_AUTHKEY || env.TS_AUTH_KEY || '';
  const secret = key ? '' : i.clientSecret || env.TS_CLIENT_SECRET || '';
  if (secret && !secret.startsWith(OAUTH_SECRET_PREFIX)) {
    throw new OAuthKeyError('ERR_TSNET_OAUTH', `clientSecret (or TS_CLIENT_SECRET) must be an OAuth client secret (${OAUTH_SECRET_PREFIX}…)`);
  }
  const value = key || secret;
  if (!value) return federate(i, env);
  if (!value.startsWith(OAUTH_SECRET_PREFIX)) return value;
  // Configuration errors surface whether or not the node is enrolled, as in tsnet.
  if (!i.tags?.length) {
    throw new OAuthKeyError('ERR_TSNET_OAUTH_TAGS', 'an OAuth client secret needs advertiseTags: the auth key it mints must be tagged');
  }
  parseOAuthSecret(value);
  if (env.TSNET_FORCE_LOGIN !== '1' && (await isRegistered(i.store, i.controlURL))) {
    i.logf?.('tsnet: node already registered; not minting an auth key from the OAuth client secret (TSNET_FORCE_LOGIN=1 forces it)');
    return undefined;
  }
  return resolveOAuthAuthKey(value, { tags: i.tags, ...(i.fetch ? { fetch: i.fetch } : {}), ...(i.signal ? { signal: i.signal } : {}) });
}

/** Precedence step 5, with tsnet's validation (which it runs in its core, before the hook). */
async function federate(i: AuthKeyInputs, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const clientID = i.clientID || env.TS_CLIENT_ID || '';
  const idToken = i.idToken || env.TS_ID_TOKEN || '';
  const audience = i.audience || env.TS_AUDIENCE || '';
  if (!clientID && !idToken && !audience) return undefined;
  if (!federation) {
    // tsnet silently ignores these without the feature; options in code are a clear intent, so say what is missing.
    // Environment variables alone may be meant for another tool (the tailscale CLI), so they only get a log line.
    if (i.clientID || i.idToken || i.audience) {
      throw new OAuthKeyError('ERR_TSNET_WIF_NOT_ENABLED', "clientID/idToken/audience need workload identity federation, which is opt-in: import 'tsnet/identity-federation' once in the program");
    }
    i.logf?.("tsnet: TS_CLIENT_ID/TS_ID_TOKEN/TS_AUDIENCE ignored: workload identity federation is not enabled (import 'tsnet/identity-federation')");
    return undefined;
  }
  const bad = (m: string): never => {
    throw new OAuthKeyError('ERR_TSNET_WIF', m);
  };
  if (clientID && !idToken && !audience) bad('workload identity federation: clientID is set, but idToken and audience are both empty');
  if (idToken && audience) bad('workload identity federation: set only one of idToken and audience');
  if (!clientID) bad(`workload identity federation: ${idToken ? 'idToken' : 'audience'} is set, but clientID (or TS_CLIENT_ID) is empty`);
  if (!i.tags?.length) {
    throw new OAuthKeyError('ERR_TSNET_OAUTH_TAGS', 'workload identity federation needs advertiseTags: the auth key it mints must be tagged');
  }
  const req: FederationRequest = { clientID, idToken, audience, tags: i.tags, baseURL: i.controlURL.replace(/\/+$/, ''), env, fetch: i.fetch, signal: i.signal };
  federation.check(req);
  if (env.TSNET_FORCE_LOGIN !== '1' && (await isRegistered(i.store, i.controlURL))) {
    i.logf?.('tsnet: node already registered; not minting an auth key through identity federation (TSNET_FORCE_LOGIN=1 forces it)');
    return undefined;
  }
  return federation.resolve(req);
}

/** The control client's own rule: a stored, registered profile for this control server whose key has not expired. */
async function isRegistered(store: Store, controlURL: string): Promise<boolean> {
  const p = await loadNodeProfile(store);
  wipeNodeProfile(p); // only its registration fields are read here
  if (!p?.registered || (p.controlURL && p.controlURL !== controlURL)) return false;
  const exp = p.keyExpiry && !p.keyExpiry.startsWith('0001-01-01') ? Date.parse(p.keyExpiry) : NaN;
  return !(Number.isFinite(exp) && exp <= Date.now());
}
