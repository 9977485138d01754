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

// Peer is one row of peer_list.
type Peer struct {
	ID           string        `json:"id"`
	Addrs        []string      `json:"addrs"`
	Connected    bool          `json:"connected"`
	RTTMillis    float64       `json:"rtt_ms"` // 0: not measured yet
	Agent        string        `json:"agent,omitempty"`
	Gridswarm    bool          `json:"gridswarm"`
	LastAnnounce *Announcement `json:"last_announce,omitempty"`
}

// Announcement is the last notice a peer gossiped.
type Announcement struct {
	Text string    `json:"text"`
	Time time.Time `json:"time"`
}

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
		if r.LastAnnounce != nil {
			p.LastAnnounce = &Announcement{Text: r.LastAnnounce.Text, Time: time.UnixMilli(r.LastAnnounce.Time).UTC()}
		}
		out = append(out, p)
	}
	return out
}

// ConnectResult is peer_connect's answer.
type ConnectResult struct {
	PeerID string `json:"peer_id"`
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
