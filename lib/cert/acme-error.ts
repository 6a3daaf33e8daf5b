// What the ACME client reports, apart from the client itself, so that the package's entry can export it
// without loading HTTP (docs/performance.md, "What requiring the package costs").

export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';

/** An RFC 7807 problem document from the ACME server. */
export interface AcmeProblem {
  type: string;
  detail: string;
  status?: number;
}

/** ERR_TSNET_ACME: the ACME exchange failed; `problem` is the server's problem document when it sent one. */
export class AcmeError extends Error {
  readonly code = 'ERR_TSNET_ACME';
  constructor(
    message: string,
    readonly problem?: AcmeProblem,
  ) {
    super(message);
    this.name = 'AcmeError';
  }
}
