// A running node's status page on its loopback listener (tsnet's RunWebClient, read-only; docs/cli.md,
// "Status pages"): this node, its peers with their paths (direct or relay) and traffic, and its health.
import { ago, bytes, code, esc, facts, page, pill, raw, section, table, type Cell } from '../util/web-page.js';
import { healthWarnings } from './health.js';
import type { LoopbackHost, LoopbackPeer, LoopbackStatus } from './host.js';

function peerPath(p: LoopbackPeer): Cell {
  if (p.curAddr) return raw(`${pill('direct', 'ok').html} <code>${esc(p.curAddr)}</code>${p.latencyMs ? ` <span class="muted">${esc(p.latencyMs.toFixed(1))} ms</span>` : ''}`);
  if (p.relay) return raw(`${pill('relay', 'warn').html} <span class="muted">DERP ${esc(p.relay)}</span>`);
  return pill('no path yet', 'off');
}

function online(p: LoopbackPeer): Cell {
  if (p.online === true) return pill('online', 'ok');
  if (p.online === false) return pill('offline', 'off');
  return pill('unknown', 'off');
}

const shortName = (dns: string | undefined): string => (dns ?? '').split('.')[0] ?? '';

export function nodePage(st: LoopbackStatus | null, now = Date.now(), host?: Pick<LoopbackHost, 'health'>): string {
  const warnings = healthWarnings(st, host);
  const health = warnings.length
    ? `<table><tbody>${warnings.map((w) => `<tr><td>${pill('warning', 'warn').html} ${esc(w)}</td></tr>`).join('')}</tbody></table>`
    : `<p>${pill('healthy', 'ok').html} No problems known.</p>`;
  if (!st) {
    return page('tsnet node', 'not logged in', [section('Health', health)], `Rendered ${new Date(now).toISOString()}.`);
  }
  const name = st.self.Name?.replace(/\.$/, '') ?? '';
  const self = facts([
    ['Name', code(name || '(none)')],
    ['State', st.backendState === 'Running' ? pill('Running', 'ok') : pill(st.backendState, 'warn')],
    ['Addresses', raw(st.tailscaleIPs.map((a) => code(a).html).join(' '))],
    ['Node key', code(st.self.Key ?? '')],
    ['Peers', `${st.peers.filter((p) => p.online).length} online of ${st.peers.length}`],
  ]);
  const peers = table(
    ['Peer', 'Addresses', 'State', 'Path', 'Sent', 'Received', 'Handshake'],
    st.peers.map((p) => [
      raw(`<strong>${esc(p.hostName || shortName(p.dnsName) || p.publicKey.slice(0, 16))}</strong><br><span class="muted">${esc(p.dnsName ?? '')}</span>`),
      raw(p.tailscaleIPs.map((a) => esc(a)).join('<br>')),
      online(p),
      peerPath(p),
      bytes(p.txBytes ?? 0),
      bytes(p.rxBytes ?? 0),
      p.lastHandshake ? ago(p.lastHandshake, now) : 'none',
    ]),
    'No peers: this node is alone on the tailnet (or the policy hides the others).',
    [4, 5],
  );
  return page(
    `tsnet node ${shortName(name) || name}`,
    name,
    [section('This node', self), section('Health', health), section('Peers', peers)],
    `Read-only status of this node, served on its loopback listener. Rendered ${new Date(now).toISOString()}.`,
  );
}
