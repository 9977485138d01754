package scheduler

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/verify"
)

// Tests of the coordinator's wiring to the swarm and the data grid.

func (h *harness) submit(t *testing.T, spec string) string {
	t.Helper()
	j, err := h.c.Submit(context.Background(), []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	return j.ID
}

func mustParse(t *testing.T, j *Job) *jobspec.Spec {
	t.Helper()
	s, err := jobspec.Parse(j.Spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func autoSpec(root string, rounds int) string {
	return strings.Replace(tinySpec(root, rounds, 1), "tasklets_per_round: 1", "tasklets_per_round: auto", 1)
}

// A coordinator that just started waits for the connected peers' records
// before it sizes an "auto" round: a worker whose record comes in while it
// waits counts.
func TestCoordinatorPlansAfterCapsAsked(t *testing.T) {
	h := newHarness(t, Options{})
	h.swarm.add("w1", 1, healthy)
	h.swarm.onAsk = func(s *fakeSwarm) { s.add("w2", 1, healthy) }
	got := h.wait(t, h.submit(t, autoSpec(h.grid.addDataset(t), 1)))
	if got.Status != StatusDone {
		t.Fatalf("status %s (%s), want done", got.Status, got.Error)
	}
	if n := len(got.Rounds[0].Tasklets); n != 2 {
		t.Errorf("round planned with %d tasklets, want 2: one per worker, both records asked for first", n)
	}
}

// A worker's advertised throughput is its benchmark on the reference
// model: placement sees it scaled to the job's model.
func TestSnapshotScalesTheAdvertisedBenchmark(t *testing.T) {
	h := newHarness(t, Options{BenchmarkParams: 1000})
	h.swarm.add("w", 1, healthy) // advertises 1000 samples/s
	tests := []struct {
		params int64
		want   float64
	}{
		{1000, 1000},
		{10, 100000},
		{100000, 10},
	}
	for _, tt := range tests {
		snap := h.c.snapshot(context.Background(), nil, tt.params, verify.ClassBuiltin)
		if got := snap[0].Throughput; got != tt.want {
			t.Errorf("model of %d params: throughput %v, want %v", tt.params, got, tt.want)
		}
	}
}

// The specs the workers receive carry their inputs' sizes, so a worker
// without the room declines before it accepts.
func TestCoordinatorSpecsCarryInputSizes(t *testing.T) {
	h := newHarness(t, Options{})
	var mu sync.Mutex
	var sizes [][2]uint64
	h.swarm.add("w", 1, func(ctx context.Context, spec tasklet.Spec) (receipt.Receipt, error) {
		mu.Lock()
		sizes = append(sizes, [2]uint64{spec.Inputs[0].Size, spec.Inputs[1].Size})
		mu.Unlock()
		return healthy(ctx, spec)
	})
	got := h.wait(t, h.submit(t, tinySpec(h.grid.addDataset(t), 1, 2)))
	if got.Status != StatusDone {
		t.Fatalf("status %s (%s), want done", got.Status, got.Error)
	}
	wantW := modelBytes(modelOf(mustParse(t, got)).NumParams())
	mu.Lock()
	defer mu.Unlock()
	for i, s := range sizes {
		shard := got.Rounds[0].Tasklets[i].Shard
		if s[0] != wantW || s[1] != got.Dataset.Bytes[shard] || s[1] == 0 {
			t.Errorf("offer %d: input sizes %v, want [%d %d]", i, s, wantW, got.Dataset.Bytes[shard])
		}
	}
}

// After a round the coordinator drops the outputs it fetched from its
// cache, and tells every worker that ran a tasklet, the losing copies'
// included, that it may unpin the output: the winner's (a copy computes
// the same) and whatever a cancelled copy delivered anyway.
func TestCoordinatorReleasesLosingCopiesAndDropsFetchedOutputs(t *testing.T) {
	h := newHarness(t, Options{StragglerFactor: 2})
	slow := &hanging{started: make(chan struct{}, 1), deliver: "late-output"}
	h.swarm.add("slow", 1, slow.act)
	h.swarm.add("fast1", 1, healthy)
	h.swarm.add("fast2", 1, healthy)
	got := h.wait(t, h.submit(t, tinySpec(h.grid.addDataset(t), 1, 3)))
	if got.Status != StatusDone {
		t.Fatalf("status %s (%s), want done", got.Status, got.Error)
	}
	var lost string
	for _, tk := range got.Rounds[0].Tasklets {
		for _, a := range tk.Attempts {
			if a.Peer == "slow" && a.Outcome == OutcomeSuperseded {
				lost = tk.Output
			}
		}
	}
	if lost == "" {
		t.Fatalf("no attempt of the slow worker was superseded: %+v", got.Rounds[0].Tasklets)
	}
	h.swarm.mu.Lock()
	rel := slices.Clone(h.swarm.released["slow"])
	h.swarm.mu.Unlock()
	for _, want := range []string{lost, "late-output"} {
		if !slices.Contains(rel, want) {
			t.Errorf("released to the slow worker %v, want %s among them", rel, want)
		}
	}
	h.grid.mu.Lock()
	defer h.grid.mu.Unlock()
	for _, tk := range got.Rounds[0].Tasklets {
		if !slices.ContainsFunc(h.grid.dropped, func(c cid.Cid) bool { return c.String() == tk.Output }) {
			t.Errorf("output %s of tasklet %d not dropped from the cache (dropped %v)", tk.Output, tk.Index, h.grid.dropped)
		}
	}
}

// A worker that disconnects while it runs an attempt leaves the snapshot:
// the attempt is cancelled and recorded lost at once, without waiting for
// the tasklet to time out, and the tasklet runs elsewhere. Workers that
// placement filtered out are named in the round with their reasons, and
// that is saved.
func TestCoordinatorPeerLostAndFilteredPeers(t *testing.T) {
	h := newHarness(t, Options{})
	gone := &hanging{started: make(chan struct{}, 1)}
	h.swarm.add("gone", 1, gone.act)
	h.swarm.mu.Lock()
	h.swarm.peers = append(h.swarm.peers, placement.Peer{ID: "full", Executors: []string{"builtin"}, IdleReason: "over-quota: 2 MiB quota",
		Throughput: 1000, BandwidthBps: 1e8, Version: "1.0.0", Slots: 1, DiskFree: 1 << 40})
	h.swarm.mu.Unlock()
	id := h.submit(t, tinySpec(h.grid.addDataset(t), 1, 1))
	select {
	case <-gone.started:
	case <-time.After(30 * time.Second):
		t.Fatal("no attempt started")
	}
	h.swarm.mu.Lock()
	h.swarm.peers = slices.DeleteFunc(h.swarm.peers, func(p placement.Peer) bool { return p.ID == "gone" })
	h.swarm.mu.Unlock()
	h.swarm.add("other", 1, healthy)
	got := h.wait(t, id)
	if got.Status != StatusDone {
		t.Fatalf("status %s (%s), want done", got.Status, got.Error)
	}
	as := got.Rounds[0].Tasklets[0].Attempts
	if len(as) != 2 || as[0].Peer != "gone" || as[0].Outcome != OutcomeLost || !strings.HasPrefix(as[0].Why, ReasonPeerLost) || as[1].Outcome != OutcomeDone {
		t.Errorf("attempts %+v, want the disconnected worker's lost (%s), then done elsewhere", as, ReasonPeerLost)
	}
	gone.mu.Lock()
	if gone.cancelled != 1 {
		t.Errorf("the lost attempt's context was cancelled %d times, want 1", gone.cancelled)
	}
	gone.mu.Unlock()
	saved, err := h.store.Load(id)
	if err != nil {
		t.Fatal(err)
	}
	if why := saved.Rounds[0].Filtered["full"]; why != "not idle: over-quota: 2 MiB quota" {
		t.Errorf("saved round names the filtered worker with %q, want its idle reason (filtered: %v)", why, saved.Rounds[0].Filtered)
	}
}

// Without BenchmarkParams the benchmark is taken as timed on the builtin
// MLP 784-128-10, as p2p.ThroughputParams says.
func TestDefaultBenchmarkParamsIsTheReferenceMLP(t *testing.T) {
	h := newHarness(t, Options{})
	if got, want := h.c.opts.BenchmarkParams, int64(784*128+128+128*10+10); got != want {
		t.Errorf("default BenchmarkParams = %d, want %d", got, want)
	}
}
