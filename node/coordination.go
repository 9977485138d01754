package node

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/datagrid"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/tasklet"
)

// defaultBandwidth stands in for a worker that advertises none (bytes/s).
const defaultBandwidth = 100e6

// coordGrid adapts the data grid to the coordinator.
type coordGrid struct {
	g *datagrid.Grid
	h host.Host
}

func (a coordGrid) ReadFile(ctx context.Context, c cid.Cid, max int64, from ...string) ([]byte, error) {
	var hints []peer.AddrInfo
	for _, f := range from {
		if id, err := peer.Decode(f); err == nil {
			hints = append(hints, peer.AddrInfo{ID: id, Addrs: a.h.Peerstore().Addrs(id)})
		}
	}
	return a.g.ReadFile(ctx, c, max, hints...)
}

func (a coordGrid) AddBytes(ctx context.Context, name string, b []byte) (cid.Cid, error) {
	r, err := a.g.AddReader(ctx, bytes.NewReader(b), nil)
	return r.Root, err
}

func (a coordGrid) ListDir(ctx context.Context, c cid.Cid) (map[string]scheduler.DirEntry, error) {
	es, err := a.g.Ls(ctx, c)
	if err != nil {
		return nil, err
	}
	out := make(map[string]scheduler.DirEntry, len(es))
	for _, e := range es {
		out[e.Name] = scheduler.DirEntry{CID: e.Cid, Size: e.Size}
	}
	return out, nil
}

func (a coordGrid) Holders(ctx context.Context, c cid.Cid) []string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ps, err := a.g.Providers(ctx, c, 20)
	if err != nil {
		return nil
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID.String()
	}
	return out
}

// coordSwarm adapts the swarm to the coordinator.
type coordSwarm struct{ n *Node }

func (a coordSwarm) Self() string { return a.n.swarm.ID().String() }

// Workers turns the connected peers' capability records into placement's
// view of the world.
func (a coordSwarm) Workers() []placement.Peer {
	var out []placement.Peer
	for _, p := range a.n.swarm.Peers().List() {
		c := p.Caps
		if c == nil || !p.Connected {
			continue
		}
		wp := placement.Peer{
			ID: p.ID.String(), Executors: c.Executors, DiskFree: c.DiskFree, MemoryBytes: c.MemoryBytes,
			// Slots are not used: the record lags, the coordinator knows what it
			// sent, and a busy worker declines.
			Idle: c.Idle, Version: c.Agent, PricePerHour: c.PricePerHour,
			RTT: p.RTT, RTTMeasured: p.RTT > 0, BandwidthBps: c.BandwidthBps, Throughput: c.Throughput, Reputation: 0.5,
		}
		if wp.RTT == 0 {
			wp.RTT = p.EstimatedRTT
		}
		if wp.BandwidthBps == 0 {
			wp.BandwidthBps = defaultBandwidth
		}
		for _, g := range c.GPUs {
			if g.Offered {
				wp.GPUMemFree = max(wp.GPUMemFree, g.MemoryFree)
			}
		}
		out = append(out, wp)
	}
	return out
}

func (a coordSwarm) Offer(ctx context.Context, worker string, spec tasklet.Spec, progress func(done, total int)) (receipt.Receipt, error) {
	pid, err := peer.Decode(worker)
	if err != nil {
		return receipt.Receipt{}, err
	}
	h := a.n.swarm.Host()
	var expected common.Address
	if c := a.n.swarm.Caps(pid); c != nil {
		expected = common.HexToAddress(c.Account)
	}
	self := peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
	return tasklet.Offer(ctx, h, h.Peerstore().PrivKey(h.ID()), pid, spec, []peer.AddrInfo{self}, tasklet.OfferOptions{
		Domain: a.n.domain, ExpectedWorker: expected,
		Progress: func(p tasklet.Progress) {
			if progress != nil {
				progress(p.Done, p.Total)
			}
		},
	})
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
