package main

// Peer-relay ops of `tsinterop node` (docs/protocol/peer-relay.md): the node can run Tailscale's UDP relay
// server (the RelayServerPort pref, as `tailscale set --relay-server-port` does) and report which peers it
// reaches through a peer relay.
//
//	{"op":"relayServer","port":N}  start the relay server on UDP port N (0: any); reply {ok}
//	{"op":"peerRelays"}            {peers: [{hostName, ips, curAddr, relay, peerRelay}], sessions: [{vni, client1, client2}]}
//	                               (peerRelay "ip:port:vni:N" when that peer is reached through a peer relay;
//	                               sessions: the relay sessions this node's own relay server holds)

import (
	"context"
	"encoding/json"
	"fmt"

	"tailscale.com/client/local"
	_ "tailscale.com/feature/relayserver" // tsnet leaves the relay server out unless the program links it
	"tailscale.com/ipn"
)

func peerRelayOp(lc *local.Client, op string, raw json.RawMessage) (any, error) {
	ctx := context.Background()
	switch op {
	case "relayServer":
		var c struct {
			Port uint16 `json:"port"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		port := c.Port
		if _, err := lc.EditPrefs(ctx, &ipn.MaskedPrefs{Prefs: ipn.Prefs{RelayServerPort: &port}, RelayServerPortSet: true}); err != nil {
			return nil, err
		}
		return map[string]bool{"ok": true}, nil
	case "peerRelays":
		st, err := lc.Status(ctx)
		if err != nil {
			return nil, err
		}
		peers := []map[string]any{}
		for _, p := range st.Peer {
			peers = append(peers, map[string]any{
				"hostName": p.HostName, "ips": p.TailscaleIPs, "curAddr": p.CurAddr, "relay": p.Relay, "peerRelay": p.PeerRelay,
			})
		}
		sessions := []map[string]any{}
		if ss, err := lc.DebugPeerRelaySessions(ctx); err == nil {
			for _, s := range ss.Sessions {
				sessions = append(sessions, map[string]any{
					"vni": s.VNI, "client1": s.Client1.Endpoint.String(), "client2": s.Client2.Endpoint.String(),
					"packets1": s.Client1.PacketsTx, "packets2": s.Client2.PacketsTx,
				})
			}
		}
		return map[string]any{"peers": peers, "sessions": sessions}, nil
	}
	return nil, fmt.Errorf("unknown op %q", op)
}
