package placement

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestEstimate(t *testing.T) {
	c := costsOf(&Peer{RTT: 10 * time.Millisecond, BandwidthBps: 1e6, Throughput: 1000}, 3)
	inf := math.Inf(1)
	tests := []struct {
		name    string
		legs    []leg
		samples int
		queue   time.Duration
		want    Breakdown
		total   time.Duration
	}{
		{"all terms", []leg{{inf, 1_000_000}}, 500, 2 * time.Second,
			Breakdown{Setup: 30 * time.Millisecond, Transfer: time.Second, Compute: 500 * time.Millisecond, Queue: 2 * time.Second, Missing: 1_000_000},
			3530 * time.Millisecond},
		{"holder needs nothing", nil, 0, 0,
			Breakdown{Setup: 30 * time.Millisecond}, 30 * time.Millisecond},
		// 1 MB over a 0.5 MB/s path, then 2 MB capped by the peer's 1 MB/s.
		{"slow path, fast path", []leg{{0.5e6, 1_000_000}, {4e6, 2_000_000}}, 0, 0,
			Breakdown{Setup: 30 * time.Millisecond, Transfer: 4 * time.Second, Missing: 3_000_000}, 4030 * time.Millisecond},
		{"saturates", []leg{{inf, math.MaxUint64}}, 1, time.Hour,
			Breakdown{Setup: 30 * time.Millisecond, Transfer: math.MaxInt64, Compute: time.Millisecond, Queue: time.Hour, Missing: math.MaxUint64},
			math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.estimate(tt.legs, tt.samples, tt.queue)
			if got != tt.want {
				t.Errorf("estimate() = %+v, want %+v", got, tt.want)
			}
			if got.Total() != tt.total {
				t.Errorf("Total() = %v, want %v", got.Total(), tt.total)
			}
			if eta := c.eta(tt.legs, tt.samples, tt.queue); eta != tt.total {
				t.Errorf("eta() = %v, want %v", eta, tt.total)
			}
		})
	}
}

func TestAddLeg(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name string
		add  []leg // added in this order
		want []leg
	}{
		{"none", nil, nil},
		{"zero bytes dropped", []leg{{1e6, 0}}, nil},
		{"sorted by speed", []leg{{inf, 1}, {2e6, 2}, {1e6, 3}}, []leg{{1e6, 3}, {2e6, 2}, {inf, 1}}},
		{"same speed merged", []leg{{2e6, 2}, {1e6, 3}, {2e6, 5}}, []leg{{1e6, 3}, {2e6, 7}}},
	}
	for _, tt := range tests {
		var got []leg
		for _, l := range tt.add {
			got = addLeg(got, l.bps, l.bytes)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: legs = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCompareKeys(t *testing.T) {
	base := rankKey{eta: time.Second, rep: 0.5, price: 1, draw: 10, idx: 3}
	tests := []struct {
		name string
		a    func(*rankKey)
		want int
	}{
		{"equal", func(*rankKey) {}, 0},
		{"lower eta first", func(k *rankKey) { k.eta--; k.rep = 0 }, -1},
		{"higher reputation first", func(k *rankKey) { k.rep = 0.6; k.price = 9 }, -1},
		{"lower price first", func(k *rankKey) { k.price = 0.9; k.draw = 99 }, -1},
		{"lower draw first", func(k *rankKey) { k.draw = 9; k.idx = 7 }, -1},
		{"index last", func(k *rankKey) { k.idx = 4 }, 1},
	}
	for _, tt := range tests {
		a := base
		tt.a(&a)
		if got := compareKeys(a, base); got != tt.want {
			t.Errorf("%s: compareKeys = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestSeedFrom(t *testing.T) {
	if SeedFrom("job", 1) != SeedFrom("job", 1) {
		t.Fatal("SeedFrom is not deterministic")
	}
	seen := map[uint64]string{}
	for _, in := range []struct {
		job   string
		round int
	}{{"job", 1}, {"job", 2}, {"job1", 1}, {"jo", 11}} {
		s := SeedFrom(in.job, in.round)
		if prev, dup := seen[s]; dup {
			t.Errorf("SeedFrom(%q, %d) collides with %s", in.job, in.round, prev)
		}
		seen[s] = in.job
	}
}
