// Validation of a node's hostname, as Tailscale's CLI validates `--hostname` (util/dnsname ValidHostname in its
// tree): dot-separated DNS labels of 1-63 letters, digits and hyphens, none starting or ending with a hyphen,
// at most 253 characters in all. Control derives the MagicDNS name from the first label.
import { argumentError } from './net/errors.js';

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** Why `name` is not a valid hostname, or null if it is. */
export function hostnameProblem(name: string): string | null {
  if (name.length === 0) return 'must not be empty';
  if (name.length > 253) return `is ${name.length} characters long; at most 253`;
  for (const label of name.split('.')) {
    if (label.length === 0) return 'has an empty label (leading, trailing or doubled dot)';
    if (label.length > 63) return `has a label of ${label.length} characters; at most 63`;
    if (!LABEL.test(label)) return `label "${label}" must be letters, digits and hyphens, not starting or ending with a hyphen`;
  }
  return null;
}

/** Throws a TypeError with code ERR_TSNET_INVALID_HOSTNAME unless `name` is a valid hostname. */
export function validateHostname(name: string): void {
  const why = hostnameProblem(name);
  if (why) {
    const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;
    throw argumentError('TypeError', 'ERR_TSNET_INVALID_HOSTNAME', `hostname "${shown}" ${why}`);
  }
}
