package sim

import (
	"math"
	"slices"
	"testing"
	"time"
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
