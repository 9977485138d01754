package node

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/p2p"
	"github.com/gridswarm/gridswarm/verify"
)

// EquivocationTopic carries equivocation proofs between coordinators: two
// receipts one worker signed for one tasklet with different outputs. Every
// node validates a proof before relaying it, so a forged one dies at the
// first hop, and every coordinator that receives one bans the worker.
const EquivocationTopic = "gridswarm/equivocation/1.0.0"

// equivocationSpec is the topic's rules: a proof must decode within
// verify.MaxProofSize and check under this node's receipt domain.
func (n *Node) equivocationSpec() p2p.TopicSpec {
	return p2p.TopicSpec{
		Name:             EquivocationTopic,
		MaxSize:          verify.MaxProofSize,
		PerPeerPerSecond: 1,
		Burst:            10,
		Check: func(from peer.ID, b []byte) error {
			p, err := verify.DecodeProof(b)
			if err == nil {
				_, err = p.Check(n.domain)
			}
			if err != nil {
				n.log.Info("equivocation proof refused and not relayed", "from", from, "err", err)
			}
			return err
		},
	}
}

// startEquivocation joins the topic; a proof that arrives bans its worker
// in this node's coordinator.
func (n *Node) startEquivocation() error {
	t, err := n.swarm.Gossip(n.equivocationSpec(), func(from peer.ID, b []byte) {
		p, err := verify.DecodeProof(b)
		if err != nil {
			return
		}
		if _, err := n.coord.Equivocated(p); err != nil {
			n.log.Warn("gossiped equivocation proof refused", "from", from, "err", err)
		}
	})
	if err != nil {
		return err
	}
	n.equivocation.Store(t)
	return nil
}

// gossipProof sends a checked proof to the swarm's coordinators.
func (n *Node) gossipProof(ctx context.Context, p verify.Proof) error {
	t := n.equivocation.Load()
	if t == nil {
		return fmt.Errorf("cannot gossip the proof: not joined to %s yet", EquivocationTopic)
	}
	b, err := p.Encode()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return t.Publish(ctx, b)
}
