package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

func TestPlanPrefetch(t *testing.T) {
	workers := map[string]bool{"a": true, "b": true, "c": true, "d": true}
	tests := []struct {
		name        string
		next        []string
		offers      []prefetchOffer
		claimed     map[int]string
		holders     map[string][]string
		want        map[int]string
		wantClaimed map[int]string
	}{{
		name:        "nothing held: each tasklet's worker fetches its own next shard",
		next:        []string{"s2", "s3"},
		offers:      []prefetchOffer{{0, "a", "s0"}, {1, "b", "s1"}},
		want:        map[int]string{0: "s2", 1: "s3"},
		wantClaimed: map[int]string{0: "a", 1: "b"},
	}, {
		name:        "a worker trains now on a next shard: it keeps it, the other fetches",
		next:        []string{"s2", "s0"},
		offers:      []prefetchOffer{{0, "a", "s0"}, {1, "b", "s1"}},
		want:        map[int]string{1: "s2"},
		wantClaimed: map[int]string{0: "b", 1: "a"},
	}, {
		name:        "every next shard is held by this round's workers: nothing moves",
		next:        []string{"s1", "s0"},
		offers:      []prefetchOffer{{0, "a", "s0"}, {1, "b", "s1"}},
		want:        map[int]string{},
		wantClaimed: map[int]string{0: "b", 1: "a"},
	}, {
		name:        "a free worker holds a next shard: it is left to it",
		next:        []string{"s4", "s5"},
		offers:      []prefetchOffer{{0, "a", "s0"}, {1, "b", "s1"}},
		holders:     map[string][]string{"s4": {"c"}},
		want:        map[int]string{0: "s5"},
		wantClaimed: map[int]string{1: "a"},
	}, {
		name:        "a free worker holding two next shards covers one of them",
		next:        []string{"s4", "s5"},
		offers:      []prefetchOffer{{0, "a", "s0"}, {1, "b", "s1"}},
		holders:     map[string][]string{"s4": {"c"}, "s5": {"c"}},
		want:        map[int]string{0: "s5"},
		wantClaimed: map[int]string{1: "a"},
	}, {
		name:        "the coordinator or a stranger holding a shard covers nothing",
		next:        []string{"s4", "s5"},
		offers:      []prefetchOffer{{0, "a", "s0"}, {1, "b", "s1"}},
		holders:     map[string][]string{"s4": {"self"}, "s5": {"x"}},
		want:        map[int]string{0: "s4", 1: "s5"},
		wantClaimed: map[int]string{0: "a", 1: "b"},
	}, {
		name:        "a shard taken by an earlier offer of the round is not fetched again",
		next:        []string{"s4", "s5"},
		offers:      []prefetchOffer{{1, "b", "s1"}},
		claimed:     map[int]string{1: "a"},
		want:        map[int]string{1: "s4"},
		wantClaimed: map[int]string{0: "b", 1: "a"},
	}, {
		name:        "a worker with two offers keeps or fetches one shard only",
		next:        []string{"s4", "s5", "s6"},
		offers:      []prefetchOffer{{0, "a", "s0"}, {1, "a", "s1"}, {2, "b", "s2"}},
		want:        map[int]string{0: "s4", 2: "s6"},
		wantClaimed: map[int]string{0: "a", 2: "b"},
	}, {
		name:        "more offers than next shards: the rest fetch nothing",
		next:        []string{"s4"},
		offers:      []prefetchOffer{{0, "a", "s0"}, {1, "b", "s1"}},
		want:        map[int]string{0: "s4"},
		wantClaimed: map[int]string{0: "a"},
	}, {
		name:        "a holder in this batch keeps its shard even if another holds it too",
		next:        []string{"s4", "s5"},
		offers:      []prefetchOffer{{0, "a", "s0"}, {1, "b", "s1"}},
		holders:     map[string][]string{"s5": {"c", "a"}},
		want:        map[int]string{1: "s4"},
		wantClaimed: map[int]string{0: "b", 1: "a"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claimed := map[int]string{}
			maps.Copy(claimed, tt.claimed)
			got := planPrefetch(tt.next, tt.offers, claimed, tt.holders, workers)
			if got == nil {
				got = map[int]string{}
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("plan %v, want %v", got, tt.want)
			}
			if !maps.Equal(claimed, tt.wantClaimed) {
				t.Errorf("claimed %v, want %v", claimed, tt.wantClaimed)
			}
		})
	}
}

// TestPlanPrefetchInvariants: whatever is held, a plan never asks two
// offers for the same next shard nor a worker for a shard it holds, gives
// each worker at most one next shard, and leaves no next shard both
// unheld and unfetched while an offer that could fetch it fetches nothing.
func TestPlanPrefetchInvariants(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		nShards := rapid.IntRange(1, 6).Draw(rt, "shards")
		nPeers := rapid.IntRange(1, 5).Draw(rt, "peers")
		shard := func(i int) string { return fmt.Sprintf("s%d", i) }
		peer := func(i int) string { return fmt.Sprintf("p%d", i) }
		workers := map[string]bool{}
		for i := range nPeers {
			workers[peer(i)] = true
		}
		next := make([]string, rapid.IntRange(1, 5).Draw(rt, "next"))
		for j := range next {
			next[j] = shard(rapid.IntRange(0, nShards-1).Draw(rt, "next shard"))
		}
		holders := map[string][]string{}
		for s := range nShards {
			for p := range nPeers {
				if rapid.Bool().Draw(rt, "holds") {
					holders[shard(s)] = append(holders[shard(s)], peer(p))
				}
			}
		}
		var offers []prefetchOffer
		for k := range rapid.IntRange(1, 5).Draw(rt, "offers") {
			offers = append(offers, prefetchOffer{tasklet: k, peer: peer(rapid.IntRange(0, nPeers-1).Draw(rt, "offer peer")),
				input: shard(rapid.IntRange(0, nShards-1).Draw(rt, "input"))})
		}
		claimed := map[int]string{}
		plan := planPrefetch(next, offers, claimed, holders, workers)

		perPeer := map[string]int{}
		for _, p := range claimed {
			perPeer[p]++
			if perPeer[p] > 1 {
				rt.Fatalf("worker %s keeps or fetches %d next shards: %v", p, perPeer[p], claimed)
			}
		}
		fetched := map[int]bool{}
		for tasklet, cid := range plan {
			var o prefetchOffer
			for _, x := range offers {
				if x.tasklet == tasklet {
					o = x
				}
			}
			if cid == o.input || slices.Contains(holders[cid], o.peer) {
				rt.Fatalf("tasklet %d's worker %s asked to fetch %s, which it holds", tasklet, o.peer, cid)
			}
			j := -1
			for jj, p := range claimed {
				if p == o.peer && next[jj] == cid {
					j = jj
				}
			}
			if j < 0 || fetched[j] {
				rt.Fatalf("tasklet %d's fetch of %s is not one claim of its own: plan %v, claimed %v", tasklet, cid, plan, claimed)
			}
			fetched[j] = true
		}
		// An offer that fetches nothing and holds nothing claimed means
		// every other open shard has a free holder among the workers.
		for _, o := range offers {
			if _, ok := plan[o.tasklet]; ok || perPeer[o.peer] > 0 {
				continue
			}
			for j, cid := range next {
				if _, ok := claimed[j]; ok {
					continue
				}
				free := false
				for _, h := range holders[cid] {
					if perPeer[h] == 0 {
						free = true
					}
				}
				if !free {
					rt.Fatalf("next shard %d (%s) has no holder and no fetch, while %s fetches nothing: plan %v, claimed %v, holders %v", j, cid, o.peer, plan, claimed, holders)
				}
			}
		}
	})
}
