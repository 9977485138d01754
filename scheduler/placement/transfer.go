package placement

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// leg is part of a transfer: bytes fetched over a path of bps.
type leg struct {
	bps   float64 // bandwidth of the best path from a source; +Inf: unknown
	bytes uint64
}

// addLeg adds bytes fetched over a path of bps. Legs stay sorted by bps with
// one leg per bps, so the same missing bytes always sum in the same order
// whatever the order of the inputs: the fast path and a direct evaluation
// agree to the nanosecond.
func addLeg(legs []leg, bps float64, bytes uint64) []leg {
	if bytes == 0 {
		return legs
	}
	i := 0
	for i < len(legs) && legs[i].bps < bps {
		i++
	}
	if i < len(legs) && legs[i].bps == bps {
		legs[i].bytes += bytes // cannot overflow: validateTasklet bounds the sum
		return legs
	}
	return slices.Insert(legs, i, leg{bps: bps, bytes: bytes})
}

// transferTime is how long a peer that fetches at up to bw bytes/s takes to
// fetch legs one after another, each at the slower of bw and its path.
func transferTime(bw float64, legs []leg) time.Duration {
	if len(legs) == 0 {
		return 0
	}
	var s float64
	for _, l := range legs {
		s += float64(l.bytes) / min(bw, l.bps)
	}
	return seconds(s)
}

// network caches Options.Links for one Place call. Peers are grouped into
// buckets by site; without Links every peer is in bucket 0, since then a
// fetch does not depend on where the peer is.
type network struct {
	links   func(from, to string) (float64, bool)
	buckets []string             // the site of each bucket
	rows    map[string][]float64 // source site → bps into each bucket; NaN: not asked yet, 0: unknown
}

// newNetwork buckets the peers of a snapshot and returns each peer's bucket.
// Only the MaxSites sites with most peers get a bucket of their own; peers
// of any other site count as of an unknown one, so that a swarm of
// fine-grained sites cannot multiply the work per tasklet.
func newNetwork(links func(string, string) (float64, bool), peers []Peer) (*network, []int32) {
	n := &network{links: links, buckets: []string{""}, rows: map[string][]float64{}}
	bucket := make([]int32, len(peers))
	if links == nil {
		return n, bucket
	}
	count := map[string]int{}
	for i := range peers {
		if s := peers[i].Site; s != "" && len(s) <= MaxSiteLen {
			count[s]++
		}
	}
	sites := slices.Collect(maps.Keys(count))
	slices.SortFunc(sites, func(a, b string) int { return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b)) })
	index := map[string]int32{}
	for _, s := range sites[:min(len(sites), MaxSites)] {
		index[s] = int32(len(n.buckets))
		n.buckets = append(n.buckets, s)
	}
	for i := range peers {
		bucket[i] = index[peers[i].Site] // 0 for "" and sites past MaxSites
	}
	return n, bucket
}

// path returns the bandwidth of the best path from any of sources into
// bucket b, +Inf when none is known.
func (n *network) path(sources []string, b int32) (float64, error) {
	best := 0.0
	if n.links != nil && n.buckets[b] != "" {
		for _, src := range sources {
			bps, err := n.link(src, b)
			if err != nil {
				return 0, err
			}
			best = max(best, bps)
		}
	}
	if best == 0 {
		return math.Inf(1), nil
	}
	return best, nil
}

// link asks Links once per pair and returns 0 when it has no estimate.
func (n *network) link(src string, b int32) (float64, error) {
	row := n.rows[src]
	if row == nil {
		row = make([]float64, len(n.buckets))
		for i := range row {
			row[i] = math.NaN()
		}
		n.rows[src] = row
	}
	if !math.IsNaN(row[b]) {
		return row[b], nil
	}
	bps, ok := n.links(src, n.buckets[b])
	switch {
	case !ok:
		bps = 0
	case !(bps > 0): // also NaN
		return 0, fmt.Errorf("links from site %q to %q returned %v bytes/s; return ok=false when there is no estimate: %w",
			src, n.buckets[b], bps, ErrInvalid)
	}
	row[b] = bps
	return bps, nil
}
