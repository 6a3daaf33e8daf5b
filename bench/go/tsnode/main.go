// Command tsnode is a Go tsnet node for the bench (bench/derp-real.mjs): Tailscale's own implementation as the
// baseline for ours, speaking the same line protocol as bench/node.mjs so one driver measures both.
//
// Environment: CONTROL_URL, AUTH_KEY, HOSTNAME, STATE_DIR (required); ROLE=client to dial instead of serve;
// TS_DEBUG_ALWAYS_USE_DERP=1 forces the relay path (a Tailscale envknob). TSNODE_VERBOSE=1 logs to stderr.
//
// Unless ROLE=client it serves, on its tailnet address:
//
//	:5001 sink: counts bytes until EOF, then writes the count back as decimal text
//	:5002 echo
//
// It prints {"ready":true} once serving (or, as a client, once control has told it about a peer), then
// answers JSON commands on stdin with one JSON line each on stdout:
//
//	{"op":"send","host","bytes"}       one stream of bytes to host:5001; reply {seconds, bytes}
//	{"op":"pingpong","host","count"}  1-byte round trips to host:5002; reply {p50us, p99us}
//	{"op":"sinkstats"}                 the last sink stream's receive gaps of 50 ms or more (stalls), as bench/node.mjs
//	{"op":"exit"}
//
// host is a peer's host name (resolved through the node's status) or an IP address.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"tailscale.com/envknob"
	"tailscale.com/logtail"
	"tailscale.com/tsnet"
)

type command struct {
	Op    string `json:"op"`
	Host  string `json:"host"`
	Bytes int64  `json:"bytes"`
	Count int    `json:"count"`
}

var stdout = json.NewEncoder(os.Stdout)

func out(v any) {
	if err := stdout.Encode(v); err != nil {
		os.Exit(1)
	}
}

func fail(err error) {
	out(map[string]string{"error": err.Error()})
	os.Exit(1)
}

func mustEnv(k string) string {
	v := os.Getenv(k)
	if v == "" {
		fail(fmt.Errorf("%s is required", k))
	}
	return v
}

func main() {
	// The bench talks to loopback only: no log upload, no port mapping probes of the LAN gateway.
	logtail.Disable()
	envknob.Setenv("TS_NO_LOGS_NO_SUPPORT", "true")
	envknob.Setenv("TS_DISABLE_PORTMAPPER", "true")
	envknob.Setenv("TS_PANIC_IF_HIT_MAIN_CONTROL", "true")

	logf := func(string, ...any) {}
	if os.Getenv("TSNODE_VERBOSE") != "" {
		logf = log.New(os.Stderr, "tsnode: ", log.Lmicroseconds).Printf
	}
	s := &tsnet.Server{
		Dir:        mustEnv("STATE_DIR"),
		Hostname:   mustEnv("HOSTNAME"),
		ControlURL: mustEnv("CONTROL_URL"),
		AuthKey:    mustEnv("AUTH_KEY"),
		Ephemeral:  true,
		Logf:       logf,
		UserLogf:   logf,
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	if _, err := s.Up(ctx); err != nil {
		fail(fmt.Errorf("up: %w", err))
	}
	cancel()
	client := os.Getenv("ROLE") == "client"
	if !client {
		sink, err := s.Listen("tcp", ":5001")
		if err != nil {
			fail(err)
		}
		echo, err := s.Listen("tcp", ":5002")
		if err != nil {
			fail(err)
		}
		go serve(sink, serveSink)
		go serve(echo, func(c net.Conn) { io.Copy(c, c) })
	} else if err := waitPeer(s); err != nil {
		fail(err)
	}
	out(map[string]bool{"ready": true})

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var cmd command
		if err := json.Unmarshal(in.Bytes(), &cmd); err != nil {
			out(map[string]string{"error": "bad command: " + err.Error()})
			continue
		}
		var reply any
		var err error
		switch cmd.Op {
		case "send":
			reply, err = send(s, cmd.Host, cmd.Bytes)
		case "pingpong":
			reply, err = pingpong(s, cmd.Host, cmd.Count)
		case "sinkstats":
			sinkMu.Lock()
			if lastSink == nil {
				// no stream has ended yet
				err = errors.New("no sink stream yet")
			} else {
				reply = *lastSink
			}
			sinkMu.Unlock()
		case "exit":
			out(map[string]any{})
			return
		default:
			err = fmt.Errorf("unknown op %q", cmd.Op)
		}
		if err != nil {
			out(map[string]string{"error": err.Error()})
		} else {
			out(reply)
		}
	}
}

func serve(ln net.Listener, h func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() { defer c.Close(); h(c) }()
	}
}

type sinkStats struct {
	Stalls   int     `json:"stalls"`
	StallMs  float64 `json:"stallMs"`
	MaxGapMs float64 `json:"maxGapMs"`
	GapsMs   []int   `json:"gapsMs"` // the first 100 stalls, rounded
}

var (
	sinkMu   sync.Mutex
	lastSink *sinkStats
)

func serveSink(c net.Conn) {
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
	sinkMu.Lock()
	lastSink = &st
	sinkMu.Unlock()
	io.WriteString(c, strconv.FormatInt(n, 10))
}

func waitPeer(s *tsnet.Server) error {
	lc, err := s.LocalClient()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		st, err := lc.Status(context.Background())
		if err == nil && len(st.Peer) > 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("no peer within 60s")
}

// resolve maps a peer's host name to its first tailnet address.
func resolve(s *tsnet.Server, host string) (string, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.String(), nil
	}
	lc, err := s.LocalClient()
	if err != nil {
		return "", err
	}
	st, err := lc.Status(context.Background())
	if err != nil {
		return "", err
	}
	for _, p := range st.Peer {
		if strings.EqualFold(p.HostName, host) || strings.EqualFold(strings.SplitN(p.DNSName, ".", 2)[0], host) {
			if len(p.TailscaleIPs) > 0 {
				return p.TailscaleIPs[0].String(), nil
			}
		}
	}
	return "", fmt.Errorf("no peer named %q", host)
}

func dial(s *tsnet.Server, host string, port int) (net.Conn, error) {
	ip, err := resolve(s, host)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Dial(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
}

func send(s *tsnet.Server, host string, bytes int64) (any, error) {
	c, err := dial(s, host, 5001)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	chunk := make([]byte, 256*1024)
	for i := range chunk {
		chunk[i] = 0x5a
	}
	t0 := time.Now()
	var sent int64
	for sent < bytes {
		n, err := c.Write(chunk)
		sent += int64(n)
		if err != nil {
			return nil, err
		}
	}
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok {
		return nil, errors.New("connection cannot half-close")
	}
	if err := cw.CloseWrite(); err != nil {
		return nil, err
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		return nil, err
	}
	seconds := time.Since(t0).Seconds()
	if got, _ := strconv.ParseInt(string(reply), 10, 64); got != sent {
		return nil, fmt.Errorf("sink counted %q, sent %d", reply, sent)
	}
	return map[string]any{"seconds": seconds, "bytes": sent}, nil
}

func pingpong(s *tsnet.Server, host string, count int) (any, error) {
	c, err := dial(s, host, 5002)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if count < 1 {
		return nil, errors.New("count must be at least 1")
	}
	times := make([]float64, 0, count)
	b := []byte{1}
	for range count {
		t0 := time.Now()
		if _, err := c.Write(b); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(c, b); err != nil {
			return nil, err
		}
		times = append(times, float64(time.Since(t0).Nanoseconds())/1000)
	}
	sort.Float64s(times)
	return map[string]float64{"p50us": times[count/2], "p99us": times[count*99/100]}, nil
}
