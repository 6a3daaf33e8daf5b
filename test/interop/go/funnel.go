package main

// The "listenfunnel" op (docs/interop.md): Go's tsnet ListenFunnel with an explicit FunnelTLSConfig (the
// certificate comes from the test, not ACME), checking our devnet's Funnel ingress against Tailscale's
// peerAPI ingress handler. Each accepted connection is answered with one line naming what the Go node saw:
// "hello from go funnel=<bool> src=<public ip:port> remote=<ingress ip:port>", then closed.

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"

	"tailscale.com/ipn"
	"tailscale.com/tsnet"
)

type funnelCmd struct {
	Port       int    `json:"port"`
	CertPEM    string `json:"certPEM"`
	KeyPEM     string `json:"keyPEM"`
	FunnelOnly bool   `json:"funnelOnly"`
}

func listenFunnel(s *tsnet.Server, raw json.RawMessage) (any, error) {
	var c funnelCmd
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if c.Port <= 0 || c.CertPEM == "" || c.KeyPEM == "" {
		return nil, errors.New("listenfunnel needs port, certPEM and keyPEM")
	}
	pair, err := tls.X509KeyPair([]byte(c.CertPEM), []byte(c.KeyPEM))
	if err != nil {
		return nil, err
	}
	opts := []tsnet.FunnelOption{tsnet.FunnelTLSConfig(&tls.Config{Certificates: []tls.Certificate{pair}})}
	if c.FunnelOnly {
		opts = append(opts, tsnet.FunnelOnly())
	}
	ln, err := s.ListenFunnel("tcp", ":"+strconv.Itoa(c.Port), opts...)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func(conn net.Conn) {
				defer conn.Close()
				tc, ok := conn.(*tls.Conn)
				if !ok {
					return
				}
				if err := tc.Handshake(); err != nil {
					return
				}
				src := "-"
				fc, funnel := tc.NetConn().(*ipn.FunnelConn)
				if funnel {
					src = fc.Src.String()
				}
				fmt.Fprintf(conn, "hello from go funnel=%v src=%s remote=%s\n", funnel, src, conn.RemoteAddr())
			}(conn)
		}
	}()
	return map[string]any{"ok": true, "port": c.Port}, nil
}
