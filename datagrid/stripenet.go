package datagrid

import (
	"context"
	"maps"
	"sync"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	pb "github.com/ipfs/boxo/bitswap/message/pb"
	bsnetwork "github.com/ipfs/boxo/bitswap/network"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

const (
	// probeWait bounds how long a fetch waits for peers to say whether
	// they hold a block (one round trip on any sane link).
	probeWait = time.Second
	// probeGraceMin is the least a probe waits for more answers once a
	// holder answered (probeGrace).
	probeGraceMin = 20 * time.Millisecond
	// stripeStall ends striping when no block arrived for this long; what
	// is left goes to a bitswap session (fetch.go), which also searches.
	stripeStall = 5 * time.Second
	// stripeTick is how often the endgame looks for slow wants.
	stripeTick = 100 * time.Millisecond
	// wantPriority is the priority of our want-blocks; all equal.
	wantPriority = 1
)

// tapNet is boxo's bitswap network with a tap added to its receivers, so
// the striped fetch sees blocks, HAVEs and DONT_HAVEs (and disconnects)
// addressed to this node. It changes nothing on the wire.
type tapNet struct {
	bsnetwork.BitSwapNetwork
	tap *bitswapTap
}

func (n tapNet) Start(r ...bsnetwork.Receiver) { n.BitSwapNetwork.Start(append(r, n.tap)...) }

// tapEvent is one message (or a disconnect) from a peer.
type tapEvent struct {
	from      peer.ID
	blocks    []blocks.Block
	haves     []cid.Cid
	dontHaves []cid.Cid
	gone      bool
}

// bitswapTap fans incoming bitswap messages out to running fetches and
// counts the block bytes each peer sent (for operators and tests: who
// really served a fetch).
type bitswapTap struct {
	mu   sync.Mutex
	subs map[*tapSub]struct{}
	recv map[peer.ID]uint64
}

type tapSub struct {
	ch   chan tapEvent
	done chan struct{}
}

func newBitswapTap() *bitswapTap {
	return &bitswapTap{subs: map[*tapSub]struct{}{}, recv: map[peer.ID]uint64{}}
}

// subscribe returns a subscription; the caller must call unsubscribe.
func (t *bitswapTap) subscribe() *tapSub {
	s := &tapSub{ch: make(chan tapEvent, 64), done: make(chan struct{})}
	t.mu.Lock()
	t.subs[s] = struct{}{}
	t.mu.Unlock()
	return s
}

func (t *bitswapTap) unsubscribe(s *tapSub) {
	t.mu.Lock()
	delete(t.subs, s)
	t.mu.Unlock()
	close(s.done)
}

// received returns the block bytes received from each peer since Open.
func (t *bitswapTap) received() map[peer.ID]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.recv)
}

func (t *bitswapTap) publish(ctx context.Context, ev tapEvent) {
	t.mu.Lock()
	subs := make([]*tapSub, 0, len(t.subs))
	for s := range t.subs {
		subs = append(subs, s)
	}
	t.mu.Unlock()
	for _, s := range subs {
		// Blocking is back-pressure on this peer's stream; a fetch that
		// ends closes done first, so nothing waits on it.
		select {
		case s.ch <- ev:
		case <-s.done:
		case <-ctx.Done():
		}
	}
}

// ReceiveMessage implements bsnetwork.Receiver.
func (t *bitswapTap) ReceiveMessage(ctx context.Context, p peer.ID, m bsmsg.BitSwapMessage) {
	ev := tapEvent{from: p, blocks: m.Blocks(), haves: m.Haves(), dontHaves: m.DontHaves()}
	if len(ev.blocks) > 0 {
		var n uint64
		for _, b := range ev.blocks {
			n += uint64(len(b.RawData()))
		}
		t.mu.Lock()
		t.recv[p] += n
		t.mu.Unlock()
	}
	if len(ev.blocks)+len(ev.haves)+len(ev.dontHaves) > 0 {
		t.publish(ctx, ev)
	}
}

// ReceiveError implements bsnetwork.Receiver; boxo logs errors itself.
func (t *bitswapTap) ReceiveError(error) {}

// PeerConnected implements bsnetwork.Receiver.
func (t *bitswapTap) PeerConnected(peer.ID) {}

// PeerDisconnected implements bsnetwork.Receiver.
func (t *bitswapTap) PeerDisconnected(p peer.ID) {
	t.publish(context.Background(), tapEvent{from: p, gone: true})
}

// stripe fetches keys by splitting want-blocks over the peers that hold
// them (see stripePlan) and returns what it could not get: everything
// when no peer answered HAVE, the rest when peers stalled or vanished.
// Plain bitswap 1.2 on the wire, so Kubo peers serve it too.
func (f *fetcher) stripe(ctx context.Context, keys []cid.Cid) ([]cid.Cid, error) {
	g := f.g
	if g.tap == nil || len(keys) == 0 {
		return keys, nil
	}
	sub := g.tap.subscribe()
	defer g.tap.unsubscribe(sub)
	plan := newStripePlan(keys)
	now := g.now()
	for id := range f.havers {
		plan.addPeer(id, f.rtt(id), now)
	}
	if err := f.probe(ctx, sub, plan, keys[0]); err != nil {
		return nil, err
	}
	if plan.live() == 0 {
		return plan.remaining(), nil
	}
	tick := time.NewTicker(stripeTick)
	defer tick.Stop()
	lastBlock := g.now()
	for plan.left > 0 && plan.live() > 0 {
		now := g.now()
		if now.Sub(lastBlock) > stripeStall {
			break
		}
		for id, cs := range plan.assign(now) {
			if err := f.sendWants(ctx, id, cs, pb.Message_Wantlist_Block, false); err != nil {
				g.log.Debug("striped fetch: cannot send wants", "peer", id.String(), "err", err)
				plan.peerGone(id)
				delete(f.havers, id)
			}
		}
		select {
		case ev := <-sub.ch:
			// Take whatever else has arrived too: one flatfs batch (one
			// sync) for all of it instead of one per message.
			got := f.apply(ctx, plan, ev, nil)
			for more := true; more && len(got) < storeBatch; {
				select {
				case ev := <-sub.ch:
					got = f.apply(ctx, plan, ev, got)
				default:
					more = false
				}
			}
			if len(got) > 0 {
				if err := f.store(ctx, got); err != nil {
					return nil, err
				}
				lastBlock = g.now()
			}
		case <-tick.C:
		case <-ctx.Done():
			return nil, f.ctxEnded(ctx)
		}
	}
	left := plan.remaining()
	if len(left) > 0 {
		// Cancel what we still want, so peers stop sending it.
		for id, sp := range plan.peers {
			if !sp.gone && sp.inflight > 0 {
				_ = f.sendWants(context.WithoutCancel(ctx), id, left, pb.Message_Wantlist_Block, true)
			}
		}
	}
	return left, nil
}

// probe asks connected bitswap peers not asked before in this fetch
// whether they hold c, and adds those that do to plan. It waits for the
// answers only until a holder is known and then as long again as that
// took (probeGrace): a fetch from a near holder must not wait for the
// farthest connected peer, while holders about as near as the first still
// join from the start. Answers after that reach the striping loop, which
// adds late holders as they say HAVE.
func (f *fetcher) probe(ctx context.Context, sub *tapSub, plan *stripePlan, c cid.Cid) error {
	g := f.g
	h := g.cfg.Host
	start := g.now()
	// A lone block with no holder known yet (a DAG's root) is asked of the
	// nearest hinted peer outright, as a bitswap session asks its first
	// peer: a hint names a holder, and waiting for its HAVE first would
	// add a round trip to every small fetch from a known holder. If a
	// nearer peer says HAVE and the grace ends first, the striping asks it
	// too, and the copy that arrives second is cancelled: at worst one
	// block twice.
	var direct peer.ID
	if plan.left == 1 && plan.live() == 0 {
		direct = f.nearestHint()
	}
	asked := map[peer.ID]bool{}
	for _, id := range h.Network().Peers() {
		if _, done := f.probed[id]; done {
			continue
		}
		if ok, _ := h.Peerstore().SupportsProtocols(id, bsnet.ProtocolBitswap); len(ok) == 0 {
			continue
		}
		f.probed[id] = struct{}{}
		kind := pb.Message_Wantlist_Have
		if id == direct {
			kind = pb.Message_Wantlist_Block
		}
		if err := f.sendWants(ctx, id, []cid.Cid{c}, kind, false); err != nil {
			continue
		}
		asked[id] = true
	}
	if len(asked) == 0 {
		return nil
	}
	nearest := f.nearestOf(asked)
	wait := probeWait
	if plan.live() > 0 {
		wait = 0 // holders known from this DAG's upper levels: start with them
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	graced, short := false, false
	for len(asked) > 0 && wait > 0 {
		select {
		case ev := <-sub.ch:
			if got := f.apply(ctx, plan, ev, nil); len(got) > 0 {
				if err := f.store(ctx, got); err != nil {
					return err
				}
			}
			if plan.left == 0 && !short && (ev.from == direct || ev.from == nearest) {
				// The block itself came (asked outright, or small enough
				// that a holder sent it for a HAVE) from the peer that
				// was to answer first: no nearer holder is still to be
				// heard of. If what it links to fits in one peer's first
				// window, more holders would get none of it: go on. Else
				// those about as near, which the levels below should
				// stripe over, answer within the least grace (returning
				// at once lost them: their answers came before the next
				// level listened).
				if f.smallRest(ctx, c) {
					return nil
				}
				short, graced = true, true
				t.Reset(probeGraceMin)
			}
			delete(asked, ev.from)
			if !graced && plan.live() > 0 {
				graced = true // from now on, wait only the grace
				t.Reset(probeGrace(g.now().Sub(start)))
			}
		case <-t.C:
			return nil
		case <-ctx.Done():
			return f.ctxEnded(ctx)
		}
	}
	return nil
}

// rtt is the peerstore's round-trip estimate for id (the daemon's swarm
// pings its peers and libp2p's ping records each RTT); 0 when there is
// none.
func (f *fetcher) rtt(id peer.ID) time.Duration {
	return f.g.cfg.Host.Peerstore().LatencyEWMA(id)
}

// smallRestBytes is the most a block may link to for a fetch to go on
// from it with the first holder alone: a fresh peer's window of blocks.
const smallRestBytes = 2 * stripeMinWindow * ChunkSize

// smallRest reports whether the stored block c links to no more than
// smallRestBytes (a raw leaf links to nothing); false when it cannot tell.
func (f *fetcher) smallRest(ctx context.Context, c cid.Cid) bool {
	links, err := f.g.localLinks(ctx, c)
	if err != nil {
		return false
	}
	var rest uint64
	for _, l := range links {
		rest += l.Size
	}
	return rest <= smallRestBytes
}

// nearestHint is the hinted peer this host is connected to over bitswap
// with the least measured RTT (one with none measured comes after those
// measured, in the hints' order); "" when there is none.
func (f *fetcher) nearestHint() peer.ID {
	h := f.g.cfg.Host
	var best peer.ID
	var bestRTT time.Duration
	for _, ai := range f.plan.hints {
		if ai.ID == h.ID() || h.Network().Connectedness(ai.ID) != network.Connected {
			continue
		}
		if ok, _ := h.Peerstore().SupportsProtocols(ai.ID, bsnet.ProtocolBitswap); len(ok) == 0 {
			continue
		}
		if rtt := f.rtt(ai.ID); best == "" || cmpRTT(rtt, bestRTT) < 0 {
			best, bestRTT = ai.ID, rtt
		}
	}
	return best
}

// nearestOf is the peer of ids with the least measured RTT, or "" when
// the RTT of one of them is not known (it may be nearer).
func (f *fetcher) nearestOf(ids map[peer.ID]bool) peer.ID {
	var best peer.ID
	var bestRTT time.Duration
	for id := range ids {
		rtt := f.rtt(id)
		if rtt <= 0 {
			return ""
		}
		if best == "" || rtt < bestRTT || (rtt == bestRTT && id < best) {
			best, bestRTT = id, rtt
		}
	}
	return best
}

// probeGrace is how much longer a probe waits for answers once a holder
// answered after elapsed: as long again, at least probeGraceMin (holders
// on one LAN, or a busy machine, answer some milliseconds apart, and a
// large DAG is fetched faster when they all start together), at most
// probeWait.
func probeGrace(elapsed time.Duration) time.Duration {
	return min(max(elapsed, probeGraceMin), probeWait)
}

// apply feeds one tap event into plan and appends the wanted blocks it
// carried to got, for the caller to store.
func (f *fetcher) apply(ctx context.Context, plan *stripePlan, ev tapEvent, got []blocks.Block) []blocks.Block {
	now := f.g.now()
	if ev.gone {
		plan.peerGone(ev.from)
		delete(f.havers, ev.from)
		delete(f.probed, ev.from) // ask again if it comes back
		return got
	}
	if len(ev.haves) > 0 || len(ev.blocks) > 0 {
		if _, known := plan.peers[ev.from]; !known {
			plan.addPeer(ev.from, f.rtt(ev.from), now)
		}
		f.havers[ev.from] = struct{}{}
	}
	for _, c := range ev.dontHaves {
		plan.noBlock(ev.from, c)
	}
	for _, b := range ev.blocks {
		cancel, wanted := plan.received(ev.from, b.Cid(), len(b.RawData()), now)
		if !wanted {
			continue
		}
		got = append(got, b)
		for _, id := range cancel {
			_ = f.sendWants(ctx, id, []cid.Cid{b.Cid()}, pb.Message_Wantlist_Block, true)
		}
	}
	return got
}

// sendWants sends one bitswap message to id: want-blocks or want-haves
// for cs (asking for DONT_HAVE), or cancels them.
func (f *fetcher) sendWants(ctx context.Context, id peer.ID, cs []cid.Cid, kind pb.Message_Wantlist_WantType, cancel bool) error {
	m := bsmsg.New(false)
	for _, c := range cs {
		if cancel {
			m.Cancel(c)
		} else {
			m.AddEntry(c, wantPriority, kind, true)
		}
	}
	sctx, stop := context.WithTimeout(ctx, connectTimeout)
	defer stop()
	return f.g.bsnet.SendMessage(sctx, id, m)
}
