package datagrid

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The striping plan: which block to want from which peer. It is a pure
// core (no I/O, the clock passed in) driven by stripeFetch (stripenet.go).
//
// Each peer that has the blocks gets a window of outstanding want-blocks.
// A block arriving frees a slot, which is refilled from the queue at once,
// so a peer's share follows its throughput: a link twice as fast empties
// its window twice as often. The window itself grows with the peer's
// observed rate so a fast link is never starved by round trips. When the
// queue is empty, wants stuck with a slow peer are also asked of an idle
// one (BitTorrent's endgame), and a DONT_HAVE or a vanished peer puts its
// wants back in the queue for the others.
//
// Peers are near or far by round-trip time. A far peer gets only the
// wants the near ones would not deliver before its round trip is over
// (farRoom), so a DAG of a few blocks comes from the nearest holders and
// never waits on one across an ocean, while a large one still draws on
// every holder's bandwidth.
const (
	// A live peer is near when its RTT is at most stripeNearFactor times
	// the nearest known RTT plus stripeNearSlack; a peer whose RTT is
	// unknown counts as near.
	stripeNearFactor = 2
	stripeNearSlack  = 20 * time.Millisecond
	stripeMinWindow  = 4
	stripeMaxWindow  = 64
	// stripeTarget is the time a window should take to drain at the
	// peer's observed rate: enough to cover round trips and bursts.
	stripeTarget = 300 * time.Millisecond
	// stripeSlow is how much longer than its peer's usual block time a
	// want may wait before the endgame asks another peer too.
	stripeSlow = 4
	// stripeSlowMin keeps the endgame from duplicating on noise.
	stripeSlowMin = 300 * time.Millisecond
	// stripeRateAlpha weighs a new sample in the throughput average.
	stripeRateAlpha = 0.2
)

// stripePeer is what the plan knows of one peer.
type stripePeer struct {
	id       peer.ID
	inflight int
	bytes    int64         // received from it in this plan
	blocks   int           // received from it in this plan
	rate     float64       // bytes/s, moving average; 0 until measured
	perBlock time.Duration // moving average time between its blocks
	last     time.Time     // when it last delivered (or was first asked)
	rtt      time.Duration // round-trip time; 0: unknown
	// accBytes and accBlocks arrived since last and are not yet in rate.
	accBytes  int64
	accBlocks int
	gone      bool
}

// window is how many wants the peer may have outstanding.
func (p *stripePeer) window(avgBlock float64) int {
	if p.rate == 0 || avgBlock == 0 {
		return 2 * stripeMinWindow
	}
	w := int(p.rate * stripeTarget.Seconds() / avgBlock)
	return min(max(w, stripeMinWindow), stripeMaxWindow)
}

// limit is sp's window, further capped at its throughput's share of the
// blocks still wanted, so one fast peer never takes the whole queue and
// leaves the others idle: all peers should finish at about the same time.
func (p *stripePlan) limit(sp *stripePeer) int {
	w := sp.window(p.avgBlock())
	var sum float64
	var measured, live int
	for _, o := range p.peers {
		if o.gone {
			continue
		}
		live++
		if o.rate > 0 {
			sum += o.rate
			measured++
		}
	}
	if measured == 0 || live < 2 {
		return w
	}
	mean := sum / float64(measured)
	sum += mean * float64(live-measured) // unmeasured peers: the mean
	rate := sp.rate
	if rate == 0 {
		rate = mean
	}
	share := int(math.Ceil(float64(p.left) * rate / sum))
	return min(w, max(share, stripeMinWindow))
}

// stripeWant is one block asked of one or more peers.
type stripeWant struct {
	c     cid.Cid
	asked map[peer.ID]time.Time
}

// stripePlan splits wants for blocks over peers.
type stripePlan struct {
	queue    []cid.Cid // not asked of anyone
	wants    map[string]*stripeWant
	peers    map[peer.ID]*stripePeer
	order    []peer.ID // peers in the order added, for determinism
	dontHave map[string]map[peer.ID]bool
	failed   []cid.Cid // every live peer said DONT_HAVE
	left     int       // blocks not yet received or failed
	start    time.Time // the first assign
	bytes    int64
	blocks   int
}

func newStripePlan(keys []cid.Cid) *stripePlan {
	p := &stripePlan{
		queue:    slices.Clone(keys),
		wants:    make(map[string]*stripeWant, len(keys)),
		peers:    map[peer.ID]*stripePeer{},
		dontHave: map[string]map[peer.ID]bool{},
	}
	for _, c := range keys {
		if _, dup := p.wants[string(c.Hash())]; dup {
			continue
		}
		p.wants[string(c.Hash())] = &stripeWant{c: c, asked: map[peer.ID]time.Time{}}
		p.left++
	}
	return p
}

// addPeer adds a peer known to hold the blocks (it answered HAVE), with
// its round-trip time (0: unknown).
func (p *stripePlan) addPeer(id peer.ID, rtt time.Duration, now time.Time) {
	if sp, ok := p.peers[id]; ok {
		sp.gone = false
		if rtt > 0 {
			sp.rtt = rtt
		}
		return
	}
	p.peers[id] = &stripePeer{id: id, last: now, rtt: rtt}
	p.order = append(p.order, id)
}

// live reports how many peers are still usable.
func (p *stripePlan) live() int {
	n := 0
	for _, sp := range p.peers {
		if !sp.gone {
			n++
		}
	}
	return n
}

func (p *stripePlan) avgBlock() float64 {
	if p.blocks == 0 {
		return 0
	}
	return float64(p.bytes) / float64(p.blocks)
}

// assign hands queued wants to peers with free window slots, fastest
// peers first, and in the endgame re-asks slow wants of idle peers. It
// returns the new want-blocks per peer.
func (p *stripePlan) assign(now time.Time) map[peer.ID][]cid.Cid {
	out := map[peer.ID][]cid.Cid{}
	if p.start.IsZero() {
		p.start = now
	}
	peers := p.byRate()
	cutoff := nearCutoff(peers)
	nearRate := 0.0
	for _, sp := range peers {
		if !sp.far(cutoff) {
			nearRate += sp.rate
		}
	}
	for _, sp := range peers {
		free := p.limit(sp) - sp.inflight
		room := -1 // any queued block
		if sp.far(cutoff) {
			room = p.farRoom(sp, nearRate, now)
		}
		for i := 0; free > 0 && i < len(p.queue); {
			c := p.queue[i]
			if p.dontHave[string(c.Hash())][sp.id] {
				i++
				continue
			}
			if room == 0 && p.nearMayHave(peers, cutoff, c) {
				i++
				continue
			}
			p.queue = slices.Delete(p.queue, i, i+1)
			p.ask(sp, c, now)
			out[sp.id] = append(out[sp.id], c)
			free--
			if room > 0 {
				room--
			}
		}
	}
	if len(p.queue) == 0 {
		p.endgame(now, peers, out)
	}
	return out
}

// endgame asks another peer for wants that wait on a slow one: all of a
// peer's wants once it has delivered nothing for stripeSlow times its
// usual block time (it stalled), and, to finish the tail sooner, the
// oldest wants of a busy peer when an idle one would be done first.
func (p *stripePlan) endgame(now time.Time, peers []*stripePeer, out map[peer.ID][]cid.Cid) {
	avg := p.avgBlock()
	wants := p.sortedWants()
	slices.SortStableFunc(wants, func(a, b *stripeWant) int { return a.since().Compare(b.since()) })
	for _, w := range wants {
		if len(w.asked) != 1 {
			continue // already duplicated, or queued
		}
		var holder *stripePeer
		for id := range w.asked {
			holder = p.peers[id]
		}
		stalled := now.Sub(holder.last) > max(stripeSlow*holder.perBlock, stripeSlowMin)
		for _, sp := range peers {
			if sp == holder || sp.inflight >= sp.window(avg) || p.dontHave[string(w.c.Hash())][sp.id] {
				continue
			}
			idleFaster := sp.inflight == 0 && sp.perBlock > 0 &&
				time.Duration(holder.inflight)*holder.perBlock > 2*sp.perBlock
			if !stalled && !idleFaster {
				continue
			}
			p.ask(sp, w.c, now)
			out[sp.id] = append(out[sp.id], w.c)
			break
		}
	}
}

// since is when the want was first asked.
func (w *stripeWant) since() time.Time {
	var t time.Time
	for _, at := range w.asked {
		if t.IsZero() || at.Before(t) {
			t = at
		}
	}
	return t
}

func (p *stripePlan) ask(sp *stripePeer, c cid.Cid, now time.Time) {
	if sp.inflight == 0 {
		sp.last = now // an idle peer's clock starts with its first want
	}
	sp.inflight++
	p.wants[string(c.Hash())].asked[sp.id] = now
}

// received records a block of size bytes from id. It returns the other
// peers that were asked for it (to cancel there) and whether the block
// was wanted at all.
func (p *stripePlan) received(id peer.ID, c cid.Cid, size int, now time.Time) (cancel []peer.ID, wanted bool) {
	w, ok := p.wants[string(c.Hash())]
	if !ok {
		return nil, false
	}
	delete(p.wants, string(c.Hash()))
	p.queue = slices.DeleteFunc(p.queue, func(q cid.Cid) bool { return q.Equals(c) })
	p.left--
	for other := range w.asked {
		if sp := p.peers[other]; sp != nil && !sp.gone {
			sp.inflight--
		}
		if other != id {
			cancel = append(cancel, other)
		}
	}
	slices.Sort(cancel)
	p.bytes += int64(size)
	p.blocks++
	if sp := p.peers[id]; sp != nil {
		sp.bytes += int64(size)
		sp.blocks++
		// Blocks of one message arrive at one instant: they are summed
		// into the next sample rather than read as infinitely fast.
		sp.accBytes += int64(size)
		sp.accBlocks++
		if dt := now.Sub(sp.last); dt > 0 {
			sample := float64(sp.accBytes) / dt.Seconds()
			per := dt / time.Duration(sp.accBlocks)
			if sp.rate == 0 {
				sp.rate, sp.perBlock = sample, per
			} else {
				sp.rate = (1-stripeRateAlpha)*sp.rate + stripeRateAlpha*sample
				sp.perBlock = time.Duration((1-stripeRateAlpha)*float64(sp.perBlock) + stripeRateAlpha*float64(per))
			}
			sp.accBytes, sp.accBlocks = 0, 0
			sp.last = now
		}
	}
	return cancel, true
}

// noBlock records a DONT_HAVE from id. When no live peer is left that
// might have the block, it moves to failed.
func (p *stripePlan) noBlock(id peer.ID, c cid.Cid) {
	key := string(c.Hash())
	w, ok := p.wants[key]
	if !ok {
		return
	}
	if p.dontHave[key] == nil {
		p.dontHave[key] = map[peer.ID]bool{}
	}
	p.dontHave[key][id] = true
	if _, asked := w.asked[id]; asked {
		delete(w.asked, id)
		if sp := p.peers[id]; sp != nil && !sp.gone {
			sp.inflight--
		}
	}
	p.requeueIfOrphan(w)
}

// peerGone takes a disconnected peer out and requeues its wants.
func (p *stripePlan) peerGone(id peer.ID) {
	sp, ok := p.peers[id]
	if !ok || sp.gone {
		return
	}
	sp.gone, sp.inflight = true, 0
	for _, w := range p.sortedWants() {
		if _, asked := w.asked[id]; asked {
			delete(w.asked, id)
			p.requeueIfOrphan(w)
		}
	}
}

// requeueIfOrphan puts a want nobody is asked for back in the queue, or
// into failed when every live peer said it lacks the block.
func (p *stripePlan) requeueIfOrphan(w *stripeWant) {
	if len(w.asked) > 0 || slices.ContainsFunc(p.queue, w.c.Equals) {
		return
	}
	for _, sp := range p.peers {
		if !sp.gone && !p.dontHave[string(w.c.Hash())][sp.id] {
			p.queue = append([]cid.Cid{w.c}, p.queue...)
			return
		}
	}
	delete(p.wants, string(w.c.Hash()))
	p.left--
	p.failed = append(p.failed, w.c)
}

// remaining returns the wants not yet received, failed ones included.
func (p *stripePlan) remaining() []cid.Cid {
	out := slices.Clone(p.failed)
	for _, w := range p.sortedWants() {
		out = append(out, w.c)
	}
	return out
}

// nearCutoff is the RTT beyond which one of peers is far: twice the
// nearest known RTT plus stripeNearSlack; 0 (none is far) when no RTT is
// known.
func nearCutoff(peers []*stripePeer) time.Duration {
	var nearest time.Duration
	for _, sp := range peers {
		if sp.rtt > 0 && (nearest == 0 || sp.rtt < nearest) {
			nearest = sp.rtt
		}
	}
	if nearest == 0 {
		return 0
	}
	return stripeNearFactor*nearest + stripeNearSlack
}

// far reports whether sp's RTT is beyond cutoff (see nearCutoff).
func (sp *stripePeer) far(cutoff time.Duration) bool { return cutoff > 0 && sp.rtt > cutoff }

// farRoom is how many of the queued blocks a near peer may have that far
// peer sp may take now: those the near peers (together nearRate bytes/s)
// would not deliver before a block asked of sp could arrive. Until a near
// peer has delivered, none, for at most sp's own round trip since the plan
// began; after that, with the near peers silent, all.
func (p *stripePlan) farRoom(sp *stripePeer, nearRate float64, now time.Time) int {
	if nearRate == 0 {
		if now.Sub(p.start) < sp.rtt {
			return 0
		}
		return len(p.queue)
	}
	avg := p.avgBlock()
	if avg <= 0 {
		return len(p.queue) // no block yet: no rate to go by
	}
	keep := nearRate * sp.rtt.Seconds() / avg
	if keep >= float64(len(p.queue)) {
		return 0
	}
	return len(p.queue) - int(keep)
}

// nearMayHave reports whether a near live peer has not said DONT_HAVE
// for c. Most blocks have no DONT_HAVE at all.
func (p *stripePlan) nearMayHave(peers []*stripePeer, cutoff time.Duration, c cid.Cid) bool {
	lacks := p.dontHave[string(c.Hash())]
	for _, sp := range peers {
		if !sp.far(cutoff) && !lacks[sp.id] {
			return true
		}
	}
	return false
}

// byRate returns the live peers, fastest first; unmeasured ones come first
// of all, so each gets tried, nearest first (unknown RTTs last).
func (p *stripePlan) byRate() []*stripePeer {
	var out []*stripePeer
	for _, id := range p.order {
		if sp := p.peers[id]; !sp.gone {
			out = append(out, sp)
		}
	}
	slices.SortStableFunc(out, func(a, b *stripePeer) int {
		ra, rb := a.rate, b.rate
		switch {
		case ra == 0 && rb != 0:
			return -1
		case rb == 0 && ra != 0:
			return 1
		case ra == 0 && rb == 0:
			return cmpRTT(a.rtt, b.rtt)
		case ra > rb:
			return -1
		case ra < rb:
			return 1
		}
		return 0
	})
	return out
}

func (p *stripePlan) sortedWants() []*stripeWant {
	out := make([]*stripeWant, 0, len(p.wants))
	for _, w := range p.wants {
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b *stripeWant) int { return slices.Compare(a.c.Bytes(), b.c.Bytes()) })
	return out
}

// cmpRTT orders round-trip times, unknown (0) last.
func cmpRTT(a, b time.Duration) int {
	key := func(d time.Duration) time.Duration {
		if d == 0 {
			return math.MaxInt64
		}
		return d
	}
	return cmp.Compare(key(a), key(b))
}
