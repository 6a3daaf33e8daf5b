/**
 * Errors raised by the control-plane client. Every error carries a stable
 * string `code` so callers can branch without parsing messages.
 */
export type ControlErrorCode =
  | 'ERR_KEY_FORMAT'
  | 'ERR_KEY_INVALID'
  | 'ERR_NOISE_MESSAGE'
  | 'ERR_NOISE_VERSION'
  | 'ERR_NOISE_DECRYPT'
  | 'ERR_NOISE_SERVER_ERROR'
  | 'ERR_NOISE_FRAME'
  | 'ERR_NOISE_NONCE_EXHAUSTED'
  | 'ERR_NOISE_CLOSED'
  | 'ERR_EARLY_PAYLOAD'
  | 'ERR_FRAME_TOO_LARGE'
  | 'ERR_FRAME_TRUNCATED'
  | 'ERR_BAD_JSON'
  | 'ERR_BAD_MESSAGE'
  | 'ERR_HTTP_STATUS'
  | 'ERR_BODY_TOO_LARGE'
  | 'ERR_UPGRADE'
  | 'ERR_SERVER_KEY'
  | 'ERR_TIMEOUT'
  | 'ERR_REGISTER'
  | 'ERR_NEEDS_LOGIN'
  | 'ERR_WATCHDOG'
  | 'ERR_CLOSED'
  | 'ERR_STORE'
  | 'ERR_FILTER';

export class ControlError extends Error {
  readonly code: ControlErrorCode;
  /** HTTP status, when the error came from an HTTP response. */
  readonly status?: number;
  /** The response's Retry-After header (HTTP 429), unparsed. */
  readonly retryAfter?: string;

  constructor(code: ControlErrorCode, message: string, options?: { cause?: unknown; status?: number; retryAfter?: string }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'ControlError';
    this.code = code;
    if (options?.status !== undefined) this.status = options.status;
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}

export function isControlError(e: unknown, code?: ControlErrorCode): e is ControlError {
  return e instanceof ControlError && (code === undefined || e.code === code);
}
