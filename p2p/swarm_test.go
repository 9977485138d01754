package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

// startSwarm starts a swarm on loopback that pings every second, closed
// when the test ends.
func startSwarm(t *testing.T, bootstrap ...*Swarm) *Swarm {
	t.Helper()
	key, _ := newKey(t)
	var boot []peer.AddrInfo
	for _, b := range bootstrap {
		boot = append(boot, peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{
		Identity: key, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: boot,
		ConnLow: 10, ConnHigh: 50, MaxConns: 100, MaxStreams: 1000, MaxMemoryMB: 256, MaxFDs: 256,
		DHTMode: "server", PingEvery: time.Second,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Logf("Close: %v", err)
		}
	})
	return s
}

// publish publishes a capability record bound to s's peer ID.
func publish(t *testing.T, s *Swarm) {
	t.Helper()
	key := s.Host().Peerstore().PrivKey(s.ID())
	c := boundCaps(t, key, s.ID(), time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.PublishCaps(ctx, c, nil, false); err != nil {
		t.Fatalf("PublishCaps: %v", err)
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, msg)
		}
		<-tick.C
	}
}

// silence stops s from re-sending its record on its own (greetings and
// coordinate moves), so only the record request can tell others of it.
func silence(s *Swarm) {
	s.caps.mu.Lock()
	defer s.caps.mu.Unlock()
	s.caps.policy = republishPolicy{Warmup: time.Hour, WarmupEvery: time.Hour, Every: time.Hour, MinSamples: 1 << 30}
}

// TestNewNodeAsksConnectedPeersForTheirRecords starts three workers that
// publish their records and only then a fourth node, as after a
// coordinator restart. The workers never re-send their records, so the
// newcomer learns them only by asking on connect: it must know all three
// once CapsAsked returns, not at their next publication.
func TestNewNodeAsksConnectedPeersForTheirRecords(t *testing.T) {
	w0 := startSwarm(t)
	workers := []*Swarm{w0, startSwarm(t, w0), startSwarm(t, w0)}
	for _, w := range workers {
		silence(w)
		publish(t, w)
	}
	c := startSwarm(t, workers...)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.CapsAsked(ctx); err != nil {
		t.Fatal(err)
	}
	for i, w := range workers {
		if got := c.Caps(w.ID()); got == nil || got.PeerID != w.ID().String() {
			t.Errorf("record of worker %d right after CapsAsked: %+v", i, got)
		}
	}
}

func TestFetchCaps(t *testing.T) {
	a := startSwarm(t)
	b := startSwarm(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.FetchCaps(ctx, a.ID()); !errors.Is(err, ErrNoCaps) {
		t.Errorf("FetchCaps before a published: err = %v, want ErrNoCaps", err)
	}
	publish(t, a)
	eventually(t, 5*time.Second, func() (bool, string) {
		c, err := b.FetchCaps(ctx, a.ID())
		if err != nil {
			return false, err.Error() // the asker may be over the rate for a moment
		}
		return c.PeerID == a.ID().String(), "record of " + c.PeerID
	})
	_, stranger := newKey(t)
	if _, err := b.FetchCaps(ctx, stranger); err == nil {
		t.Error("FetchCaps of a peer not connected succeeded")
	}
}

// TestSilentPeerShownGone makes a peer that keeps its connection but stops
// answering pings: it must show as disconnected within seconds.
func TestSilentPeerShownGone(t *testing.T) {
	a := startSwarm(t)
	b := startSwarm(t, a)
	connected := func() bool {
		for _, p := range a.Peers().List() {
			if p.ID == b.ID() {
				return p.Connected
			}
		}
		return false
	}
	eventually(t, 5*time.Second, func() (bool, string) { return connected(), "b not connected" })
	// b still speaks ping but never answers.
	b.Host().SetStreamHandler(ping.ID, func(s network.Stream) { _, _ = io.Copy(io.Discard, s) })
	eventually(t, 15*time.Second, func() (bool, string) { return !connected(), "silent peer still shown connected" })
}

// TestCoordinatePublishedEarly checks that nodes' records carry a
// coordinate other than the origin within the warm-up, not at the next
// periodic publication.
func TestCoordinatePublishedEarly(t *testing.T) {
	w0 := startSwarm(t)
	nodes := []*Swarm{w0, startSwarm(t, w0), startSwarm(t, w0)}
	for _, n := range nodes {
		publish(t, n)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		for i, n := range nodes {
			for j, m := range nodes {
				if i == j {
					continue
				}
				c := m.Caps(n.ID())
				if c == nil || c.Coord == nil || moved(coordAt(0), c.Coord) == 0 {
					return false, fmt.Sprintf("node %d knows node %d at the origin", j, i)
				}
			}
		}
		return true, ""
	})
}
