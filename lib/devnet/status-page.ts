// The development tailnet's status page (docs/cli.md, "Status pages"): its nodes with their paths and
// relayed traffic as the devnet sees them, pending logins and the ACL policy. Read-only; rendered here.
import { ago, bytes, code, esc, facts, page, pill, raw, section, table, type Cell } from '../util/web-page.js';
import type { RelayTraffic } from './derp/relay.js';
import type { DevnetNodeInfo, PendingLoginInfo } from './index.js';

export interface DevnetPageData {
  controlURL: string;
  domain: string;
  /** The bundled relay's URL, or null when there is none. */
  relayURL: string | null;
  stun: string | null;
  nodes: DevnetNodeInfo[];
  pending: PendingLoginInfo[];
  /** The policy's text; null: the default (allow all). */
  policy: string | null;
  /** Relayed traffic of the nodes connected to the bundled relay, by node key. */
  traffic: Map<string, RelayTraffic>;
  relay: { clients: number; packetsForwarded: number; bytesForwarded: number } | null;
  now: number;
}

function state(n: DevnetNodeInfo): Cell {
  if (!n.authorized) return pill('needs approval', 'warn');
  if (n.expired) return pill('key expired', 'bad');
  return n.online ? pill('online', 'ok') : pill('offline', 'off');
}

function path(n: DevnetNodeInfo, t: RelayTraffic | undefined): Cell {
  const eps = n.endpoints.length ? `${n.endpoints.length} endpoint${n.endpoints.length === 1 ? '' : 's'}: ${n.endpoints.join(', ')}` : 'no endpoints';
  const derp = n.homeDERP ? `DERP region ${n.homeDERP}${t ? ' (connected)' : ''}` : 'no home DERP';
  return raw(`${esc(derp)}<br><span class="muted">${esc(eps)}</span>`);
}

function traffic(t: RelayTraffic | undefined): Cell {
  if (!t) return raw('<span class="muted">not on the relay</span>');
  return raw(`↑ ${esc(bytes(t.txBytes))} <span class="muted">(${t.txPackets})</span><br>↓ ${esc(bytes(t.rxBytes))} <span class="muted">(${t.rxPackets})</span>`);
}

export function devnetPage(d: DevnetPageData): string {
  const online = d.nodes.filter((n) => n.online).length;
  const overview = facts([
    ['Control URL', code(d.controlURL)],
    ['Tailnet domain', code(d.domain)],
    ['DERP relay', d.relayURL ? code(d.relayURL) : 'none (external DERP map)'],
    ['STUN', d.stun ? code(d.stun) : 'none'],
    ['Nodes', `${online} online of ${d.nodes.length}`],
    ['Relayed', d.relay ? `${d.relay.packetsForwarded} packets, ${bytes(d.relay.bytesForwarded)} (${d.relay.clients} connected)` : 'n/a'],
    ['Pending logins', String(d.pending.filter((p) => !p.approved).length)],
  ]);
  const nodes = table(
    ['Node', 'Addresses', 'Owner', 'State', 'Path', 'Relayed traffic', 'Last seen'],
    d.nodes.map((n) => {
      const t = d.traffic.get(n.nodeKey);
      return [
        raw(`<strong>${esc(n.hostname || n.name)}</strong><br><span class="muted">${esc(n.name)} · ${esc(n.os || '?')}${n.ephemeral ? ' · ephemeral' : ''}</span>`),
        raw(n.addresses.map((a) => esc(a)).join('<br>')),
        n.tags.length ? n.tags.join(', ') : n.user,
        state(n),
        path(n, t),
        traffic(t),
        n.online ? 'now' : ago(n.lastSeen, d.now),
      ];
    }),
    'No nodes yet. Mint a key with `tsnet devnet key` and start one.',
    [5],
  );
  const pending = table(
    ['Machine', 'Node key', 'Asked', 'Approve'],
    d.pending.map((p) => [
      p.hostname || '(unnamed)',
      code(`${p.nodeKey.slice(0, 16)}…`),
      ago(p.created, d.now),
      p.approved ? pill('approved', 'ok') : raw(`<a href="${esc(p.url)}">approval page</a> or ${code(`tsnet devnet approve ${p.id}`).html}`),
    ]),
    'No logins waiting.',
  );
  const policy = d.policy === null ? '<p class="muted">Default policy: every node may reach every other node.</p>' : `<pre>${esc(d.policy)}</pre>`;
  return page(
    'tsnet development tailnet',
    d.controlURL,
    [section('Overview', overview), section('Nodes', nodes), section('Pending logins', pending), section('ACL policy', policy)],
    `For development and tests only; production uses Tailscale or Headscale. Rendered ${new Date(d.now).toISOString()}.`,
  );
}
