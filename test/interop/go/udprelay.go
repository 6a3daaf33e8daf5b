package main

// tsinterop udprelay: Tailscale's peer-relay server (tailscale.com/net/udprelay) on its own, bound to a free UDP
// port and advertising only 127.0.0.1:<port>, for the C client's bind-handshake interop test
// (native/test/test_relay_interop.c, docs/protocol/peer-relay.md). Endpoints are allocated by command instead of
// by a disco AllocateUDPRelayEndpointRequest over DERP; the answer is that request's response message as the
// relay node would seal it, so the test decodes the real bytes.
//
// Ready line: {"port":N,"serverDisco":"<hex>"}. Commands:
//
//	{"op":"allocate","a":"<hex disco key>","b":"<hex>","generation":N} -> {"response":"<hex cleartext>"}
//	{"op":"sessions"} -> {"sessions":[{"vni":N,"client1":"ip:port","client2":"ip:port"}]} (bound addresses)

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"

	"go4.org/mem"
	"tailscale.com/disco"
	"tailscale.com/net/udprelay"
	"tailscale.com/types/key"
	"tailscale.com/types/views"
	"tailscale.com/util/usermetric"
)

func discoKeyFromHex(s string) (key.DiscoPublic, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return key.DiscoPublic{}, fmt.Errorf("bad disco key %q", s)
	}
	return key.DiscoPublicFromRaw32(mem.B(b)), nil
}

func runUDPRelay(_ json.RawMessage) {
	// A free port: the server does not report the one it bound when given 0.
	probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		fatal(err)
	}
	port := uint16(probe.LocalAddr().(*net.UDPAddr).Port)
	probe.Close()
	srv, err := udprelay.NewServer(logf(), port, true, new(usermetric.Registry), nil)
	if err != nil {
		fatal(err)
	}
	defer srv.Close()
	srv.SetStaticAddrPorts(views.SliceOf([]netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}))
	var serverDisco string
	{
		// The server's disco key appears in every allocation; allocate once between two throwaway keys.
		ep, err := srv.AllocateEndpoint(key.NewDisco().Public(), key.NewDisco().Public())
		if err != nil {
			fatal(err)
		}
		serverDisco = hex.EncodeToString(ep.ServerDisco.AppendTo(nil))
	}
	reply(map[string]any{"port": port, "serverDisco": serverDisco})
	commands(func(op string, raw json.RawMessage) (any, error) {
		switch op {
		case "allocate":
			var c struct {
				A, B       string
				Generation uint32
			}
			if err := json.Unmarshal(raw, &c); err != nil {
				return nil, err
			}
			a, err := discoKeyFromHex(c.A)
			if err != nil {
				return nil, err
			}
			b, err := discoKeyFromHex(c.B)
			if err != nil {
				return nil, err
			}
			ep, err := srv.AllocateEndpoint(a, b)
			if err != nil {
				return nil, err
			}
			m := &disco.AllocateUDPRelayEndpointResponse{Generation: c.Generation, UDPRelayEndpoint: disco.UDPRelayEndpoint{
				ServerDisco: ep.ServerDisco, ClientDisco: ep.ClientDisco, LamportID: ep.LamportID, VNI: ep.VNI,
				BindLifetime: ep.BindLifetime.Duration, SteadyStateLifetime: ep.SteadyStateLifetime.Duration,
				AddrPorts: ep.AddrPorts,
			}}
			return map[string]string{"response": hex.EncodeToString(m.AppendMarshal(nil))}, nil
		case "sessions":
			type session struct {
				VNI     uint32 `json:"vni"`
				Client1 string `json:"client1"`
				Client2 string `json:"client2"`
			}
			out := []session{}
			for _, s := range srv.GetSessions() {
				out = append(out, session{s.VNI, s.Client1.Endpoint.String(), s.Client2.Endpoint.String()})
			}
			return map[string]any{"sessions": out}, nil
		}
		return nil, fmt.Errorf("unknown op %q", op)
	})
}
