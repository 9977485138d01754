package scheduler

import (
	"context"
	"sync"
	"time"

	"github.com/gridswarm/gridswarm/trainer"
)

// prefetcher fetches and decodes a round's accepted outputs while the
// round's other tasklets still train, so that aggregation, which needs
// every output, finds most of them already loaded instead of fetching
// them one after another once the last tasklet is in. Outputs are keyed by
// CID: a spot-checked tasklet's agreeing copies share one fetch.
//
// Every fetch runs under the context given to newPrefetcher (the round's
// attempts context) and is counted in wg, which the round runner waits
// for: no fetch outlives its round.
type prefetcher struct {
	ctx  context.Context
	wg   *sync.WaitGroup
	load loadFunc
	now  func() time.Time

	mu      sync.Mutex
	fetches map[string]*fetch
}

// loadFunc fetches and decodes one output, from the peer that holds it.
type loadFunc func(ctx context.Context, output, peer string) (trainer.Params, int64, error)

// fetch is one output's load, done once done is closed.
type fetch struct {
	done  chan struct{}
	p     trainer.Params
	n     int64         // bytes read
	taken time.Duration // how long the fetch took, for the peer's bandwidth
	err   error
}

func newPrefetcher(ctx context.Context, wg *sync.WaitGroup, now func() time.Time, load loadFunc) *prefetcher {
	return &prefetcher{ctx: ctx, wg: wg, load: load, now: now, fetches: map[string]*fetch{}}
}

// start begins fetching output from peer in the background, unless it is
// fetched already. Each fetch is bounded by outputFetchTimeout.
func (pf *prefetcher) start(output, peer string) {
	if output == "" {
		return
	}
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if _, ok := pf.fetches[output]; ok {
		return
	}
	f := &fetch{done: make(chan struct{})}
	pf.fetches[output] = f
	pf.wg.Add(1)
	go func() {
		defer pf.wg.Done()
		defer close(f.done)
		ctx, cancel := context.WithTimeout(pf.ctx, outputFetchTimeout)
		defer cancel()
		start := pf.now()
		f.p, f.n, f.err = pf.load(ctx, output, peer)
		f.taken = pf.now().Sub(start)
	}()
}

// get waits for output's fetch, if one was started, and hands its result
// over (forgetting it, so the round holds each output once). ok is false
// when none was started or it failed: the caller loads the output itself.
func (pf *prefetcher) get(ctx context.Context, output string) (p trainer.Params, n int64, taken time.Duration, ok bool) {
	if pf == nil {
		return nil, 0, 0, false
	}
	pf.mu.Lock()
	f := pf.fetches[output]
	delete(pf.fetches, output)
	pf.mu.Unlock()
	if f == nil {
		return nil, 0, 0, false
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, 0, 0, false
	}
	if f.err != nil {
		return nil, 0, 0, false
	}
	return f.p, f.n, f.taken, true
}
