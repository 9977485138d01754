package scheduler

import (
	"context"
	"slices"
	"sort"
	"sync"

	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/ipfs/go-cid"
)

// What a finished round lets go of, beside the next round.

// retained says what a finished round no longer needs kept: by peer, the
// outputs its workers may unpin, and the outputs the coordinator fetched.
//
// A copy that lost (superseded, or cancelled when the round ended) ran the
// same spec, which computes the same output, so the winner's output is
// released to its worker too; a worker ignores outputs it does not hold.
func retained(rd Round) (byPeer map[string][]string, fetched []cid.Cid) {
	byPeer = map[string][]string{}
	for _, t := range rd.Tasklets {
		if t.Output == "" {
			continue
		}
		if id, err := cid.Decode(t.Output); err == nil {
			fetched = append(fetched, id)
		}
		for _, a := range t.Attempts {
			switch a.Outcome {
			case OutcomeDone, OutcomeSuperseded, OutcomeCancelled:
				if !slices.Contains(byPeer[a.Peer], t.Output) {
					byPeer[a.Peer] = append(byPeer[a.Peer], t.Output)
				}
			}
		}
		if t.Peer != "" && !slices.Contains(byPeer[t.Peer], t.Output) {
			byPeer[t.Peer] = append(byPeer[t.Peer], t.Output)
		}
	}
	return byPeer, fetched
}

// retain lets go of what round next-1 no longer needs (retained): the
// workers may unpin its outputs, the fetched outputs are dropped from the
// coordinator's cache, and weights older than the last KeepRounds rounds
// are unpinned. The CIDs stay recorded in the job. Failures only delay
// the cleanup: they are logged.
func (c *Coordinator) retain(ctx context.Context, jobID string, next int, byPeer map[string][]string, fetched []cid.Cid) {
	c.release(ctx, jobID, byPeer)
	if len(fetched) > 0 {
		if err := c.grid.DropCached(ctx, fetched...); err != nil {
			c.log.Info("cannot drop fetched outputs from the cache; collection will", "job", jobID, "err", err)
		}
	}
	if old := next - c.opts.KeepRounds; old >= 0 {
		if _, err := c.grid.ReleaseOwner(ctx, owner(jobID, "round", old)); err != nil {
			c.log.Warn("cannot unpin old weights", "job", jobID, "round", old, "err", err)
		}
	}
}

// release tells each worker it may unpin the given outputs of its
// tasklets, releaseParallel workers at a time. Failures only delay the unpinning until the
// worker's output TTL: they are logged.
func (c *Coordinator) release(ctx context.Context, jobID string, byPeer map[string][]string) {
	peers := make([]string, 0, len(byPeer))
	for p := range byPeer {
		peers = append(peers, p)
	}
	sort.Strings(peers)
	var wg sync.WaitGroup
	slots := make(chan struct{}, releaseParallel)
	for _, p := range peers {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			rctx, cancel := context.WithTimeout(ctx, tasklet.ReleaseTimeout)
			defer cancel()
			if err := c.swarm.Release(rctx, p, byPeer[p]); err != nil {
				c.log.Info("cannot tell a worker it may unpin outputs; it will after its TTL", "job", jobID, "peer", p, "err", err)
			}
		})
	}
	wg.Wait()
}

// releaseParallel caps the release streams open at once: each waits a
// round trip to its worker, so side by side they take about one.
const releaseParallel = 8
