package p2p

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

func securityHost(t *testing.T, fastAES bool) host.Host {
	t.Helper()
	h, err := libp2p.New(security(fastAES), libp2p.NoTransports, libp2p.Transport(tcp.NewTCPTransport),
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// The dialer's order decides: TLS when it has fast AES, Noise when not,
// whatever the other side prefers, so old and new peers still connect.
func TestSecurityOrder(t *testing.T) {
	for _, c := range []struct {
		dialer, listener bool
		want             protocol.ID
	}{
		{true, true, libp2ptls.ID},
		{true, false, libp2ptls.ID},
		{false, true, noise.ID},
		{false, false, noise.ID},
	} {
		a, b := securityHost(t, c.dialer), securityHost(t, c.listener)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()})
		cancel()
		if err != nil {
			t.Fatalf("dialer fast AES %v, listener %v: %v", c.dialer, c.listener, err)
		}
		conns := a.Network().ConnsToPeer(b.ID())
		if len(conns) == 0 {
			t.Fatalf("dialer fast AES %v, listener %v: no connection", c.dialer, c.listener)
		}
		if got := conns[0].ConnState().Security; got != c.want {
			t.Errorf("dialer fast AES %v, listener %v: negotiated %s, want %s", c.dialer, c.listener, got, c.want)
		}
	}
}
