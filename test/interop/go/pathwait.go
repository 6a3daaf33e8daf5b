package main

// {"op":"waitPath","ip","want":{curAddr?, relay?, peerRelay?},"timeoutMs"}: waits until this node's status of
// the peer at ip matches want, then replies {ok: true} (or {ok: false} at the timeout). want.curAddr is a
// regular expression the path's CurAddr must match ("^$": no direct path); relay: the peer's home DERP region
// is known; peerRelay: the peer is reached through a peer relay. tsnet reports no path changes, so the check
// repeats here, in the peer, and the test waits for one reply.

import (
	"context"
	"encoding/json"
	"regexp"
	"time"

	"tailscale.com/client/local"
	"tailscale.com/ipn/ipnstate"
	"tailscale.com/tsnet"
)

type pathWant struct {
	CurAddr   *string `json:"curAddr"`
	Relay     bool    `json:"relay"`
	PeerRelay bool    `json:"peerRelay"`
}

func init() { extraOps["waitPath"] = opWaitPath }

func opWaitPath(_ *tsnet.Server, lc *local.Client, raw json.RawMessage, _ time.Duration) (any, error) {
	var c struct {
		IP        string   `json:"ip"`
		Want      pathWant `json:"want"`
		TimeoutMs int      `json:"timeoutMs"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	var re *regexp.Regexp
	if c.Want.CurAddr != nil {
		var err error
		if re, err = regexp.Compile(*c.Want.CurAddr); err != nil {
			return nil, err
		}
	}
	match := func(p *ipnstate.PeerStatus) bool {
		return (re == nil || re.MatchString(p.CurAddr)) && (!c.Want.Relay || p.Relay != "") && (!c.Want.PeerRelay || p.PeerRelay != "")
	}
	deadline := time.Now().Add(time.Duration(c.TimeoutMs) * time.Millisecond)
	for {
		st, err := lc.Status(context.Background())
		if err != nil {
			return nil, err
		}
		for _, p := range st.Peer {
			for _, a := range p.TailscaleIPs {
				if a.String() == c.IP && match(p) {
					return map[string]bool{"ok": true}, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return map[string]bool{"ok": false}, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}
