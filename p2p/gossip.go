package p2p

import (
	"fmt"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Gossip joins a topic and hands every message that passed its validator
// (so was also relayed) to handle, with its author, until the swarm
// closes. This node's own messages are not handed back.
func (s *Swarm) Gossip(spec TopicSpec, handle func(from peer.ID, data []byte)) (*Topic, error) {
	t, err := s.JoinTopic(spec)
	if err != nil {
		return nil, err
	}
	sub, err := t.Subscribe()
	if err != nil {
		return nil, fmt.Errorf("cannot subscribe to %s: %w", spec.Name, err)
	}
	s.consume(sub, func(m *pubsub.Message) {
		if m.ReceivedFrom == s.host.ID() {
			return
		}
		handle(m.GetFrom(), m.Data)
	})
	return t, nil
}
