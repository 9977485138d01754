package placement

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// twoSites is a network of oregon and seoul: 250 MB/s within one, 50 MB/s
// between them, nothing known about any other site.
func twoSites(from, to string) (float64, bool) {
	known := []string{"oregon", "seoul"}
	switch {
	case !slices.Contains(known, from) || !slices.Contains(known, to):
		return 0, false
	case from == to:
		return 250 * float64(mb), true
	}
	return 50 * float64(mb), true
}

func TestPlaceSourceAware(t *testing.T) {
	// Both peers fetch at up to 100 MB/s. The weights (100 MB) are in
	// oregon. With the shard (200 MB) only in seoul, the seoul peer fetches
	// the weights at 50 MB/s (2 s) and the shard at 100 MB/s (2 s); the
	// oregon peer the weights at 100 MB/s (1 s) and the shard at 50 MB/s
	// (4 s). Blind to sites, both need 3 s and the oregon peer's reputation
	// wins the tie.
	tests := []struct {
		name         string
		links        func(string, string) (float64, bool)
		shardSources []string
		seoulSite    string
		want         string
		transfer     time.Duration
	}{
		{"no links", nil, []string{"seoul"}, "seoul", "oregon-peer", 3 * time.Second},
		{"shard near seoul", twoSites, []string{"seoul"}, "seoul", "seoul-peer", 4 * time.Second},
		{"best of two sources", twoSites, []string{"oregon", "seoul"}, "seoul", "oregon-peer", 3 * time.Second},
		{"shard sources unknown", twoSites, nil, "seoul", "oregon-peer", 3 * time.Second},
		{"source site unknown to links", twoSites, []string{"tokyo"}, "seoul", "oregon-peer", 3 * time.Second},
		{"peer site unknown", twoSites, []string{"seoul"}, "", "seoul-peer", 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peers := []Peer{
				mkPeer("oregon-peer", func(p *Peer) { p.Site, p.Reputation = "oregon", 1 }),
				mkPeer("seoul-peer", func(p *Peer) { p.Site = tt.seoulSite }),
			}
			task := mkTasklet("t", func(t *Tasklet) {
				t.Inputs[0].SourceSites = []string{"oregon"}
				t.Inputs[1].SourceSites = tt.shardSources
			})
			ds, err := Place(peers, []Tasklet{task}, Options{Links: tt.links})
			if err != nil {
				t.Fatalf("Place() error = %v", err)
			}
			if got := ds[0].Peers; !slices.Equal(got, []string{tt.want}) {
				t.Errorf("Peers = %v, want [%s] (%s)", got, tt.want, ds[0].Explain())
			}
			if got := ds[0].Breakdown.Transfer; got != tt.transfer {
				t.Errorf("Breakdown.Transfer = %v, want %v", got, tt.transfer)
			}
		})
	}
}

func TestPlacePlannedHoldings(t *testing.T) {
	// One peer computes 100x faster than the other: both tasklets go to it,
	// and the second fetches only its shard, the weights being there by then.
	peers := []Peer{
		mkPeer("fast", func(p *Peer) { p.Throughput = 20_000 }),
		mkPeer("slow", func(p *Peer) { p.Throughput = 200 }),
	}
	tasklets := []Tasklet{mkTasklet("t1"), mkTasklet("t2")}
	ds, err := Place(peers, tasklets, Options{})
	if err != nil {
		t.Fatalf("Place() error = %v", err)
	}
	want := []Breakdown{
		{Setup: 60 * time.Millisecond, Transfer: 3 * time.Second, Compute: 100 * time.Millisecond, Missing: 300 * mb},
		{Setup: 60 * time.Millisecond, Transfer: 2 * time.Second, Compute: 100 * time.Millisecond, Queue: 3100 * time.Millisecond, Missing: 200 * mb},
	}
	for i, d := range ds {
		if !slices.Equal(d.Peers, []string{"fast"}) || d.Breakdown != want[i] {
			t.Errorf("%s: %v with %+v, want [fast] with %+v", d.Tasklet, d.Peers, d.Breakdown, want[i])
		}
	}
}

func TestPlaceAsksLinksOncePerPair(t *testing.T) {
	peers := []Peer{
		mkPeer("a1", func(p *Peer) { p.Site = "oregon" }),
		mkPeer("a2", func(p *Peer) { p.Site = "oregon" }),
		mkPeer("b1", func(p *Peer) { p.Site = "seoul" }),
		mkPeer("c1", func(p *Peer) { p.Site = "tokyo"; p.Banned = true }), // no feasible peer in tokyo
		mkPeer("d1"), // site unknown
	}
	var tasklets []Tasklet
	for i := range 6 {
		tasklets = append(tasklets, mkTasklet(fmt.Sprint("t", i), func(t *Tasklet) {
			t.Inputs[0].SourceSites = []string{"oregon"}
			t.Inputs[1].SourceSites = []string{"seoul", "oregon", "seoul"}
		}))
	}
	asked := map[string]int{}
	links := func(from, to string) (float64, bool) {
		asked[from+"→"+to]++
		return twoSites(from, to)
	}
	if _, err := Place(peers, tasklets, Options{Replicas: 2, Links: links}); err != nil {
		t.Fatalf("Place() error = %v", err)
	}
	want := map[string]int{"oregon→oregon": 1, "oregon→seoul": 1, "seoul→oregon": 1, "seoul→seoul": 1}
	if fmt.Sprint(asked) != fmt.Sprint(want) {
		t.Errorf("Links asked %v, want %v", asked, want)
	}
}

func TestPlaceManySites(t *testing.T) {
	// s00..s09 have 3 peers each, s10..s69 one: only the first MaxSites
	// sites by peers, then by name, are told apart; s64..s69 count as
	// unknown, so Links is never asked about them and their peers fetch at
	// their own bandwidth.
	var peers []Peer
	for s := range 70 {
		n := 1
		if s < 10 {
			n = 3
		}
		for k := range n {
			peers = append(peers, mkPeer(fmt.Sprintf("p%02d-%d", s, k), func(p *Peer) { p.Site = fmt.Sprintf("s%02d", s) }))
		}
	}
	asked := map[string]bool{}
	links := func(from, to string) (float64, bool) {
		asked[to] = true
		return 10 * float64(mb), true // 10x slower than any peer's own bandwidth
	}
	task := mkTasklet("t", func(t *Tasklet) { t.Inputs[0].SourceSites, t.Inputs[1].SourceSites = []string{"s00"}, []string{"s00"} })
	ds, err := Place(peers, []Tasklet{task}, Options{Links: links})
	if err != nil {
		t.Fatalf("Place() error = %v", err)
	}
	for s := range 70 {
		site := fmt.Sprintf("s%02d", s)
		if want := s < MaxSites; asked[site] != want {
			t.Errorf("Links asked about %s: %v, want %v", site, asked[site], want)
		}
	}
	if got, want := ds[0].Breakdown.Transfer, 3*time.Second; !strings.HasPrefix(ds[0].Peers[0], "p6") || got != want {
		t.Errorf("chose %s with transfer %v, want a peer of s64..s69 at its own bandwidth, %v", ds[0].Peers[0], got, want)
	}
}

func TestPlaceBadLinks(t *testing.T) {
	for _, bps := range []float64{0, -1, math.NaN()} {
		links := func(string, string) (float64, bool) { return bps, true }
		peers := []Peer{mkPeer("a", func(p *Peer) { p.Site = "oregon" })}
		task := mkTasklet("t", func(t *Tasklet) { t.Inputs[0].SourceSites = []string{"oregon"} })
		_, err := Place(peers, []Tasklet{task}, Options{Links: links})
		if err == nil || !strings.Contains(err.Error(), "ok=false") {
			t.Errorf("Place(links → %v, true) = %v, want an ErrInvalid that says to return ok=false", bps, err)
		}
	}
}

// TestPlaceMatchesBruteForceLarge compares with the reference on worlds
// big enough for many heaps, stale entries and planned holdings: 300
// peers in 5 sites, 150 tasklets sharing the weights, some shards shared.
func TestPlaceMatchesBruteForceLarge(t *testing.T) {
	for _, tc := range []struct {
		replicas int
		links    func(string, string) (float64, bool)
	}{{1, nil}, {1, siteLinks}, {2, siteLinks}, {3, siteLinks}} {
		r := rand.New(rand.NewPCG(uint64(tc.replicas), 7))
		peers := randomPeers(r, 300, 100)
		tasklets := randomTasklets(r, 150, 100)
		withSites(r, peers, tasklets, 5)
		peers[0].Site, peers[1].Site = "sX", "" // no path known into these
		for i := range tasklets {
			if i%10 == 0 {
				tasklets[i].Samples = 1000 + i // rare shapes, ranked by scans
			}
		}
		opts := Options{Replicas: tc.replicas, Seed: 3, Links: tc.links}
		assertBruteForce(t, fmt.Sprintf("replicas %d, links %v", tc.replicas, tc.links != nil), peers, tasklets, opts)
	}
}

// TestPlaceSlowPaths covers tasklets no group can rank: inputs over more
// path speeds than a group holds, and more tracked inputs than masks cover.
func TestPlaceSlowPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	peers := randomPeers(r, 60, 0)
	for i := range peers {
		peers[i].Site = fmt.Sprint("s", i%6)
		if i%7 == 0 {
			peers[i].Holds = map[string]uint64{"w2": 10 * mb}
		}
	}
	manySpeeds := func(i int) Tasklet { // five inputs from five sites: five path speeds
		return mkTasklet(fmt.Sprint("speeds", i), func(t *Tasklet) {
			t.Inputs = nil
			for s := range 5 {
				t.Inputs = append(t.Inputs, Input{CID: fmt.Sprint("in", i, "-", s), Bytes: 10 * mb, SourceSites: []string{fmt.Sprint("s", s+1)}})
			}
		})
	}
	manyTracked := func(i int) Tasklet { // four inputs every tasklet shares
		return mkTasklet(fmt.Sprint("tracked", i), func(t *Tasklet) {
			t.Inputs = []Input{{CID: "w1", Bytes: 10 * mb}, {CID: "w2", Bytes: 20 * mb}, {CID: "w3", Bytes: 30 * mb}, {CID: "w4", Bytes: 40 * mb}}
		})
	}
	var tasklets []Tasklet
	for i := range 12 {
		tasklets = append(tasklets, manySpeeds(i), manyTracked(i))
	}
	opts := Options{Seed: 5, Replicas: 2, Links: siteLinks}
	pl, err := newPlanner(peers, tasklets, opts, mustIndex(t, peers))
	if err != nil {
		t.Fatalf("newPlanner() error = %v", err)
	}
	for i := range tasklets {
		if !pl.plans[i].slow {
			t.Fatalf("%s is ranked through groups; want it ranked by a scan", tasklets[i].ID)
		}
	}
	assertBruteForce(t, "slow paths", peers, tasklets, opts)
}

func mustIndex(t *testing.T, peers []Peer) map[string]int32 {
	t.Helper()
	index, err := indexPeers(peers)
	if err != nil {
		t.Fatal(err)
	}
	return index
}

func assertBruteForce(t *testing.T, name string, peers []Peer, tasklets []Tasklet, opts Options) {
	t.Helper()
	ds, err := Place(peers, tasklets, opts)
	if err != nil {
		t.Fatalf("%s: Place() error = %v", name, err)
	}
	wantIDs, wantETAs, wantFirst := bruteForce(peers, tasklets, opts)
	for i, d := range ds {
		if !slices.Equal(d.Peers, wantIDs[i]) || !slices.Equal(d.ETA, wantETAs[i]) || d.Breakdown != wantFirst[i] {
			t.Fatalf("%s, %s: chose %v %v %+v, brute force %v %v %+v", name, d.Tasklet,
				d.Peers, d.ETA, d.Breakdown, wantIDs[i], wantETAs[i], wantFirst[i])
		}
	}
}
