package placement

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// ErrInvalid marks a Place call whose input cannot be placed at all: an empty
// or duplicate peer or tasklet ID, a negative count, an unparsable MinVersion,
// one CID with two sizes, a bad source site or link estimate. A peer with a
// bad record is not an error: it is rejected as ReasonInvalid.
var ErrInvalid = errors.New("invalid placement input")

// Place chooses up to opts.Replicas distinct peers for each tasklet, in the
// order the tasklets are given; each choice adds the tasklet's transfer and
// compute time to the chosen peers' queues, so later tasklets spread out,
// and plans the inputs it shares with other tasklets (the weights) on those
// peers, so a later tasklet there does not pay to fetch them again.
// A tasklet with fewer feasible peers than replicas gets a Decision that says
// why (the caller waits and retries); that is not an error. Place returns an
// error wrapping ErrInvalid when the input itself is malformed.
//
// Cost: one rule-chain pass per distinct Requirements; one heap per group of
// peers that rank alike (same requirements, samples, site, shared inputs
// held and path speeds), built once four tasklets use it; and per tasklet
// O(holders of its unshared inputs + sites × 2^shared inputs × replicas ×
// log peers). Sites are meant to be few (tens).
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
	pl, err := newPlanner(snapshot, tasklets, opts, index)
	if err != nil {
		return nil, err
	}
	out := make([]Decision, len(tasklets))
	for i := range tasklets {
		out[i] = pl.place(&tasklets[i], &pl.plans[i])
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
	switch o.Strategy {
	case "":
		o.Strategy = StrategyETA
	case StrategyETA, StrategyRandom:
	default:
		return fmt.Errorf("strategy %q is unknown; use %q or %q: %w", o.Strategy, StrategyETA, StrategyRandom, ErrInvalid)
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
	sizes := map[string]uint64{}
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
		for _, in := range t.Inputs {
			if b, ok := sizes[in.CID]; ok && b != in.Bytes {
				return fmt.Errorf("tasklet %q: input %s is %d bytes, but %d in an earlier tasklet; a CID has one size: %w",
					t.ID, in.CID, in.Bytes, b, ErrInvalid)
			}
			sizes[in.CID] = in.Bytes
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
		if err := validateSources(in.SourceSites); err != nil {
			return fmt.Errorf("input %s: %w", in.CID, err)
		}
	}
	return nil
}

func validateSources(sites []string) error {
	if len(sites) > MaxSourceSites {
		return fmt.Errorf("%d source sites, more than %d; pass the sites of the nearest providers: %w",
			len(sites), MaxSourceSites, ErrInvalid)
	}
	for _, s := range sites {
		if s == "" || len(s) > MaxSiteLen {
			return fmt.Errorf("source site %q is empty or longer than %d bytes; leave out sources whose site is unknown: %w",
				s, MaxSiteLen, ErrInvalid)
		}
	}
	return nil
}

// class is the result of one rule-chain pass over the snapshot.
type class struct {
	ok       []bool
	list     []int32   // feasible peers in snapshot order
	byBucket [][]int32 // feasible peers of each bucket
	feasible int
	rejected []Rejection
}

// taskPlan is what a tasklet needs for ranking, worked out before any is
// placed.
type taskPlan struct {
	class   *class
	x       []int32   // per input: its shared number (see holdings), -1 if not shared
	tracked []int32   // the tasklet's tracked inputs, ascending
	bit     []int8    // per input: its place in tracked, -1 if not tracked
	paths   []float64 // paths[i*nb+b]: best path for input i into bucket b
	// groups[b<<len(tracked)|mask] ranks the peers of bucket b holding the
	// tracked inputs in mask; nil where the class has no peer in b. slow: no
	// groups, every feasible peer is ranked directly.
	groups []*group
	slow   bool
}

type planner struct {
	peers   []Peer
	opts    Options
	index   map[string]int32
	keys    []rankKey // per peer, eta unset
	costs   []costs
	queue   []time.Duration
	ver     []uint32 // bumped when a peer's queue or holdings change: its heap entries go stale
	net     *network
	bucket  []int32 // per peer
	nb      int     // buckets
	hold    *holdings
	classes map[Requirements]*class
	groups  map[groupKey]*group
	watch   map[watchKey][]*group
	plans   []taskPlan
	mark    []uint32 // mark[p] == stamp: p was ranked directly for the current tasklet
	excl    []uint32 // excl[p] == stamp: p is excluded for the current tasklet
	stamp   uint32
	gains   uint32 // stamp of the latest gain, see join
	best    []rankKey
	aside   []entry
	legs    []leg   // scratch
	gained  []int32 // scratch
}

func newPlanner(peers []Peer, tasklets []Tasklet, opts Options, index map[string]int32) (*planner, error) {
	n := len(peers)
	pl := &planner{
		peers: peers, opts: opts, index: index,
		keys:    make([]rankKey, n),
		costs:   make([]costs, n),
		queue:   make([]time.Duration, n),
		ver:     make([]uint32, n),
		classes: make(map[Requirements]*class),
		groups:  make(map[groupKey]*group),
		watch:   make(map[watchKey][]*group),
		plans:   make([]taskPlan, len(tasklets)),
		mark:    make([]uint32, n),
		excl:    make([]uint32, n),
	}
	for i := range peers {
		p := &peers[i]
		pl.keys[i] = rankKey{rep: p.Reputation, price: p.PricePerHour, draw: tieDraw(opts.Seed, p.ID), idx: int32(i)}
		pl.costs[i] = costsOf(p, opts.RoundTrips)
		pl.queue[i] = max(p.Queue, 0)
	}
	pl.net, pl.bucket = newNetwork(opts.Links, peers)
	pl.nb = len(pl.net.buckets)
	pl.hold = newHoldings(peers, tasklets)
	for i := range tasklets {
		if err := pl.plan(&tasklets[i], &pl.plans[i]); err != nil {
			return nil, fmt.Errorf("tasklet %q: %w", tasklets[i].ID, err)
		}
	}
	return pl, nil
}

// plan works out tp for t and counts t as a user of its groups.
func (pl *planner) plan(t *Tasklet, tp *taskPlan) error {
	tp.class = pl.class(t.Requirements())
	tp.x, tp.bit = make([]int32, len(t.Inputs)), make([]int8, len(t.Inputs))
	for i, in := range t.Inputs {
		tp.x[i], tp.bit[i] = -1, -1
		if x, ok := pl.hold.index[in.CID]; ok {
			tp.x[i] = x
			if pl.hold.tracked[x] {
				tp.tracked = append(tp.tracked, x)
			}
		}
	}
	slices.Sort(tp.tracked)
	random := pl.opts.Strategy == StrategyRandom
	for i, x := range tp.x {
		if x >= 0 && pl.hold.tracked[x] && len(tp.tracked) <= maxTracked {
			tp.bit[i] = int8(slices.Index(tp.tracked, x))
		}
	}
	tp.paths = make([]float64, len(t.Inputs)*pl.nb)
	for b, peers := range tp.class.byBucket {
		if len(peers) == 0 {
			continue // no peer to fetch into: leave Links unasked
		}
		for i, in := range t.Inputs {
			bps, err := pl.net.path(in.SourceSites, int32(b))
			if err != nil {
				return fmt.Errorf("input %s: %w", in.CID, err)
			}
			tp.paths[i*pl.nb+b] = bps
		}
	}
	// Random ranks every feasible peer directly: no groups to plan.
	tp.slow = random || len(tp.tracked) > maxTracked || !pl.planGroups(t, tp)
	return nil
}

// planGroups finds the groups that rank t's peers, one per bucket and mask;
// false when some group's legs are too varied for one.
func (pl *planner) planGroups(t *Tasklet, tp *taskPlan) bool {
	masks := 1 << len(tp.tracked)
	tp.groups = make([]*group, pl.nb*masks)
	for b, peers := range tp.class.byBucket {
		if len(peers) == 0 {
			continue
		}
		for m := range masks {
			g, ok := pl.groupFor(t, tp, int32(b), uint8(m))
			if !ok {
				tp.groups = nil
				return false
			}
			tp.groups[b*masks+m] = g
		}
	}
	for _, g := range tp.groups {
		if g != nil {
			g.left++
		}
	}
	return true
}

func (pl *planner) class(need Requirements) *class {
	if c := pl.classes[need]; c != nil {
		return c
	}
	c := &class{ok: make([]bool, len(pl.peers)), byBucket: make([][]int32, pl.nb)}
	var t tally
	it := newStack(pl.peers, need, &t)
	for i, more := it.Next(); more; i, more = it.Next() {
		c.ok[i] = true
		c.list = append(c.list, int32(i))
		b := pl.bucket[i]
		c.byBucket[b] = append(c.byBucket[b], int32(i))
		c.feasible++
	}
	c.rejected = t.list()
	pl.classes[need] = c
	return c
}

func (pl *planner) place(t *Tasklet, tp *taskPlan) Decision {
	pl.stamp++
	excluded := pl.markExcluded(t, tp.class)
	pl.best = pl.best[:0]
	if pl.opts.Strategy == StrategyRandom {
		pl.rankRandom(tp)
		return pl.decide(t, tp, excluded)
	}
	pl.rankHolders(t, tp)
	if tp.slow {
		for _, p := range tp.class.list {
			if pl.mark[p] != pl.stamp && pl.excl[p] != pl.stamp {
				pl.offer(pl.exactKey(p, t, tp))
			}
		}
	}
	for _, g := range tp.groups {
		if g != nil {
			pl.rank(g)
		}
	}
	return pl.decide(t, tp, excluded)
}

// rankRandom offers every feasible, not excluded peer under a random key:
// the least loaded first (attempts in flight, plus one for work queued in
// the snapshot or by this call), then a
// draw from the seed, the peer and the tasklet's place in the call, so two
// tasklets of one call draw independently.
func (pl *planner) rankRandom(tp *taskPlan) {
	call := splitmix64(uint64(pl.stamp))
	for _, p := range tp.class.list {
		if pl.excl[p] == pl.stamp {
			continue
		}
		k := pl.keys[p]
		k.eta, k.rep, k.price = time.Duration(pl.peers[p].InFlight), 0, 0
		if pl.queue[p] > 0 {
			k.eta++
		}
		k.draw = splitmix64(k.draw ^ call)
		pl.offer(k)
	}
}

// offer keeps k among the best Replicas candidates so far, in order.
func (pl *planner) offer(k rankKey) {
	if pl.beaten(k) {
		return
	}
	if len(pl.best) == pl.opts.Replicas {
		pl.best = pl.best[:len(pl.best)-1]
	}
	at, _ := slices.BinarySearchFunc(pl.best, k, compareKeys)
	pl.best = slices.Insert(pl.best, at, k)
}

// beaten reports whether k cannot enter the best Replicas candidates.
func (pl *planner) beaten(k rankKey) bool {
	n := len(pl.best)
	return n == pl.opts.Replicas && compareKeys(k, pl.best[n-1]) >= 0
}

// exact is the ETA of t on p from p's holdings, snapshot and planned.
func (pl *planner) exact(p int32, t *Tasklet, tp *taskPlan) Breakdown {
	legs := pl.legs[:0]
	b := int(pl.bucket[p])
	for i, in := range t.Inputs {
		have := pl.peers[p].Holds[in.CID]
		if x := tp.x[i]; x >= 0 && pl.hold.has(p, x) {
			have = in.Bytes
		}
		if have < in.Bytes {
			legs = addLeg(legs, tp.paths[i*pl.nb+b], in.Bytes-have)
		}
	}
	pl.legs = legs
	return pl.costs[p].estimate(legs, t.Samples, pl.queue[p])
}

func (pl *planner) exactKey(p int32, t *Tasklet, tp *taskPlan) rankKey {
	key := pl.keys[p]
	key.eta = pl.exact(p, t, tp).Total()
	return key
}

// decide records the choice: each chosen peer's queue grows by the
// tasklet's transfer and compute time, and it holds the tasklet's inputs
// from now on.
func (pl *planner) decide(t *Tasklet, tp *taskPlan, excluded []string) Decision {
	c := tp.class
	d := Decision{
		Tasklet:    t.ID,
		Strategy:   pl.opts.Strategy,
		Need:       t.Requirements(),
		Wanted:     pl.opts.Replicas,
		Candidates: len(pl.peers),
		Feasible:   c.feasible - len(excluded),
		Rejected:   withExcluded(c.rejected, excluded),
		Peers:      make([]string, len(pl.best)),
		ETA:        make([]time.Duration, len(pl.best)),
	}
	for i, k := range pl.best {
		p := k.idx
		d.Peers[i], d.ETA[i] = pl.peers[p].ID, k.eta
		b := pl.exact(p, t, tp)
		if pl.opts.Strategy == StrategyRandom {
			d.ETA[i] = b.Total() // the key held a draw, not an estimate
		}
		if i == 0 {
			d.Breakdown = b
		}
		pl.queue[p] = addSat(pl.queue[p], addSat(b.Transfer, b.Compute))
		pl.ver[p]++
		pl.gain(p, t, tp)
	}
	return d
}

// gain plans t's shared inputs on p: an untracked one adds p to the peers
// ranked exactly for it; tracked ones move p into the groups it now joins,
// once all are recorded so that membership sees them all.
func (pl *planner) gain(p int32, t *Tasklet, tp *taskPlan) {
	gained := pl.gained[:0]
	for i, x := range tp.x {
		switch {
		case x < 0 || !pl.hold.gain(p, x):
		case pl.hold.tracked[x]:
			gained = append(gained, x)
		default:
			cid := t.Inputs[i].CID
			pl.hold.scan[cid] = append(pl.hold.scan[cid], p)
		}
	}
	pl.gained = gained
	pl.gains++
	for _, x := range gained {
		pl.join(p, x)
	}
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

// rankHolders ranks, with their exact ETA, the feasible peers whose holding
// of t's inputs no group describes, and marks them so groups skip them.
func (pl *planner) rankHolders(t *Tasklet, tp *taskPlan) {
	for _, in := range t.Inputs {
		for _, h := range pl.hold.scan[in.CID] {
			if !tp.class.ok[h] || pl.mark[h] == pl.stamp {
				continue
			}
			pl.mark[h] = pl.stamp
			if pl.excl[h] != pl.stamp {
				pl.offer(pl.exactKey(h, t, tp))
			}
		}
	}
}

func withExcluded(rejected []Rejection, excluded []string) []Rejection {
	out := make([]Rejection, 0, len(rejected)+1)
	for _, r := range rejected {
		r.Examples = slices.Clone(r.Examples)
		r.Details = slices.Clone(r.Details)
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
