package node

import (
	"context"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/p2p"
	"github.com/gridswarm/gridswarm/scheduler"
)

// renoticeBox shares the renotice schedule between the payer, which adds
// each posted root, and the loop that gossips notices again.
type renoticeBox struct {
	mu   sync.Mutex
	r    *renotices
	kick chan struct{} // something changed: work out the next wake again
}

func newRenoticeBox() *renoticeBox {
	return &renoticeBox{r: newRenotices(), kick: make(chan struct{}, 1)}
}

func (b *renoticeBox) poke() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// posted keeps the notice of a root this node just posted and gossiped.
func (b *renoticeBox) posted(pn PayoutNotice) {
	now := time.Now()
	b.mu.Lock()
	b.r.add(pn, now, now)
	b.mu.Unlock()
	b.poke()
}

// latestNotice is the notice of a paid job's latest root, as its record
// keeps it; false when no root was posted.
func latestNotice(j *scheduler.Job) (PayoutNotice, bool) {
	s := j.Settlement
	if s == nil || len(s.Batches) == 0 {
		return PayoutNotice{}, false
	}
	b := s.Batches[len(s.Batches)-1]
	pn := PayoutNotice{
		ChainID: s.Escrow.ChainID, Escrow: s.Escrow.Contract, EscrowID: s.Escrow.ID, Job: j.ID,
		Batch: b.Index, Root: b.Root, Payouts: b.Payouts, Record: b.Record,
	}
	if len(pn.Payouts) > maxNoticePayouts {
		pn.Payouts = nil // workers read them from the record
	}
	return pn, true
}

// startRenotice gossips payout notices again (see renotices) until ctx
// ends: the jobs this node coordinated that posted a root are due at once,
// in case a worker missed them while this node was down too.
func (n *Node) startRenotice(ctx context.Context, t *p2p.Topic) {
	box := n.renotice
	if jobs, err := n.coord.List(); err != nil {
		n.log.Warn("cannot list jobs to re-send their payout notices", "err", err)
	} else {
		now := time.Now()
		box.mu.Lock()
		for _, j := range jobs {
			if pn, ok := latestNotice(j); ok {
				box.r.add(pn, time.Time{}, now)
			}
		}
		box.mu.Unlock()
	}
	n.bg.Add(2)
	go func() {
		defer n.bg.Done()
		if err := t.WatchJoins(ctx, func(peer.ID) {
			box.mu.Lock()
			box.r.joined()
			box.mu.Unlock()
			box.poke()
		}); err != nil {
			n.log.Warn("payout notices will not be re-sent to peers that join", "err", err)
		}
	}()
	go func() {
		defer n.bg.Done()
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for {
			box.mu.Lock()
			due := box.r.due(time.Now())
			at, ok := box.r.wake(time.Now())
			box.mu.Unlock()
			for _, pn := range due {
				n.renoticeOne(ctx, t, pn)
			}
			var wake <-chan time.Time
			if ok {
				timer.Reset(time.Until(at))
				wake = timer.C
			}
			select {
			case <-ctx.Done():
				return
			case <-box.kick:
			case <-wake:
			}
			timer.Stop()
		}
	}()
}

// renoticeOne gossips pn again unless the chain says its escrow owes
// nothing more (every committed token claimed), in which case the job is
// forgotten. A chain that cannot be read keeps the notice for next time.
func (n *Node) renoticeOne(ctx context.Context, t *p2p.Topic, pn PayoutNotice) {
	id, ok := new(big.Int).SetString(pn.EscrowID, 10)
	if !ok {
		n.dropRenotice(pn.Job)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	j, err := n.settle.client.Job(cctx, id)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Warn("cannot read an escrow to re-send its payout notice", "job", pn.Job, "err", err)
		}
		return
	}
	if j.Claimed.Cmp(j.Committed) >= 0 || int(j.Batches) > pn.Batch {
		// Paid out in full, or a newer root (from a coordinator that
		// shares this account) supersedes it.
		n.dropRenotice(pn.Job)
		return
	}
	if err := gossipNotice(ctx, t, pn); err != nil && ctx.Err() == nil {
		n.log.Warn("cannot gossip a payout notice again", "job", pn.Job, "err", err)
		return
	}
	n.log.Info("gossiped a payout notice again", "job", pn.Job, "batch", pn.Batch,
		"unclaimed", new(big.Int).Sub(j.Committed, j.Claimed).String(), "escrow", strings.ToLower(pn.Escrow))
}

func (n *Node) dropRenotice(job string) {
	n.renotice.mu.Lock()
	n.renotice.r.drop(job)
	n.renotice.mu.Unlock()
}
