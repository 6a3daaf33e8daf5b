// OAuth client secret → tagged auth key, as tsnet does when it links feature/oauthkey (protocols.md §1.2 step 4).
//
// A Tailscale OAuth client secret ("tskey-client-…") cannot register a node itself: it is exchanged for an
// access token (OAuth 2 client credentials), and that token creates a one-off pre-auth key through the public
// API. The secret may carry query-style attributes: "tskey-client-…?ephemeral=false&preauthorized=true&baseURL=…".
//
// Secrets (the client secret, the access token, the minted key) never appear in logs or error messages.
import { loadNodeProfile } from './control/identity.js';
import type { Store } from './control/store.js';
import { abortError } from './net/errors.js';

export const OAUTH_SECRET_PREFIX = 'tskey-client-';
export const DEFAULT_API_BASE_URL = 'https://api.tailscale.com';
// Tailscale's client sends this placeholder: the API identifies the OAuth client by its secret alone.
const PLACEHOLDER_CLIENT_ID = 'some-client-id';
const MAX_MESSAGE = 300;

export type OAuthKeyErrorCode = 'ERR_TSNET_OAUTH' | 'ERR_TSNET_OAUTH_TAGS';

export class OAuthKeyError extends Error {
  readonly code: OAuthKeyErrorCode;
  /** HTTP status of the API's answer, when the error came from one. */
  readonly status?: number;
  constructor(code: OAuthKeyErrorCode, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'OAuthKeyError';
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
  }
}

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

/** Splits "tskey-client-…?attrs" into the secret and its attributes; unknown attributes are errors. */
export function parseOAuthSecret(value: string): OAuthSecret {
  const q = value.indexOf('?');
  const attrs = new URLSearchParams(q < 0 ? '' : value.slice(q + 1));
  for (const k of attrs.keys()) {
    if (k !== 'ephemeral' && k !== 'preauthorized' && k !== 'baseURL') {
      throw new OAuthKeyError('ERR_TSNET_OAUTH', `unknown attribute ${JSON.stringify(k)} on the OAuth client secret`);
    }
  }
  const flag = (name: string, def: boolean): boolean => {
    const v = attrs.get(name) ?? '';
    if (v === '') return def;
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
    throw new OAuthKeyError('ERR_TSNET_OAUTH', `invalid boolean ${JSON.stringify(v)} for attribute ${name} of the OAuth client secret`);
  };
  const baseURL = (attrs.get('baseURL') || DEFAULT_API_BASE_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(baseURL)) throw new OAuthKeyError('ERR_TSNET_OAUTH', `baseURL must be an http(s) URL, got ${JSON.stringify(baseURL)}`);
  return { secret: q < 0 ? value : value.slice(0, q), ephemeral: flag('ephemeral', true), preauthorized: flag('preauthorized', false), baseURL };
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
  const call = apiCaller(options, [value, s.secret]);
  // RFC 6749 §2.3.1: client id and secret are form-encoded, then sent as HTTP Basic credentials.
  const basic = Buffer.from(`${formEscape(PLACEHOLDER_CLIENT_ID)}:${formEscape(s.secret)}`).toString('base64');
  const tok = await call('token request', `${s.baseURL}/api/v2/oauth/token`, {
    authorization: `Basic ${basic}`,
    'content-type': 'application/x-www-form-urlencoded',
  }, 'grant_type=client_credentials');
  const token = field(tok, 'access_token');
  if (!token) throw new OAuthKeyError('ERR_TSNET_OAUTH', 'OAuth token response has no access_token');
  const create = { reusable: false, ephemeral: s.ephemeral, preauthorized: s.preauthorized, tags: [...options.tags] };
  const res = await call('auth key request', `${s.baseURL}/api/v2/tailnet/-/keys`, {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
  }, JSON.stringify({ capabilities: { devices: { create } } }));
  const key = field(res, 'key');
  if (!key) throw new OAuthKeyError('ERR_TSNET_OAUTH', 'the API created no auth key (response has no "key")');
  return key;
}

type Body = Record<string, unknown>;

/** A POST to the API that resolves to the parsed answer or rejects with a coded error free of `secrets`. */
function apiCaller(o: ResolveOAuthOptions, secrets: string[]) {
  const doFetch = o.fetch ?? globalThis.fetch;
  const scrub = (m: string): string => secrets.reduce((acc, x) => (x ? acc.split(x).join('[redacted]') : acc), m).slice(0, MAX_MESSAGE);
  return async (what: string, url: string, headers: Record<string, string>, body: string): Promise<Body> => {
    let res: Response;
    let text: string;
    try {
      res = await doFetch(url, { method: 'POST', headers, body, ...(o.signal ? { signal: o.signal } : {}), redirect: 'error' });
      text = await res.text();
    } catch (err) {
      if (o.signal?.aborted) {
        const r: unknown = o.signal.reason;
        if (r instanceof Error && r.name === 'TimeoutError') throw new OAuthKeyError('ERR_TSNET_OAUTH', `OAuth ${what} to ${url} timed out`);
        throw abortError(r);
      }
      throw new OAuthKeyError('ERR_TSNET_OAUTH', `OAuth ${what} to ${url} failed: ${scrub((err as Error).message)}`);
    }
    const parsed = parseBody(text, res.headers.get('content-type') ?? '');
    if (!res.ok) {
      // The API answers {"message": …}; an OAuth token endpoint may use {"error", "error_description"}.
      const msg = field(parsed, 'message') || [field(parsed, 'error'), field(parsed, 'error_description')].filter(Boolean).join(': ') || text.trim();
      throw new OAuthKeyError('ERR_TSNET_OAUTH', `OAuth ${what} failed: HTTP ${res.status}${msg ? `: ${scrub(msg)}` : ''}`, { status: res.status });
    }
    return parsed;
  };
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

const field = (b: Body, k: string): string => (typeof b[k] === 'string' ? b[k] : '');

// Go's url.QueryEscape (what golang.org/x/oauth2 applies before Basic auth).
const formEscape = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');

export interface AuthKeyInputs {
  authKey?: string | undefined;
  clientSecret?: string | undefined;
  tags?: readonly string[] | undefined;
  /** The node's state and control server: an enrolled node does not need (or mint) a key. */
  store: Store;
  controlURL: string;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof globalThis.fetch;
  signal?: AbortSignal;
  logf?: (message: string) => void;
}

/**
 * The auth key a Server registers with, as tsnet chooses it: the authKey option, TS_AUTHKEY, TS_AUTH_KEY; that key
 * (or, with none, the clientSecret option or TS_CLIENT_SECRET) is exchanged when it is an OAuth client secret.
 * Undefined means interactive login. Unlike tsnet, no key is minted for a node that is already registered (it
 * would be ignored and left unused in the tailnet), unless TSNET_FORCE_LOGIN=1.
 */
export async function chooseAuthKey(i: AuthKeyInputs): Promise<string | undefined> {
  const env = i.env ?? process.env;
  const key = i.authKey || env.TS_AUTHKEY || env.TS_AUTH_KEY || '';
  const secret = key ? '' : i.clientSecret || env.TS_CLIENT_SECRET || '';
  if (secret && !secret.startsWith(OAUTH_SECRET_PREFIX)) {
    throw new OAuthKeyError('ERR_TSNET_OAUTH', `clientSecret (or TS_CLIENT_SECRET) must be an OAuth client secret (${OAUTH_SECRET_PREFIX}…)`);
  }
  const value = key || secret;
  if (!value.startsWith(OAUTH_SECRET_PREFIX)) return value || undefined;
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

/** The control client's own rule: a stored, registered profile for this control server whose key has not expired. */
async function isRegistered(store: Store, controlURL: string): Promise<boolean> {
  const p = await loadNodeProfile(store);
  if (!p?.registered || (p.controlURL && p.controlURL !== controlURL)) return false;
  const exp = p.keyExpiry && !p.keyExpiry.startsWith('0001-01-01') ? Date.parse(p.keyExpiry) : NaN;
  return !(Number.isFinite(exp) && exp <= Date.now());
}
