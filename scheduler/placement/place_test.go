package placement

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPlaceWaitingExplain(t *testing.T) {
	sc := goldenScenarios()[1]
	ds, err := Place(sc.peers, sc.tasklets, sc.opts)
	if err != nil {
		t.Fatalf("Place() error = %v", err)
	}
	want := "waiting: 0 of 12 peers feasible: 7 not idle, 5 lack executor wasm"
	if got := ds[0].Explain(); got != want {
		t.Errorf("Explain() = %q, want %q", got, want)
	}
	if ds[0].Placed() || len(ds[0].Peers) != 0 {
		t.Errorf("Placed() = %v with peers %v, want false and none", ds[0].Placed(), ds[0].Peers)
	}
}

func TestPlaceHolderBeatsEqualPeer(t *testing.T) {
	peers := []Peer{
		mkPeer("far", func(p *Peer) { p.Reputation = 1 }), // would win every tie
		mkPeer("holder", holds(map[string]uint64{"shard-t": 150 * mb})),
	}
	ds, err := Place(peers, []Tasklet{mkTasklet("t")}, Options{})
	if err != nil {
		t.Fatalf("Place() error = %v", err)
	}
	if got := ds[0].Peers; !slices.Equal(got, []string{"holder"}) {
		t.Errorf("Peers = %v, want [holder]", got)
	}
	if got, want := ds[0].Breakdown.Missing, 150*mb; got != want {
		t.Errorf("Breakdown.Missing = %d, want %d", got, want)
	}
}

func TestPlaceTieBreaks(t *testing.T) {
	tests := []struct {
		name string
		a, b func(*Peer)
		want string
	}{
		{"higher reputation", func(p *Peer) { p.Reputation = 0.8 }, func(p *Peer) { p.Reputation = 0.95; p.PricePerHour = 0.9 }, "b"},
		{"lower price", func(p *Peer) { p.PricePerHour = 0.3 }, func(p *Peer) { p.PricePerHour = 0.4 }, "a"},
		{"eta before reputation", func(p *Peer) { p.Reputation = 0 }, func(p *Peer) { p.Reputation = 1; p.RTT++ }, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peers := []Peer{mkPeer("a", tt.a), mkPeer("b", tt.b)}
			for seed := range uint64(8) {
				ds, err := Place(peers, []Tasklet{mkTasklet("t")}, Options{Seed: seed})
				if err != nil {
					t.Fatalf("Place() error = %v", err)
				}
				if got := ds[0].Peers[0]; got != tt.want {
					t.Errorf("seed %d: chose %s, want %s", seed, got, tt.want)
				}
			}
		})
	}
}

func TestPlaceSeedBreaksFullTies(t *testing.T) {
	peers := []Peer{mkPeer("a"), mkPeer("b"), mkPeer("c")}
	reversed := slices.Clone(peers)
	slices.Reverse(reversed)
	wins := map[string]int{}
	for seed := range uint64(64) {
		ds, err := Place(peers, []Tasklet{mkTasklet("t")}, Options{Seed: seed})
		if err != nil {
			t.Fatalf("Place() error = %v", err)
		}
		again, err := Place(reversed, []Tasklet{mkTasklet("t")}, Options{Seed: seed})
		if err != nil {
			t.Fatalf("Place() error = %v", err)
		}
		if ds[0].Peers[0] != again[0].Peers[0] {
			t.Errorf("seed %d: chose %s, but %s with the snapshot reversed", seed, ds[0].Peers[0], again[0].Peers[0])
		}
		wins[ds[0].Peers[0]]++
	}
	if len(wins) != 3 {
		t.Errorf("winners over 64 seeds = %v, want each of a, b, c at least once", wins)
	}
}

func TestPlaceReplicasDistinctAndOrdered(t *testing.T) {
	peers := randomPeers(rand.New(rand.NewPCG(1, 2)), 200, 20)
	tasklets := randomTasklets(rand.New(rand.NewPCG(3, 4)), 50, 20)
	for _, k := range []int{1, 2, 5} {
		ds, err := Place(peers, tasklets, Options{Replicas: k, Seed: 9})
		if err != nil {
			t.Fatalf("Place() error = %v", err)
		}
		for _, d := range ds {
			if len(d.Peers) != k {
				t.Errorf("k=%d %s: %d peers, want %d (%s)", k, d.Tasklet, len(d.Peers), k, d.Explain())
			}
			seen := map[string]bool{}
			for i, p := range d.Peers {
				if seen[p] {
					t.Errorf("k=%d %s: peer %s chosen twice", k, d.Tasklet, p)
				}
				seen[p] = true
				if i > 0 && d.ETA[i] < d.ETA[i-1] {
					t.Errorf("k=%d %s: ETA %v after %v, want best first", k, d.Tasklet, d.ETA[i], d.ETA[i-1])
				}
			}
		}
	}
}

func TestPlaceSpreadsWork(t *testing.T) {
	peers := []Peer{mkPeer("a"), mkPeer("b"), mkPeer("c"), mkPeer("d")}
	var tasklets []Tasklet
	for i := range 8 {
		tasklets = append(tasklets, mkTasklet(fmt.Sprint("t", i)))
	}
	ds, err := Place(peers, tasklets, Options{})
	if err != nil {
		t.Fatalf("Place() error = %v", err)
	}
	count := map[string]int{}
	for i, d := range ds {
		count[d.Peers[0]]++
		wantQueue := time.Duration(i/4) * 5 * time.Second // each tasklet: 3 s transfer + 2 s compute
		if d.Breakdown.Queue != wantQueue {
			t.Errorf("%s: queue %v, want %v", d.Tasklet, d.Breakdown.Queue, wantQueue)
		}
	}
	for _, p := range peers {
		if count[p.ID] != 2 {
			t.Errorf("peer %s got %d tasklets, want 2 (all: %v)", p.ID, count[p.ID], count)
		}
	}
	if peers[0].Queue != 0 {
		t.Errorf("snapshot peer queue = %v after Place, want it untouched", peers[0].Queue)
	}
}

func TestPlaceDeterministic(t *testing.T) {
	peers := randomPeers(rand.New(rand.NewPCG(5, 6)), 500, 40)
	tasklets := randomTasklets(rand.New(rand.NewPCG(7, 8)), 100, 40)
	opts := Options{Replicas: 2, Seed: 42}
	first, err := Place(peers, tasklets, opts)
	if err != nil {
		t.Fatalf("Place() error = %v", err)
	}
	second, err := Place(peers, tasklets, opts)
	if err != nil {
		t.Fatalf("Place() error = %v", err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Error("two calls with the same input and seed gave different decisions")
	}
}

func TestPlaceInvalidInput(t *testing.T) {
	ok := []Peer{mkPeer("a")}
	task := []Tasklet{mkTasklet("t")}
	tests := []struct {
		name     string
		peers    []Peer
		tasklets []Tasklet
		opts     Options
	}{
		{"negative replicas", ok, task, Options{Replicas: -1}},
		{"negative round trips", ok, task, Options{RoundTrips: -2}},
		{"empty peer id", []Peer{mkPeer("")}, task, Options{}},
		{"duplicate peer", []Peer{mkPeer("a"), mkPeer("a")}, task, Options{}},
		{"empty tasklet id", ok, []Tasklet{mkTasklet("")}, Options{}},
		{"duplicate tasklet", ok, []Tasklet{mkTasklet("t"), mkTasklet("t")}, Options{}},
		{"no executor", ok, []Tasklet{mkTasklet("t", func(t *Tasklet) { t.Executor = "" })}, Options{}},
		{"negative samples", ok, []Tasklet{mkTasklet("t", func(t *Tasklet) { t.Samples = -1 })}, Options{}},
		{"nan price", ok, []Tasklet{mkTasklet("t", func(t *Tasklet) { t.MaxPrice = math.NaN() })}, Options{}},
		{"bad version", ok, []Tasklet{mkTasklet("t", func(t *Tasklet) { t.MinVersion = "new" })}, Options{}},
		{"empty cid", ok, []Tasklet{mkTasklet("t", func(t *Tasklet) { t.Inputs[0].CID = "" })}, Options{}},
		{"duplicate cid", ok, []Tasklet{mkTasklet("t", func(t *Tasklet) { t.Inputs[1].CID = "weights" })}, Options{}},
		{"size overflow", ok, []Tasklet{mkTasklet("t", func(t *Tasklet) { t.Inputs[0].Bytes = math.MaxUint64 })}, Options{}},
		{"one cid, two sizes", ok, []Tasklet{mkTasklet("t1"), mkTasklet("t2", func(t *Tasklet) { t.Inputs[0].Bytes++ })}, Options{}},
		{"empty source site", ok, []Tasklet{mkTasklet("t", func(t *Tasklet) { t.Inputs[1].SourceSites = []string{"a", ""} })}, Options{}},
		{"long source site", ok, []Tasklet{mkTasklet("t", func(t *Tasklet) {
			t.Inputs[1].SourceSites = []string{strings.Repeat("x", MaxSiteLen+1)}
		})}, Options{}},
		{"too many source sites", ok, []Tasklet{mkTasklet("t", func(t *Tasklet) {
			t.Inputs[1].SourceSites = slices.Repeat([]string{"a"}, MaxSourceSites+1)
		})}, Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := Place(tt.peers, tt.tasklets, tt.opts)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Place() = %v, %v; want an error wrapping ErrInvalid", ds, err)
			}
		})
	}
}

func TestPlaceEmpty(t *testing.T) {
	ds, err := Place(nil, []Tasklet{mkTasklet("t")}, Options{})
	if err != nil {
		t.Fatalf("Place() error = %v", err)
	}
	if got, want := ds[0].Explain(), "waiting: 0 of 0 peers feasible"; got != want {
		t.Errorf("Explain() = %q, want %q", got, want)
	}
	if ds, err := Place([]Peer{mkPeer("a")}, nil, Options{}); err != nil || len(ds) != 0 {
		t.Errorf("Place(no tasklets) = %v, %v; want no decisions and no error", ds, err)
	}
}

// randomPeers builds a varied snapshot; nCIDs shards are spread over holders.
func randomPeers(r *rand.Rand, n, nCIDs int) []Peer {
	peers := make([]Peer, n)
	for i := range peers {
		peers[i] = mkPeer(fmt.Sprintf("peer-%05d", i), func(p *Peer) {
			p.Idle = r.IntN(10) > 0
			p.GPUMemFree = uint64(4+4*r.IntN(4)) * gib
			p.RTT = time.Duration(5+r.IntN(200)) * time.Millisecond
			p.BandwidthBps = float64(10+r.IntN(500)) * float64(mb) / 8
			p.Throughput = float64([]int{500, 1000, 2500, 5000}[r.IntN(4)])
			p.Reputation = float64(r.IntN(5)) / 4
			p.PricePerHour = float64(r.IntN(4)) / 4
		})
	}
	for c := range nCIDs {
		for range 3 {
			p := &peers[r.IntN(n)]
			if p.Holds == nil {
				p.Holds = map[string]uint64{}
			}
			p.Holds[fmt.Sprint("shard-t", c)] = 200 * mb
		}
	}
	return peers
}

// randomTasklets uses the shards of randomPeers; a few need more GPU memory.
func randomTasklets(r *rand.Rand, n, nCIDs int) []Tasklet {
	ts := make([]Tasklet, n)
	for i := range ts {
		ts[i] = mkTasklet(fmt.Sprint("task", i), func(t *Tasklet) {
			t.Inputs[1].CID = fmt.Sprint("shard-t", r.IntN(nCIDs))
			if r.IntN(4) == 0 {
				t.GPUMem = 12 * gib
			}
		})
	}
	return ts
}

// A peer that is not idle is named with the reason its record gives, both
// in the decision's explanation and by Why.
func TestNotIdleReasonExplained(t *testing.T) {
	notIdle := func(why string) func(*Peer) {
		return func(p *Peer) { p.Idle, p.IdleReason = false, why }
	}
	peers := []Peer{
		mkPeer("full", notIdle("over-quota: 3.9 MB wanted, 2 MiB quota")),
		mkPeer("ro", notIdle("unwritable: read-only file system")),
		mkPeer("ro2", notIdle("unwritable: read-only file system")),
		mkPeer("owner", notIdle("")),
		mkPeer("ok"),
	}
	tk := mkTasklet("t")
	ds, err := Place(peers, []Tasklet{tk}, Options{})
	if err != nil {
		t.Fatalf("Place() error = %v", err)
	}
	want := "4 not idle (over-quota: 3.9 MB wanted, 2 MiB quota; unwritable: read-only file system)"
	if got := ds[0].Explain(); !strings.Contains(got, want) {
		t.Errorf("Explain() = %q, want it to contain %q", got, want)
	}
	tests := []struct {
		peer Peer
		want string
	}{
		{peers[0], "not idle: over-quota: 3.9 MB wanted, 2 MiB quota"},
		{peers[1], "not idle: unwritable: read-only file system"},
		{peers[3], "not idle"},
		{peers[4], ""},
		{mkPeer("wasm", func(p *Peer) { p.Executors = []string{"wasm"} }), "lack executor " + tk.Executor},
	}
	for _, tt := range tests {
		if got := Why(&tt.peer, &tk); got != tt.want {
			t.Errorf("Why(%s) = %q, want %q", tt.peer.ID, got, tt.want)
		}
	}
}
