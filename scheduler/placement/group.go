package placement

import "slices"

// A group is a set of peers whose ETA for some tasklets is the same
// function of the peer: feasible for one class, in one bucket (site), and
// holding in full the same subset (mask) of the tasklets' tracked inputs
// (see holdings) and nothing else of their inputs. Their ETA is then setup
// + legs at the peer's bandwidth + compute + queue, so one heap ranks them
// for every tasklet with the same legs. Peers holding other inputs, or
// parts of them, are ranked one by one and skipped here (planner.mark).
type group struct {
	class   *class
	samples int
	bucket  int32
	tracked []int32 // the tasklets' tracked inputs, ascending
	mask    uint8   // which of tracked the members hold
	legs    []leg   // what the members fetch
	left    int     // tasklets yet to use the group
	built   bool    // heap holds every member
	seen    uint32  // gain stamp, so one gain pushes a peer once
	heap    entryHeap
}

const (
	// maxTracked is how many tracked inputs a tasklet may have and still be
	// ranked through groups (2^maxTracked masks per bucket); one with more
	// is ranked by scanning every feasible peer.
	maxTracked = 3
	// maxLegs is how many path speeds a group's legs may have.
	maxLegs = 4
	// minHeapUses is how many tasklets a group must still serve before
	// building its heap pays for itself; fewer are served by a scan.
	minHeapUses = 4
)

// groupKey identifies a group; groups with equal keys are one group.
type groupKey struct {
	class   *class
	samples int
	bucket  int32
	tracked [maxTracked]int32
	mask    uint8
	nlegs   uint8
	legs    [maxLegs]leg
}

// watchKey finds the built groups a peer may join when it gains a tracked
// input: those of its bucket whose tasklets need that input.
type watchKey struct{ tracked, bucket int32 }

// groupFor returns the group of tasklets like tp's for peers in bucket b
// holding the tracked inputs in mask, or false when its legs are too varied.
func (pl *planner) groupFor(t *Tasklet, tp *taskPlan, b int32, mask uint8) (*group, bool) {
	key := groupKey{class: tp.class, samples: t.Samples, bucket: b, mask: mask}
	copy(key.tracked[:], tp.tracked)
	for j := len(tp.tracked); j < maxTracked; j++ {
		key.tracked[j] = -1
	}
	legs := pl.legs[:0]
	for i, in := range t.Inputs {
		if bit := tp.bit[i]; bit < 0 || mask&(1<<bit) == 0 {
			legs = addLeg(legs, tp.paths[i*pl.nb+int(b)], in.Bytes)
		}
	}
	pl.legs = legs
	if len(legs) > maxLegs {
		return nil, false
	}
	key.nlegs = uint8(copy(key.legs[:], legs))
	if g := pl.groups[key]; g != nil {
		return g, true
	}
	g := &group{
		class: tp.class, samples: t.Samples, bucket: b, mask: mask,
		tracked: slices.Clone(tp.tracked), legs: slices.Clone(legs),
	}
	pl.groups[key] = g
	return g, true
}

// member reports whether feasible peer p of the group's bucket belongs to it.
func (pl *planner) member(g *group, p int32) bool {
	return pl.hold.mask(p, g.tracked) == g.mask
}

// population calls fn for every member of g. Members with no tracked input
// are found among the class's peers of the bucket; the others among the
// holders of one input of the mask.
func (pl *planner) population(g *group, fn func(p int32)) {
	if g.mask == 0 {
		for _, p := range g.class.byBucket[g.bucket] {
			if pl.member(g, p) {
				fn(p)
			}
		}
		return
	}
	x := g.tracked[lowestBit(g.mask)]
	for _, p := range pl.hold.holders[x] {
		if pl.bucket[p] == g.bucket && g.class.ok[p] && pl.member(g, p) {
			fn(p)
		}
	}
}

func lowestBit(m uint8) int {
	for j := range 8 {
		if m&(1<<j) != 0 {
			return j
		}
	}
	return -1
}

// entry ranks member p at its current queue.
func (pl *planner) entry(p int32, g *group) entry {
	return entry{eta: pl.costs[p].eta(g.legs, g.samples, pl.queue[p]), idx: p, ver: pl.ver[p]}
}

// rank offers g's best members for the current tasklet, through its heap
// when enough tasklets will use it, else by a scan.
func (pl *planner) rank(g *group) {
	if !g.built && g.left >= minHeapUses {
		pl.build(g)
	}
	g.left--
	switch {
	case g.built:
		pl.pop(g)
	case g.mask == 0:
		pl.scan(g, g.class.byBucket[g.bucket])
	default:
		pl.scan(g, pl.hold.holders[g.tracked[lowestBit(g.mask)]])
	}
}

// scan offers the members of g among peers, skipping those ranked otherwise.
// It is population without the closure: a rare group scans every peer of
// its bucket, once per tasklet.
func (pl *planner) scan(g *group, peers []int32) {
	for _, p := range peers {
		if pl.mark[p] == pl.stamp || pl.excl[p] == pl.stamp ||
			pl.bucket[p] != g.bucket || !g.class.ok[p] || !pl.member(g, p) {
			continue
		}
		eta := pl.costs[p].eta(g.legs, g.samples, pl.queue[p])
		if n := len(pl.best); n == pl.opts.Replicas && eta > pl.best[n-1].eta {
			continue // cannot win even its tie-breaks
		}
		key := pl.keys[p]
		key.eta = eta
		pl.offer(key)
	}
}

// build fills g's heap with its members and, when they hold tracked inputs,
// registers g so that peers gaining those inputs join it.
func (pl *planner) build(g *group) {
	g.heap.keys = pl.keys
	pl.population(g, func(p int32) { g.heap.items = append(g.heap.items, pl.entry(p, g)) })
	g.heap.init()
	g.built = true
	if g.mask == 0 {
		return // gaining an input only ever takes a peer out of a mask-0 group
	}
	for _, x := range g.tracked {
		k := watchKey{tracked: x, bucket: g.bucket}
		pl.watch[k] = append(pl.watch[k], g)
	}
}

// pop offers the best members of g that are not ranked otherwise. An entry
// whose peer changed since it was pushed (its queue grew, or it gained a
// tracked input) is refreshed if the peer is still a member, else dropped:
// either way its key was a lower bound, so the order stays exact.
func (pl *planner) pop(g *group) {
	for found := 0; found < pl.opts.Replicas && g.heap.len() > 0; {
		if pl.beaten(g.heap.key(g.heap.items[0])) {
			break
		}
		e := g.heap.pop()
		p := e.idx
		if e.ver != pl.ver[p] {
			if pl.member(g, p) {
				g.heap.push(pl.entry(p, g))
			}
			continue
		}
		pl.aside = append(pl.aside, e)
		if pl.mark[p] == pl.stamp || pl.excl[p] == pl.stamp {
			continue
		}
		pl.offer(g.heap.key(e))
		found++
	}
	for _, e := range pl.aside {
		g.heap.push(e) // entries of peers chosen now go stale; pop refreshes them
	}
	pl.aside = pl.aside[:0]
}

// join pushes p, which has just gained tracked input x, into the built
// groups it now belongs to.
func (pl *planner) join(p, x int32) {
	for _, g := range pl.watch[watchKey{tracked: x, bucket: pl.bucket[p]}] {
		if g.seen == pl.gains {
			continue
		}
		g.seen = pl.gains
		if g.class.ok[p] && pl.member(g, p) {
			g.heap.push(pl.entry(p, g))
		}
	}
}
