package worldnet

import (
	"fmt"
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/gridswarm/gridswarm/scheduler/sim"
)

// Geo is what Net needs of the geo data: the link between two regions.
type Geo interface {
	Link(a, b string) (sim.Link, error)
}

// Net is one in-memory network. Its methods are safe for concurrent use.
type Net struct {
	mn  mocknet.Mocknet
	geo Geo

	mu      sync.Mutex
	regions map[peer.ID]string
	order   []peer.ID // peers in the order they joined
	perReg  map[string]int
	// regionOrder numbers regions in the order their first peer joined.
	regionOrder []string
}

// New returns an empty network whose links follow geo.
func New(geo Geo) *Net {
	return &Net{mn: mocknet.New(), geo: geo, regions: map[peer.ID]string{}, perReg: map[string]int{}}
}

// LinkOptions turns a measured link into mocknet's: mocknet delays every
// write by Latency, so a request and its answer take 2×Latency.
func LinkOptions(l sim.Link) mocknet.LinkOptions {
	return mocknet.LinkOptions{Latency: l.RTT / 2, Bandwidth: l.BandwidthBps}
}

// Host returns a host factory for one peer in region, for
// node.Options.NewHost or p2p.Options.NewHost. The factory fails when the
// region is unknown to the geo data or the key is already on the network.
func (w *Net) Host(region string) func(crypto.PrivKey) (host.Host, error) {
	return func(key crypto.PrivKey) (host.Host, error) {
		return w.add(region, key)
	}
}

func (w *Net) add(region string, key crypto.PrivKey) (host.Host, error) {
	if _, err := w.geo.Link(region, region); err != nil {
		return nil, fmt.Errorf("worldnet: region %q: %w", region, err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("worldnet: the key gives no peer ID: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.regions[id]; dup {
		return nil, fmt.Errorf("worldnet: peer %s is already on the network", id)
	}
	addr, err := w.addr(region)
	if err != nil {
		return nil, err
	}
	h, err := w.mn.AddPeer(key, addr)
	if err != nil {
		return nil, fmt.Errorf("worldnet: adding peer %s in %s: %w", id, region, err)
	}
	ping.NewPingService(h)
	for _, other := range w.order {
		l, err := w.geo.Link(region, w.regions[other])
		if err == nil {
			var link mocknet.Link
			if link, err = w.mn.LinkPeers(id, other); err == nil {
				link.SetOptions(LinkOptions(l))
			}
		}
		if err != nil {
			_ = h.Close()
			return nil, fmt.Errorf("worldnet: linking %s (%s) to %s (%s): %w", id, region, other, w.regions[other], err)
		}
	}
	w.regions[id] = region
	w.order = append(w.order, id)
	return h, nil
}

// addr is a peer's address: 10.<region>.<n/250>.<n%250+1>, one /16 per
// region in the order regions first appear, so an address says where a
// peer is (private: the daemon does not take it for a public one).
func (w *Net) addr(region string) (ma.Multiaddr, error) {
	ri := slices.Index(w.regionOrder, region)
	if ri < 0 {
		ri = len(w.regionOrder)
		w.regionOrder = append(w.regionOrder, region)
	}
	n := w.perReg[region]
	if ri > 255 || n >= 250*256 {
		return nil, fmt.Errorf("worldnet: more than 256 regions, or 64,000 peers in %s: 10.0.0.0/8 is full", region)
	}
	w.perReg[region] = n + 1
	return ma.NewMultiaddr(fmt.Sprintf("/ip4/10.%d.%d.%d/tcp/4001", ri, n/250, n%250+1))
}

// Region is the region of a peer on the network, "" for a stranger.
func (w *Net) Region(id peer.ID) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.regions[id]
}

// Close closes every host on the network.
func (w *Net) Close() error {
	return w.mn.Close()
}
