package p2p

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
)

// PeerInfo is one row of the peer table.
type PeerInfo struct {
	ID        peer.ID
	Addrs     []string
	Connected bool
	// RTT is the peerstore's EWMA of ping round trips; zero when never measured.
	RTT time.Duration
	// EstimatedRTT comes from Vivaldi coordinates, for peers never pinged.
	EstimatedRTT time.Duration
	AgentVersion string
	Caps         *Capabilities
	Gridswarm    bool // speaks our DHT protocol
	LastAnnounce *Announcement
}

// PeerTable joins the peerstore (addresses, latency, agent) with what the
// swarm learns itself (announcements).
type PeerTable struct {
	h        host.Host
	caps     *capsState
	mu       sync.Mutex
	announce map[peer.ID]Announcement
}

func newPeerTable(h host.Host, caps *capsState) *PeerTable {
	return &PeerTable{h: h, caps: caps, announce: map[peer.ID]Announcement{}}
}

func (t *PeerTable) recordAnnouncement(p peer.ID, a Announcement) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.announce[p] = a
}

var dhtProtocol = protocol.ID(DHTPrefix + "/kad/1.0.0")

// List returns every known peer but this node, connected ones first.
func (t *PeerTable) List() []PeerInfo {
	ps := t.h.Peerstore()
	self := t.h.ID()
	seen := map[peer.ID]bool{}
	var out []PeerInfo
	add := func(id peer.ID) {
		if id == self || seen[id] {
			return
		}
		seen[id] = true
		info := PeerInfo{
			ID:        id,
			Connected: t.h.Network().Connectedness(id) == network.Connected,
			RTT:       ps.LatencyEWMA(id),
		}
		for _, a := range ps.Addrs(id) {
			info.Addrs = append(info.Addrs, a.String())
		}
		sort.Strings(info.Addrs)
		if v, err := ps.Get(id, "AgentVersion"); err == nil {
			info.AgentVersion, _ = v.(string)
		}
		if protos, err := ps.SupportsProtocols(id, dhtProtocol); err == nil && len(protos) > 0 {
			info.Gridswarm = true
		}
		info.Caps = t.caps.get(id)
		if est, ok := t.caps.estimateRTT(id); ok {
			info.EstimatedRTT = est
		}
		t.mu.Lock()
		if a, ok := t.announce[id]; ok {
			info.LastAnnounce = &a
		}
		t.mu.Unlock()
		out = append(out, info)
	}
	for _, id := range t.h.Network().Peers() {
		add(id)
	}
	for _, id := range ps.PeersWithAddrs() {
		add(id)
	}
	for _, id := range t.caps.peers() {
		add(id) // known only from gossip: estimated RTT, no address yet
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Connected != out[j].Connected {
			return out[i].Connected
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// ConnectedCount is the number of peers with a live connection.
func (t *PeerTable) ConnectedCount() int { return len(t.h.Network().Peers()) }

// notifee pings every new connection so its RTT is known at once.
func (t *PeerTable) notifee(ctx context.Context, s *Swarm) network.Notifiee {
	return &network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.pingOnce(ctx, c.RemotePeer())
			}()
		},
	}
}

func (s *Swarm) pingOnce(ctx context.Context, p peer.ID) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// ping.Ping records each RTT in the peerstore's latency EWMA.
	select {
	case res := <-ping.Ping(ctx, s.host, p):
		if res.Error != nil {
			s.log.Debug("ping failed", "peer", p, "err", res.Error)
			return
		}
		s.caps.observeRTT(p, res.RTT)
	case <-ctx.Done():
	}
}

func (s *Swarm) pingLoop(ctx context.Context) {
	defer s.wg.Done()
	tick := time.NewTicker(s.opts.PingEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			for _, p := range s.host.Network().Peers() {
				s.pingOnce(ctx, p)
			}
		}
	}
}

func (s *Swarm) connectBootstrap(ctx context.Context) {
	for _, info := range s.opts.Bootstrap {
		if info.ID == s.host.ID() {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := s.host.Connect(cctx, info); err != nil {
			s.log.Warn("bootstrap peer unreachable", "peer", info.ID, "err", err)
		}
		cancel()
	}
}

// ParseAddrInfos turns /…/p2p/<id> strings into peer infos.
func ParseAddrInfos(addrs []string) ([]peer.AddrInfo, error) {
	var mas []ma.Multiaddr
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, err
		}
		mas = append(mas, a)
	}
	return peer.AddrInfosFromP2pAddrs(mas...)
}
