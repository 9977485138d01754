package placement

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// bruteForce is the reference: every tasklet scores every peer directly.
func bruteForce(peers []Peer, tasklets []Tasklet, opts Options) ([][]string, [][]time.Duration) {
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.RoundTrips == 0 {
		opts.RoundTrips = DefaultRoundTrips
	}
	queue := make([]time.Duration, len(peers))
	for i := range peers {
		queue[i] = peers[i].Queue
	}
	var ids [][]string
	var etas [][]time.Duration
	for ti := range tasklets {
		t := &tasklets[ti]
		var cands []rankKey
		for i := range peers {
			p := &peers[i]
			if Check(p, t) != "" || slices.Contains(opts.Exclude[t.ID], p.ID) {
				continue
			}
			eta := estimate(p, missingBytes(p, t), t.Samples, opts.RoundTrips, queue[i]).Total()
			cands = append(cands, rankKey{eta: eta, rep: p.Reputation, price: p.PricePerHour, draw: tieDraw(opts.Seed, p.ID), idx: int32(i)})
		}
		slices.SortFunc(cands, compareKeys)
		cands = cands[:min(opts.Replicas, len(cands))]
		var got []string
		var gotETA []time.Duration
		for _, c := range cands {
			p := &peers[c.idx]
			b := estimate(p, missingBytes(p, t), t.Samples, opts.RoundTrips, queue[c.idx])
			got, gotETA = append(got, p.ID), append(gotETA, c.eta)
			queue[c.idx] += b.Transfer + b.Compute
		}
		ids, etas = append(ids, got), append(etas, gotETA)
	}
	return ids, etas
}

func drawWorld(t *rapid.T) ([]Peer, []Tasklet, Options) {
	pool := []string{"w", "s0", "s1", "s2"}
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
			p.Holds = map[string]uint64{}
			for _, cid := range pool {
				if b := rapid.SampledFrom([]uint64{0, 0, 50, 100}).Draw(t, "held"); b > 0 {
					p.Holds[cid] = b * mb
				}
			}
		})
	}
	nTasks := rapid.IntRange(0, 12).Draw(t, "tasklets")
	tasklets := make([]Tasklet, nTasks)
	opts := Options{
		Replicas:   rapid.IntRange(0, 3).Draw(t, "replicas"),
		RoundTrips: rapid.IntRange(0, 3).Draw(t, "trips"),
		Seed:       rapid.Uint64().Draw(t, "seed"),
		Exclude:    map[string][]string{},
	}
	for i := range tasklets {
		id := fmt.Sprint("t", i)
		var inputs []Input
		for _, cid := range pool {
			if rapid.Bool().Draw(t, "uses") {
				inputs = append(inputs, Input{CID: cid, Bytes: rapid.SampledFrom([]uint64{0, 100 * mb}).Draw(t, "bytes")})
			}
		}
		if i > 0 && rapid.IntRange(0, 3).Draw(t, "same shape") > 0 {
			// Same requirements and sizes as the previous tasklet: the case
			// where one heap serves several tasklets and goes stale.
			tasklets[i] = tasklets[i-1]
			tasklets[i].ID = id
			tasklets[i].Inputs = slices.Clone(tasklets[i].Inputs)
			if len(inputs) > 0 && len(tasklets[i].Inputs) > 0 {
				tasklets[i].Inputs[0].CID = inputs[0].CID
				if slices.ContainsFunc(tasklets[i].Inputs[1:], func(in Input) bool { return in.CID == inputs[0].CID }) {
					tasklets[i].Inputs = tasklets[i].Inputs[:1]
				}
			}
			continue
		}
		tasklets[i] = Tasklet{
			ID: id, Inputs: inputs,
			Executor:   rapid.SampledFrom([]string{"builtin", "wasm"}).Draw(t, "exec"),
			Samples:    rapid.SampledFrom([]int{0, 100, 1000}).Draw(t, "samples"),
			GPUMem:     rapid.SampledFrom([]uint64{0, 8 * gib}).Draw(t, "needgpu"),
			MaxPrice:   rapid.SampledFrom([]float64{0, 1}).Draw(t, "maxprice"),
			MinVersion: rapid.SampledFrom([]string{"", "0.2.0"}).Draw(t, "minversion"),
		}
		for range rapid.IntRange(0, 2).Draw(t, "excluded") {
			if nPeers > 0 {
				opts.Exclude[id] = append(opts.Exclude[id], fmt.Sprint("p", rapid.IntRange(0, nPeers-1).Draw(t, "exclude")))
			}
		}
	}
	return peers, tasklets, opts
}

func TestPlaceMatchesBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		peers, tasklets, opts := drawWorld(t)
		ds, err := Place(peers, tasklets, opts)
		if err != nil {
			t.Fatalf("Place() error = %v", err)
		}
		wantIDs, wantETAs := bruteForce(peers, tasklets, opts)
		byID := map[string]*Peer{}
		for i := range peers {
			byID[peers[i].ID] = &peers[i]
		}
		for i, d := range ds {
			task := &tasklets[i]
			if !slices.Equal(d.Peers, wantIDs[i]) || !slices.Equal(d.ETA, wantETAs[i]) {
				t.Fatalf("%s: chose %v %v, brute force %v %v", d.Tasklet, d.Peers, d.ETA, wantIDs[i], wantETAs[i])
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
