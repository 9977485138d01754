package p2p

import (
	"context"
	"errors"
	"fmt"
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
	now      func() time.Time
	mu       sync.Mutex
	announce map[peer.ID]announceEntry
}

// announceEntry is an announcement and when this node received it.
type announceEntry struct {
	a  Announcement
	at time.Time
}

// pruneGrace is how long the capability record and announcement of a peer
// no longer connected are kept after they were received. It is MaxCapsAge,
// so a pruned record could not be replayed anyway.
const pruneGrace = MaxCapsAge

// maxAnnouncers bounds the announcements kept, like maxCapsPeers.
const maxAnnouncers = 10_000

func newPeerTable(h host.Host, caps *capsState) *PeerTable {
	return &PeerTable{h: h, caps: caps, now: caps.now, announce: map[peer.ID]announceEntry{}}
}

func (t *PeerTable) recordAnnouncement(p peer.ID, a Announcement) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.announce[p] = announceEntry{a: a, at: t.now()}
}

func (t *PeerTable) connected(id peer.ID) bool {
	return t.h.Network().Connectedness(id) == network.Connected
}

// prune forgets the capability records and announcements of peers gone for
// longer than pruneGrace, and bounds both maps.
func (t *PeerTable) prune() (caps, announcements int) {
	caps = t.caps.prune(t.connected, pruneGrace, maxCapsPeers)
	t.mu.Lock()
	defer t.mu.Unlock()
	announcements = pruneMap(t.announce, func(e announceEntry) time.Time { return e.at }, t.connected, t.now(), pruneGrace, maxAnnouncers)
	return caps, announcements
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
		if e, ok := t.announce[id]; ok {
			a := e.a
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

// notifee greets every new peer: it asks for the peer's capability record
// unless a fresh one is held (so a restarted node knows every connected
// worker at once, not at their next publication), then pings it so its RTT
// is known at once and feeds the coordinate.
func (t *PeerTable) notifee(ctx context.Context, s *Swarm) network.Notifiee {
	return &network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			p := c.RemotePeer()
			if !s.startGreeting(p) {
				return // another connection to p is being greeted
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				err := s.askCaps(ctx, p)
				s.endGreeting(p)
				s.pingOnce(ctx, p)
				if errors.Is(err, ErrNoCaps) {
					// It has not published yet (it is starting too): once
					// more a little later; the ping loop asks after that.
					select {
					case <-ctx.Done():
					case <-time.After(2 * time.Second):
						_ = s.askCaps(ctx, p)
					}
				}
			}()
		},
	}
}

// startGreeting claims the greeting of p; false if it is under way.
func (s *Swarm) startGreeting(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.greeting[p] {
		return false
	}
	if len(s.greeting) == 0 {
		s.greeted = make(chan struct{})
	}
	s.greeting[p] = true
	return true
}

// endGreeting notes that p was asked for its record.
func (s *Swarm) endGreeting(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.greeting, p)
	if len(s.greeting) == 0 {
		close(s.greeted)
	}
}

// CapsAsked waits until every peer connected so far has been asked once
// for its capability record (each ask takes at most 10 s), so that what
// Caps and Peers report covers them: a restarted coordinator calls it
// before it plans. It returns ctx's error if ctx ends first.
func (s *Swarm) CapsAsked(ctx context.Context) error {
	s.mu.Lock()
	done := s.greeted
	s.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for peers' capability records: %w", ctx.Err())
	}
}

// pingTimeout bounds one ping. A peer that speaks ping but answers
// neither a ping nor the one sent right after it is taken for dead and
// disconnected.
const pingTimeout = 5 * time.Second

// pingOnce pings p, once more at once if that fails, and disconnects p if
// both fail (see pingFailed).
func (s *Swarm) pingOnce(ctx context.Context, p peer.ID) {
	err := s.ping(ctx, p)
	if err == nil {
		return
	}
	if s.ping(ctx, p) == nil {
		s.log.Debug("ping failed once", "peer", p, "err", err)
		return
	}
	s.pingFailed(ctx, p, err)
}

// ping measures one RTT to p; ping.Ping records it in the peerstore's
// latency EWMA, and it feeds this node's coordinate.
func (s *Swarm) ping(ctx context.Context, p peer.ID) error {
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	// Never dial to ping: a peer that went away stays away.
	select {
	case res := <-ping.Ping(network.WithNoDial(pctx, "ping"), s.host, p):
		if res.Error != nil {
			return res.Error
		}
		s.caps.observeRTT(p, res.RTT)
		return nil
	case <-pctx.Done():
		return pctx.Err()
	}
}

// pingFailed disconnects a peer that speaks ping but did not answer, so
// the peer table shows it gone within a ping interval rather than when the
// transport's keep-alive gives up. A peer without ping is left alone.
func (s *Swarm) pingFailed(ctx context.Context, p peer.ID, err error) {
	if ctx.Err() != nil || s.host.Network().Connectedness(p) != network.Connected {
		return
	}
	if protos, perr := s.host.Peerstore().SupportsProtocols(p, ping.ID); perr != nil || len(protos) == 0 {
		s.log.Debug("ping failed", "peer", p, "err", err)
		return
	}
	s.log.Info("peer answers no ping; disconnecting", "peer", p, "err", err)
	_ = s.host.Network().ClosePeer(p)
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
				if !s.caps.fresh(p) && s.supportsCaps(p) {
					if _, err := s.FetchCaps(ctx, p); err != nil && !errors.Is(err, ErrNoCaps) {
						s.log.Debug("capability request", "peer", p, "err", err)
					}
				}
			}
			if c, a := s.peers.prune(); c+a > 0 {
				s.log.Debug("forgot peers gone", "capability_records", c, "announcements", a)
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
