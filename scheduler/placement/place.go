package placement

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// ErrInvalid marks a Place call whose input cannot be placed at all: an empty
// or duplicate peer or tasklet ID, a negative count, an unparsable MinVersion.
// A peer with a bad record is not an error: it is rejected as ReasonInvalid.
var ErrInvalid = errors.New("invalid placement input")

// Place chooses up to opts.Replicas distinct peers for each tasklet, in the
// order the tasklets are given; each choice adds the tasklet's transfer and
// compute time to the chosen peers' queues, so later tasklets spread out.
// A tasklet with fewer feasible peers than replicas gets a Decision that says
// why (the caller waits and retries); that is not an error. Place returns an
// error wrapping ErrInvalid when the input itself is malformed.
//
// Cost: one rule-chain pass per distinct Requirements, one heap per distinct
// (Requirements, input bytes, samples), and per tasklet O(holders of its
// inputs + replicas × log peers).
func Place(snapshot []Peer, tasklets []Tasklet, opts Options) ([]Decision, error) {
	if err := normalize(&opts); err != nil {
		return nil, err
	}
	index, err := indexPeers(snapshot)
	if err != nil {
		return nil, err
	}
	if err := validateTasklets(tasklets); err != nil {
		return nil, err
	}
	pl := newPlanner(snapshot, tasklets, opts, index)
	out := make([]Decision, len(tasklets))
	for i := range tasklets {
		out[i] = pl.place(&tasklets[i])
	}
	return out, nil
}

func normalize(o *Options) error {
	if o.Replicas < 0 {
		return fmt.Errorf("replicas %d is negative; use 0 or 1 for one peer per tasklet: %w", o.Replicas, ErrInvalid)
	}
	if o.RoundTrips < 0 {
		return fmt.Errorf("round trips %d is negative; use 0 for the default %d: %w", o.RoundTrips, DefaultRoundTrips, ErrInvalid)
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.RoundTrips == 0 {
		o.RoundTrips = DefaultRoundTrips
	}
	return nil
}

func indexPeers(peers []Peer) (map[string]int32, error) {
	if len(peers) > math.MaxInt32 {
		return nil, fmt.Errorf("snapshot has %d peers, more than %d: %w", len(peers), math.MaxInt32, ErrInvalid)
	}
	index := make(map[string]int32, len(peers))
	for i := range peers {
		id := peers[i].ID
		if id == "" {
			return nil, fmt.Errorf("peer %d in the snapshot has an empty ID: %w", i, ErrInvalid)
		}
		if j, dup := index[id]; dup {
			return nil, fmt.Errorf("peer %q appears twice in the snapshot (at %d and %d): %w", id, j, i, ErrInvalid)
		}
		index[id] = int32(i)
	}
	return index, nil
}

func validateTasklets(ts []Tasklet) error {
	seen := make(map[string]struct{}, len(ts))
	for i := range ts {
		t := &ts[i]
		if t.ID == "" {
			return fmt.Errorf("tasklet %d has an empty ID: %w", i, ErrInvalid)
		}
		if _, dup := seen[t.ID]; dup {
			return fmt.Errorf("tasklet %q appears twice: %w", t.ID, ErrInvalid)
		}
		seen[t.ID] = struct{}{}
		if err := validateTasklet(t); err != nil {
			return fmt.Errorf("tasklet %q: %w", t.ID, err)
		}
	}
	return nil
}

func validateTasklet(t *Tasklet) error {
	if t.Executor == "" {
		return fmt.Errorf("no executor named: %w", ErrInvalid)
	}
	if t.Samples < 0 {
		return fmt.Errorf("samples %d is negative: %w", t.Samples, ErrInvalid)
	}
	if !(t.MaxPrice >= 0) || math.IsInf(t.MaxPrice, 1) {
		return fmt.Errorf("max price %v is not a finite non-negative number: %w", t.MaxPrice, ErrInvalid)
	}
	if _, ok := parseVersion(t.MinVersion); t.MinVersion != "" && !ok {
		return fmt.Errorf("min version %q is not like 1.2.3: %w", t.MinVersion, ErrInvalid)
	}
	var total uint64
	for j, in := range t.Inputs {
		if in.CID == "" {
			return fmt.Errorf("input %d has an empty CID: %w", j, ErrInvalid)
		}
		if slices.ContainsFunc(t.Inputs[:j], func(o Input) bool { return o.CID == in.CID }) {
			return fmt.Errorf("input %s is listed twice: %w", in.CID, ErrInvalid)
		}
		if total+in.Bytes < total {
			return fmt.Errorf("input sizes overflow 64 bits: %w", ErrInvalid)
		}
		total += in.Bytes
	}
	return nil
}

// class is the result of one rule-chain pass over the snapshot.
type class struct {
	ok       []bool
	list     []int32 // feasible peers in snapshot order
	feasible int
	rejected []Rejection
}

// shapeKey groups tasklets whose non-holder ETA is the same function of the
// peer, so one heap serves them all.
type shapeKey struct {
	need    Requirements
	bytes   uint64
	samples int
}

type shape struct {
	bytes   uint64
	samples int
	left    int  // tasklets of this shape not yet placed
	built   bool // heap holds every feasible peer
	heap    entryHeap
}

// minHeapUses is how many tasklets a shape must still serve before building
// its heap pays for itself; fewer are served by a linear scan.
const minHeapUses = 4

type planner struct {
	peers   []Peer
	opts    Options
	index   map[string]int32
	keys    []rankKey // per peer, eta unset
	costs   []costs
	queue   []time.Duration
	holders map[string][]int32 // CID → peers holding some of it
	classes map[Requirements]*class
	shapes  map[shapeKey]*shape
	mark    []uint32 // mark[p] == stamp: p holds an input of the current tasklet
	excl    []uint32 // excl[p] == stamp: p is excluded for the current tasklet
	stamp   uint32
	cands   []rankKey
	aside   []entry
}

func newPlanner(peers []Peer, tasklets []Tasklet, opts Options, index map[string]int32) *planner {
	n := len(peers)
	pl := &planner{
		peers: peers, opts: opts, index: index,
		keys:    make([]rankKey, n),
		costs:   make([]costs, n),
		queue:   make([]time.Duration, n),
		classes: make(map[Requirements]*class),
		shapes:  make(map[shapeKey]*shape),
		mark:    make([]uint32, n),
		excl:    make([]uint32, n),
	}
	for i := range peers {
		p := &peers[i]
		pl.keys[i] = rankKey{rep: p.Reputation, price: p.PricePerHour, draw: tieDraw(opts.Seed, p.ID), idx: int32(i)}
		pl.costs[i] = costsOf(p, opts.RoundTrips)
		pl.queue[i] = max(p.Queue, 0)
	}
	pl.holders = invertHolds(peers, tasklets)
	for i := range tasklets {
		pl.shapeOf(&tasklets[i]).left++
	}
	return pl
}

// invertHolds maps each CID some tasklet needs to the peers holding part of it.
func invertHolds(peers []Peer, tasklets []Tasklet) map[string][]int32 {
	needed := make(map[string]bool)
	for i := range tasklets {
		for _, in := range tasklets[i].Inputs {
			needed[in.CID] = true
		}
	}
	holders := make(map[string][]int32)
	for i := range peers {
		for cid, b := range peers[i].Holds {
			if b > 0 && needed[cid] {
				holders[cid] = append(holders[cid], int32(i))
			}
		}
	}
	for _, hs := range holders {
		slices.Sort(hs) // map order is random; keep examples and costs stable
	}
	return holders
}

func (pl *planner) class(need Requirements) *class {
	if c := pl.classes[need]; c != nil {
		return c
	}
	c := &class{ok: make([]bool, len(pl.peers))}
	var t tally
	it := newStack(pl.peers, need, &t)
	for i, more := it.Next(); more; i, more = it.Next() {
		c.ok[i] = true
		c.list = append(c.list, int32(i))
		c.feasible++
	}
	c.rejected = t.list()
	pl.classes[need] = c
	return c
}

func (pl *planner) shapeOf(t *Tasklet) *shape {
	var bytes uint64
	for _, in := range t.Inputs {
		bytes += in.Bytes
	}
	k := shapeKey{need: t.Requirements(), bytes: bytes, samples: t.Samples}
	s := pl.shapes[k]
	if s == nil {
		s = &shape{bytes: bytes, samples: t.Samples}
		pl.shapes[k] = s
	}
	return s
}

// build fills the shape's heap with every feasible peer at its current queue.
func (pl *planner) build(s *shape, c *class) {
	s.heap.items = make([]entry, len(c.list))
	for j, i := range c.list {
		s.heap.items[j] = pl.entry(i, s)
	}
	s.heap.init()
	s.built = true
}

// entry ranks peer p as if it held none of the shape's inputs.
func (pl *planner) entry(p int32, s *shape) entry {
	q := pl.queue[p]
	key := pl.keys[p]
	key.eta = pl.costs[p].estimate(s.bytes, s.samples, q).Total()
	return entry{key: key, q: q}
}

func (pl *planner) place(t *Tasklet) Decision {
	c := pl.class(t.Requirements())
	s := pl.shapeOf(t)
	if !s.built && s.left >= minHeapUses {
		pl.build(s, c)
	}
	s.left--
	pl.stamp++
	excluded := pl.markExcluded(t, c)
	pl.cands = pl.cands[:0]
	pl.addHolders(t, c)
	if s.built {
		pl.popNonHolders(s)
	} else {
		pl.scanNonHolders(s, c)
	}
	slices.SortFunc(pl.cands, compareKeys)
	return pl.decide(t, c, pl.cands[:min(pl.opts.Replicas, len(pl.cands))], excluded)
}

// decide records the choice and adds the tasklet's transfer and compute time
// to each chosen peer's queue.
func (pl *planner) decide(t *Tasklet, c *class, chosen []rankKey, excluded []string) Decision {
	d := Decision{
		Tasklet:    t.ID,
		Need:       t.Requirements(),
		Wanted:     pl.opts.Replicas,
		Candidates: len(pl.peers),
		Feasible:   c.feasible - len(excluded),
		Rejected:   withExcluded(c.rejected, excluded),
		Peers:      make([]string, len(chosen)),
		ETA:        make([]time.Duration, len(chosen)),
	}
	for i, k := range chosen {
		p := &pl.peers[k.idx]
		d.Peers[i], d.ETA[i] = p.ID, k.eta
		b := pl.costs[k.idx].estimate(missingBytes(p, t), t.Samples, pl.queue[k.idx])
		if i == 0 {
			d.Breakdown = b
		}
		pl.queue[k.idx] = addSat(pl.queue[k.idx], addSat(b.Transfer, b.Compute))
	}
	return d
}

// markExcluded stamps the feasible peers the caller excluded for t and
// returns their IDs in the order given.
func (pl *planner) markExcluded(t *Tasklet, c *class) []string {
	var ids []string
	for _, id := range pl.opts.Exclude[t.ID] {
		i, ok := pl.index[id]
		if ok && c.ok[i] && pl.excl[i] != pl.stamp {
			pl.excl[i] = pl.stamp
			ids = append(ids, id)
		}
	}
	return ids
}

// addHolders ranks, with their exact ETA, the feasible peers holding part of
// t's inputs, and marks them so the heap scan skips their pessimistic entry.
func (pl *planner) addHolders(t *Tasklet, c *class) {
	for _, in := range t.Inputs {
		for _, h := range pl.holders[in.CID] {
			if !c.ok[h] || pl.mark[h] == pl.stamp {
				continue
			}
			pl.mark[h] = pl.stamp
			if pl.excl[h] == pl.stamp {
				continue
			}
			p := &pl.peers[h]
			key := pl.keys[h]
			key.eta = pl.costs[h].estimate(missingBytes(p, t), t.Samples, pl.queue[h]).Total()
			pl.cands = append(pl.cands, key)
		}
	}
}

// popNonHolders pops the best Replicas peers that hold none of the inputs.
// Queues only grow, so a stale entry's key is a lower bound of its true key:
// refreshing it on pop and pushing it back keeps the order exact.
func (pl *planner) popNonHolders(s *shape) {
	for found := 0; found < pl.opts.Replicas && s.heap.len() > 0; {
		e := s.heap.pop()
		if e.q != pl.queue[e.key.idx] {
			s.heap.push(pl.entry(e.key.idx, s))
			continue
		}
		pl.aside = append(pl.aside, e)
		if pl.mark[e.key.idx] == pl.stamp || pl.excl[e.key.idx] == pl.stamp {
			continue
		}
		pl.cands = append(pl.cands, e.key)
		found++
	}
	for _, e := range pl.aside {
		s.heap.push(e) // entries of peers chosen now go stale; pop refreshes them
	}
	pl.aside = pl.aside[:0]
}

// scanNonHolders finds the best Replicas peers holding none of the inputs by
// looking at every feasible peer: cheaper than a heap for a rare shape.
func (pl *planner) scanNonHolders(s *shape, c *class) {
	start := len(pl.cands)
	for _, i := range c.list {
		if pl.mark[i] == pl.stamp || pl.excl[i] == pl.stamp {
			continue
		}
		key := pl.keys[i]
		key.eta = pl.costs[i].estimate(s.bytes, s.samples, pl.queue[i]).Total()
		best := pl.cands[start:]
		if len(best) == pl.opts.Replicas {
			if compareKeys(key, best[len(best)-1]) >= 0 {
				continue
			}
			pl.cands = pl.cands[:len(pl.cands)-1]
		}
		// Insert in order: the kept slice stays sorted and at most Replicas long.
		at := start + sort.Search(len(pl.cands)-start, func(j int) bool { return compareKeys(key, pl.cands[start+j]) < 0 })
		pl.cands = slices.Insert(pl.cands, at, key)
	}
}

func withExcluded(rejected []Rejection, excluded []string) []Rejection {
	out := make([]Rejection, 0, len(rejected)+1)
	for _, r := range rejected {
		r.Examples = slices.Clone(r.Examples)
		out = append(out, r)
	}
	if len(excluded) == 0 {
		return out
	}
	out = append(out, Rejection{
		Reason:   ReasonExcluded,
		Count:    len(excluded),
		Examples: slices.Clone(excluded[:min(len(excluded), MaxExamples)]),
	})
	sortRejections(out)
	return out
}
