package datagrid

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	unixfs "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func TestWaitVerdict(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	w := Wait{FindWithin: 30 * time.Second, Stall: time.Minute}
	for _, tc := range []struct {
		name      string
		providers int
		block     float64 // seconds after start a block arrived; <0 none
		now       float64
		want      error // nil: keep waiting
	}{
		{"searching", 0, -1, 29, nil},
		{"nobody has it", 0, -1, 30, ErrNoProvider},
		{"providers found, still within stall", 2, -1, 59, nil},
		{"providers found, nothing came", 2, -1, 60, ErrStalled},
		{"blocks flowing", 0, 50, 100, nil},
		{"blocks stopped", 1, 50, 110, ErrStalled},
		{"a block came, no provider known (connected peer)", 0, 10, 69, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newWaitState("data get", cid.Undef, w, t0, time.Time{})
			s.providers = tc.providers
			if tc.block >= 0 {
				s.blockArrived(at(tc.block))
			}
			err := s.verdict(at(tc.now), 10, 100)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("verdict = %v, want to keep waiting", err)
				}
				if d := s.next(at(tc.now), time.Hour); d <= 0 {
					t.Errorf("next = %s, want a positive wait", d)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("verdict = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestWaitNextWakesAtTheLimit(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newWaitState("data ls", cid.Undef, Wait{FindWithin: 5 * time.Second}, t0, time.Time{})
	if got := s.next(t0.Add(4*time.Second), 2*time.Second); got != time.Second {
		t.Errorf("next 1s before the search limit = %s, want 1s", got)
	}
	if got := s.next(t0, 2*time.Second); got != 2*time.Second {
		t.Errorf("next far from the limit = %s, want the 2s cap", got)
	}
	s.blockArrived(t0.Add(time.Second))
	if got := s.next(t0.Add(time.Second), time.Hour); got != DefaultStall {
		t.Errorf("next after a block = %s, want the default stall %s", got, DefaultStall)
	}
}

func TestWaitEnded(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	root := cid.NewCidV1(cid.Raw, mustHash([]byte("x")))
	for _, tc := range []struct {
		name      string
		cause     error
		providers int
		block     bool
		want      error
		says      string
	}{
		{"deadline, nobody", context.DeadlineExceeded, 0, false, ErrNoProvider, "no provider found for " + root.String() + " within 5s: is a peer that holds it online?"},
		{"deadline, silent providers", context.DeadlineExceeded, 1, false, ErrStalled, "no block of"},
		{"deadline while flowing", context.DeadlineExceeded, 1, true, ErrTimedOut, "did not complete within 5s"},
		{"cancelled", context.Canceled, 0, false, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newWaitState("data pin", root, Wait{}, t0, t0.Add(5*time.Second))
			s.providers = tc.providers
			if tc.block {
				s.blockArrived(t0.Add(time.Second))
			}
			err := s.ended(t0.Add(5*time.Second+3*time.Millisecond), tc.cause, 0, -1)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("ended = %v, want nil (the caller keeps the cancellation)", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("ended = %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
}

func TestWaitCheck(t *testing.T) {
	for _, tc := range []struct {
		w  Wait
		ok bool
	}{
		{Wait{}, true},
		{Wait{FindWithin: time.Second, Stall: time.Second}, true},
		{Wait{Stall: -time.Second}, false},
		{Wait{FindWithin: -1}, false},
	} {
		if err := tc.w.Check(); (err == nil) != tc.ok {
			t.Errorf("%+v.Check() = %v, want ok=%v", tc.w, err, tc.ok)
		}
	}
}

// An unknown CID on a connected swarm: ls, pin and get each end with
// ErrNoProvider once the search limit passes, and nothing is left pinned.
func TestUnknownCIDEndsWithNoProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("starts libp2p hosts")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b := newTestNode(t, Config{}), newTestNode(t, Config{})
	connect(t, ctx, a, b)
	unknown := cid.NewCidV1(cid.DagProtobuf, mustHash([]byte("nobody has this")))
	w := Wait{FindWithin: 500 * time.Millisecond}
	if _, err := a.grid.LsWait(ctx, unknown, w); !errors.Is(err, ErrNoProvider) {
		t.Errorf("LsWait: err = %v, want ErrNoProvider", err)
	}
	if err := a.grid.PinWith(ctx, unknown, PinOptions{Owner: OwnerUser, Wait: w}); !errors.Is(err, ErrNoProvider) {
		t.Errorf("PinWith: err = %v, want ErrNoProvider", err)
	}
	err := a.grid.Get(ctx, unknown, t.TempDir()+"/out", GetOptions{Wait: w})
	if !errors.Is(err, ErrNoProvider) || !strings.Contains(err.Error(), "is a peer that holds it online?") {
		t.Errorf("Get: err = %v, want ErrNoProvider", err)
	}
	// The context's deadline ends a wait with the same clear error.
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if _, err := a.grid.Ls(short, unknown); !errors.Is(err, ErrNoProvider) {
		t.Errorf("Ls past its deadline: err = %v, want ErrNoProvider", err)
	}
	if ps, _ := a.grid.Pins(ctx); len(ps) != 0 {
		t.Errorf("failed pin left pins: %+v", ps)
	}
}

func mustHash(b []byte) mh.Multihash {
	h, err := mh.Sum(b, mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return h
}

// A folder big enough to be a HAMT shard is listed from a peer through
// the fetcher (its shard nodes are fetched on demand).
func TestLsShardedFolderFromPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts libp2p hosts")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b := newTestNode(t, Config{}), newTestNode(t, Config{})
	connect(t, ctx, a, b)
	dir := t.TempDir()
	const n = 1000 // with long names: past the 256 KiB of links that makes a HAMT
	pad := strings.Repeat("x", 220)
	for i := range n {
		name := fmt.Sprintf("shard-%05d-%s.bin", i, pad)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := a.grid.AddPath(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	root, err := a.grid.local.Get(ctx, res.Root)
	if err != nil {
		t.Fatal(err)
	}
	fsn, err := unixfs.FSNodeFromBytes(root.(*merkledag.ProtoNode).Data())
	if err != nil || fsn.Type() != unixfs.THAMTShard {
		t.Fatalf("root of %d entries is not a HAMT shard (%v); raise n", n, err)
	}
	ents, err := b.grid.LsWait(ctx, res.Root, Wait{FindWithin: 10 * time.Second})
	if err != nil {
		t.Fatalf("LsWait of a sharded folder from a peer: %v", err)
	}
	if len(ents) != n {
		t.Errorf("listed %d entries, want %d", len(ents), n)
	}
}
