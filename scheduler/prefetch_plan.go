package scheduler

import "slices"

// Which of the next round's shards a worker fetches while it trains.
//
// A job walks its shards round by round (PlanRound), so with fewer
// shards than a job's tasklets a shard comes back every few rounds, and
// the worker that trained on it or fetched it then usually still holds it
// in its cache. Asking each tasklet's worker for "the shard the same
// tasklet index trains on next round" moved a shard on every offer: four
// 3.9 MB shards a round in the demo, about a sixth of its CPU. The plan
// here asks only for the next round's shards that no worker is known to
// hold, and leaves the others to the workers that hold them: placement
// ranks a holder first (no transfer), so the next round finds one ready.

// prefetchOffer is a first offer of this round that may carry a prefetch.
type prefetchOffer struct {
	tasklet int
	peer    string
	input   string // the shard this offer trains on: its worker holds it after
}

// planPrefetch assigns the next round's shards (by tasklet index into
// next) to this round's offers. claimed carries what earlier offers of the
// round took (next index → peer) and is updated; holders is what is known
// to be held (CID → peers), without asking the network; workers are the
// peers that can run tasklets. It returns, by tasklet, the shard to
// prefetch; an offer whose worker already holds a next shard, or for
// which every open shard has a holder, fetches nothing.
//
// In three passes: an offer's worker that holds an open shard keeps it;
// an open shard held by another worker that has none yet is left to that
// worker (it runs a later offer of this round, or is free next round);
// the remaining offers fetch the remaining shards, the same tasklet
// index's first.
func planPrefetch(next []string, offers []prefetchOffer, claimed map[int]string, holders map[string][]string, workers map[string]bool) map[int]string {
	if len(next) == 0 || len(offers) == 0 {
		return nil
	}
	holds := func(peer, cid, input string) bool {
		return cid == input || slices.Contains(holders[cid], peer)
	}
	busy := map[string]bool{} // peers that keep one next shard already
	for _, p := range claimed {
		busy[p] = true
	}
	inBatch := map[string]bool{}
	for _, o := range offers {
		inBatch[o.peer] = true
	}
	open := func(j int) bool { _, ok := claimed[j]; return !ok }
	// order lists the next indices with the offer's own tasklet index first.
	order := func(first int) []int {
		js := make([]int, 0, len(next))
		if first >= 0 && first < len(next) {
			js = append(js, first)
		}
		for j := range next {
			if j != first {
				js = append(js, j)
			}
		}
		return js
	}
	// One next shard per worker (busy): a second would queue next round.
	for _, o := range offers {
		if busy[o.peer] {
			continue
		}
		for _, j := range order(o.tasklet) {
			if open(j) && holds(o.peer, next[j], o.input) {
				claimed[j], busy[o.peer] = o.peer, true
				break
			}
		}
	}
	covered := map[int]bool{}
	reserved := map[string]bool{}
	for j := range next {
		if !open(j) {
			continue
		}
		for _, h := range holders[next[j]] {
			if workers[h] && !busy[h] && !inBatch[h] && !reserved[h] {
				reserved[h], covered[j] = true, true
				break
			}
		}
	}
	plan := map[int]string{}
	for _, o := range offers {
		if busy[o.peer] {
			continue
		}
		for _, j := range order(o.tasklet) {
			if open(j) && !covered[j] {
				claimed[j], busy[o.peer] = o.peer, true
				plan[o.tasklet] = next[j]
				break
			}
		}
	}
	return plan
}
