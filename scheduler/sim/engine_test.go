package sim

import (
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/scheduler/placement"
)

// tinyWorld has regions A (the coordinator's) and B with round numbers:
// within a region 10 ms and 100 MB/s, between them 100 ms and 10 MB/s.
// p0 and p2 are in A at 1,000 samples/s; p1 is in B at 500 and holds shard 1.
func tinyWorld() (*world, *round) {
	cfg := WorldWide()
	cfg.Peers, cfg.Tasklets, cfg.Rounds = 3, 2, 1
	cfg.Samples, cfg.GPUMem, cfg.RoundTrips, cfg.Detect = 1000, 0, 2, time.Second
	intra := Link{RTT: 10 * time.Millisecond, BandwidthBps: 100e6}
	across := Link{RTT: 100 * time.Millisecond, BandwidthBps: 10e6}
	w := &world{
		cfg: cfg, regions: []string{"A", "B"}, coord: 0,
		links:   [][]Link{{intra, across}, {across, intra}},
		classes: []GPUClass{{Name: "gpu", Throughput: 1000, GPUMem: 8 * gib, Share: 1}},
		peers: []simPeer{
			{id: "peer-000000", region: 0, execs: []string{executor}, rep: 0.9, measured: true, rttEst: 10 * time.Millisecond},
			{id: "peer-000001", region: 1, execs: []string{executor}, rep: 0.9, measured: true, rttEst: 100 * time.Millisecond,
				holds: map[string]uint64{shardCID(1): 200 * mb}},
			{id: "peer-000002", region: 0, execs: []string{executor}, rep: 0.9, measured: true, rttEst: 10 * time.Millisecond},
		},
		holders: [][]int32{nil, {1}},
	}
	rd := &round{
		present: []bool{true, true, true}, idle: []bool{true, true, true},
		thr:    []float64{1000, 500, 1000},
		dropAt: []time.Duration{1500 * time.Millisecond, noDrop, noDrop},
	}
	w.transferTimes(rd)
	w.makeTasklets(rd)
	return w, rd
}

// scripted places by world peer number, one list per call.
type scripted struct {
	calls [][]int
	n     int
}

func (*scripted) name() string { return "scripted" }

func (s *scripted) assign(c *call) ([]int, error) {
	out := make([]int, len(c.ts))
	for k, want := range s.calls[s.n] {
		out[k] = slices.Index(c.peers, int32(want))
	}
	s.n++
	return out, nil
}

func TestEngineByHand(t *testing.T) {
	w, rd := tinyWorld()
	// Both tasklets go to p0, which drops out at 1.5 s; both move to p2.
	res, err := w.play(rd, &scripted{calls: [][]int{{0, 0}, {2, 2}}})
	if err != nil {
		t.Fatalf("play() error = %v", err)
	}
	ms := time.Millisecond
	// t0 on p2 from 2.5 s: setup 20 ms, weights 1 s + shard 0 from A 2 s, compute 1 s.
	// t1 after it: setup 20 ms, shard 1 from B 20 s (weights kept), compute 1 s.
	want := []time.Duration{6520 * ms, 27540 * ms}
	if !slices.Equal(res.completions, want) {
		t.Errorf("completions = %v, want %v", res.completions, want)
	}
	if res.time != want[1] || res.replaced != 2 {
		t.Errorf("round time %v, replaced %d; want %v, 2", res.time, res.replaced, want[1])
	}
	// p0 had fetched 1.48 s of t0's 3 s fetch of 300 MB when it left.
	wantBytes := 1.48/3*300e6 + 300e6 + 200e6
	if math.Abs(res.bytes-wantBytes) > 1 {
		t.Errorf("bytes = %.0f, want %.0f", res.bytes, wantBytes)
	}
}

func TestBoundByHand(t *testing.T) {
	w, rd := tinyWorld()
	got, per := w.bound(rd)
	ms := time.Millisecond
	// t0: a peer in A, 20 ms + 1 s + 2 s + 1 s. t1: p1 holds it, 200 ms + 10 s + 2 s.
	wantPer := []time.Duration{4020 * ms, 12200 * ms}
	if !slices.Equal(per, wantPer) || got != 12200*ms {
		t.Errorf("bound() = %v, %v; want %v, %v", got, per, 12200*ms, wantPer)
	}
	feasible := []bool{true, true, true}
	// p0 and p2 can each finish one tasklet by 4.02 s.
	if got := w.capacityBound(rd, feasible); got != 4020*ms {
		t.Errorf("capacityBound() = %v, want 4.02s", got)
	}
}

func TestPeerCostDone(t *testing.T) {
	naive := func(c peerCost, T time.Duration, limit int) int {
		k := 0
		for k < limit {
			cost := c.first + time.Duration(k+1)*c.each + time.Duration(max(0, k+1-c.free))*c.shard
			if cost > T {
				break
			}
			k++
		}
		return k
	}
	s := time.Second
	costs := []peerCost{
		{first: s, each: 2 * s, shard: 3 * s},
		{first: s, each: 2 * s, shard: 3 * s, free: 2},
		{first: 0, each: s, shard: 0, free: 1},
		{first: 5 * s, each: s, shard: s, free: 10},
	}
	for _, c := range costs {
		for T := time.Duration(0); T <= 40*s; T += 250 * time.Millisecond {
			for _, limit := range []int{1, 3, 100} {
				if got, want := c.done(T, limit), naive(c, T, limit); got != want {
					t.Errorf("%+v.done(%v, %d) = %d, want %d", c, T, limit, got, want)
				}
			}
		}
	}
}

// TestEstimateMatchesEngine checks the coordinator's view against the
// simulator's truth: with no noise and no drop-outs, each tasklet finishes
// exactly when Place estimated, give or take rounding, except that a tasklet
// queued behind others on its peer also waits for their setup round trips,
// which Place does not count in a queue.
func TestEstimateMatchesEngine(t *testing.T) {
	cfg := small()
	cfg.ThroughputNoise, cfg.RTTNoise, cfg.MeanSession, cfg.Rounds = 0, 0, 0, 1
	geo, err := LoadGeo()
	if err != nil {
		t.Fatal(err)
	}
	w, err := newWorld(cfg, geo)
	if err != nil {
		t.Fatal(err)
	}
	rd := w.nextRound(0, nil)
	n := len(w.peers)
	snap, ids := w.snapshot(rd, 0, make([]bool, n), make([]time.Duration, n), nil)
	ds, err := placement.Place(snap, rd.tasklets, placement.Options{Seed: 1, RoundTrips: cfg.RoundTrips, Links: w.linkEstimate()})
	if err != nil {
		t.Fatalf("Place() error = %v", err)
	}
	index := map[string]int{}
	for k := range snap {
		index[snap[k].ID] = int(ids[k])
	}
	choice := make([]int, len(ds))
	for i, d := range ds {
		choice[i] = index[d.Peers[0]]
	}
	res, err := w.play(rd, &scripted{calls: [][]int{choice}})
	if err != nil {
		t.Fatalf("play() error = %v", err)
	}
	setups := map[int]time.Duration{} // setup round trips already queued on a peer
	stacked, far := 0, 0
	for i, d := range ds {
		p := choice[i]
		want := d.ETA[0] + setups[p]
		if diff := res.completions[i] - want; diff < -3 || diff > 3 {
			t.Errorf("tasklet %d on %s: finished at %v, estimated %v plus %v of earlier setups", i, d.Peers[0], res.completions[i], d.ETA[0], setups[p])
		}
		if setups[p] > 0 {
			stacked++
		}
		if d.Breakdown.Transfer > 2*time.Second {
			far++ // fetched across regions
		}
		setups[p] += d.Breakdown.Setup
	}
	if stacked == 0 || far == 0 {
		t.Errorf("%d tasklets queued behind others, %d fetched from far away; want some of each to test", stacked, far)
	}
}

// TestCoordinatorView checks what the coordinator is told: sites, each
// input's source sites, the paths between regions, and the weights on peers
// it already sent a tasklet.
func TestCoordinatorView(t *testing.T) {
	w, rd := tinyWorld()
	busy := []time.Duration{0, 0, 3 * time.Second}
	snap, ids := w.snapshot(rd, time.Second, []bool{true, false, false}, busy, []bool{false, true, false})
	if !slices.Equal(ids, []int32{1, 2}) {
		t.Fatalf("snapshot ids = %v, want [1 2] (p0 is gone)", ids)
	}
	p1, p2 := snap[0], snap[1]
	if p1.Site != "B" || p2.Site != "A" || p1.BandwidthBps != 100e6 || p2.Queue != 2*time.Second {
		t.Errorf("p1 site %q bw %v, p2 site %q queue %v; want B, 100e6, A, 2s", p1.Site, p1.BandwidthBps, p2.Site, p2.Queue)
	}
	wantHolds := map[string]uint64{shardCID(1): 200 * mb, weightsCID(0): w.cfg.ModelBytes}
	if !maps.Equal(p1.Holds, wantHolds) || len(p2.Holds) != 0 {
		t.Errorf("holds = %v and %v, want %v and none", p1.Holds, p2.Holds, wantHolds)
	}
	if _, leaked := w.peers[1].holds[weightsCID(0)]; leaked {
		t.Error("the snapshot's weights leaked into the world's initial holdings")
	}
	for i, want := range [][]string{{"A"}, {"B"}} { // shard 0 has no holder: the dataset's origin
		in := rd.tasklets[i].Inputs
		if !slices.Equal(in[0].SourceSites, []string{"A"}) || !slices.Equal(in[1].SourceSites, want) {
			t.Errorf("tasklet %d sources: weights %v, shard %v; want [A], %v", i, in[0].SourceSites, in[1].SourceSites, want)
		}
	}
	links := w.linkEstimate()
	for _, tt := range []struct {
		from, to string
		bps      float64
		ok       bool
	}{{"A", "B", 10e6, true}, {"B", "B", 100e6, true}, {"A", "Z", 0, false}} {
		if bps, ok := links(tt.from, tt.to); bps != tt.bps || ok != tt.ok {
			t.Errorf("links(%s, %s) = %v, %v; want %v, %v", tt.from, tt.to, bps, ok, tt.bps, tt.ok)
		}
	}
}
