package datagrid

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
)

// TestFetchOfHeldDAG: fetching a DAG this node already holds complete (a
// worker's input for the second time) fetches nothing, keeps a pin a pin,
// refreshes a cache entry's last use, and runs what follows under the GC
// lock; a DAG with a block missing here, or found corrupt by a read, is
// completed from a peer.
func TestFetchOfHeldDAG(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, c := newTestNode(t, Config{}), newTestNode(t, Config{})
	res, err := a.grid.AddReader(ctx, bytes.NewReader(vectorBytes(4*ChunkSize)), nil)
	if err != nil {
		t.Fatal(err)
	}
	root := res.Root
	if _, err := c.grid.Fetch(ctx, root, a.info()); err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	c.grid.now = func() time.Time { return clock }

	lastUsed := func() time.Time {
		t.Helper()
		es, err := c.grid.listCache(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Root.Equals(root) {
				return e.LastUsed
			}
		}
		t.Fatalf("no cache entry for %s", root)
		return time.Time{}
	}
	fetch := func(wantFetched int64) {
		t.Helper()
		n, err := c.grid.Fetch(ctx, root, a.info())
		if err != nil {
			t.Fatal(err)
		}
		if n != wantFetched {
			t.Errorf("fetched %d bytes from peers, want %d", n, wantFetched)
		}
		assertHeld(t, ctx, c.grid, map[cid.Cid]bool{root: true})
	}

	fetch(0)
	if got := lastUsed(); !got.Equal(clock) {
		t.Errorf("a fetch of the held DAG left its last use at %v, want %v", got, clock)
	}

	leaf := leaves(t, c.grid, root)[1]
	if err := c.grid.raw.DeleteBlock(ctx, leaf); err != nil {
		t.Fatal(err)
	}
	fetch(int64(ChunkSize))

	// A fetch sizes blocks without hashing them; the read that finds one
	// corrupt removes it, and the next fetch restores it.
	corruptBlock(t, c.grid, leaf)
	if _, err := c.grid.ReadFile(ctx, root, 8*ChunkSize); !errors.Is(err, ErrCorruptBlock) {
		t.Fatalf("reading a file with a corrupt block: err = %v, want ErrCorruptBlock", err)
	}
	fetch(int64(ChunkSize))

	if err := c.grid.Pin(ctx, root); err != nil {
		t.Fatal(err)
	}
	fetch(0)
	if pinned, err := c.grid.isPinned(ctx, root); err != nil || !pinned {
		t.Errorf("after a fetch of the pinned DAG: pinned = %v (%v), want true", pinned, err)
	}

	// What follows a fetch (an export, say) runs while GC is held off.
	stop := errors.New("stop")
	_, err = c.grid.ensureLocal(ctx, fetchPlan{op: "test", root: root}, func(context.Context) error {
		if c.grid.gcLock.TryLock() {
			c.grid.gcLock.Unlock()
			t.Error("GC could run while the follow-up of a held fetch was running")
		}
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("ensureLocal returned %v, want the follow-up's error", err)
	}
}

// BenchmarkFetchHeld fetches a 4 MiB file the node already holds, as a
// worker does with the shard and weights of each tasklet: no bytes move;
// what it costs is checking that every block is there and recording use.
func BenchmarkFetchHeld(b *testing.B) {
	ctx := context.Background()
	g := newOfflineGrid(b, 0)
	src := filepath.Join(b.TempDir(), "held.bin")
	writeRandomFile(b, src, 4*MiB, 44)
	res, err := g.AddPath(ctx, src, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := g.Unpin(ctx, res.Root); err != nil { // a cache entry, as fetched inputs are
		b.Fatal(err)
	}
	if _, err := g.Fetch(ctx, res.Root); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Fetch(ctx, res.Root); err != nil {
			b.Fatal(err)
		}
	}
}
