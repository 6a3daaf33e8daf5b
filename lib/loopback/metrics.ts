// A node's metrics in Prometheus' text format (version 0.0.4), served by the LocalAPI at
// /localapi/v0/usermetrics (Tailscale's path for its user metrics) and returned by Server#metrics(). Built from
// the status the LocalAPI already serves; names follow Tailscale's where the meaning is the same
// (tailscaled_health_messages), else they start with tsnet_. docs/api.md, "Metrics".
import type { LoopbackPeer, LoopbackStatus } from './host.js';

const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

class Family {
  readonly lines: string[] = [];
  constructor(readonly name: string, readonly type: 'counter' | 'gauge', readonly help: string) {}
  add(value: number, labels: Record<string, string> = {}): void {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(',');
    this.lines.push(`${this.name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`);
  }
  text(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`, ...this.lines].join('\n');
  }
}

const peerName = (p: LoopbackPeer): string => (p.dnsName || p.hostName || p.publicKey).split('.')[0] ?? p.publicKey;

export function metricsText(st: LoopbackStatus | null, healthCount: number): string {
  const health = new Family('tailscaled_health_messages', 'gauge', 'Number of health messages broken down by type.');
  health.add(healthCount, { type: 'warning' });
  const state = new Family('tsnet_backend_running', 'gauge', '1 when the node is logged in and has a network map, else 0.');
  state.add(st?.backendState === 'Running' ? 1 : 0);
  const families = [health, state];
  if (st) {
    const peers = new Family('tsnet_peers', 'gauge', 'Peers in the network map, by the path packets to them take.');
    const direct = st.peers.filter((p) => p.curAddr).length;
    peers.add(direct, { path: 'direct' });
    peers.add(st.peers.length - direct, { path: 'relay' });
    const rx = new Family('tsnet_peer_received_bytes_total', 'counter', 'WireGuard bytes received from a peer.');
    const tx = new Family('tsnet_peer_sent_bytes_total', 'counter', 'WireGuard bytes sent to a peer.');
    const pk = new Family('tsnet_peer_sent_packets_total', 'counter', 'Packets sent to a peer, by path (direct UDP or DERP relay).');
    for (const p of st.peers) {
      const peer = peerName(p);
      rx.add(p.rxBytes ?? 0, { peer });
      tx.add(p.txBytes ?? 0, { peer });
      pk.add(p.txDirectPackets ?? 0, { peer, path: 'direct' });
      pk.add(p.txRelayPackets ?? 0, { peer, path: 'derp' });
    }
    const drops = new Family('tsnet_wireguard_dropped_packets_total', 'counter', 'Packets the WireGuard core dropped, by reason.');
    for (const [reason, n] of Object.entries(st.drops ?? {})) if (typeof n === 'number') drops.add(n, { reason });
    families.push(peers, rx, tx, pk, drops);
  }
  return families.map((f) => f.text()).join('\n') + '\n';
}
