package worldnet

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"

	"github.com/gridswarm/gridswarm/scheduler/sim"
)

func key(t *testing.T) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func geo(t *testing.T) *sim.Geo {
	t.Helper()
	g, err := sim.LoadGeo()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestLinkOptions(t *testing.T) {
	got := LinkOptions(sim.Link{RTT: 96 * time.Millisecond, BandwidthBps: 65e6})
	if got.Latency != 48*time.Millisecond || got.Bandwidth != 65e6 {
		t.Errorf("LinkOptions = %+v, want latency 48ms (half the RTT) and 65e6 bytes/s", got)
	}
}

// A ping between two peers takes at least the RTT their regions measured,
// and each peer's address says its region.
func TestPingTakesTheRegionsRTT(t *testing.T) {
	g := geo(t)
	w := New(g)
	t.Cleanup(func() { _ = w.Close() })
	hosts := map[string]host.Host{}
	for _, name := range []string{"Oregon", "Oregon2", "Tokyo"} {
		region := strings.TrimSuffix(name, "2")
		h, err := w.Host(region)(key(t))
		if err != nil {
			t.Fatal(err)
		}
		if w.Region(h.ID()) != region {
			t.Errorf("Region(%s) = %q, want %q", name, w.Region(h.ID()), region)
		}
		hosts[name] = h
	}
	if a := hosts["Oregon2"].Addrs()[0].String(); a != "/ip4/10.0.0.2/tcp/4001" {
		t.Errorf("second Oregon peer at %s, want /ip4/10.0.0.2/tcp/4001", a)
	}
	if a := hosts["Tokyo"].Addrs()[0].String(); a != "/ip4/10.1.0.1/tcp/4001" {
		t.Errorf("first Tokyo peer at %s, want /ip4/10.1.0.1/tcp/4001", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, to := range []string{"Oregon2", "Tokyo"} {
		want, err := g.Link("Oregon", strings.TrimSuffix(to, "2"))
		if err != nil {
			t.Fatal(err)
		}
		from, dst := hosts["Oregon"], hosts[to]
		if err := from.Connect(ctx, peer.AddrInfo{ID: dst.ID(), Addrs: dst.Addrs()}); err != nil {
			t.Fatalf("connecting to %s: %v", to, err)
		}
		res := <-ping.Ping(ctx, from, dst.ID())
		if res.Error != nil {
			t.Fatalf("ping %s: %v", to, res.Error)
		}
		if res.RTT < want.RTT {
			t.Errorf("ping Oregon → %s took %s, less than the %s the link should take", to, res.RTT, want.RTT)
		}
		t.Logf("ping Oregon → %s: %s (link RTT %s)", to, res.RTT, want.RTT)
	}
}

func TestHostRefusesBadInput(t *testing.T) {
	w := New(geo(t))
	t.Cleanup(func() { _ = w.Close() })
	if _, err := w.Host("Atlantis")(key(t)); err == nil || !strings.Contains(err.Error(), `"Atlantis"`) {
		t.Errorf("unknown region: %v, want an error naming it", err)
	}
	k := key(t)
	if _, err := w.Host("Oregon")(k); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Host("Tokyo")(k); err == nil || !strings.Contains(err.Error(), "already on the network") {
		t.Errorf("same key twice: %v, want already on the network", err)
	}
}
