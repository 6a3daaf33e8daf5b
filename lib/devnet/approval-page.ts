/**
 * The interactive login page: GET /register/<id> shows the waiting machine and
 * a form; POST /register/<id> (form field `user`, optional `tags`) approves it.
 * Served on loopback by the development server only.
 */
import type { PendingRegistration } from './types.js';

export const REGISTER_PATH_PREFIX = '/register/';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:15px system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}code{background:#eee;padding:0 .2em}</style>
</head><body><h1>${esc(title)}</h1>${body}
<p><small>tsnet development tailnet: for development and tests only. Production uses Tailscale or Headscale.</small></p></body></html>`;
}

export function approvalPage(p: PendingRegistration, defaultUser: string): string {
  const host = p.hostinfo.Hostname ?? '(unnamed)';
  if (p.approval) return page('Already approved', `<p>The machine <code>${esc(host)}</code> is logged in.</p>`);
  return page(
    'Approve a machine',
    `<p>The machine <code>${esc(host)}</code> (${esc(p.hostinfo.OS ?? 'unknown OS')}) wants to join this tailnet.</p>
<p>Node key <code>${esc(p.nodeKey.slice(0, 20))}…</code></p>
<form method="post">
<label>Log in as <input name="user" value="${esc(defaultUser)}" size="30"></label><br>
<label>Tags (optional, comma separated) <input name="tags" placeholder="tag:server" size="30"></label><br>
<button type="submit">Approve</button>
</form>`,
  );
}

export function approvedPage(hostname: string, user: string): string {
  return page('Approved', `<p>The machine <code>${esc(hostname)}</code> is now logged in as <code>${esc(user)}</code>. You can close this page.</p>`);
}

export function notFoundPage(): string {
  return page('Unknown login', '<p>This login link is unknown or has expired. Start the login again on the machine.</p>');
}

/** Extracts the registration ID from an approval URL, a path, or a bare ID. */
export function registrationIdFrom(urlOrId: string): string | null {
  let p = urlOrId.trim();
  try {
    p = new URL(p).pathname;
  } catch {
    // not a URL: a path or an ID
  }
  if (p.startsWith(REGISTER_PATH_PREFIX)) p = p.slice(REGISTER_PATH_PREFIX.length);
  return /^[0-9a-f]{24}$/.test(p) ? p : null;
}
