package scheduler

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/trainer"
)

func TestPrefetcher(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var calls atomic.Int32
	release := make(chan struct{})
	load := func(ctx context.Context, output, peer string) (trainer.Params, int64, error) {
		calls.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
		if output == "bad" {
			return nil, 0, errors.New("peer " + peer + " vanished")
		}
		return trainer.Params{{Name: output, Shape: []int{1}, Data: []float32{float32(len(output))}}}, int64(len(output)), nil
	}
	pf := newPrefetcher(ctx, &wg, time.Now, load)
	pf.start("out-a", "p1")
	pf.start("out-a", "p2") // a spot check's agreeing copy: no second fetch
	pf.start("bad", "p3")
	pf.start("", "p4") // no output: nothing to fetch
	close(release)

	p, n, _, ok := pf.get(ctx, "out-a")
	if !ok || n != 5 || len(p) != 1 || p[0].Name != "out-a" {
		t.Errorf("get(out-a) = %v, %d, %v; want the fetched params, 5 bytes, true", p, n, ok)
	}
	if _, _, _, ok := pf.get(ctx, "out-a"); ok {
		t.Error("get(out-a) a second time = true; want false (each output is handed over once)")
	}
	if _, _, _, ok := pf.get(ctx, "bad"); ok {
		t.Error("get(bad) = true for a failed fetch; want false so the caller loads it itself")
	}
	if _, _, _, ok := pf.get(ctx, "never-started"); ok {
		t.Error("get(never-started) = true; want false")
	}
	wg.Wait()
	if got := calls.Load(); got != 2 {
		t.Errorf("load called %d times, want 2 (out-a once, bad once)", got)
	}
	var none *prefetcher
	if _, _, _, ok := none.get(ctx, "out-a"); ok {
		t.Error("nil prefetcher get = true; want false")
	}
}

// TestPrefetcherStopsWithItsRound: a fetch still running when the round's
// context ends returns, and get gives up when its own context ends.
func TestPrefetcherStopsWithItsRound(t *testing.T) {
	rctx, cancelRound := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	load := func(ctx context.Context, output, peer string) (trainer.Params, int64, error) {
		<-ctx.Done() // a peer that never answers
		return nil, 0, ctx.Err()
	}
	pf := newPrefetcher(rctx, &wg, time.Now, load)
	pf.start("slow", "p1")
	gctx, cancelGet := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelGet()
	if _, _, _, ok := pf.get(gctx, "slow"); ok {
		t.Error("get of a hung fetch = true; want false once its context ends")
	}
	cancelRound()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("the prefetch goroutine outlived its round's context")
	}
}
