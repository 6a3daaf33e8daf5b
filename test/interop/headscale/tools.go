//go:build tools

// Package tools pins Headscale (built with `go build github.com/juanfont/headscale/cmd/headscale` in this
// module by scripts/interop.sh). Its own module so that its tailscale.com does not move the test program's.
package tools

import _ "github.com/juanfont/headscale/cmd/headscale"
