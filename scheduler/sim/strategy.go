package sim

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/gridswarm/gridswarm/scheduler/placement"
)

// Strategy names, as they appear in a Report.
const (
	Ours         = "ours"
	Random       = "random"
	RoundRobin   = "round-robin"
	LatencyOnly  = "latency-only"
	LocalityOnly = "locality-only"
	Oracle       = "oracle greedy"
	LowerBound   = "lower bound"
)

// strategy maps tasklets to snapshot indexes. The baselines respect the same
// feasibility rules as ours (placement.Check), and all of them prefer peers
// with nothing queued, so none loses only by piling work on one peer.
type strategy interface {
	name() string
	assign(c *call) ([]int, error)
}

// call is one placement request: what the coordinator sees (snap, ts, seed)
// and, for the oracle only, the simulated truth behind it.
type call struct {
	snap  []placement.Peer
	ts    []placement.Tasklet
	seed  uint64
	peers []int32 // snapshot index → world peer
	tasks []int   // ts index → tasklet (and shard) number
	w     *world
	rd    *round
}

func strategies(roundTrips int) []strategy {
	return []strategy{
		ours{roundTrips: roundTrips},
		&baseline{label: Random, order: randomOrder},
		newRoundRobin(),
		&baseline{label: LatencyOnly, order: latencyOrder},
		&baseline{label: LocalityOnly, order: indexOrder, holdersFirst: true},
		oracle{},
	}
}

type ours struct{ roundTrips int }

func (ours) name() string { return Ours }

func (o ours) assign(c *call) ([]int, error) {
	snap, ts := c.snap, c.ts
	ds, err := placement.Place(snap, ts, placement.Options{Seed: c.seed, RoundTrips: o.roundTrips, Links: c.w.linkEstimate()})
	if err != nil {
		return nil, fmt.Errorf("placing %d tasklets: %w", len(ts), err)
	}
	index := make(map[string]int, len(snap))
	for i := range snap {
		index[snap[i].ID] = i
	}
	out := make([]int, len(ds))
	for i, d := range ds {
		if !d.Placed() {
			return nil, fmt.Errorf("tasklet %s: %s", d.Tasklet, d.Explain())
		}
		out[i] = index[d.Peers[0]]
	}
	return out, nil
}

// baseline hands each tasklet the next unused peer of a fixed order;
// holdersFirst first tries the peers holding most of the tasklet's inputs.
type baseline struct {
	label        string
	order        func(snap []placement.Peer, feasible []int, seed uint64) []int
	holdersFirst bool
	rotation     *rotation // round-robin: remembers the last peer used
}

func (b *baseline) name() string { return b.label }

func (b *baseline) assign(c *call) ([]int, error) {
	snap, ts := c.snap, c.ts
	var feasible []int
	for i := range snap {
		if placement.Check(&snap[i], &ts[0]) == "" { // every simulated tasklet has the same requirements
			feasible = append(feasible, i)
		}
	}
	if len(feasible) == 0 {
		return nil, fmt.Errorf("%s: no feasible peer among %d", b.label, len(snap))
	}
	order := b.order(snap, feasible, c.seed)
	// Unloaded peers first, keeping the strategy's order within each group.
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(loaded(&snap[x]), loaded(&snap[y])) })
	var holders map[string][]int
	if b.holdersFirst {
		holders = holderIndex(snap, feasible)
	}
	used := make([]bool, len(snap))
	out := make([]int, len(ts))
	next := 0
	for i := range ts {
		out[i] = -1
		if b.holdersFirst {
			out[i] = bestHolder(snap, &ts[i], holders, used)
		}
		if out[i] < 0 {
			for next < len(order) && used[order[next]] {
				next++
			}
			if next == len(order) { // every peer has a tasklet: start another pass
				clear(used)
				next = 0
			}
			out[i] = order[next]
		}
		used[out[i]] = true
	}
	if b.rotation != nil {
		b.rotation.last = snap[out[len(out)-1]].ID
	}
	return out, nil
}

func loaded(p *placement.Peer) int {
	if p.Queue > 0 {
		return 1
	}
	return 0
}

func holderIndex(snap []placement.Peer, feasible []int) map[string][]int {
	holders := map[string][]int{}
	for _, i := range feasible {
		for cid := range snap[i].Holds {
			holders[cid] = append(holders[cid], i)
		}
	}
	for _, hs := range holders {
		slices.Sort(hs) // map order is random; ties must not be
	}
	return holders
}

// bestHolder is the unused feasible peer holding most bytes of t's inputs,
// the lowest index among equals; -1 when no unused peer holds any.
func bestHolder(snap []placement.Peer, t *placement.Tasklet, holders map[string][]int, used []bool) int {
	best, bestBytes := -1, uint64(0)
	for _, in := range t.Inputs {
		for _, i := range holders[in.CID] {
			if used[i] {
				continue
			}
			var held uint64
			for _, in := range t.Inputs {
				held += min(snap[i].Holds[in.CID], in.Bytes)
			}
			if held > bestBytes || (held == bestBytes && held > 0 && i < best) {
				best, bestBytes = i, held
			}
		}
	}
	return best
}

func indexOrder(_ []placement.Peer, feasible []int, _ uint64) []int { return slices.Clone(feasible) }

func randomOrder(_ []placement.Peer, feasible []int, seed uint64) []int {
	order := slices.Clone(feasible)
	rand.New(rand.NewPCG(seed, 2)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	return order
}

func latencyOrder(snap []placement.Peer, feasible []int, _ uint64) []int {
	order := slices.Clone(feasible)
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(snap[x].RTT, snap[y].RTT) })
	return order
}

// rotation continues after the last peer the previous call used, by peer ID
// (snapshots are in ID order), so re-placed work goes to the next in turn.
type rotation struct{ last string }

func newRoundRobin() *baseline {
	r := &rotation{}
	return &baseline{label: RoundRobin, order: r.order, rotation: r}
}

func (r *rotation) order(snap []placement.Peer, feasible []int, _ uint64) []int {
	at, found := slices.BinarySearchFunc(feasible, r.last, func(i int, id string) int { return cmp.Compare(snap[i].ID, id) })
	if found {
		at++
	}
	return append(slices.Clone(feasible[at:]), feasible[:at]...)
}
