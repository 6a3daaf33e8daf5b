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
}

// runBenchNodes brings n tsnet nodes up in this one process, one after another, for bench/scale.mjs: the Go
// side of "many nodes in one process". It prints one line,
// {n, up, upSeconds, rssOneKiB, rssAllKiB, perNodeKiB, error?}, where perNodeKiB is the RSS growth per node
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
	runtime.GC()
	one := rssKiB()
	r := map[string]any{"n": cfg.N, "rssOneKiB": one}
	t0 := time.Now()
	for i := 1; i < cfg.N; i++ {
		if err := up(i); err != nil {
			r["error"] = err.Error()
			break
		}
	}
	r["upSeconds"] = time.Since(t0).Seconds()
	runtime.GC()
	all := rssKiB()
	r["up"] = len(nodes)
	r["rssAllKiB"] = all
	r["perNodeKiB"] = float64(all-one) / float64(max(len(nodes)-1, 1))
	reply(r)
	commands(func(op string, _ json.RawMessage) (any, error) { return nil, fmt.Errorf("unknown op %q", op) })
}
