// Errors shaped like Node's own system errors (code, errno, syscall, address, port), so code written for
// node:net handles tailnet failures unchanged.
import * as os from 'node:os';

export interface SystemError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
}

export function systemError(syscall: string, code: string, address?: string, port?: number): SystemError {
  const where = address !== undefined ? ` ${address}${port !== undefined ? `:${port}` : ''}` : '';
  const err = new Error(`${syscall} ${code}${where}`) as SystemError;
  err.code = code;
  const errno = (os.constants.errno as Record<string, number>)[code];
  if (errno !== undefined) err.errno = -errno;
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port !== undefined) err.port = port;
  return err;
}

export function abortError(reason?: unknown): Error & { code: 'ABORT_ERR' } {
  const err = new Error('The operation was aborted', reason !== undefined ? { cause: reason } : undefined) as Error & {
    code: 'ABORT_ERR';
  };
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}

export function closedError(what: string): Error & { code: 'ERR_TSNET_CLOSED' } {
  const err = new Error(`${what}: closed`) as Error & { code: 'ERR_TSNET_CLOSED' };
  err.code = 'ERR_TSNET_CLOSED';
  return err;
}

export { argumentError } from '../util/errors.js';
