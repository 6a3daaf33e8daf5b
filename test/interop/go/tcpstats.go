package main

import (
	"encoding/json"
	"errors"
	"expvar"

	"tailscale.com/tsnet"
)

// tcpStats answers {"op":"tcpstats"}: the node's gVisor TCP counters as Tailscale's netstack publishes them
// (counter_tcp_timeouts, counter_tcp_fast_retransmit, counter_tcp_sack_recovery, ...). The interop tier uses
// them to tell a loss repaired by fast recovery from one repaired by a retransmission timeout.
func tcpStats(s *tsnet.Server) (any, error) {
	ns, ok := s.Sys().Netstack.GetOK()
	if !ok {
		return nil, errors.New("tcpstats: no netstack")
	}
	ev, ok := ns.(interface{ ExpVar() expvar.Var })
	if !ok {
		return nil, errors.New("tcpstats: netstack publishes no counters")
	}
	out := map[string]any{}
	if err := json.Unmarshal([]byte(ev.ExpVar().String()), &out); err != nil {
		return nil, err
	}
	return out, nil
}
