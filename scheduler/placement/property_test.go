package placement

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// bruteForce is the reference: every tasklet scores every peer directly,
// and a peer holds every input of the tasklets placed on it earlier.
func bruteForce(peers []Peer, tasklets []Tasklet, opts Options) ([][]string, [][]time.Duration, []Breakdown) {
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.RoundTrips == 0 {
		opts.RoundTrips = DefaultRoundTrips
	}
	queue := make([]time.Duration, len(peers))
	planned := make([]map[string]bool, len(peers))
	for i := range peers {
		queue[i] = peers[i].Queue
		planned[i] = map[string]bool{}
	}
	var ids [][]string
	var etas [][]time.Duration
	var firsts []Breakdown
	for ti := range tasklets {
		t := &tasklets[ti]
		var cands []rankKey
		for i := range peers {
			p := &peers[i]
			if Check(p, t) != "" || slices.Contains(opts.Exclude[t.ID], p.ID) {
				continue
			}
			eta := refEstimate(p, t, planned[i], opts, queue[i]).Total()
			cands = append(cands, rankKey{eta: eta, rep: p.Reputation, price: p.PricePerHour, draw: tieDraw(opts.Seed, p.ID), idx: int32(i)})
		}
		slices.SortFunc(cands, compareKeys)
		cands = cands[:min(opts.Replicas, len(cands))]
		var got []string
		var gotETA []time.Duration
		var first Breakdown
		for j, c := range cands {
			p := &peers[c.idx]
			b := refEstimate(p, t, planned[c.idx], opts, queue[c.idx])
			if j == 0 {
				first = b
			}
			got, gotETA = append(got, p.ID), append(gotETA, c.eta)
			queue[c.idx] += b.Transfer + b.Compute
			for _, in := range t.Inputs {
				planned[c.idx][in.CID] = true
			}
		}
		ids, etas, firsts = append(ids, got), append(etas, gotETA), append(firsts, first)
	}
	return ids, etas, firsts
}

// refEstimate is the ETA model written out directly: each missing input is
// fetched over the best known path from its sources, at most at the peer's
// own bandwidth.
func refEstimate(p *Peer, t *Tasklet, planned map[string]bool, opts Options, queue time.Duration) Breakdown {
	var legs []leg
	for _, in := range t.Inputs {
		have := p.Holds[in.CID]
		if planned[in.CID] {
			have = in.Bytes
		}
		if have < in.Bytes {
			legs = addLeg(legs, refPath(p.Site, in.SourceSites, opts.Links), in.Bytes-have)
		}
	}
	return costsOf(p, opts.RoundTrips).estimate(legs, t.Samples, queue)
}

func refPath(site string, sources []string, links func(string, string) (float64, bool)) float64 {
	if links == nil || site == "" {
		return math.Inf(1)
	}
	var known []float64
	for _, src := range sources {
		if bps, ok := links(src, site); ok {
			known = append(known, bps)
		}
	}
	if len(known) == 0 {
		return math.Inf(1)
	}
	return slices.Max(known)
}

func drawWorld(t *rapid.T) ([]Peer, []Tasklet, Options) {
	pool := []string{"w", "s0", "s1", "s2"}
	sites := []string{"", "a", "b", "c"}
	nPeers := rapid.IntRange(0, 25).Draw(t, "peers")
	peers := make([]Peer, nPeers)
	for i := range peers {
		peers[i] = mkPeer(fmt.Sprint("p", i), func(p *Peer) {
			p.Idle = rapid.IntRange(0, 5).Draw(t, "idle") > 0
			p.Banned = rapid.IntRange(0, 10).Draw(t, "banned") == 0
			p.Executors = rapid.SampledFrom([][]string{{"builtin"}, {"wasm"}, {"builtin", "wasm"}}).Draw(t, "execs")
			p.GPUMemFree = rapid.SampledFrom([]uint64{0, 8 * gib}).Draw(t, "gpu")
			p.Version = rapid.SampledFrom([]string{"0.1.0", "0.2.0", "bad"}).Draw(t, "version")
			p.RTT = rapid.SampledFrom([]time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond}).Draw(t, "rtt")
			p.BandwidthBps = rapid.SampledFrom([]float64{0, 1e6, 2e6}).Draw(t, "bw")
			p.Throughput = rapid.SampledFrom([]float64{0, 100, 200}).Draw(t, "thr")
			p.Queue = rapid.SampledFrom([]time.Duration{0, time.Second}).Draw(t, "queue")
			p.Reputation = rapid.SampledFrom([]float64{0.5, 1, 2}).Draw(t, "rep") // 2 is invalid
			p.PricePerHour = rapid.SampledFrom([]float64{0.5, 1, 3}).Draw(t, "price")
			p.Site = rapid.SampledFrom(sites).Draw(t, "site")
			p.Holds = map[string]uint64{}
			for _, cid := range pool {
				if b := rapid.SampledFrom([]uint64{0, 0, 50, 100}).Draw(t, "held"); b > 0 {
					p.Holds[cid] = b * mb
				}
			}
		})
	}
	opts := Options{
		Replicas:   rapid.IntRange(0, 3).Draw(t, "replicas"),
		RoundTrips: rapid.IntRange(0, 3).Draw(t, "trips"),
		Seed:       rapid.Uint64().Draw(t, "seed"),
		Exclude:    map[string][]string{},
		Links:      drawLinks(t, append(sites[1:], "z")),
	}
	size := map[string]uint64{}
	for _, cid := range pool {
		size[cid] = rapid.SampledFrom([]uint64{0, 2 * mb, 100 * mb}).Draw(t, "bytes")
	}
	nTasks := rapid.IntRange(0, 12).Draw(t, "tasklets")
	tasklets := make([]Tasklet, nTasks)
	for i := range tasklets {
		var copied bool
		tasklets[i], copied = drawTasklet(t, fmt.Sprint("t", i), pool, size, tasklets[:i])
		if copied {
			continue
		}
		for range rapid.IntRange(0, 2).Draw(t, "excluded") {
			if nPeers > 0 {
				id := tasklets[i].ID
				opts.Exclude[id] = append(opts.Exclude[id], fmt.Sprint("p", rapid.IntRange(0, nPeers-1).Draw(t, "exclude")))
			}
		}
	}
	return peers, tasklets, opts
}

// drawLinks returns nil (no network known) or a table of path speeds between
// sites, some unknown, some faster and some slower than the peers' own
// bandwidth.
func drawLinks(t *rapid.T, sites []string) func(string, string) (float64, bool) {
	if rapid.IntRange(0, 3).Draw(t, "no links") == 0 {
		return nil
	}
	table := map[[2]string]float64{}
	for _, a := range sites {
		for _, b := range sites {
			table[[2]string{a, b}] = rapid.SampledFrom([]float64{0, 0.5e6, 1e6, 1.5e6, 4e6, math.Inf(1)}).Draw(t, "link")
		}
	}
	return func(from, to string) (float64, bool) {
		bps := table[[2]string{from, to}]
		return bps, bps > 0
	}
}

// drawTasklet draws a tasklet over the CIDs of pool, or most often copies
// the previous tasklet's requirements and sizes (copied): the case where
// groups serve several tasklets and go stale.
func drawTasklet(t *rapid.T, id string, pool []string, size map[string]uint64, earlier []Tasklet) (task Tasklet, copied bool) {
	var inputs []Input
	for _, cid := range pool {
		if rapid.Bool().Draw(t, "uses") {
			in := Input{CID: cid, Bytes: size[cid]}
			for range rapid.IntRange(0, 2).Draw(t, "sources") {
				in.SourceSites = append(in.SourceSites, rapid.SampledFrom([]string{"a", "b", "c", "z"}).Draw(t, "source"))
			}
			inputs = append(inputs, in)
		}
	}
	if len(earlier) > 0 && rapid.IntRange(0, 3).Draw(t, "same shape") > 0 {
		task = earlier[len(earlier)-1]
		task.ID = id
		task.Inputs = slices.Clone(task.Inputs)
		if len(inputs) > 0 && len(task.Inputs) > 0 {
			task.Inputs[0] = inputs[0]
			if slices.ContainsFunc(task.Inputs[1:], func(in Input) bool { return in.CID == inputs[0].CID }) {
				task.Inputs = task.Inputs[:1]
			}
		}
		return task, true
	}
	return Tasklet{
		ID: id, Inputs: inputs,
		Executor:   rapid.SampledFrom([]string{"builtin", "wasm"}).Draw(t, "exec"),
		Samples:    rapid.SampledFrom([]int{0, 100, 1000}).Draw(t, "samples"),
		GPUMem:     rapid.SampledFrom([]uint64{0, 8 * gib}).Draw(t, "needgpu"),
		MaxPrice:   rapid.SampledFrom([]float64{0, 1}).Draw(t, "maxprice"),
		MinVersion: rapid.SampledFrom([]string{"", "0.2.0"}).Draw(t, "minversion"),
	}, false
}

func TestPlaceMatchesBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		peers, tasklets, opts := drawWorld(t)
		ds, err := Place(peers, tasklets, opts)
		if err != nil {
			t.Fatalf("Place() error = %v", err)
		}
		wantIDs, wantETAs, wantFirst := bruteForce(peers, tasklets, opts)
		byID := map[string]*Peer{}
		for i := range peers {
			byID[peers[i].ID] = &peers[i]
		}
		for i, d := range ds {
			task := &tasklets[i]
			if !slices.Equal(d.Peers, wantIDs[i]) || !slices.Equal(d.ETA, wantETAs[i]) {
				t.Fatalf("%s: chose %v %v, brute force %v %v", d.Tasklet, d.Peers, d.ETA, wantIDs[i], wantETAs[i])
			}
			if d.Breakdown != wantFirst[i] {
				t.Fatalf("%s: breakdown %+v, brute force %+v", d.Tasklet, d.Breakdown, wantFirst[i])
			}
			seen := map[string]bool{}
			for _, id := range d.Peers {
				if reason := Check(byID[id], task); reason != "" {
					t.Fatalf("%s: chose %s which fails %s", d.Tasklet, id, reason)
				}
				if slices.Contains(opts.Exclude[task.ID], id) || seen[id] {
					t.Fatalf("%s: chose excluded or repeated peer %s", d.Tasklet, id)
				}
				seen[id] = true
			}
			rejected := 0
			for _, r := range d.Rejected {
				rejected += r.Count
			}
			if d.Feasible+rejected != len(peers) {
				t.Fatalf("%s: %d feasible + %d rejected, want %d peers", d.Tasklet, d.Feasible, rejected, len(peers))
			}
		}
	})
}
