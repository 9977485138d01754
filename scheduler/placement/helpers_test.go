package placement

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

const (
	gib = uint64(1) << 30
	mb  = uint64(1_000_000)
)

// mkPeer returns an idle, feasible peer for mkTasklet with the given changes.
func mkPeer(id string, mods ...func(*Peer)) Peer {
	p := Peer{
		ID:           id,
		Executors:    []string{"builtin", "wasm"},
		GPUMemFree:   16 * gib,
		DiskFree:     100 * gib,
		Idle:         true,
		Version:      "0.3.0",
		PricePerHour: 0.5,
		RTT:          20 * time.Millisecond,
		RTTMeasured:  true,
		BandwidthBps: 100 * float64(mb),
		Throughput:   1000,
		Reputation:   0.9,
	}
	for _, m := range mods {
		m(&p)
	}
	return p
}

// mkTasklet needs builtin, 8 GiB GPU, 10 GiB disk, price ≤ 1, version ≥ 0.2.
func mkTasklet(id string, mods ...func(*Tasklet)) Tasklet {
	t := Tasklet{
		ID:         id,
		Executor:   "builtin",
		Inputs:     []Input{{CID: "weights", Bytes: 100 * mb}, {CID: "shard-" + id, Bytes: 200 * mb}},
		Samples:    2000,
		GPUMem:     8 * gib,
		Disk:       10 * gib,
		MaxPrice:   1,
		MinVersion: "0.2.0",
	}
	for _, m := range mods {
		m(&t)
	}
	return t
}

func holds(cids map[string]uint64) func(*Peer) { return func(p *Peer) { p.Holds = cids } }

// withSites spreads peers over nSites sites named s0, s1, ... and names the
// sources of each tasklet input as a coordinator would: the weights from
// s0, a shard from the sites of the peers holding it (s0 when none does).
func withSites(r *rand.Rand, peers []Peer, tasklets []Tasklet, nSites int) {
	holders := map[string][]string{}
	for i := range peers {
		peers[i].Site = fmt.Sprint("s", r.IntN(nSites))
		for cid := range peers[i].Holds {
			if !slices.Contains(holders[cid], peers[i].Site) {
				holders[cid] = append(holders[cid], peers[i].Site)
			}
		}
	}
	for i := range tasklets {
		for j := range tasklets[i].Inputs {
			in := &tasklets[i].Inputs[j]
			in.SourceSites = slices.Clone(holders[in.CID])
			if len(in.SourceSites) == 0 {
				in.SourceSites = []string{"s0"}
			}
		}
	}
}

// siteLinks is a fixed network between sites s0, s1, ...: 250 MB/s within
// a site, 20 to 150 MB/s between two, unknown to or from "sX".
func siteLinks(from, to string) (float64, bool) {
	if from == "sX" || to == "sX" {
		return 0, false
	}
	if from == to {
		return 250 * float64(mb), true
	}
	h := fnv64a(from + "→" + to)
	return float64(20+h%131) * float64(mb), true
}
