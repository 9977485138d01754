package placement

import (
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
