package datagrid

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"pgregory.net/rapid"
)

func testKeys(t testing.TB, n int) []cid.Cid {
	t.Helper()
	out := make([]cid.Cid, n)
	for i := range out {
		h, err := mh.Sum(fmt.Appendf(nil, "block %d", i), mh.SHA2_256, -1)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = cid.NewCidV1(cid.Raw, h)
	}
	return out
}

// simPeer serves the wants it is sent one at a time, each taking per
// (its link's time for one block) after a round trip when it was idle; a
// dead peer never answers.
type simPeer struct {
	id       peer.ID
	per      time.Duration
	rtt      time.Duration // also told to the plan; 0: unknown
	lacks    bool          // answers DONT_HAVE to everything
	dead     bool
	queue    []cid.Cid
	next     time.Time // when the head of queue is delivered
	served   int
	dieAfter int // stops answering after this many blocks (0: never)
}

// simulate runs plan against peers with a fake clock until every block
// arrived or nothing more can happen; it returns the simulated time.
func simulate(t *testing.T, plan *stripePlan, peers []*simPeer) time.Duration {
	t.Helper()
	start := time.Unix(0, 0)
	now := start
	byID := map[peer.ID]*simPeer{}
	for _, sp := range peers {
		byID[sp.id] = sp
		plan.addPeer(sp.id, sp.rtt, now)
	}
	for step := 0; plan.left > 0; step++ {
		if step > 100000 {
			t.Fatal("simulation did not finish")
		}
		for id, cs := range plan.assign(now) {
			sp := byID[id]
			if sp.lacks {
				for _, c := range cs {
					plan.noBlock(id, c)
				}
				continue
			}
			if len(sp.queue) == 0 {
				sp.next = now.Add(sp.rtt + sp.per)
			}
			sp.queue = append(sp.queue, cs...)
		}
		// The next event: a delivery, or a tick for the endgame.
		var first *simPeer
		for _, sp := range peers {
			if !sp.dead && len(sp.queue) > 0 && (first == nil || sp.next.Before(first.next)) {
				first = sp
			}
		}
		tick := now.Add(stripeTick)
		if first == nil || tick.Before(first.next) {
			if first == nil && plan.live() == 0 {
				break
			}
			now = tick
			continue
		}
		now = first.next
		c := first.queue[0]
		first.queue = first.queue[1:]
		first.served++
		cancel, _ := plan.received(first.id, c, 256<<10, now)
		for _, id := range cancel {
			o := byID[id]
			o.queue = slices.DeleteFunc(o.queue, c.Equals)
		}
		if len(first.queue) > 0 {
			first.next = now.Add(first.per)
		}
		if first.dieAfter > 0 && first.served == first.dieAfter {
			first.dead = true
			plan.peerGone(first.id)
		}
	}
	return now.Sub(start)
}

func TestStripeSharesFollowThroughput(t *testing.T) {
	keys := testKeys(t, 700)
	plan := newStripePlan(keys)
	peers := []*simPeer{
		{id: "fast", per: 10 * time.Millisecond},
		{id: "mid", per: 20 * time.Millisecond},
		{id: "slow", per: 40 * time.Millisecond},
	}
	took := simulate(t, plan, peers)
	if plan.left != 0 || len(plan.failed) != 0 {
		t.Fatalf("left %d, failed %d; want all received", plan.left, len(plan.failed))
	}
	// Ideal: 7 blocks per 40 ms across the three, so 700 blocks in 4 s.
	if took > 4400*time.Millisecond {
		t.Errorf("took %v of simulated time, want about 4 s (the three links' sum)", took)
	}
	want := map[peer.ID]float64{"fast": 4.0 / 7, "mid": 2.0 / 7, "slow": 1.0 / 7}
	for id, share := range want {
		got := float64(plan.peers[id].blocks) / float64(len(keys))
		if got < share-0.05 || got > share+0.05 {
			t.Errorf("%s delivered %.2f of the blocks, want about %.2f", id, got, share)
		}
	}
}

// TestStripeSmallFetchStaysNear: a DAG of a few blocks (more than the near
// holders' first windows) comes from the near holders only; one across an
// ocean would add its round trip to the fetch.
func TestStripeSmallFetchStaysNear(t *testing.T) {
	plan := newStripePlan(testKeys(t, 24))
	peers := []*simPeer{
		{id: "tokyo", per: time.Millisecond, rtt: 96 * time.Millisecond},
		{id: "frankfurt", per: time.Millisecond, rtt: 143 * time.Millisecond},
		{id: "oregon-a", per: time.Millisecond, rtt: 5 * time.Millisecond},
		{id: "oregon-b", per: time.Millisecond, rtt: 6 * time.Millisecond},
	}
	took := simulate(t, plan, peers)
	if plan.left != 0 {
		t.Fatalf("%d blocks never arrived", plan.left)
	}
	for _, far := range []peer.ID{"tokyo", "frankfurt"} {
		if n := plan.peers[far].blocks; n != 0 {
			t.Errorf("%s (far) delivered %d of 24 blocks, want 0: the near peers deliver them all sooner", far, n)
		}
	}
	if took > 50*time.Millisecond {
		t.Errorf("took %v of simulated time, want under 50 ms (near round trips only)", took)
	}
}

// TestStripeLargeFetchDrawsOnFarPeers: once the near holders' windows are
// full, a far holder's bandwidth is used too.
func TestStripeLargeFetchDrawsOnFarPeers(t *testing.T) {
	plan := newStripePlan(testKeys(t, 2000))
	peers := []*simPeer{
		{id: "near", per: 2 * time.Millisecond, rtt: 5 * time.Millisecond},
		{id: "far", per: 2 * time.Millisecond, rtt: 140 * time.Millisecond},
	}
	took := simulate(t, plan, peers)
	if plan.left != 0 {
		t.Fatalf("%d blocks never arrived", plan.left)
	}
	if n := plan.peers["far"].blocks; n < 500 {
		t.Errorf("the far peer delivered %d of 2000 blocks, want at least 500 (its link is as fast)", n)
	}
	if took > 3*time.Second {
		t.Errorf("took %v of simulated time, want well under the 4 s of the near peer alone", took)
	}
}

// TestStripeFarPeerGetsWhatNearOnesLack: blocks every near holder lacks go
// to a far one at once.
func TestStripeFarPeerGetsWhatNearOnesLack(t *testing.T) {
	plan := newStripePlan(testKeys(t, 40))
	simulate(t, plan, []*simPeer{
		{id: "near-empty", lacks: true, rtt: 5 * time.Millisecond},
		{id: "far-full", per: time.Millisecond, rtt: 140 * time.Millisecond},
	})
	if plan.left != 0 || plan.peers["far-full"].blocks != 40 {
		t.Fatalf("left %d, the far holder delivered %d; want all 40 from it", plan.left, plan.peers["far-full"].blocks)
	}
}

func TestStripeOneProviderIsTheBaseline(t *testing.T) {
	keys := testKeys(t, 100)
	took := simulate(t, newStripePlan(keys), []*simPeer{{id: "only", per: 10 * time.Millisecond}})
	if took != time.Second {
		t.Errorf("one peer at 10 ms a block took %v for 100 blocks, want 1s", took)
	}
}

func TestStripeSurvivesPeerLoss(t *testing.T) {
	keys := testKeys(t, 300)
	plan := newStripePlan(keys)
	peers := []*simPeer{
		{id: "a", per: 10 * time.Millisecond, dieAfter: 20},
		{id: "b", per: 10 * time.Millisecond},
		{id: "c", per: 10 * time.Millisecond},
	}
	simulate(t, plan, peers)
	if plan.left != 0 || len(plan.failed) != 0 {
		t.Fatalf("left %d, failed %d after a peer vanished; want all from the others", plan.left, len(plan.failed))
	}
	if got := plan.peers["a"].blocks; got != 20 {
		t.Errorf("the vanished peer delivered %d blocks, want 20", got)
	}
}

func TestStripeEndgameRescuesStuckWants(t *testing.T) {
	keys := testKeys(t, 60)
	plan := newStripePlan(keys)
	// "stuck" takes the first window and then never answers again,
	// without disconnecting: only the endgame can get its wants.
	peers := []*simPeer{
		{id: "stuck", per: time.Hour},
		{id: "ok", per: 10 * time.Millisecond},
	}
	took := simulate(t, plan, peers)
	if plan.left != 0 {
		t.Fatalf("%d blocks never arrived; the endgame should ask the other peer", plan.left)
	}
	if took > 2*time.Second {
		t.Errorf("took %v of simulated time, want under 2 s", took)
	}
}

func TestStripeDontHaveGoesElsewhereOrFails(t *testing.T) {
	keys := testKeys(t, 40)
	plan := newStripePlan(keys)
	simulate(t, plan, []*simPeer{{id: "empty", lacks: true}, {id: "full", per: time.Millisecond}})
	if plan.left != 0 || plan.peers["full"].blocks != 40 {
		t.Fatalf("left %d, full delivered %d; want all 40 from the peer that has them", plan.left, plan.peers["full"].blocks)
	}

	plan = newStripePlan(keys)
	simulate(t, plan, []*simPeer{{id: "x", lacks: true}, {id: "y", lacks: true}})
	if len(plan.failed) != 40 || len(plan.remaining()) != 40 {
		t.Fatalf("failed %d, remaining %d; want all 40 handed back when no peer has them", len(plan.failed), len(plan.remaining()))
	}
}

// TestStripePlanInvariants drives the plan with random events and checks
// its books: a live peer's in-flight count is the wants it was asked,
// assign overruns no window, no peer is asked for a block it said it lacks, and
// every key is received, failed or still wanted, exactly once.
func TestStripePlanInvariants(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 80).Draw(rt, "blocks")
		keys := testKeys(t, n)
		plan := newStripePlan(keys)
		now := time.Unix(0, 0)
		ids := []peer.ID{"p0", "p1", "p2", "p3"}
		received := map[string]bool{}
		rtts := []time.Duration{0, 5 * time.Millisecond, 50 * time.Millisecond, 150 * time.Millisecond}
		for i := range rapid.IntRange(1, 4).Draw(rt, "peers") {
			plan.addPeer(ids[i], rtts[rapid.IntRange(0, 3).Draw(rt, "rtt")], now)
		}
		for range rapid.IntRange(0, 300).Draw(rt, "steps") {
			now = now.Add(time.Duration(rapid.IntRange(0, 500).Draw(rt, "dt")) * time.Millisecond)
			switch rapid.IntRange(0, 5).Draw(rt, "op") {
			case 0, 1:
				for id, cs := range plan.assign(now) {
					// A window may shrink below what is in flight when
					// the rate drops, but assign never fills past it.
					if sp := plan.peers[id]; sp.inflight > sp.window(plan.avgBlock()) {
						rt.Fatalf("assign left %s with %d in flight, over its window %d", id, sp.inflight, sp.window(plan.avgBlock()))
					}
					for _, c := range cs {
						if plan.dontHave[string(c.Hash())][id] {
							rt.Fatalf("asked %s for %s after its DONT_HAVE", id, c)
						}
					}
				}
			case 2, 3:
				if w := pickWant(rt, plan); w != nil {
					id := pickAsked(rt, w)
					plan.received(id, w.c, rapid.IntRange(1, 1<<18).Draw(rt, "size"), now)
					received[string(w.c.Hash())] = true
				}
			case 4:
				if w := pickWant(rt, plan); w != nil {
					plan.noBlock(pickAsked(rt, w), w.c)
				}
			case 5:
				plan.peerGone(ids[rapid.IntRange(0, 3).Draw(rt, "gone")])
			}
			checkPlan(rt, plan, keys, received)
		}
	})
}

func pickWant(rt *rapid.T, p *stripePlan) *stripeWant {
	var asked []*stripeWant
	for _, w := range p.sortedWants() {
		if len(w.asked) > 0 {
			asked = append(asked, w)
		}
	}
	if len(asked) == 0 {
		return nil
	}
	return asked[rapid.IntRange(0, len(asked)-1).Draw(rt, "want")]
}

func pickAsked(rt *rapid.T, w *stripeWant) peer.ID {
	var ids []peer.ID
	for id := range w.asked {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids[rapid.IntRange(0, len(ids)-1).Draw(rt, "from")]
}

func checkPlan(rt *rapid.T, p *stripePlan, keys []cid.Cid, received map[string]bool) {
	inflight := map[peer.ID]int{}
	for _, w := range p.wants {
		for id := range w.asked {
			inflight[id]++
		}
	}
	for id, sp := range p.peers {
		if sp.gone {
			if inflight[id] != 0 {
				rt.Fatalf("gone peer %s still holds %d wants", id, inflight[id])
			}
			continue
		}
		if sp.inflight != inflight[id] {
			rt.Fatalf("peer %s counts %d in flight, the wants say %d", id, sp.inflight, inflight[id])
		}
	}
	failed := map[string]bool{}
	for _, c := range p.failed {
		failed[string(c.Hash())] = true
	}
	left := 0
	for _, c := range keys {
		k := string(c.Hash())
		_, wanted := p.wants[k]
		states := 0
		for _, b := range []bool{received[k], failed[k], wanted} {
			if b {
				states++
			}
		}
		if states != 1 {
			rt.Fatalf("block %s is received=%v failed=%v wanted=%v; want exactly one", c, received[k], failed[k], wanted)
		}
		if wanted {
			left++
		}
	}
	if left != p.left {
		rt.Fatalf("plan.left = %d, %d blocks are wanted", p.left, left)
	}
}
