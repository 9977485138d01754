package placement

import (
	"math"
	"testing"
	"time"
)

func TestEstimate(t *testing.T) {
	p := mkPeer("p", func(p *Peer) {
		p.RTT = 10 * time.Millisecond
		p.BandwidthBps = 1e6
		p.Throughput = 1000
	})
	tests := []struct {
		name    string
		missing uint64
		samples int
		trips   int
		queue   time.Duration
		want    Breakdown
		total   time.Duration
	}{
		{"all terms", 1_000_000, 500, 3, 2 * time.Second,
			Breakdown{Setup: 30 * time.Millisecond, Transfer: time.Second, Compute: 500 * time.Millisecond, Queue: 2 * time.Second, Missing: 1_000_000},
			3530 * time.Millisecond},
		{"holder needs nothing", 0, 0, 1, 0,
			Breakdown{Setup: 10 * time.Millisecond}, 10 * time.Millisecond},
		{"saturates", math.MaxUint64, 1, 3, time.Hour,
			Breakdown{Setup: 30 * time.Millisecond, Transfer: math.MaxInt64, Compute: time.Millisecond, Queue: time.Hour, Missing: math.MaxUint64},
			math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := estimate(&p, tt.missing, tt.samples, tt.trips, tt.queue)
			if got != tt.want {
				t.Errorf("estimate() = %+v, want %+v", got, tt.want)
			}
			if got.Total() != tt.total {
				t.Errorf("Total() = %v, want %v", got.Total(), tt.total)
			}
		})
	}
}

func TestMissingBytes(t *testing.T) {
	task := mkTasklet("t")
	tests := []struct {
		name  string
		holds map[string]uint64
		want  uint64
	}{
		{"nothing", nil, 300 * mb},
		{"weights", map[string]uint64{"weights": 100 * mb}, 200 * mb},
		{"half shard", map[string]uint64{"shard-t": 100 * mb}, 200 * mb},
		{"everything", map[string]uint64{"weights": 100 * mb, "shard-t": 200 * mb}, 0},
		{"more than needed", map[string]uint64{"weights": 999 * mb}, 200 * mb},
		{"unrelated", map[string]uint64{"other": 5 * mb}, 300 * mb},
	}
	for _, tt := range tests {
		p := mkPeer("p", holds(tt.holds))
		if got := missingBytes(&p, &task); got != tt.want {
			t.Errorf("%s: missingBytes() = %d, want %d", tt.name, got, tt.want)
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
