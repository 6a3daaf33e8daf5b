// Command tsinterop runs Tailscale's own programs for the interop tier of the test suite (docs/interop.md):
//
//	tsinterop node     a tsnet node (tailscale.com/tsnet)
//	tsinterop control  a coordination server (tailscale.com/tstest/integration/testcontrol)
//	tsinterop derper   a DERP relay and STUN server (tailscale.com/derp/derpserver, net/stunserver)
//	tsinterop udprelay a peer-relay server alone (tailscale.com/net/udprelay)
//	tsinterop bench    a tsnet node for npm run bench (bench.go)
//	tsinterop bench-nodes  many tsnet nodes in one process for bench/scale.mjs (benchnodes.go)
//
// Each prints one JSON line when ready, then answers JSON commands on stdin with one JSON line each on
// stdout ({"op":"exit"} ends it). A failed command answers {"error": ...}. TSINTEROP_VERBOSE=1 logs to stderr.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"

	"tailscale.com/envknob"
	"tailscale.com/logtail"
)

var stdout = json.NewEncoder(os.Stdout)

func reply(v any) {
	if err := stdout.Encode(v); err != nil {
		os.Exit(1)
	}
}

func replyErr(err error) { reply(map[string]string{"error": err.Error()}) }

func fatal(err error) {
	replyErr(err)
	os.Exit(1)
}

func logf() func(string, ...any) {
	if os.Getenv("TSINTEROP_VERBOSE") != "" {
		return log.New(os.Stderr, "tsinterop: ", log.Lmicroseconds).Printf
	}
	log.SetOutput(io.Discard) // packages that log through the log package directly (stunserver)
	return func(string, ...any) {}
}

// commands reads JSON commands from stdin until EOF or {"op":"exit"}, answering each with handle's result.
func commands(handle func(op string, raw json.RawMessage) (any, error)) {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		var head struct {
			Op string `json:"op"`
		}
		if err := json.Unmarshal(in.Bytes(), &head); err != nil {
			replyErr(fmt.Errorf("bad command: %w", err))
			continue
		}
		if head.Op == "exit" {
			reply(map[string]bool{"bye": true})
			return
		}
		v, err := handle(head.Op, json.RawMessage(in.Bytes()))
		if err != nil {
			replyErr(err)
		} else {
			reply(v)
		}
	}
}

func main() {
	// Tests talk to loopback and their own namespaces only: no log upload, no port mapping probes, never the
	// real coordination server.
	logtail.Disable()
	envknob.Setenv("TS_NO_LOGS_NO_SUPPORT", "true")
	envknob.Setenv("TS_DISABLE_PORTMAPPER", "true")
	envknob.Setenv("TS_PANIC_IF_HIT_MAIN_CONTROL", "true")
	if len(os.Args) < 3 {
		fatal(fmt.Errorf("usage: tsinterop node|control|derper|udprelay|bench|bench-nodes JSON-CONFIG"))
	}
	cfg := json.RawMessage(os.Args[2])
	switch os.Args[1] {
	case "node":
		runNode(cfg)
	case "control":
		runControl(cfg)
	case "derper":
		runDerper(cfg)
	case "udprelay": // udprelay.go
		runUDPRelay(cfg)
	case "bench": // bench.go
		runBench(cfg)
	case "bench-nodes": // benchnodes.go
		runBenchNodes(cfg)
	default:
		fatal(fmt.Errorf("unknown role %q", os.Args[1]))
	}
}
