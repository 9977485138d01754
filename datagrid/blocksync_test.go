package datagrid

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"pgregory.net/rapid"
)

// TestBlockSync walks blockSync through writes, flushes and a failing
// flush: it flushes only when a write is not covered yet, and a failed
// flush covers nothing.
func TestBlockSync(t *testing.T) {
	var flushes int
	var fail error
	s := &blockSync{flush: func() error { flushes++; return fail }}
	steps := []struct {
		writes  int
		fail    error
		wantErr bool
		want    int // flushes so far
	}{
		{writes: 0, want: 0}, // nothing written: no flush
		{writes: 3, want: 1}, // three writes, one flush
		{writes: 0, want: 1}, // covered already
		{writes: 1, fail: errors.New("EIO"), wantErr: true, want: 2},
		{writes: 0, want: 3}, // the failed flush covered nothing: retried
		{writes: 0, want: 3},
	}
	for i, st := range steps {
		for range st.writes {
			s.wrote()
		}
		fail = st.fail
		err := s.sync()
		if (err != nil) != st.wantErr {
			t.Fatalf("step %d: sync err = %v, want error %v", i, err, st.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "cannot flush the block store to disk: EIO") {
			t.Errorf("step %d: error %q does not say what failed", i, err)
		}
		if flushes != st.want {
			t.Errorf("step %d: %d flushes, want %d", i, flushes, st.want)
		}
	}
	if (&blockSync{}).sync() != nil {
		t.Error("a blockSync without flush (flatfs syncs) failed")
	}
}

// TestBlockSyncCoversEarlierWrites is the invariant records rely on: when
// sync returns nil, a flush that began after every write completed before
// the call has succeeded. Writers and syncers run concurrently; the fake
// flush notes how many writes had completed when it began.
func TestBlockSyncCoversEarlierWrites(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var s blockSync
		var mu sync.Mutex
		durable := uint64(0) // writes a successful flush covered
		fails := rapid.SliceOfN(rapid.Bool(), 0, 8).Draw(t, "fails")
		s.flush = func() error {
			mu.Lock()
			defer mu.Unlock()
			seen := s.written.Load()
			if len(fails) > 0 {
				f := fails[0]
				fails = fails[1:]
				if f {
					return errors.New("EIO")
				}
			}
			durable = max(durable, seen)
			return nil
		}
		workers := rapid.IntRange(1, 4).Draw(t, "workers")
		plans := make([][]bool, workers) // true: write, false: sync
		for i := range plans {
			plans[i] = rapid.SliceOfN(rapid.Bool(), 1, 20).Draw(t, "plan")
		}
		var wg sync.WaitGroup
		var bad sync.Map
		for i, plan := range plans {
			wg.Go(func() {
				for j, write := range plan {
					if write {
						s.wrote()
						continue
					}
					before := s.written.Load()
					if err := s.sync(); err != nil {
						continue
					}
					mu.Lock()
					d := durable
					mu.Unlock()
					if d < before {
						bad.Store([2]int{i, j}, [2]uint64{before, d})
					}
				}
			})
		}
		wg.Wait()
		bad.Range(func(k, v any) bool {
			t.Errorf("worker/step %v: sync returned with %v (writes before it, writes flushed)", k, v)
			return true
		})
	})
}

// TestRecordsWaitForTheirBlocks drives the grid: a fetch of a 2 MiB file
// (eight blocks plus the root) flushes the block store once, before its
// cache record is written; fetching it again writes no block and flushes
// nothing; adding it locally writes nothing new either. When the flush
// fails, the fetch fails with that cause and records nothing, and the next
// fetch succeeds.
func TestRecordsWaitForTheirBlocks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := newTestNode(t, Config{})
	c := newTestNode(t, Config{})
	if c.grid.bsync.flush == nil {
		t.Skip("no syncfs on this system: flatfs fsyncs every block itself")
	}
	add := func(seed byte) cid.Cid {
		res, err := a.grid.AddReader(ctx, io.LimitReader(rand.NewChaCha8([32]byte{seed}), 2*MiB), nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Root
	}
	x, y := add(1), add(2)

	// Each flush here belongs to the first fetch of current, whose cache
	// record must not exist yet when its blocks are flushed.
	syncfs := c.grid.bsync.flush
	var current cid.Cid
	var fail error
	var early []cid.Cid
	c.grid.bsync.flush = func() error {
		if ok, _ := c.grid.meta.Has(ctx, cacheKey(current)); ok {
			early = append(early, current)
		}
		if fail != nil {
			return fail
		}
		return syncfs()
	}
	flushes := func() uint64 { return c.grid.bsync.flushes.Load() }

	current = x
	if _, err := c.grid.Fetch(ctx, x, a.info()); err != nil {
		t.Fatal(err)
	}
	if got := flushes(); got != 1 {
		t.Errorf("fetching 9 blocks flushed %d times, want 1", got)
	}
	if _, err := c.grid.Fetch(ctx, x, a.info()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.grid.AddReader(ctx, io.LimitReader(rand.NewChaCha8([32]byte{1}), 2*MiB), nil); err != nil {
		t.Fatal(err)
	}
	if got := flushes(); got != 1 {
		t.Errorf("a fetch and an add that wrote no block flushed: %d flushes, want 1", got)
	}

	current, fail = y, errors.New("EIO")
	_, err := c.grid.Fetch(ctx, y, a.info())
	if err == nil || !strings.Contains(err.Error(), "before the blocks are on disk") || !strings.Contains(err.Error(), "EIO") {
		t.Fatalf("fetch with a failing flush: err = %v, want the flush's error", err)
	}
	if ok, _ := c.grid.meta.Has(ctx, cacheKey(y)); ok {
		t.Error("a cache record was written although its blocks could not be flushed")
	}
	fail = nil
	if _, err := c.grid.Fetch(ctx, y, a.info()); err != nil {
		t.Fatalf("fetch after the disk recovered: %v", err)
	}
	if got := flushes(); got != 2 {
		t.Errorf("%d successful flushes after the second file, want 2", got)
	}
	if len(early) > 0 {
		t.Errorf("the cache records of %v were written before their blocks were flushed", early)
	}
	assertHeld(t, ctx, c.grid, map[cid.Cid]bool{x: true, y: true})
}
