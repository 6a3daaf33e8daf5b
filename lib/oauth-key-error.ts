// OAuthKeyError, the error of lib/oauth-key.ts and lib/identity-federation.ts. Its own small file: the package's
// entry exports it, and lib/oauth-key.ts loads only when a node needs an auth key (lib/server/layers.ts).
export type OAuthKeyErrorCode =
  | 'ERR_TSNET_OAUTH'
  | 'ERR_TSNET_OAUTH_TAGS'
  /** Workload identity federation: bad inputs, or the token exchange / key request failed. */
  | 'ERR_TSNET_WIF'
  /** clientID/idToken/audience given, but the program did not import 'tsnet/identity-federation'. */
  | 'ERR_TSNET_WIF_NOT_ENABLED'
  /** `audience` outside an environment whose ID-token source is implemented (GitHub Actions). */
  | 'ERR_TSNET_WIF_AUDIENCE_UNSUPPORTED';

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
