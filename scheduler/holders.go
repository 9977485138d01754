package scheduler

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/verify"
	"github.com/ipfs/go-cid"
)

// Who holds a round's data: provider lookups (run ahead for the next
// round), workers' prefetch claims, and the placement view built on them.

// snapshot is the placement view: workers with what they hold, and the
// coordinator's own measurements of them in place of what they advertise.
func (c *Coordinator) snapshot(ctx context.Context, inputs []string, modelParams int64, class verify.Class) []placement.Peer {
	peers := c.swarm.Workers()
	holders := c.lookupHolders(ctx, inputs)
	c.addPrefetched(holders)
	for i := range peers {
		p := &peers[i]
		p.Holds = map[string]uint64{}
		for in, hs := range holders {
			if slices.Contains(hs, p.ID) {
				p.Holds[in] = 1 << 40 // whole DAG: the size is not needed to rank a holder
			}
		}
		if p.Throughput > 0 {
			// The record's figure is timed on the reference model; measure
			// scales it to the job's until tasklets are timed.
			c.measure.ObserveBenchmark(p.ID, c.opts.BenchmarkParams, p.Throughput)
		}
		c.applyMeasurements(p, modelParams, class)
	}
	return peers
}

// lookahead owns work a job starts for a later round: provider lookups
// that may outlast the round that started them but not the job.
type lookahead struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newLookahead(ctx context.Context) *lookahead {
	ctx, cancel := context.WithCancel(ctx)
	return &lookahead{ctx: ctx, cancel: cancel}
}

// start runs f in a goroutine that stop ends and waits for.
func (l *lookahead) start(f func(context.Context)) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f(l.ctx)
	}()
}

// stop cancels what still runs and waits for it.
func (l *lookahead) stop() {
	l.cancel()
	l.wg.Wait()
}

// holding is a cached provider lookup.
type holding struct {
	peers []string
	at    time.Time
}

// holdersTTL bounds how stale a provider lookup may be for placement.
const holdersTTL = 30 * time.Second

// prefetchedTTL bounds how long a worker's word that it prefetched data,
// or the fact that it trained on it, counts for placement: its cache may
// drop the data later (the DHT's provider records say so too, once it has
// announced them).
const prefetchedTTL = 10 * time.Minute

// noteHeld records that peer holds cids: what its receipt message said it
// prefetched, and the shard it just trained on.
func (c *Coordinator) noteHeld(peer string, cids []string) {
	if len(cids) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for _, in := range cids {
		m := c.prefetched[in]
		if m == nil {
			m = map[string]time.Time{}
			c.prefetched[in] = m
		}
		m[peer] = now
	}
	// Forget stale claims, so the map stays as small as the work in flight.
	for in, m := range c.prefetched {
		for p, at := range m {
			if now.Sub(at) >= prefetchedTTL {
				delete(m, p)
			}
		}
		if len(m) == 0 {
			delete(c.prefetched, in)
		}
	}
}

// addPrefetched adds the workers that said they prefetched an input, or
// trained on it, to its holders: a worker announces what it fetched to
// the DHT, but a lookup made before that does not list it.
func (c *Coordinator) addPrefetched(holders map[string][]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for in, hs := range holders {
		for p, at := range c.prefetched[in] {
			if now.Sub(at) < prefetchedTTL && !slices.Contains(hs, p) {
				hs = append(slices.Clip(hs), p) // hs may be the lookup cache's: copy
			}
		}
		holders[in] = hs
	}
}

// knownHolders is who is known to hold each input without asking the
// network: provider lookups younger than holdersTTL and workers' claims.
func (c *Coordinator) knownHolders(inputs []string) map[string][]string {
	out := map[string][]string{}
	c.mu.Lock()
	now := c.now()
	for _, in := range inputs {
		if h, ok := c.holders[in]; ok && now.Sub(h.at) < holdersTTL {
			out[in] = h.peers
		} else {
			out[in] = nil // a key, so that addPrefetched fills in the claims
		}
	}
	c.mu.Unlock()
	c.addPrefetched(out)
	return out
}

// lookupHolders asks the DHT for the providers of each input, in parallel,
// reusing answers younger than holdersTTL.
func (c *Coordinator) lookupHolders(ctx context.Context, inputs []string) map[string][]string {
	out := map[string][]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	seen := map[string]bool{}
	for _, in := range inputs {
		if seen[in] {
			continue
		}
		seen[in] = true
		c.mu.Lock()
		h, ok := c.holders[in]
		c.mu.Unlock()
		if ok && c.now().Sub(h.at) < holdersTTL {
			mu.Lock()
			out[in] = h.peers
			mu.Unlock()
			continue
		}
		id, err := cid.Decode(in)
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One lookup per CID at a time: a round that starts while the
			// previous round's lookahead still walks the DHT joins it.
			// Holders bounds a lookup (a few seconds), so joining one that
			// another context started cannot keep this caller long.
			v, _, _ := c.lookups.Do(in, func() (any, error) {
				ps := c.grid.Holders(ctx, id)
				if ctx.Err() == nil { // cut short: not an answer to keep
					c.mu.Lock()
					c.holders[in] = holding{peers: ps, at: c.now()}
					c.mu.Unlock()
				}
				return ps, nil
			})
			mu.Lock()
			out[in] = v.([]string)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}
