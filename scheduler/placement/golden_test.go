package placement

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// scenario is a fixed world whose decisions are recorded in testdata/NAME.golden.
type scenario struct {
	name     string
	peers    []Peer
	tasklets []Tasklet
	opts     Options
}

func goldenScenarios() []scenario {
	noShard := func(t *Tasklet) { t.Inputs = t.Inputs[:1] }
	wasm := func(t *Tasklet) {
		t.Executor, t.GPUMem, t.Disk, t.MaxPrice, t.MinVersion = "wasm", 0, 0, 0, ""
	}
	var waiting []Peer
	for i := range 12 {
		id := fmt.Sprintf("p%02d", i+1)
		if i < 7 {
			waiting = append(waiting, mkPeer(id, func(p *Peer) { p.Idle = false }))
		} else {
			waiting = append(waiting, mkPeer(id, func(p *Peer) { p.Executors = []string{"builtin"} }))
		}
	}
	var same []Peer
	for _, id := range []string{"a", "b", "c"} {
		same = append(same, mkPeer(id))
	}
	return []scenario{
		{
			name: "mixed",
			peers: []Peer{
				mkPeer("p01", func(p *Peer) { p.Banned = true }),
				mkPeer("p02", func(p *Peer) { p.Idle = false }),
				mkPeer("p03", func(p *Peer) { p.Executors = []string{"wasm"} }),
				mkPeer("p04", func(p *Peer) { p.GPUMemFree = 4 * gib }),
				mkPeer("p05", func(p *Peer) { p.DiskFree = gib }),
				mkPeer("p06", func(p *Peer) { p.PricePerHour = 2 }),
				mkPeer("p07", func(p *Peer) { p.Version = "0.1.0" }),
				mkPeer("p08", func(p *Peer) { p.Throughput = 0 }),
				mkPeer("p09", func(p *Peer) { p.BandwidthBps = math.NaN() }),
				mkPeer("p10", func(p *Peer) { p.RTT = 80 * time.Millisecond; p.RTTMeasured = false }),
				mkPeer("p11", holds(map[string]uint64{"shard-t1": 200 * mb})),
				mkPeer("p12", func(p *Peer) { p.Throughput = 4000; p.Queue = time.Second }),
			},
			tasklets: []Tasklet{mkTasklet("t1"), mkTasklet("t2"), mkTasklet("t3", wasm, noShard)},
		},
		{
			name:     "waiting",
			peers:    waiting,
			tasklets: []Tasklet{mkTasklet("t1", wasm)},
		},
		{
			name: "replicas",
			peers: []Peer{
				mkPeer("a", holds(map[string]uint64{"shard-t1": 200 * mb, "weights": 100 * mb})),
				mkPeer("b", holds(map[string]uint64{"weights": 100 * mb})),
				mkPeer("c", func(p *Peer) { p.RTT = 5 * time.Millisecond }),
				mkPeer("d", func(p *Peer) { p.BandwidthBps = 10 * float64(mb) }),
				mkPeer("e", func(p *Peer) { p.Idle = false }),
			},
			tasklets: []Tasklet{mkTasklet("t1"), mkTasklet("t2")},
			opts:     Options{Replicas: 3, Exclude: map[string][]string{"t2": {"a", "c", "e", "gone"}}},
		},
		{
			// Weights in oregon; shards in seoul, oregon, both, or nobody
			// knows where. Links know oregon and seoul only (twoSites), so
			// tk1 and un1 fetch everything at their own, slower bandwidth.
			name: "sites",
			peers: []Peer{
				mkPeer("or1", func(p *Peer) { p.Site, p.Reputation = "oregon", 1 }),
				mkPeer("or2", func(p *Peer) { p.Site = "oregon" }),
				mkPeer("se1", func(p *Peer) { p.Site = "seoul" }),
				mkPeer("tk1", func(p *Peer) { p.Site, p.BandwidthBps = "tokyo", 60*float64(mb) }),
				mkPeer("un1", func(p *Peer) { p.BandwidthBps = 60 * float64(mb) }),
			},
			tasklets: []Tasklet{
				mkTasklet("t1", from("seoul")), mkTasklet("t2", from("oregon")),
				mkTasklet("t3", from("seoul", "oregon")), mkTasklet("t4", from()),
				mkTasklet("t5", from("seoul")),
			},
			opts: Options{Links: twoSites},
		},
		{
			name:     "spread",
			peers:    same,
			tasklets: []Tasklet{mkTasklet("t1"), mkTasklet("t2"), mkTasklet("t3"), mkTasklet("t4"), mkTasklet("t5"), mkTasklet("t6")},
			opts:     Options{Seed: 7},
		},
	}
}

// from names the sites holding the shard; the weights are in oregon.
func from(sites ...string) func(*Tasklet) {
	return func(t *Tasklet) {
		t.Inputs[0].SourceSites = []string{"oregon"}
		t.Inputs[1].SourceSites = sites
	}
}

func TestGolden(t *testing.T) {
	for _, sc := range goldenScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			ds, err := Place(sc.peers, sc.tasklets, sc.opts)
			if err != nil {
				t.Fatalf("Place() error = %v", err)
			}
			got := render(ds)
			path := filepath.Join("testdata", sc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatalf("writing golden file: %v", err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("decisions differ from %s (rerun with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// render writes decisions in a form that is easy to review in a diff.
func render(ds []Decision) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "%s: %s\n", d.Tasklet, d.Explain())
		fmt.Fprintf(&b, "  chosen:")
		for i, p := range d.Peers {
			fmt.Fprintf(&b, " %s=%s", p, d.ETA[i])
		}
		fmt.Fprintf(&b, "\n  breakdown: %+v\n", d.Breakdown)
		for _, r := range d.Rejected {
			fmt.Fprintf(&b, "  rejected %s: %d %v\n", r.Reason, r.Count, r.Examples)
		}
	}
	return b.String()
}
