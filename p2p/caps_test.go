package p2p

import (
	"fmt"
	"strings"
	"testing"
	"time"

	ethcrypto "github.com/ethereum/go-ethereum/crypto"
	"github.com/hashicorp/serf/coordinate"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func boundCaps(t testing.TB, key crypto.PrivKey, id peer.ID, now time.Time) Capabilities {
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
	// The same cases through one binding cache, warmed by "good" first: a
	// remembered binding must not let a different one through.
	bc := newBindingCache()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, open := range []struct {
				name string
				f    func([]byte, time.Time) (*Capabilities, error)
			}{
				{"OpenCaps", OpenCaps},
				{"with the binding cache", func(b []byte, now time.Time) (*Capabilities, error) { return openCaps(b, now, bc.verify) }},
			} {
				_, err := open.f(tt.data, now)
				switch {
				case tt.wantErr == "" && err != nil:
					t.Errorf("%s = %v, want ok", open.name, err)
				case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
					t.Errorf("%s = %v, want an error containing %q", open.name, err, tt.wantErr)
				}
			}
		})
	}
}

// TestBindingCache: a binding verified once is remembered (not recovered
// again), a different one for the same peer is verified afresh, a bad one
// is not remembered, and the cache stays within maxBindings.
func TestBindingCache(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	key, id := newKey(t)
	c := boundCaps(t, key, id, now)
	bc := newBindingCache()
	// An unknown peer's entry is the zero value, which must not pass
	// for a remembered empty binding.
	if err := bc.verify(id, "", nil); err == nil {
		t.Fatal("verify(no account, no signature) of an unknown peer = nil, want an error")
	}
	if err := bc.verify(id, c.Account, c.AccountSig); err != nil {
		t.Fatalf("verify(good binding) = %v", err)
	}
	if got := bc.ok[id]; got.account != c.Account || got.sig != string(c.AccountSig) {
		t.Fatalf("the verified binding is not remembered: %+v", got)
	}
	// A remembered binding is trusted as it stands: plant one that would
	// not verify and see it pass, which only the cache can explain.
	forged := append([]byte(nil), c.AccountSig...)
	forged[3] ^= 0xff
	bc.ok[id] = verifiedBinding{account: c.Account, sig: string(forged)}
	if err := bc.verify(id, c.Account, forged); err != nil {
		t.Errorf("verify(remembered binding) = %v, want nil without recovering the key", err)
	}
	// The real binding differs from the planted one: verified afresh.
	if err := bc.verify(id, c.Account, c.AccountSig); err != nil {
		t.Errorf("verify(good binding after another) = %v", err)
	}
	other := boundCaps(t, key, id, now) // another account
	if err := bc.verify(id, other.Account, c.AccountSig); err == nil {
		t.Error("verify(account with another's signature) = nil, want an error")
	}
	if got := bc.ok[id].account; got != c.Account {
		t.Errorf("after a refused binding the cache holds account %s, want %s", got, c.Account)
	}
	for i := 0; len(bc.ok) < maxBindings; i++ {
		bc.ok[peer.ID(fmt.Sprint("filler", i))] = verifiedBinding{}
	}
	_, id2 := newKey(t)
	c2 := boundCaps(t, key, id2, now)
	if err := bc.verify(id2, c2.Account, c2.AccountSig); err != nil {
		t.Fatalf("verify(new peer's binding) = %v", err)
	}
	if len(bc.ok) > maxBindings {
		t.Errorf("the cache holds %d bindings, over its bound of %d", len(bc.ok), maxBindings)
	}
	if _, ok := bc.ok[id2]; !ok {
		t.Error("the new peer's binding was not remembered")
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

// BenchmarkOpenCaps: opening one peer's record as a daemon receives it
// again and again, with and without the binding cache.
func BenchmarkOpenCaps(b *testing.B) {
	now := time.UnixMilli(1_800_000_000_000)
	key, id := newKey(b)
	c := boundCaps(b, key, id, now)
	sealed, err := SealCaps(key, &c)
	if err != nil {
		b.Fatal(err)
	}
	bc := newBindingCache()
	for _, bm := range []struct {
		name   string
		verify func(peer.ID, string, []byte) error
	}{{"uncached", VerifyBinding}, {"cached", bc.verify}} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := openCaps(sealed, now, bm.verify); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
