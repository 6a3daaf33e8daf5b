package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"tailscale.com/ipn/ipnstate"
	"tailscale.com/tsnet"
	"tailscale.com/util/clientmetric"
)

type nodeConfig struct {
	ControlURL string   `json:"controlURL"`
	AuthKey    string   `json:"authKey"`
	Hostname   string   `json:"hostname"`
	Dir        string   `json:"dir"`
	Tags       []string `json:"tags"`
}

// A node command; the fields each op uses are listed in runNode.
type nodeCmd struct {
	Port      int    `json:"port"`
	Bytes     int    `json:"bytes"`
	HoldAt    int    `json:"holdAt"`
	Host      string `json:"host"`
	Name      string `json:"name"`
	TimeoutMs int    `json:"timeoutMs"`
	Async     bool   `json:"async"`
	AtLeast   int64  `json:"atLeast"`
}

// progress counts a fetch's bytes; "progress" requests wait in atLeast until it reaches theirs.
type progress struct {
	mu      sync.Mutex
	n       int64
	changed chan struct{} // closed and replaced at every update
}

func newProgress() *progress { return &progress{changed: make(chan struct{})} }

func (p *progress) set(n int64, add bool) {
	p.mu.Lock()
	if add {
		p.n += n
	} else {
		p.n = n
	}
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

func (p *progress) load() (int64, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n, p.changed
}

// atLeast returns the count once it is at least want, or what it is when timeout passes.
func (p *progress) atLeast(want int64, timeout time.Duration) int64 {
	deadline := time.After(timeout)
	for {
		n, changed := p.load()
		if n >= want {
			return n
		}
		select {
		case <-changed:
		case <-deadline:
			n, _ = p.load()
			return n
		}
	}
}

// held is a transfer paused part way (serve with holdAt), for tests that change the path mid-transfer.
type held struct {
	reached chan struct{} // closed once holdAt bytes are written
	release chan struct{} // closed by the "release" op
}

// runNode joins the tailnet and answers:
//
//	{"op":"serve","port","bytes","holdAt"?}  serve `bytes` pseudo-random bytes at GET / on tailnet port `port`;
//	                                         with holdAt, each response pauses after holdAt bytes until
//	                                         "release". Reply {port, bytes, sha256}
//	{"op":"waitHeld","timeoutMs"}            wait until a response reached holdAt; reply {ok}
//	{"op":"release"}                         let held responses go on; reply {ok}
//	{"op":"fetch","host","port","timeoutMs"} GET http://host:port/ (host: peer host name or IP); reply
//	                                         {status, bytes, sha256, ms} or {error}. With "async": true it
//	                                         replies {started} at once; "progress" (with "atLeast": N,
//	                                         once N bytes arrived or at the timeout) then replies {bytes}
//	                                         received and "fetchResult" waits for the reply
//	{"op":"waitPeer","name","timeoutMs"}     wait until the netmap has peer `name`; reply {ok}
//	{"op":"metrics","prefix"}               Tailscale's client metrics whose names start with prefix
//	{"op":"listenfunnel","port","certPEM","keyPEM","funnelOnly"}  Go's ListenFunnel (funnel.go); reply {ok, port}
//	{"op":"status"}                          {self: {ips}, peers: [{hostName, ips, curAddr, relay, online, ...}]}
//	peer-relay ops: peerrelay.go
func runNode(raw json.RawMessage) {
	var cfg nodeConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		fatal(err)
	}
	s := &tsnet.Server{
		Dir:           cfg.Dir,
		Hostname:      cfg.Hostname,
		ControlURL:    cfg.ControlURL,
		AuthKey:       cfg.AuthKey,
		AdvertiseTags: cfg.Tags,
		Ephemeral:     true,
		Logf:          logf(),
		UserLogf:      logf(),
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	st, err := s.Up(ctx)
	cancel()
	if err != nil {
		fatal(fmt.Errorf("up: %w", err))
	}
	lc, err := s.LocalClient()
	if err != nil {
		fatal(err)
	}
	reply(map[string]any{"ready": true, "ips": st.TailscaleIPs})

	hold := &held{reached: make(chan struct{}), release: make(chan struct{})}
	var holdOnce sync.Once
	progress := newProgress() // bytes the latest fetch has received
	var pending chan any      // the async fetch's reply
	commands(func(op string, raw json.RawMessage) (any, error) {
		var c nodeCmd
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		timeout := time.Duration(max(c.TimeoutMs, 1000)) * time.Millisecond
		switch op {
		case "serve":
			return serveBlob(s, c, hold, &holdOnce)
		case "listenfunnel": // funnel.go
			return listenFunnel(s, raw)
		case "waitHeld":
			select {
			case <-hold.reached:
				return map[string]bool{"ok": true}, nil
			case <-time.After(timeout):
				return map[string]bool{"ok": false}, nil
			}
		case "release":
			close(hold.release)
			return map[string]bool{"ok": true}, nil
		case "fetch":
			if !c.Async {
				return fetch(s, lc, c.Host, c.Port, timeout, progress)
			}
			done := make(chan any, 1)
			pending = done
			go func() {
				r, err := fetch(s, lc, c.Host, c.Port, timeout, progress)
				if err != nil {
					r = map[string]string{"error": err.Error()}
				}
				done <- r
			}()
			return map[string]bool{"started": true}, nil
		case "progress":
			return map[string]int64{"bytes": progress.atLeast(c.AtLeast, timeout)}, nil
		case "fetchResult":
			if pending == nil {
				return nil, errors.New("no fetch pending")
			}
			r := <-pending
			pending = nil
			return r, nil
		case "waitPeer":
			deadline := time.Now().Add(timeout)
			for {
				st, err := lc.Status(context.Background())
				if err != nil {
					return nil, err
				}
				if findPeer(st, c.Name) != nil {
					return map[string]bool{"ok": true}, nil
				}
				if time.Now().After(deadline) {
					return map[string]bool{"ok": false}, nil
				}
				time.Sleep(50 * time.Millisecond)
			}
		case "metrics":
			// Tailscale's own client metrics whose names start with prefix (e.g. magicsock_send_derp).
			var p struct {
				Prefix string `json:"prefix"`
			}
			if err := json.Unmarshal(raw, &p); err != nil {
				return nil, err
			}
			out := map[string]int64{}
			for _, m := range clientmetric.Metrics() {
				if strings.HasPrefix(m.Name(), p.Prefix) {
					out[m.Name()] = m.Value()
				}
			}
			return out, nil
		case "status":
			st, err := lc.Status(context.Background())
			if err != nil {
				return nil, err
			}
			peers := []map[string]any{}
			for _, p := range st.Peer {
				peers = append(peers, map[string]any{
					"hostName": p.HostName, "dnsName": p.DNSName, "ips": p.TailscaleIPs, "curAddr": p.CurAddr,
					"relay": p.Relay, "online": p.Online, "rxBytes": p.RxBytes, "txBytes": p.TxBytes, "tags": p.Tags,
				})
			}
			return map[string]any{"self": map[string]any{"ips": st.TailscaleIPs}, "peers": peers}, nil
		}
		if h, ok := extraNodeOps[op]; ok {
			return h(s, raw)
		}
		return peerRelayOp(lc, op, raw) // peerrelay.go
	})
}

func serveBlob(s *tsnet.Server, c nodeCmd, hold *held, once *sync.Once) (any, error) {
	if c.Bytes <= 0 || c.Port <= 0 {
		return nil, errors.New("serve needs port and bytes")
	}
	blob := make([]byte, c.Bytes)
	rng := rand.NewChaCha8([32]byte{byte(c.Port), byte(c.Port >> 8)})
	rng.Read(blob)
	sum := sha256.Sum256(blob)
	ln, err := s.Listen("tcp", ":"+strconv.Itoa(c.Port))
	if err != nil {
		return nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
		rest := blob
		if c.HoldAt > 0 && c.HoldAt < len(blob) {
			if _, err := w.Write(blob[:c.HoldAt]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			once.Do(func() { close(hold.reached) })
			<-hold.release
			rest = blob[c.HoldAt:]
		}
		w.Write(rest)
	})
	go http.Serve(ln, h)
	return map[string]any{"port": c.Port, "bytes": len(blob), "sha256": hex.EncodeToString(sum[:])}, nil
}

func findPeer(st *ipnstate.Status, name string) *ipnstate.PeerStatus {
	for _, p := range st.Peer {
		if strings.EqualFold(p.HostName, name) || strings.EqualFold(strings.SplitN(p.DNSName, ".", 2)[0], name) {
			return p
		}
	}
	return nil
}

func fetch(s *tsnet.Server, lc interface {
	Status(context.Context) (*ipnstate.Status, error)
}, host string, port int, timeout time.Duration, progress *progress) (any, error) {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		st, err := lc.Status(context.Background())
		if err != nil {
			return nil, err
		}
		p := findPeer(st, host)
		if p == nil || len(p.TailscaleIPs) == 0 {
			return nil, fmt.Errorf("no peer named %q", host)
		}
		ip = p.TailscaleIPs[0]
	}
	client := &http.Client{
		Transport: &http.Transport{DialContext: s.Dial, DisableKeepAlives: true},
		Timeout:   timeout,
	}
	t0 := time.Now()
	res, err := client.Get("http://" + net.JoinHostPort(ip.String(), strconv.Itoa(port)) + "/")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	h := sha256.New()
	progress.set(0, false)
	n, err := io.Copy(io.MultiWriter(h, countWriter{progress}), res.Body)
	if err != nil {
		return nil, err
	}
	return map[string]any{"status": res.StatusCode, "bytes": n, "sha256": hex.EncodeToString(h.Sum(nil)), "ms": time.Since(t0).Milliseconds()}, nil
}

// countWriter adds what it is given to a fetch's progress.
type countWriter struct{ p *progress }

func (w countWriter) Write(b []byte) (int, error) {
	w.p.set(int64(len(b)), true)
	return len(b), nil
}
