package placement

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestRandomStrategyRules(t *testing.T) {
	// p0 is far and holds nothing; p1 is near and holds the shard: the ETA
	// strategy always takes p1, random must not always.
	near := func(p *Peer) { p.RTT = time.Millisecond }
	tests := []struct {
		name    string
		peers   []Peer
		tasks   []Tasklet
		exclude map[string][]string
		want    func(t *testing.T, ds []Decision)
	}{{
		name:  "infeasible peers are never drawn",
		peers: []Peer{mkPeer("busy", func(p *Peer) { p.Idle = false }), mkPeer("ok"), mkPeer("old", func(p *Peer) { p.Version = "0.1.0" })},
		tasks: []Tasklet{mkTasklet("a"), mkTasklet("b"), mkTasklet("c")},
		want: func(t *testing.T, ds []Decision) {
			for _, d := range ds {
				if !slices.Equal(d.Peers, []string{"ok"}) {
					t.Errorf("tasklet %s placed on %v, want [ok]", d.Tasklet, d.Peers)
				}
			}
		},
	}, {
		name:    "excluded peers are never drawn",
		peers:   []Peer{mkPeer("p0"), mkPeer("p1"), mkPeer("p2")},
		tasks:   []Tasklet{mkTasklet("a")},
		exclude: map[string][]string{"a": {"p0", "p2"}},
		want: func(t *testing.T, ds []Decision) {
			if !slices.Equal(ds[0].Peers, []string{"p1"}) || ds[0].Feasible != 1 {
				t.Errorf("placed on %v with %d feasible, want [p1] with 1", ds[0].Peers, ds[0].Feasible)
			}
		},
	}, {
		name:  "unloaded peers first, one tasklet each while they last",
		peers: []Peer{mkPeer("q", func(p *Peer) { p.Queue = time.Second }), mkPeer("p0"), mkPeer("p1"), mkPeer("p2")},
		tasks: []Tasklet{mkTasklet("a"), mkTasklet("b"), mkTasklet("c"), mkTasklet("d")},
		want: func(t *testing.T, ds []Decision) {
			var got []string
			for _, d := range ds[:3] {
				got = append(got, d.Peers[0])
			}
			slices.Sort(got)
			if !slices.Equal(got, []string{"p0", "p1", "p2"}) {
				t.Errorf("first three tasklets on %v, want each unloaded peer once", got)
			}
		},
	}, {
		name:  "the explanation says random and carries the chosen peer's ETA",
		peers: []Peer{mkPeer("p0", near)},
		tasks: []Tasklet{mkTasklet("a")},
		want: func(t *testing.T, ds []Decision) {
			d := ds[0]
			if d.Strategy != StrategyRandom || d.ETA[0] != d.Breakdown.Total() || d.ETA[0] <= 0 {
				t.Errorf("strategy %q, ETA %v, breakdown total %v; want random and equal positive ETAs", d.Strategy, d.ETA, d.Breakdown.Total())
			}
			if e := d.Explain(); !strings.HasPrefix(e, "placed on p0 at random: ETA ") {
				t.Errorf("Explain() = %q, want it to start %q", e, "placed on p0 at random: ETA ")
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := Place(tt.peers, tt.tasks, Options{Strategy: StrategyRandom, Seed: 7, Exclude: tt.exclude})
			if err != nil {
				t.Fatal(err)
			}
			tt.want(t, ds)
		})
	}
}

func TestUnknownStrategyIsInvalid(t *testing.T) {
	_, err := Place([]Peer{mkPeer("p0")}, []Tasklet{mkTasklet("a")}, Options{Strategy: "fastest"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"eta" or "random"`) {
		t.Fatalf("Place with strategy fastest: %v, want ErrInvalid naming eta and random", err)
	}
}

// Over many seeds a single tasklet lands on every feasible peer, roughly
// evenly, and the ETA strategy picks one peer for all of them.
func TestRandomStrategySpreadsOverSeeds(t *testing.T) {
	var peers []Peer
	for i := range 8 {
		peers = append(peers, mkPeer(fmt.Sprint("p", i), func(p *Peer) { p.RTT = time.Duration(i+1) * 10 * time.Millisecond }))
	}
	const draws = 800
	random, eta := map[string]int{}, map[string]int{}
	for seed := range uint64(draws) {
		for strategy, count := range map[string]map[string]int{StrategyRandom: random, StrategyETA: eta} {
			ds, err := Place(peers, []Tasklet{mkTasklet("a")}, Options{Strategy: strategy, Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			count[ds[0].Peers[0]]++
		}
	}
	if len(eta) != 1 || eta["p0"] != draws {
		t.Errorf("ETA strategy chose %v, want p0 (the nearest) every time", eta)
	}
	for _, p := range peers {
		if n := random[p.ID]; n < draws/8/2 || n > draws/8*2 {
			t.Errorf("random chose %s %d times of %d, want about %d", p.ID, n, draws, draws/8)
		}
	}
}

// Whatever the snapshot, random draws only feasible, not excluded peers,
// gives each tasklet a distinct peer while unloaded ones remain, and the
// same seed gives the same draw.
func TestRandomStrategyProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 12).Draw(rt, "peers")
		var peers []Peer
		for i := range n {
			idle := rapid.Bool().Draw(rt, fmt.Sprint("idle", i))
			peers = append(peers, mkPeer(fmt.Sprint("p", i), func(p *Peer) { p.Idle = idle }))
		}
		var tasks []Tasklet
		for i := range rapid.IntRange(1, 8).Draw(rt, "tasklets") {
			tasks = append(tasks, mkTasklet(fmt.Sprint("t", i)))
		}
		exclude := map[string][]string{}
		for _, tk := range tasks {
			if rapid.Bool().Draw(rt, "exclude "+tk.ID) {
				exclude[tk.ID] = []string{peers[rapid.IntRange(0, n-1).Draw(rt, "excluded of "+tk.ID)].ID}
			}
		}
		opts := Options{Strategy: StrategyRandom, Seed: rapid.Uint64().Draw(rt, "seed"), Exclude: exclude}
		ds, err := Place(peers, tasks, opts)
		if err != nil {
			rt.Fatal(err)
		}
		again, err := Place(peers, tasks, opts)
		if err != nil {
			rt.Fatal(err)
		}
		used := map[string]bool{}
		for i, d := range ds {
			if !slices.Equal(d.Peers, again[i].Peers) {
				rt.Fatalf("tasklet %s: %v then %v with the same seed", d.Tasklet, d.Peers, again[i].Peers)
			}
			for _, id := range d.Peers {
				p := peers[slices.IndexFunc(peers, func(p Peer) bool { return p.ID == id })]
				if !p.Idle || slices.Contains(exclude[d.Tasklet], id) {
					rt.Fatalf("tasklet %s placed on %s (idle %v, excluded %v)", d.Tasklet, id, p.Idle, exclude[d.Tasklet])
				}
				if used[id] && unusedFeasible(peers, used, exclude[d.Tasklet]) {
					rt.Fatalf("tasklet %s placed on %s again while an unloaded feasible peer was left", d.Tasklet, id)
				}
				used[id] = true
			}
		}
	})
}

func unusedFeasible(peers []Peer, used map[string]bool, excluded []string) bool {
	for _, p := range peers {
		if p.Idle && !used[p.ID] && !slices.Contains(excluded, p.ID) {
			return true
		}
	}
	return false
}
