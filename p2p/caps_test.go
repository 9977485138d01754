package p2p

import (
	"strings"
	"testing"
	"time"

	ethcrypto "github.com/ethereum/go-ethereum/crypto"
	"github.com/hashicorp/serf/coordinate"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func boundCaps(t *testing.T, key crypto.PrivKey, id peer.ID, now time.Time) Capabilities {
	t.Helper()
	eth, err := ethcrypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := SignBinding(func(h []byte) ([]byte, error) { return ethcrypto.Sign(h, eth) }, id)
	if err != nil {
		t.Fatal(err)
	}
	return Capabilities{
		Version: 1, PeerID: id.String(), Seq: 10, Time: now.UnixMilli(),
		Account: ethcrypto.PubkeyToAddress(eth.PublicKey).Hex(), AccountSig: sig,
		Executors: []string{"builtin"}, CPUCores: 2, Slots: 1, SlotsFree: 1, Throughput: 5000,
		Coord: coordinate.NewCoordinate(coordinate.DefaultConfig()),
	}
}

func TestOpenCaps(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	key, id := newKey(t)
	otherKey, _ := newKey(t)
	good := boundCaps(t, key, id, now)
	seal := func(k crypto.PrivKey, c Capabilities) []byte {
		b, err := SealCaps(k, &c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mutate := func(f func(*Capabilities)) Capabilities {
		c := good
		f(&c)
		return c
	}
	_, otherID := newKey(t)
	otherBinding := boundCaps(t, key, otherID, now)
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"good", seal(key, good), ""},
		{"unsigned", []byte(`{"v":1}`), "no valid signature"},
		{"signed by another peer", seal(otherKey, good), "signed by"},
		{"binding for another peer", seal(key, mutate(func(c *Capabilities) { c.AccountSig = otherBinding.AccountSig })), "account binding signed by"},
		{"binding missing", seal(key, mutate(func(c *Capabilities) { c.AccountSig = nil })), "0 bytes"},
		{"stale", seal(key, mutate(func(c *Capabilities) { c.Time = now.Add(-time.Hour).UnixMilli() })), "stale"},
		{"future", seal(key, mutate(func(c *Capabilities) { c.Time = now.Add(time.Hour).UnixMilli() })), "future"},
		{"bad version", seal(key, mutate(func(c *Capabilities) { c.Version = 9 })), "version 9"},
		{"negative price", seal(key, mutate(func(c *Capabilities) { c.PricePerHour = -1 })), "out-of-range"},
		{"more free slots than slots", seal(key, mutate(func(c *Capabilities) { c.SlotsFree = 3 })), "out-of-range"},
		{"oversized", make([]byte, MaxCapsSize+1), "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenCaps(tt.data, now)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("OpenCaps = %v, want ok", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("OpenCaps = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestCapsTopicRefusesReplayAndRelay(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	key, id := newKey(t)
	_, relay := newKey(t)
	cs, err := newCapsState()
	if err != nil {
		t.Fatal(err)
	}
	cs.now = func() time.Time { return now }
	c := boundCaps(t, key, id, now)
	first, _ := SealCaps(key, &c)
	if err := cs.check(id, first); err != nil {
		t.Fatalf("first record refused: %v", err)
	}
	if err := cs.check(relay, first); err == nil || !strings.Contains(err.Error(), "relayed") {
		t.Errorf("record published by another author: err = %v, want refusal", err)
	}
	opened, _ := OpenCaps(first, now)
	cs.store(opened)
	if err := cs.check(id, first); err == nil || !strings.Contains(err.Error(), "replayed") {
		t.Errorf("same record again: err = %v, want replay refusal", err)
	}
	c.Seq++
	next, _ := SealCaps(key, &c)
	if err := cs.check(id, next); err != nil {
		t.Errorf("newer record refused: %v", err)
	}
}

func TestVivaldiEstimatesUnpingedPeers(t *testing.T) {
	cs, err := newCapsState()
	if err != nil {
		t.Fatal(err)
	}
	cfg := coordinate.DefaultConfig()
	// A peer 50 ms away along one axis, seen through its coordinate only.
	far := coordinate.NewCoordinate(cfg)
	far.Vec[0] = 0.050
	_, id := newKey(t)
	cs.store(&Capabilities{Version: 1, PeerID: id.String(), Seq: 1, Coord: far})
	for range 50 {
		cs.observeRTT(id, 50*time.Millisecond)
	}
	got, ok := cs.estimateRTT(id)
	if !ok {
		t.Fatal("no estimate for a peer with a coordinate")
	}
	if got < 35*time.Millisecond || got > 65*time.Millisecond {
		t.Errorf("estimated RTT %s after 50 ms samples, want about 50 ms", got)
	}
	_, unknown := newKey(t)
	if _, ok := cs.estimateRTT(unknown); ok {
		t.Error("estimate for a peer without a coordinate")
	}
}

func FuzzOpenCaps(f *testing.F) {
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := OpenCaps(data, time.Now())
		if err == nil && c.SlotsFree > c.Slots {
			t.Fatal("accepted out-of-range slots")
		}
	})
}
