package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"expvar"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"tailscale.com/derp/derpserver"
	"tailscale.com/net/stunserver"
	"tailscale.com/types/key"
)

type derperConfig struct {
	Host string `json:"host"` // address to listen on (DERP over TLS on a free TCP port, STUN on a free UDP port)
}

// selfSigned makes a throwaway certificate for host; nodes reach the relay with InsecureForTests.
func selfSigned(host string) (tls.Certificate, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		tmpl.IPAddresses = []net.IP{ip.AsSlice()}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, nil
}

func runDerper(raw json.RawMessage) {
	var cfg derperConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		fatal(err)
	}
	cert, err := selfSigned(cfg.Host)
	if err != nil {
		fatal(err)
	}
	ds := derpserver.New(key.NewNode(), logf())
	mux := http.NewServeMux()
	mux.Handle("/derp", derpserver.Handler(ds))
	mux.HandleFunc("/derp/probe", derpserver.ProbeHandler)
	mux.HandleFunc("/derp/latency-check", derpserver.ProbeHandler)
	mux.HandleFunc("/generate_204", derpserver.ServeNoContent)
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, "0"))
	if err != nil {
		fatal(err)
	}
	// HTTP/1.1 only (no "h2" in NextProtos): DERP upgrades the connection.
	go (&http.Server{Handler: mux}).Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}))
	stun := stunserver.New(context.Background())
	if err := stun.Listen(net.JoinHostPort(cfg.Host, "0")); err != nil {
		fatal(err)
	}
	go stun.Serve()
	reply(map[string]any{
		"ready":    true,
		"derpPort": ln.Addr().(*net.TCPAddr).Port,
		"stunPort": stun.LocalAddr().(*net.UDPAddr).Port,
	})
	commands(func(op string, _ json.RawMessage) (any, error) {
		switch op {
		case "stats":
			var m map[string]any
			if err := json.Unmarshal([]byte(ds.ExpVar(false).String()), &m); err != nil {
				return nil, err
			}
			return map[string]any{"packetsSent": m["packets_sent"], "bytesSent": m["bytes_sent"],
				"dropped": dropCounts(), "writeBatches": m["counter_buffered_write_frames"]}, nil
		}
		return nil, fmt.Errorf("unknown op %q", op)
	})
}

// dropCounts: derpserver's process-wide derp_packets_dropped counters by label set, nonzero ones only
// (e.g. `{kind="other",reason="queue_head"}`: the receiving client's send queue was full).
func dropCounts() map[string]int64 {
	out := map[string]int64{}
	v, ok := expvar.Get("derp_packets_dropped").(interface{ WritePrometheus(io.Writer, string) })
	if !ok {
		return out
	}
	var b strings.Builder
	v.WritePrometheus(&b, "d")
	for _, line := range strings.Split(b.String(), "\n") {
		if !strings.HasPrefix(line, "d{") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if n, err := strconv.ParseInt(line[i+1:], 10, 64); err == nil && n != 0 {
			out[line[1:i]] = n
		}
	}
	return out
}
