// The LocalAPI's answers in the shapes Tailscale's own CLI decodes (ipnstate.Status, ipnstate.PingResult), for
// a Go LocalClient (it sends Tailscale-Cap on every request): docs/api.md, "Tailscale's CLI".
import * as net from 'node:net';
import type { LoopbackHost, LoopbackPeer, LoopbackPingResult } from './host.js';
import type { Node } from '../wire/tailcfg.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

function peerStatus(n: Node, p: LoopbackPeer | null, self: boolean): Record<string, unknown> {
  const ips = (n.Addresses ?? []).map((a) => a.split('/')[0]!);
  const curAddr = p?.curAddr ?? '';
  return {
    ID: n.StableID ?? String(n.ID ?? ''),
    PublicKey: n.Key ?? '',
    HostName: n.Hostinfo?.Hostname ?? n.ComputedName ?? '',
    DNSName: n.Name ?? '',
    OS: n.Hostinfo?.OS ?? '',
    UserID: n.User ?? 0,
    TailscaleIPs: ips,
    AllowedIPs: n.AllowedIPs ?? [],
    ...(n.Tags?.length ? { Tags: n.Tags } : {}),
    Addrs: self ? [] : (n.Endpoints ?? []),
    CurAddr: curAddr,
    Relay: p?.relay ?? '',
    PeerRelay: '',
    RxBytes: p?.rxBytes ?? 0,
    TxBytes: p?.txBytes ?? 0,
    Created: n.Created ?? ZERO_TIME,
    LastWrite: ZERO_TIME,
    LastSeen: n.LastSeen ?? ZERO_TIME,
    LastHandshake: p?.lastHandshake ? p.lastHandshake.toISOString() : ZERO_TIME,
    Online: self ? true : (p?.online ?? false),
    ExitNode: false,
    ExitNodeOption: false,
    // As ipnlocal: a peer is active when traffic flowed recently (here: a handshake within two minutes).
    Active: !self && !!p?.lastHandshake && Date.now() - p.lastHandshake.getTime() < 120_000,
    InNetworkMap: true,
    InMagicSock: !self,
    InEngine: !self,
    ...(n.KeyExpiry && !n.KeyExpiry.startsWith('0001') ? { KeyExpiry: n.KeyExpiry } : {}),
  };
}

/** ipnstate.Status: Self, Peer (by node key), User (by ID), the tailnet's names and the health warnings. */
export async function goStatus(host: LoopbackHost, version: string, withPeers: boolean): Promise<Record<string, unknown>> {
  const st = host.status();
  const health = (host.health?.() ?? []).map((w) => w.message);
  if (!st) {
    // No netmap: a node that logged out waits for a login (the CLI then says "Logged out.").
    const prefs = (await host.localClient?.().getPrefs().catch(() => null)) as { LoggedOut?: boolean } | null | undefined;
    return { Version: version, BackendState: prefs?.LoggedOut ? 'NeedsLogin' : 'NoState', TailscaleIPs: [], Health: health, Peer: null, User: null };
  }
  const selfName = (st.self.Name ?? '').replace(/\.$/, '');
  const suffix = selfName.includes('.') ? selfName.slice(selfName.indexOf('.') + 1) : '';
  const users: Record<string, unknown> = {};
  const addUser = (n: Node) => {
    const ip = (n.Addresses ?? [])[0]?.split('/')[0];
    const prof = ip ? host.whoIs(ip)?.userProfile : null;
    if (prof && n.User !== undefined) users[String(n.User)] = prof;
  };
  addUser(st.self);
  const peers: Record<string, unknown> = {};
  if (withPeers) {
    for (const p of st.peers) {
      const who = host.whoIs(p.tailscaleIPs[0] ?? '');
      if (!who) continue;
      peers[p.publicKey] = peerStatus(who.node, p, false);
      addUser(who.node);
    }
  }
  return {
    Version: version,
    TUN: false,
    BackendState: st.backendState,
    HaveNodeKey: true,
    AuthURL: '',
    TailscaleIPs: st.tailscaleIPs,
    Self: peerStatus(st.self, null, true),
    Health: health,
    MagicDNSSuffix: suffix,
    CurrentTailnet: { Name: suffix, MagicDNSSuffix: suffix, MagicDNSEnabled: suffix !== '' },
    CertDomains: null,
    Peer: withPeers ? peers : null,
    User: users,
    ClientVersion: null,
  };
}

/** ipnstate.PingResult for a ping that answered (or Err for one that failed, as tailscaled reports it). */
export function goPingResult(ip: string, r: LoopbackPingResult | null, err: Error | null, type: string): Record<string, unknown> {
  if (!r) return { IP: ip, Err: err?.message ?? 'no reply', LatencySeconds: 0 };
  if (type !== 'disco') r = { ...r, direct: '', relayRegionID: 0 };
  return {
    IP: ip,
    NodeIP: r.ip,
    NodeName: r.dnsName.split('.')[0] ?? '',
    LatencySeconds: r.latencyMs / 1000,
    // A disco pong names its path (an address, or a relay); TSMP answers carry none (the CLI says "via TSMP").
    Endpoint: r.direct ?? '',
    DERPRegionID: r.direct ? 0 : (r.relayRegionID ?? 0),
    DERPRegionCode: r.direct ? '' : (r.relayRegionID ? (r.relay ?? '') : ''),
    ...(net.isIP(ip) ? {} : { Err: 'bad IP' }),
  };
}
