package p2p

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A forger whose own node skips the validator publishes a message the
// honest nodes' validator refuses, then a valid one: the honest nodes get
// the valid one and never hand the forged one on (a rejected message is
// neither delivered nor relayed).
func TestGossipRefusesWhatTheValidatorRejects(t *testing.T) {
	const topic = "gridswarm/test-gossip/1.0.0"
	forger := startSwarm(t)
	b := startSwarm(t, forger)
	c := startSwarm(t, b)
	honest := TopicSpec{Name: topic, MaxSize: 1024, Check: func(_ peer.ID, d []byte) error {
		if !bytes.HasPrefix(d, []byte("valid")) {
			return errors.New("not valid")
		}
		return nil
	}}
	var mu sync.Mutex
	got := map[string][]string{}
	for name, s := range map[string]*Swarm{"b": b, "c": c} {
		if _, err := s.Gossip(honest, func(_ peer.ID, d []byte) {
			mu.Lock()
			got[name] = append(got[name], string(d))
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	ft, err := forger.Gossip(TopicSpec{Name: topic, MaxSize: 1024}, func(peer.ID, []byte) {})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the honest nodes are in the forger's mesh view, else the
	// publication goes nowhere and the test proves nothing.
	eventually(t, 20*time.Second, func() (bool, string) {
		return len(ft.t.ListPeers()) >= 1, "the forger sees no topic peer"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ft.t.Publish(ctx, []byte("forged")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		if err := ft.t.Publish(ctx, []byte("valid "+time.Now().String())); err != nil {
			return false, err.Error()
		}
		mu.Lock()
		defer mu.Unlock()
		return len(got["b"]) > 0 && len(got["c"]) > 0, "the valid message did not reach both honest nodes"
	})
	mu.Lock()
	defer mu.Unlock()
	for name, ms := range got {
		for _, m := range ms {
			if m == "forged" {
				t.Errorf("honest node %s was handed the forged message", name)
			}
		}
	}
}
