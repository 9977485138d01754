package scheduler

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/tasklet"
)

// prefetchingSwarm is a fakeSwarm whose workers fetch what an offer asks
// them to prefetch and say so with the receipt, as tasklet.Service does.
type prefetchingSwarm struct {
	*fakeSwarm
	mu   sync.Mutex
	seen []offerSeen
}

type offerSeen struct {
	round, index int
	peer         string
	prefetch     []string
}

func (s *prefetchingSwarm) OfferWith(ctx context.Context, peer string, spec tasklet.Spec, req OfferRequest) (receipt.Receipt, []string, error) {
	s.mu.Lock()
	s.seen = append(s.seen, offerSeen{round: int(spec.Round), index: int(spec.Index), peer: peer, prefetch: req.Prefetch})
	s.mu.Unlock()
	r, err := s.fakeSwarm.Offer(ctx, peer, spec, nil)
	if err != nil {
		return r, nil, err
	}
	return r, req.Prefetch, nil
}

// runPrefetchJob runs a job of 2 tasklets a round over shards training
// shards on four workers whose links are slow (a shard costs a tenth of a
// second), and returns it with the offers the workers saw. verifyRate is
// the share of tasklets spot-checked.
func runPrefetchJob(t *testing.T, shards, rounds int, verifyRate string) (*Job, *prefetchingSwarm) {
	t.Helper()
	store, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	grid, fs := newFakeGrid(), newFakeSwarm()
	for _, id := range []string{"w1", "w2", "w3", "w4"} {
		fs.add(id, 1, healthy)
	}
	for i := range fs.peers {
		fs.peers[i].BandwidthBps = 1000
	}
	s := &prefetchingSwarm{fakeSwarm: fs}
	c := New(store, grid, s, Options{RetryEvery: 20 * time.Millisecond, Backoff: time.Millisecond})
	t.Cleanup(c.Close)
	h := &harness{grid: grid, swarm: fs, store: store, c: c}
	root := grid.addDatasetShards(t, shards)
	spec := strings.Replace(tinySpec(root, rounds, 2), "rate: 0,", "rate: "+verifyRate+",", 1)
	j, err := c.Submit(context.Background(), []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	got := h.wait(t, j.ID)
	if got.Status != StatusDone {
		t.Fatalf("status %s (%s), want done", got.Status, got.Error)
	}
	return got, s
}

// TestNextShardIsPrefetched: each tasklet's offer asks its worker to
// prefetch the shard that the same tasklet trains on next round (none in
// the last round), and the next round places that tasklet on the worker
// that said it holds the shard. The DHT here lists no holders, and the
// workers' links are slow, so only the prefetch makes a worker a holder.
func TestNextShardIsPrefetched(t *testing.T) {
	const rounds = 3
	got, s := runPrefetchJob(t, 6, rounds, "0")
	ran := map[[2]int]string{} // (round, tasklet) → the peer whose output counted
	for _, rd := range got.Rounds {
		for _, tk := range rd.Tasklets {
			ran[[2]int{rd.Index, tk.Index}] = tk.Peer
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) != rounds*2 {
		t.Fatalf("%d offers, want %d (one per tasklet): %+v", len(s.seen), rounds*2, s.seen)
	}
	for _, o := range s.seen {
		var want []string
		if o.round+1 < rounds {
			want = []string{got.Rounds[o.round+1].Tasklets[o.index].Shard}
		}
		if !slices.Equal(o.prefetch, want) {
			t.Errorf("round %d tasklet %d: offer asks to prefetch %q, want %q", o.round, o.index, o.prefetch, want)
		}
		if o.round > 0 {
			if holder := ran[[2]int{o.round - 1, o.index}]; o.peer != holder {
				t.Errorf("round %d tasklet %d placed on %s, want %s, which prefetched its shard", o.round, o.index, o.peer, holder)
			}
		}
	}
}

// TestHeldShardsAreNotPrefetchedAgain: with fewer shards than the job's
// tasklets, a shard comes back every few rounds; the worker that trained
// on it or fetched it keeps it, so the offers ask only for next shards no
// worker holds, and every later round still places each tasklet on a
// worker that holds its shard. 3 shards, 2 tasklets, 4 rounds: the old
// rule (each tasklet's worker fetches that tasklet's next shard) asked 6
// times; this plan asks twice.
func TestHeldShardsAreNotPrefetchedAgain(t *testing.T) {
	const rounds = 4
	got, s := runPrefetchJob(t, 3, rounds, "0")
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) != rounds*2 {
		t.Fatalf("%d offers, want %d (one per tasklet): %+v", len(s.seen), rounds*2, s.seen)
	}
	held := map[string]map[string]bool{} // peer → shards it trained on or fetched
	hold := func(peer, shard string) {
		if held[peer] == nil {
			held[peer] = map[string]bool{}
		}
		held[peer][shard] = true
	}
	asks := 0
	for r := range rounds {
		for _, o := range s.seen {
			if o.round != r {
				continue
			}
			shard := got.Rounds[r].Tasklets[o.index].Shard
			if r > 0 && !held[o.peer][shard] {
				t.Errorf("round %d tasklet %d (shard %s) placed on %s, which holds %v", r, o.index, shard, o.peer, held[o.peer])
			}
			for _, p := range o.prefetch {
				if held[o.peer][p] || p == shard {
					t.Errorf("round %d tasklet %d: %s asked to prefetch %s, which it holds", r, o.index, o.peer, p)
				}
				asks++
			}
		}
		// What this round's workers hold once it is over.
		for _, o := range s.seen {
			if o.round == r {
				hold(o.peer, got.Rounds[r].Tasklets[o.index].Shard)
				for _, p := range o.prefetch {
					hold(o.peer, p)
				}
			}
		}
	}
	if asks != 2 {
		t.Errorf("%d prefetches asked, want 2: %+v", asks, s.seen)
	}
}

// TestReplicasDoNotPrefetch: with every tasklet spot-checked, a replica
// is offered in the same batch as its tasklet's first attempt; only the
// first attempt asks for the next shard, so no next shard is fetched by
// two workers.
func TestReplicasDoNotPrefetch(t *testing.T) {
	const rounds = 3
	got, s := runPrefetchJob(t, 6, rounds, "1")
	replicas := 0
	for _, rd := range got.Rounds {
		for _, tk := range rd.Tasklets {
			for k, a := range tk.Attempts {
				if k == 0 {
					continue
				}
				replicas++
				if a.Prefetch != "" {
					t.Errorf("round %d tasklet %d attempt %d (on %s) was asked to prefetch %s; only a first attempt asks", rd.Index, tk.Index, k, a.Peer, a.Prefetch)
				}
			}
		}
	}
	if replicas == 0 {
		t.Fatalf("no tasklet was replicated at verify rate 1: %+v", got.Rounds)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type roundShard struct {
		round int
		shard string
	}
	asked := map[roundShard]bool{} // asked of some worker
	for _, o := range s.seen {
		for _, p := range o.prefetch {
			k := roundShard{o.round, p}
			if asked[k] {
				t.Errorf("round %d: %s asked to prefetch %s, which another worker was asked for", o.round, o.peer, p)
			}
			asked[k] = true
		}
	}
	if len(asked) != 2*(rounds-1) {
		t.Errorf("%d next shards asked for, want %d (each tasklet's, all rounds but the last): %+v", len(asked), 2*(rounds-1), s.seen)
	}
}

// slowReleaseSwarm is a fakeSwarm whose workers answer a release only
// when the test lets them, and which notes when round 1 is offered.
type slowReleaseSwarm struct {
	*fakeSwarm
	gate   chan struct{}
	once   sync.Once
	round1 chan struct{}
}

func (s *slowReleaseSwarm) Offer(ctx context.Context, peer string, spec tasklet.Spec, p func(int, int)) (receipt.Receipt, error) {
	if spec.Round == 1 {
		s.once.Do(func() { close(s.round1) })
	}
	return s.fakeSwarm.Offer(ctx, peer, spec, p)
}

// Release waits for the gate even past its context's deadline, as a
// worker that answers late would, so that nothing but the gate lets a
// coordinator that waits for it go on.
func (s *slowReleaseSwarm) Release(ctx context.Context, peer string, outputs []string) error {
	<-s.gate
	return s.fakeSwarm.Release(ctx, peer, outputs)
}

// TestNextRoundDoesNotWaitForReleases: telling the workers they may unpin
// a round's outputs happens beside the next round, not before it; the
// job still ends only after every release was answered.
func TestNextRoundDoesNotWaitForReleases(t *testing.T) {
	store, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	grid, fs := newFakeGrid(), newFakeSwarm()
	fs.add("w1", 1, healthy)
	s := &slowReleaseSwarm{fakeSwarm: fs, gate: make(chan struct{}), round1: make(chan struct{})}
	c := New(store, grid, s, Options{RetryEvery: 20 * time.Millisecond, Backoff: time.Millisecond})
	t.Cleanup(c.Close)
	h := &harness{grid: grid, swarm: fs, store: store, c: c}
	j, err := c.Submit(context.Background(), []byte(tinySpec(grid.addDataset(t), 2, 1)))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.round1:
	case <-time.After(15 * time.Second): // a hang guard, not a timing assertion
		close(s.gate)
		t.Fatal("round 1 was not offered while round 0's release waited for its worker")
	}
	close(s.gate)
	got := h.wait(t, j.ID)
	if got.Status != StatusDone {
		t.Fatalf("status %s (%s), want done", got.Status, got.Error)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, rd := range got.Rounds {
		if out := rd.Tasklets[0].Output; !slices.Contains(fs.released["w1"], out) {
			t.Errorf("round %d's output %s was not released by the job's end (released %q)", rd.Index, out, fs.released["w1"])
		}
	}
}

func TestNetOfRoundTrips(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		taken, rtt, want time.Duration
	}{
		{300 * ms, 0, 300 * ms},        // no RTT known: the whole time
		{300 * ms, 100 * ms, 100 * ms}, // a far peer: two round trips were waiting
		{300 * ms, 140 * ms, 75 * ms},  // an RTT read high: a quarter at least
		{40 * ms, 5 * ms, 30 * ms},     // a near peer: almost all of it is the link
		{0, 10 * ms, 0},                // nothing to measure stays nothing
	}
	for _, tt := range tests {
		if got := netOfRoundTrips(tt.taken, tt.rtt); got != tt.want {
			t.Errorf("netOfRoundTrips(%s, %s) = %s, want %s", tt.taken, tt.rtt, got, tt.want)
		}
	}
}
