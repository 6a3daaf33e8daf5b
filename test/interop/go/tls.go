package main

// HTTPS certificate ops of the tsnet node (test/cert-interop.test.ts). The node gets its certificate through
// tsnet's own ACME code: TS_DEBUG_ACME_DIRECTORY_URL names the ACME server and SSL_CERT_FILE the CA to trust,
// both set in the process environment by the test.

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"tailscale.com/tsnet"
)

// Ops beyond runNode's own, looked up by name.
var extraNodeOps = map[string]func(s *tsnet.Server, raw json.RawMessage) (any, error){
	"listentls": listenTLS,
	"tlsfetch":  tlsFetch,
}

type tlsCmd struct {
	Port      int    `json:"port"`
	Host      string `json:"host"`
	TimeoutMs int    `json:"timeoutMs"`
}

// {"op":"listentls","port"}: ListenTLS on the tailnet port and answer GET / with "hello from <SNI name>";
// reply {port, certDomains}.
func listenTLS(s *tsnet.Server, raw json.RawMessage) (any, error) {
	var c tlsCmd
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	ln, err := s.ListenTLS("tcp", fmt.Sprintf(":%d", c.Port))
	if err != nil {
		return nil, err
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.TLS.ServerName)
	}))
	return map[string]any{"port": c.Port, "certDomains": s.CertDomains()}, nil
}

// {"op":"tlsfetch","host","port","timeoutMs"}: GET https://host:port/ over the tailnet, verifying the
// certificate against the system roots (SSL_CERT_FILE); reply {status, body, issuer} or {error}.
func tlsFetch(s *tsnet.Server, raw json.RawMessage) (any, error) {
	var c tlsCmd
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	client := &http.Client{
		Timeout:   time.Duration(max(c.TimeoutMs, 1000)) * time.Millisecond,
		Transport: &http.Transport{DialContext: s.Dial, TLSClientConfig: &tls.Config{}},
	}
	res, err := client.Get(fmt.Sprintf("https://%s:%d/", c.Host, c.Port))
	if err != nil {
		return map[string]string{"error": err.Error()}, nil
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return map[string]string{"error": err.Error()}, nil
	}
	issuer := ""
	if res.TLS != nil && len(res.TLS.PeerCertificates) > 0 {
		issuer = res.TLS.PeerCertificates[0].Issuer.CommonName
	}
	return map[string]any{"status": res.StatusCode, "body": string(body), "issuer": issuer}, nil
}
