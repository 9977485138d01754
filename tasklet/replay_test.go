package tasklet

import (
	"testing"
)

func TestReplayCache(t *testing.T) {
	key := func(b byte) replayKey { return replayKey{signer: "coord", nonce: Nonce{b}} }
	c := newReplayCache(3)
	steps := []struct {
		name      string
		k         replayKey
		exp, now  int64
		wantFresh bool
	}{
		{"first", key(1), 100, 0, true},
		{"replay", key(1), 100, 50, false},
		{"other signer", replayKey{signer: "other", nonce: Nonce{1}}, 100, 50, true},
		{"after expiry", key(1), 300, 100, true},
		{"replay of renewed", key(1), 300, 150, false},
	}
	for _, s := range steps {
		if got := c.add(s.k, s.exp, s.now); got != s.wantFresh {
			t.Errorf("%s: add = %v, want %v", s.name, got, s.wantFresh)
		}
	}
}

func TestReplayCacheBounded(t *testing.T) {
	c := newReplayCache(3)
	for i := range byte(3) {
		c.add(replayKey{nonce: Nonce{i}}, int64(100+i), 0)
	}
	// Full of live entries: the soonest to expire (nonce 0) is forgotten.
	if !c.add(replayKey{nonce: Nonce{9}}, 500, 10) {
		t.Fatal("add to a full cache refused a new nonce")
	}
	if got := c.len(); got != 3 {
		t.Errorf("len = %d, want 3", got)
	}
	if !c.add(replayKey{nonce: Nonce{0}}, 500, 10) {
		t.Error("nonce 0 should have been evicted as the soonest to expire")
	}
	if c.add(replayKey{nonce: Nonce{9}}, 500, 10) {
		t.Error("nonce 9 was evicted instead of the soonest-expiring entry")
	}
	// Once everything has expired, a prune drops it all.
	c.add(replayKey{nonce: Nonce{7}}, 1000, 600)
	if got := c.len(); got != 1 {
		t.Errorf("len after expiry = %d, want 1", got)
	}
	c.remove(replayKey{nonce: Nonce{7}})
	if got := c.len(); got != 0 {
		t.Errorf("len after remove = %d, want 0", got)
	}
}
