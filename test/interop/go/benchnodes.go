package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"tailscale.com/tsnet"
)

type benchNodesConfig struct {
	ControlURL string `json:"controlURL"`
	AuthKey    string `json:"authKey"`
	Dir        string `json:"dir"` // each node's state goes in a subdirectory
	N          int    `json:"n"`
	// SettleSeconds: idle time before each RSS reading, so that both runtimes have returned what start-up left
	// (bench/run.mjs's per-node row; bench/scale.mjs passes SCALE_SETTLE_S).
	SettleSeconds int `json:"settleSeconds"`
}

// runBenchNodes brings n tsnet nodes up in this one process, one after another, for bench/scale.mjs: the Go
// side of "many nodes in one process". It prints one line,
// {n, up, upSeconds, upMsFirst10, upMsLast10, rssOneKiB, rssAllKiB, perNodeKiB, error?}, where perNodeKiB is the RSS growth per node
// after the first (after a GC), then closes them on {"op":"exit"}.
func runBenchNodes(raw json.RawMessage) {
	var cfg benchNodesConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		fatal(err)
	}
	if cfg.N < 2 || cfg.ControlURL == "" || cfg.Dir == "" {
		fatal(errors.New("bench-nodes needs controlURL, dir and n >= 2"))
	}
	var nodes []*tsnet.Server
	defer func() {
		for _, s := range nodes {
			s.Close()
		}
	}()
	up := func(i int) error {
		s := &tsnet.Server{
			Dir:        filepath.Join(cfg.Dir, strconv.Itoa(i)),
			Hostname:   fmt.Sprintf("goscale-%d", i),
			ControlURL: cfg.ControlURL,
			AuthKey:    cfg.AuthKey,
			Ephemeral:  true,
			Logf:       logf(),
			UserLogf:   logf(),
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := s.Up(ctx); err != nil {
			s.Close()
			return fmt.Errorf("node %d: %w", i, err)
		}
		nodes = append(nodes, s)
		return nil
	}
	if err := up(0); err != nil {
		fatal(err)
	}
	runtime.GC() // as bench/scale.mjs does: a GC, the idle seconds, a GC, then the reading
	time.Sleep(time.Duration(cfg.SettleSeconds) * time.Second)
	runtime.GC()
	one := rssKiB()
	r := map[string]any{"n": cfg.N, "rssOneKiB": one}
	t0 := time.Now()
	var upMs []float64
	for i := 1; i < cfg.N; i++ {
		t := time.Now()
		if err := up(i); err != nil {
			r["error"] = err.Error()
			break
		}
		upMs = append(upMs, float64(time.Since(t).Microseconds())/1000)
	}
	// Each Up joins a tailnet one node bigger: the first and the last ten show how that grows.
	avg := func(xs []float64) float64 {
		sum := 0.0
		for _, x := range xs {
			sum += x
		}
		return sum / float64(max(len(xs), 1))
	}
	r["upMsFirst10"] = avg(upMs[:min(10, len(upMs))])
	r["upMsLast10"] = avg(upMs[max(0, len(upMs)-10):])
	r["upSeconds"] = time.Since(t0).Seconds()
	runtime.GC() // as bench/scale.mjs does: a GC, the idle seconds, a GC, then the reading
	time.Sleep(time.Duration(cfg.SettleSeconds) * time.Second)
	runtime.GC()
	all := rssKiB()
	r["up"] = len(nodes)
	r["rssAllKiB"] = all
	r["perNodeKiB"] = float64(all-one) / float64(max(len(nodes)-1, 1))
	reply(r)
	commands(func(op string, _ json.RawMessage) (any, error) { return nil, fmt.Errorf("unknown op %q", op) })
}
