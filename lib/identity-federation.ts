// Workload identity federation, opt-in as in tsnet (which links it only when a program imports
// tailscale.com/feature/identityfederation): `import 'tsnet/identity-federation'` registers it for every Server in
// the process; the default `tsnet` entry does not load this file (docs/protocol/control.md §16, step 5).
//
// A CI job or cloud workload proves who it is with an OIDC ID token instead of holding a secret. The token and the
// federated client ID are exchanged at <control URL>/api/v2/oauth/token-exchange for an access token, which then
// mints a single-use tagged auth key exactly as the OAuth path does (lib/oauth-key.ts `mintAuthKey`).
//
// With `audience` instead of `idToken`, the ID token is fetched from the environment. Tailscale tries GitHub
// Actions, then AWS (STS through its SDK and instance metadata), then GCP's metadata server. Only GitHub Actions
// is implemented here (a documented HTTPS request, no SDK); elsewhere `audience` fails with
// ERR_TSNET_WIF_AUDIENCE_UNSUPPORTED and the caller passes the ID token itself.
//
// The ID token, the GitHub request token and the access token never appear in logs or error messages.
import {
  apiCaller,
  field,
  mintAuthKey,
  OAuthKeyError,
  parseAttributes,
  registerIdentityFederation,
  type ApiCall,
  type FederationRequest,
} from './oauth-key.js';

export interface FederatedClientID {
  clientID: string;
  /** Nodes registered with the minted key are ephemeral (default true). */
  ephemeral: boolean;
  /** ... and need no admin approval (default false). */
  preauthorized: boolean;
}

/** "id?ephemeral=false&preauthorized=true": the attributes Tailscale accepts on a federated client ID (no baseURL). */
export function parseClientID(value: string): FederatedClientID {
  const a = parseAttributes(value, ['ephemeral', 'preauthorized'], 'federated client ID', 'ERR_TSNET_WIF');
  return { clientID: a.bare, ephemeral: a.flag('ephemeral', true), preauthorized: a.flag('preauthorized', false) };
}

function check(r: FederationRequest): void {
  parseClientID(r.clientID);
  // Known before any request: say so now rather than after the node is enrolled elsewhere.
  if (!r.idToken && !gitHubSource(r.env)) {
    throw new OAuthKeyError(
      'ERR_TSNET_WIF_AUDIENCE_UNSUPPORTED',
      'audience: fetching an ID token is supported only in GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN, permission id-token: write); elsewhere pass idToken (or TS_ID_TOKEN)',
    );
  }
}

async function resolve(r: FederationRequest): Promise<string> {
  const id = parseClientID(r.clientID);
  const call = apiCaller({ fetch: r.fetch, signal: r.signal, secrets: [r.idToken], code: 'ERR_TSNET_WIF' }, 'identity federation');
  const idToken = r.idToken || (await gitHubIDToken(call, r.audience, r.env));
  call.secrets.push(idToken);
  // What golang.org/x/oauth2's Config.Exchange sends for tsnet: an authorization_code grant with an empty code, the
  // client ID and the ID token as form parameters (the token is the credential, so no client authentication).
  const form = new URLSearchParams({ grant_type: 'authorization_code', code: '', client_id: id.clientID, jwt: idToken });
  const tok = await call('identity federation token exchange', `${r.baseURL}/api/v2/oauth/token-exchange`, {
    'content-type': 'application/x-www-form-urlencoded',
  }, form.toString());
  const token = field(tok, 'access_token');
  if (!token) throw new OAuthKeyError('ERR_TSNET_WIF', 'identity federation token exchange: the response has no access_token');
  call.secrets.push(token);
  // Tailscale's API client sends the access token as an API key: HTTP Basic with the token as user name.
  const basic = Buffer.from(`${token}:`).toString('base64');
  return mintAuthKey(call, r.baseURL, `Basic ${basic}`, { ephemeral: id.ephemeral, preauthorized: id.preauthorized, tags: r.tags });
}

function gitHubSource(env: NodeJS.ProcessEnv): { url: string; token: string } | undefined {
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL ?? '';
  const token = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN ?? '';
  return url && token ? { url, token } : undefined;
}

/** GitHub Actions' OIDC endpoint: GET <ACTIONS_ID_TOKEN_REQUEST_URL>&audience=…, bearer request token → {"value": jwt}. */
async function gitHubIDToken(call: ApiCall, audience: string, env: NodeJS.ProcessEnv): Promise<string> {
  const src = gitHubSource(env);
  if (!src) throw new OAuthKeyError('ERR_TSNET_WIF_AUDIENCE_UNSUPPORTED', 'audience: not running in GitHub Actions');
  call.secrets.push(src.token);
  let url: URL;
  try {
    url = new URL(src.url);
  } catch {
    throw new OAuthKeyError('ERR_TSNET_WIF', 'ACTIONS_ID_TOKEN_REQUEST_URL is not a URL');
  }
  url.searchParams.set('audience', audience.trim());
  const res = await call('GitHub Actions ID token request', url.toString(), { authorization: `Bearer ${src.token}`, accept: 'application/json' });
  const jwt = field(res, 'value').trim();
  if (!jwt) throw new OAuthKeyError('ERR_TSNET_WIF', 'GitHub Actions ID token response has no "value"');
  return jwt;
}

/**
 * Enables workload identity federation for every Server in this process. Importing this module already does it
 * (the Go way: `import 'tsnet/identity-federation'`); the function is there for code that prefers an explicit call,
 * or a bundler that drops imports kept only for their side effects. Idempotent.
 */
export function enableIdentityFederation(): void {
  registerIdentityFederation({ check, resolve });
}

enableIdentityFederation();
