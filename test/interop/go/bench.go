package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"tailscale.com/envknob"
	"tailscale.com/tsnet"
)

// benchConfig configures `tsinterop bench`, a Go tsnet node for `npm run bench` (docs/performance.md) that
// speaks bench/node.mjs's line protocol, so one driver measures both implementations. Empty fields fall back
// to the environment bench/derp-real.mjs gives its Go node (CONTROL_URL, AUTH_KEY, HOSTNAME, STATE_DIR,
// ROLE=client, TS_DEBUG_ALWAYS_USE_DERP).
type benchConfig struct {
	ControlURL    string `json:"controlURL"`
	AuthKey       string `json:"authKey"`
	Hostname      string `json:"hostname"`
	Dir           string `json:"dir"`
	Client        bool   `json:"client"`
	AlwaysUseDERP bool   `json:"alwaysUseDERP"`
}

type benchCmd struct {
	Host    string  `json:"host"`
	Bytes   int64   `json:"bytes"`
	Streams int     `json:"streams"`
	Count   int     `json:"count"`
	Seconds float64 `json:"seconds"`
}

// runBench joins the tailnet and, unless a client, serves on its tailnet address
//
//	:5001 sink: counts bytes until EOF, then writes the count back as decimal text
//	:5002 echo
//
// It prints {"ready":true,"upMs","rssKiB"} once serving (a client: once control has told it about a peer);
// upMs is how long tsnet.Server.Up took. Then it answers:
//
//	{"op":"send","host","bytes","streams"?}  streams (default 1) parallel streams of bytes each to host:5001;
//	                                         reply {seconds, bytes} (bytes: all streams together)
//	{"op":"pingpong","host","count"}        1-byte round trips to host:5002; reply {p50us, p99us}
//	{"op":"connrate","host","seconds"}      connect+close loop to host:5002; reply {perSecond}
//	{"op":"sinkstats"}                       the last sink stream's receive gaps of 50 ms or more
//	{"op":"rss"}                             {rssKiB}: this process's resident set now
//	{"op":"cpu"}                             {seconds}: CPU time this process has used (user + system)
//
// host is a peer's host name (resolved through the node's status) or an IP address.
func runBench(raw json.RawMessage) {
	var cfg benchConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		fatal(err)
	}
	env := func(v *string, k string) {
		if *v == "" {
			*v = os.Getenv(k)
		}
	}
	env(&cfg.ControlURL, "CONTROL_URL")
	env(&cfg.AuthKey, "AUTH_KEY")
	env(&cfg.Hostname, "HOSTNAME")
	env(&cfg.Dir, "STATE_DIR")
	cfg.Client = cfg.Client || os.Getenv("ROLE") == "client"
	if cfg.ControlURL == "" || cfg.Hostname == "" || cfg.Dir == "" {
		fatal(errors.New("bench needs controlURL, hostname and dir"))
	}
	if cfg.AlwaysUseDERP {
		envknob.Setenv("TS_DEBUG_ALWAYS_USE_DERP", "true")
	}
	s := &tsnet.Server{
		Dir:        cfg.Dir,
		Hostname:   cfg.Hostname,
		ControlURL: cfg.ControlURL,
		AuthKey:    cfg.AuthKey,
		Ephemeral:  true,
		Logf:       logf(),
		UserLogf:   logf(),
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t0 := time.Now()
	_, err := s.Up(ctx)
	upMs := float64(time.Since(t0).Microseconds()) / 1000
	cancel()
	if err != nil {
		fatal(fmt.Errorf("up: %w", err))
	}
	b := &benchNode{s: s}
	if !cfg.Client {
		sink, err := s.Listen("tcp", ":5001")
		if err != nil {
			fatal(err)
		}
		echo, err := s.Listen("tcp", ":5002")
		if err != nil {
			fatal(err)
		}
		go benchServe(sink, b.sink)
		go benchServe(echo, func(c net.Conn) { io.Copy(c, c) })
	} else if err := b.waitPeer(60 * time.Second); err != nil {
		fatal(err)
	}
	reply(map[string]any{"ready": true, "upMs": upMs, "rssKiB": rssKiB()})
	commands(func(op string, raw json.RawMessage) (any, error) {
		var c benchCmd
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		switch op {
		case "send":
			return b.send(c.Host, c.Bytes, max(c.Streams, 1))
		case "pingpong":
			return b.pingpong(c.Host, c.Count)
		case "connrate":
			return b.connrate(c.Host, c.Seconds)
		case "sinkstats":
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.lastSink == nil {
				return nil, errors.New("no sink stream yet")
			}
			return *b.lastSink, nil
		case "rss":
			return map[string]int64{"rssKiB": rssKiB()}, nil
		case "cpu":
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
				return nil, err
			}
			sec := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
			return map[string]float64{"seconds": sec(ru.Utime) + sec(ru.Stime)}, nil
		}
		return nil, fmt.Errorf("unknown op %q", op)
	})
}

type benchNode struct {
	s        *tsnet.Server
	mu       sync.Mutex
	lastSink *sinkStats
}

// sinkStats are one sink stream's receive gaps of 50 ms or more (stalls), as bench/node.mjs reports them.
type sinkStats struct {
	Stalls   int     `json:"stalls"`
	StallMs  float64 `json:"stallMs"`
	MaxGapMs float64 `json:"maxGapMs"`
	GapsMs   []int   `json:"gapsMs"` // the first 100 stalls, rounded
}

// rssKiB reads VmRSS from /proc/self/status (Linux); -1 where it cannot.
func rssKiB() int64 {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(st), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

func benchServe(ln net.Listener, h func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() { defer c.Close(); h(c) }()
	}
}

func (b *benchNode) sink(c net.Conn) {
	var st sinkStats
	buf := make([]byte, 256*1024)
	var n int64
	var last time.Time
	for {
		k, err := c.Read(buf)
		if k > 0 {
			n += int64(k)
			now := time.Now()
			if !last.IsZero() {
				gap := float64(now.Sub(last).Microseconds()) / 1000
				if gap >= 50 {
					st.Stalls++
					st.StallMs += gap
					if len(st.GapsMs) < 100 {
						st.GapsMs = append(st.GapsMs, int(gap+0.5))
					}
				}
				st.MaxGapMs = max(st.MaxGapMs, gap)
			}
			last = now
		}
		if err != nil {
			break
		}
	}
	b.mu.Lock()
	b.lastSink = &st
	b.mu.Unlock()
	io.WriteString(c, strconv.FormatInt(n, 10))
}

func (b *benchNode) waitPeer(timeout time.Duration) error {
	lc, err := b.s.LocalClient()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		st, err := lc.Status(context.Background())
		if err == nil && len(st.Peer) > 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no peer within %v", timeout)
}

func (b *benchNode) dial(host string, port int) (net.Conn, error) {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		lc, err := b.s.LocalClient()
		if err != nil {
			return nil, err
		}
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return b.s.Dial(ctx, "tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
}

// send runs streams connections at once, each writing bytes then half-closing and checking the sink's count.
func (b *benchNode) send(host string, n int64, streams int) (any, error) {
	conns := make([]net.Conn, streams)
	for i := range conns {
		c, err := b.dial(host, 5001)
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return nil, err
		}
		conns[i] = c
	}
	chunk := bytes.Repeat([]byte{0x5a}, 256*1024)
	errs := make(chan error, streams)
	t0 := time.Now()
	for _, c := range conns {
		go func() {
			defer c.Close()
			var sent int64
			for sent < n {
				k, err := c.Write(chunk)
				sent += int64(k)
				if err != nil {
					errs <- err
					return
				}
			}
			if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
				errs <- err
				return
			}
			got, err := io.ReadAll(c)
			if err != nil {
				errs <- err
				return
			}
			if v, _ := strconv.ParseInt(string(got), 10, 64); v != sent {
				errs <- fmt.Errorf("sink counted %q, sent %d", got, sent)
				return
			}
			errs <- nil
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			return nil, err
		}
	}
	// Every stream writes whole chunks, as bench/node.mjs does.
	per := (n + int64(len(chunk)) - 1) / int64(len(chunk)) * int64(len(chunk))
	return map[string]any{"seconds": time.Since(t0).Seconds(), "bytes": per * int64(streams)}, nil
}

func (b *benchNode) pingpong(host string, count int) (any, error) {
	if count < 1 {
		return nil, errors.New("count must be at least 1")
	}
	c, err := b.dial(host, 5002)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	times := make([]float64, 0, count)
	one := []byte{1}
	for range count {
		t0 := time.Now()
		if _, err := c.Write(one); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(c, one); err != nil {
			return nil, err
		}
		times = append(times, float64(time.Since(t0).Nanoseconds())/1000)
	}
	sort.Float64s(times)
	return map[string]float64{"p50us": times[count/2], "p99us": times[count*99/100]}, nil
}

func (b *benchNode) connrate(host string, seconds float64) (any, error) {
	if seconds <= 0 {
		return nil, errors.New("seconds must be positive")
	}
	end := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	n := 0
	for time.Now().Before(end) {
		c, err := b.dial(host, 5002)
		if err != nil {
			return nil, err
		}
		c.Close()
		n++
	}
	return map[string]float64{"perSecond": float64(n) / seconds}, nil
}
