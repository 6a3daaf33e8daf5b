package main

// Ops for Tailscale Services, subnet routes and exit nodes (docs/services.md), added to runNode's:
//
//	{"op":"listenService","name","port","mode"?}  ListenService(name, ServiceModeTCP/HTTP{Port}); every
//	                                               connection is answered "go-service <name>" (tcp) or
//	                                               that body (http). Reply {fqdn}
//	{"op":"routes","routes":[...]}                 advertise these routes (EditPrefs) and answer every TCP flow
//	                                               no listener takes with its destination "ip:port" (the
//	                                               fallback handler). Reply {ok}
//	{"op":"ask","address"}                         dial address over the tailnet, read to EOF. Reply {text}
//	{"op":"usePrefs","routeAll","exitNodeIP"}      EditPrefs: accept peers' routes, use this exit node ("" for
//	                                               none). Reply {ok}

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"tailscale.com/client/local"
	"tailscale.com/ipn"
	"tailscale.com/tsnet"
)

type extraOp func(s *tsnet.Server, lc *local.Client, raw json.RawMessage, timeout time.Duration) (any, error)

var extraOps = map[string]extraOp{
	"listenService": opListenService,
	"routes":        opRoutes,
	"ask":           opAsk,
	"usePrefs":      opUsePrefs,
}

func opUsePrefs(_ *tsnet.Server, lc *local.Client, raw json.RawMessage, _ time.Duration) (any, error) {
	var c struct {
		RouteAll   bool   `json:"routeAll"`
		ExitNodeIP string `json:"exitNodeIP"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	mp := &ipn.MaskedPrefs{RouteAllSet: true, ExitNodeIPSet: true, ExitNodeIDSet: true}
	mp.RouteAll = c.RouteAll
	if c.ExitNodeIP != "" {
		ip, err := netip.ParseAddr(c.ExitNodeIP)
		if err != nil {
			return nil, err
		}
		mp.ExitNodeIP = ip
	}
	if _, err := lc.EditPrefs(context.Background(), mp); err != nil {
		return nil, err
	}
	return map[string]bool{"ok": true}, nil
}

func opListenService(s *tsnet.Server, _ *local.Client, raw json.RawMessage, _ time.Duration) (any, error) {
	var c struct {
		Name string `json:"name"`
		Port uint16 `json:"port"`
		Mode string `json:"mode"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	answer := "go-service " + c.Name
	if c.Mode == "http" {
		ln, err := s.ListenService(c.Name, tsnet.ServiceModeHTTP{Port: c.Port})
		if err != nil {
			return nil, err
		}
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, answer) }))
		return map[string]string{"fqdn": ln.FQDN}, nil
	}
	ln, err := s.ListenService(c.Name, tsnet.ServiceModeTCP{Port: c.Port})
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(conn, answer)
			conn.Close()
		}
	}()
	return map[string]string{"fqdn": ln.FQDN}, nil
}

func opRoutes(s *tsnet.Server, lc *local.Client, raw json.RawMessage, _ time.Duration) (any, error) {
	var c struct {
		Routes []string `json:"routes"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	var routes []netip.Prefix
	for _, r := range c.Routes {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			return nil, err
		}
		routes = append(routes, p)
	}
	s.RegisterFallbackTCPHandler(func(_, dst netip.AddrPort) (func(net.Conn), bool) {
		return func(conn net.Conn) {
			io.WriteString(conn, dst.String())
			conn.Close()
		}, true
	})
	_, err := lc.EditPrefs(context.Background(), &ipn.MaskedPrefs{
		AdvertiseRoutesSet: true,
		Prefs:              ipn.Prefs{AdvertiseRoutes: routes},
	})
	if err != nil {
		return nil, err
	}
	return map[string]bool{"ok": true}, nil
}

func opAsk(s *tsnet.Server, _ *local.Client, raw json.RawMessage, timeout time.Duration) (any, error) {
	var c struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := s.Dial(ctx, "tcp", c.Address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", c.Address, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(conn)
	if err != nil {
		return nil, err
	}
	return map[string]string{"text": string(b)}, nil
}
