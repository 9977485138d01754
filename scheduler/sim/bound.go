package sim

import (
	"time"

	"github.com/gridswarm/gridswarm/scheduler/placement"
)

// bound is a lower bound on any strategy's round time, and per tasklet. It
// is the larger of two bounds, each valid on its own:
//
// Per tasklet: for tasklet t, the least over the peers present and feasible
// at the round's start of what t costs on that peer with nothing else queued:
// setup + fetching the weights + fetching the shard unless the peer holds it
// + the peer's actual compute time. No strategy finishes t sooner: it must
// place t on such a peer (peers only leave during a round, and feasibility
// does not depend on the queue); queueing and re-placing only add time; a
// peer that skips the weights because an earlier tasklet fetched them starts
// after that tasklet, which paid for the fetch; and shard sources do not
// change within a round. The round needs at least the largest of these.
//
// Capacity: peers run their tasklets one at a time, so by time T peer p can
// have finished at most k_p(T) tasklets, where k tasklets cost p at least
// weights + k×(setup + compute) + (k − shards p holds)×(cheapest shard fetch
// into p's region). If the sum of k_p(T) over feasible peers is below the
// number of tasklets, no strategy finishes by T; the bound is the least T
// where it is not. This one accounts for contention over the fast peers,
// which the per-tasklet bound ignores.
func (w *world) bound(rd *round) (time.Duration, []time.Duration) {
	n := len(w.peers)
	snap, ids := w.snapshot(rd, 0, make([]bool, n), make([]time.Duration, n), nil)
	feasible := make([]bool, n)
	// Outside the holders of t's shard, t's cost on a peer of region r is
	// region terms + the peer's compute: the fastest feasible peer per region
	// is enough. Holders are cheaper still and are checked one by one.
	fastest := make([]time.Duration, len(w.regions))
	for r := range fastest {
		fastest[r] = noDrop
	}
	for k := range snap {
		if placement.Check(&snap[k], &rd.tasklets[0]) != "" {
			continue
		}
		p := int(ids[k])
		feasible[p] = true
		r := w.peers[p].region
		fastest[r] = min(fastest[r], w.compute(rd, p))
	}
	per := make([]time.Duration, len(rd.tasklets))
	var worst time.Duration
	for t := range per {
		best := noDrop
		for r, c := range fastest {
			if c != noDrop {
				best = min(best, rd.setup[r]+rd.weightsT[r]+rd.shardT[t][r]+c)
			}
		}
		for _, h := range w.holders[t] {
			if feasible[h] {
				r := w.peers[h].region
				best = min(best, rd.setup[r]+rd.weightsT[r]+w.compute(rd, int(h)))
			}
		}
		per[t] = best
		worst = max(worst, best)
	}
	return max(worst, w.capacityBound(rd, feasible)), per
}

// peerCost is a lower bound on the time a peer needs for k tasklets:
// first + k×each + max(0, k−free)×shard.
type peerCost struct {
	first, each, shard time.Duration
	free               int // shards held: tasklets that may skip the shard fetch
}

func (c peerCost) done(T time.Duration, limit int) int {
	if T < c.first+c.each {
		return 0
	}
	k := min(int((T-c.first)/c.each), c.free, limit)
	if k < c.free || k == limit {
		return k
	}
	rest := T - c.first - time.Duration(c.free)*c.each
	return min(c.free+int(rest/(c.each+c.shard)), limit)
}

// capacityBound is the least T at which the feasible peers together could
// have finished every tasklet.
func (w *world) capacityBound(rd *round, feasible []bool) time.Duration {
	cheapest := make([]time.Duration, len(w.regions))
	for r := range cheapest {
		cheapest[r] = noDrop
		for s := range rd.shardT {
			cheapest[r] = min(cheapest[r], rd.shardT[s][r])
		}
	}
	var costs []peerCost
	for p, ok := range feasible {
		if ok {
			r := w.peers[p].region
			costs = append(costs, peerCost{
				first: rd.weightsT[r], each: rd.setup[r] + w.compute(rd, p),
				shard: cheapest[r], free: len(w.peers[p].holds),
			})
		}
	}
	need := len(rd.tasklets)
	enough := func(T time.Duration) bool {
		n := 0
		for _, c := range costs {
			if n += c.done(T, need); n >= need {
				return true
			}
		}
		return false
	}
	lo, hi := time.Duration(0), time.Second
	for !enough(hi) {
		if hi > noDrop/4 || len(costs) == 0 {
			return noDrop
		}
		lo, hi = hi, hi*2
	}
	for lo+1 < hi { // enough(hi) holds, enough(lo) does not (or lo is 0)
		mid := lo + (hi-lo)/2
		if enough(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}
