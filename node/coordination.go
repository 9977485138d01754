package node

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/gridswarm/gridswarm/datagrid"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/tasklet"
)

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

func (a coordGrid) AddBytesOwned(ctx context.Context, name string, b []byte, owner string) (cid.Cid, error) {
	return a.g.AddBytesOwned(ctx, name, b, owner)
}

func (a coordGrid) ReleaseOwner(ctx context.Context, ownerPrefix string) (int, error) {
	return a.g.ReleaseOwner(ctx, ownerPrefix)
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

func (a coordGrid) DropCached(ctx context.Context, roots ...cid.Cid) error {
	return a.g.DropCached(ctx, roots...)
}

// holdersQuiet ends a holder lookup this long after its last new
// provider: placement ranks the holders it knows and a missed one only
// costs locality, while the walk's remaining hops cost a round's start.
const holdersQuiet = 200 * time.Millisecond

func (a coordGrid) Holders(ctx context.Context, c cid.Cid) []string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ps, err := a.g.ProvidersUntilQuiet(ctx, c, 20, holdersQuiet)
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

// CapsAsked waits until every connected peer was asked for its record.
func (a coordSwarm) CapsAsked(ctx context.Context) error { return a.n.swarm.CapsAsked(ctx) }

// Workers turns the connected peers' capability records into placement's
// view of the world. Bandwidth, throughput and reputation are overridden
// by the coordinator's own measurements (scheduler/measure) where it has
// them; a worker advertising no bandwidth gets measure's conservative
// default. Throughput is the record's benchmark, timed on a model of
// p2p.ThroughputParams parameters; the coordinator scales it per job.
// IdleReason says why a worker is not idle (placement explains with it).
func (a coordSwarm) Workers() []placement.Peer {
	var out []placement.Peer
	for _, p := range a.n.swarm.Peers().List() {
		c := p.Caps
		if c == nil || !p.Connected {
			continue
		}
		wp := placement.Peer{
			ID: p.ID.String(), Executors: c.Executors, DiskFree: c.DiskFree, MemoryBytes: c.MemoryBytes,
			// Slots bounds the coordinator's own attempts on the peer; SlotsFree
			// is not used: the record lags, the coordinator knows what it sent,
			// and a worker busy with others' tasklets declines.
			Idle: c.Idle, IdleReason: c.IdleReason, Version: c.Agent, PricePerHour: c.PricePerHour, Slots: c.Slots,
			RTT: p.RTT, RTTMeasured: p.RTT > 0, BandwidthBps: c.BandwidthBps, Throughput: c.Throughput,
		}
		if wp.RTT == 0 {
			wp.RTT = p.EstimatedRTT
		}
		// The record's account is bound to the peer by its signature
		// (p2p.VerifyBinding); addresses are what this node dialled or
		// was dialled from. Both keep a spot check's replica independent.
		wp.Account = c.Account
		wp.Addrs = publicAddrs(a.n.swarm.Host().Peerstore().Addrs(p.ID))
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
	return a.OfferPriced(ctx, worker, spec, "", progress)
}

// OfferPriced offers a paid tasklet: price is what it pays, in base units.
func (a coordSwarm) OfferPriced(ctx context.Context, worker string, spec tasklet.Spec, price string, progress func(done, total int)) (receipt.Receipt, error) {
	r, _, err := a.offer(ctx, worker, spec, scheduler.OfferRequest{Price: price}, progress)
	return r, err
}

// OfferWith offers a tasklet with a price and data to prefetch, and
// returns which of that data the worker held, or was fetching, by its
// receipt.
func (a coordSwarm) OfferWith(ctx context.Context, worker string, spec tasklet.Spec, req scheduler.OfferRequest) (receipt.Receipt, []string, error) {
	return a.offer(ctx, worker, spec, req, nil)
}

func (a coordSwarm) offer(ctx context.Context, worker string, spec tasklet.Spec, req scheduler.OfferRequest, progress func(done, total int)) (receipt.Receipt, []string, error) {
	pid, err := peer.Decode(worker)
	if err != nil {
		return receipt.Receipt{}, nil, err
	}
	h := a.n.swarm.Host()
	var expected common.Address
	if c := a.n.swarm.Caps(pid); c != nil {
		expected = common.HexToAddress(c.Account)
	}
	self := peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
	var held []string
	r, err := tasklet.Offer(ctx, h, h.Peerstore().PrivKey(h.ID()), pid, spec, []peer.AddrInfo{self}, tasklet.OfferOptions{
		Domain: a.n.domain, ExpectedWorker: expected, Price: req.Price, Prefetch: req.Prefetch,
		Progress: func(p tasklet.Progress) {
			if p.Phase == tasklet.PhaseDone {
				// What is still arriving counts too: the next tasklet on
				// it waits for the rest of a fetch already under way.
				held = append(p.Prefetched, p.Prefetching...)
			}
			if progress != nil {
				progress(p.Done, p.Total)
			}
		},
	})
	return r, held, err
}

func (a coordSwarm) Release(ctx context.Context, worker string, outputs []string) error {
	pid, err := peer.Decode(worker)
	if err != nil {
		return err
	}
	return tasklet.Release(ctx, a.n.swarm.Host(), pid, outputs)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// publicAddrs returns the public IP addresses among addrs: loopback and
// private ones say nothing about who runs a peer.
func publicAddrs(addrs []ma.Multiaddr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		ip, err := manet.ToIP(a)
		if err != nil {
			continue
		}
		ad, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		ad = ad.Unmap()
		if !ad.IsGlobalUnicast() || ad.IsPrivate() || ad.IsLoopback() || slices.Contains(out, ad) {
			continue
		}
		out = append(out, ad)
	}
	return out
}
