package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"

	"tailscale.com/tailcfg"
	"tailscale.com/tstest/integration/testcontrol"
)

type controlConfig struct {
	Listen  string           `json:"listen"`  // host:port
	DERPMap *tailcfg.DERPMap `json:"derpMap"` // required: nil would mean Tailscale's production relays
	AuthKey string           `json:"authKey"` // required of every node when set
}

func runControl(raw json.RawMessage) {
	var cfg controlConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		fatal(err)
	}
	if cfg.DERPMap == nil {
		fatal(fmt.Errorf("derpMap is required"))
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cs := &testcontrol.Server{
		Logf:            logf(),
		DERPMap:         cfg.DERPMap,
		RequireAuthKey:  cfg.AuthKey,
		ExplicitBaseURL: base,
		MagicDNSDomain:  "tail-scale.ts.net",
		AllOnline:       true,
	}
	go http.Serve(ln, cs)
	reply(map[string]any{"ready": true, "controlURL": base})
	commands(func(op string, _ json.RawMessage) (any, error) {
		switch op {
		case "nodes":
			var out []map[string]any
			for _, n := range cs.AllNodes() {
				out = append(out, map[string]any{"name": n.Name, "addresses": n.Addresses, "cap": n.Cap})
			}
			return map[string]any{"nodes": out}, nil
		}
		return nil, fmt.Errorf("unknown op %q", op)
	})
}
