package node

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/p2p"
)

// PeerService is the peer_ namespace.
type PeerService struct{ n *Node }

// List returns the peer table: every known peer, connected first.
func (s *PeerService) List() []Peer {
	rows := s.n.swarm.Peers().List()
	out := make([]Peer, 0, len(rows))
	for _, r := range rows {
		p := Peer{
			ID:        r.ID.String(),
			Addrs:     r.Addrs,
			Connected: r.Connected,
			RTTMillis: float64(r.RTT.Microseconds()) / 1000,
			Agent:     r.AgentVersion,
			Gridswarm: r.Gridswarm,
		}
		account := ""
		if r.Caps != nil {
			account = r.Caps.Account
		}
		p.Reputation = s.n.reputation(p.ID, account)
		if r.LastAnnounce != nil {
			p.LastAnnounce = &Announcement{Text: r.LastAnnounce.Text, Time: time.UnixMilli(r.LastAnnounce.Time).UTC()}
		}
		out = append(out, p)
	}
	return out
}

// Connect dials a peer by multiaddr (/ip4/…/tcp/…/p2p/<id>).
func (s *PeerService) Connect(ctx context.Context, addr string) (ConnectResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	id, err := s.n.swarm.Connect(ctx, addr)
	if err != nil {
		return ConnectResult{}, err
	}
	return ConnectResult{PeerID: id.String()}, nil
}

// Disconnect closes the connections to a peer.
func (s *PeerService) Disconnect(id string) error {
	pid, err := peer.Decode(id)
	if err != nil {
		return fmt.Errorf("%q is not a peer ID: %w", id, err)
	}
	return s.n.swarm.Disconnect(pid)
}

// Announce gossips a short notice to every swarm member.
func (s *PeerService) Announce(ctx context.Context, text string) error {
	if text == "" || len(text) > p2p.MaxAnnounceText {
		return fmt.Errorf("text must be 1-%d bytes, got %d", p2p.MaxAnnounceText, len(text))
	}
	return s.n.swarm.Announce(ctx, text)
}
