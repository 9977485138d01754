package node

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/p2p"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/worker"
)

// WorkerService is the worker_ namespace: this node as a contributor.
type WorkerService struct{ n *Node }

// Status reports idle state, slots, executors, throughput and the probe.
func (s *WorkerService) Status() worker.Status { return s.n.worker.Status() }

// Pause stops accepting tasklets until Resume.
func (s *WorkerService) Pause() { s.n.worker.Pause(true) }

// Resume accepts tasklets again.
func (s *WorkerService) Resume() { s.n.worker.Pause(false) }

// TaskletService is the tasklet_ namespace: offering tasklets by hand and
// running them locally (the coordinator does both for jobs).
type TaskletService struct{ n *Node }

// OfferResult is tasklet_offer's answer.
type OfferResult struct {
	SpecCID string          `json:"spec_cid"`
	Receipt receipt.Receipt `json:"receipt"`
	// Loss is the receipt's loss (Receipt.Loss, decoded from its lossBits):
	// the same quantity as tasklet_runLocal's loss.
	Loss    float32            `json:"loss"`
	Metrics map[string]float64 `json:"metrics,omitempty"` // the worker's extra, unsigned figures
	Seconds float64            `json:"seconds"`
}

// Offer sends a tasklet to a worker, hinting this node as a provider of
// its inputs, and returns the checked receipt. The worker's account must
// match its capability record when one is known.
func (s *TaskletService) Offer(ctx context.Context, worker string, spec tasklet.Spec, opts *OfferOptions) (OfferResult, error) {
	pid, err := peer.Decode(worker)
	if err != nil {
		return OfferResult{}, fmt.Errorf("%q is not a peer ID: %w", worker, err)
	}
	o := deref(opts)
	h := s.n.swarm.Host()
	var expected common.Address
	if c := s.n.swarm.Caps(pid); c != nil {
		expected = common.HexToAddress(c.Account)
	}
	report := reporter(s.n.progress, o.Op, "tasklet")
	var metrics map[string]float64
	start := time.Now()
	self := peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
	r, err := tasklet.Offer(ctx, h, h.Peerstore().PrivKey(h.ID()), pid, spec, []peer.AddrInfo{self}, tasklet.OfferOptions{
		HeartbeatTimeout: time.Duration(o.HeartbeatTimeoutSeconds * float64(time.Second)),
		Domain:           s.n.domain,
		ExpectedWorker:   expected,
		Progress: func(p tasklet.Progress) {
			if p.Metrics != nil {
				metrics = p.Metrics
			}
			report(int64(p.Done), int64(p.Total))
		},
	})
	if err != nil {
		return OfferResult{}, err
	}
	c, _ := spec.CID()
	return OfferResult{SpecCID: c.String(), Receipt: r, Loss: r.Loss(), Metrics: metrics, Seconds: time.Since(start).Seconds()}, nil
}

// RunLocal runs a tasklet on this node's own executor, as a worker would.
func (s *TaskletService) RunLocal(ctx context.Context, spec tasklet.Spec, op *string) (LocalResult, error) {
	if err := spec.Validate(); err != nil {
		return LocalResult{}, err
	}
	e, ok := s.n.worker.Executor(spec.Executor)
	if !ok {
		return LocalResult{}, fmt.Errorf("executor %q is not enabled on this node (worker.executors)", spec.Executor)
	}
	report := reporter(s.n.progress, deref(op), "tasklet")
	start := time.Now()
	out, err := e.Run(ctx, spec, func(done, total int) { report(int64(done), int64(total)) })
	if err != nil {
		return LocalResult{}, err
	}
	c, _ := spec.CID()
	return LocalResult{SpecCID: c.String(), OutputCID: out.CID, Samples: out.Samples, Loss: out.Loss, Metrics: finiteMetrics(out.Metrics), Seconds: time.Since(start).Seconds()}, nil
}

// finiteMetrics drops the figures JSON cannot carry (NaN, ±Inf), as the
// tasklet protocol does for a receipt's metrics.
func finiteMetrics(m map[string]float64) map[string]float64 {
	var out map[string]float64
	for k, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if out == nil {
			out = make(map[string]float64, len(m))
		}
		out[k] = v
	}
	return out
}

// Progress is tasklet_subscribe("progress", op).
func (s *TaskletService) Progress(ctx context.Context, op string) (*rpc.Subscription, error) {
	if op == "" {
		return nil, errors.New("op ID is empty: pick one and pass it to the operation too")
	}
	return s.n.progress.subscribe(ctx, op)
}

// Capability is one row of peer_capabilities: a record plus what this node
// measured or estimated of the path to it.
type Capability struct {
	p2p.Capabilities
	Connected   bool    `json:"connected"`
	RTTMillis   float64 `json:"rtt_ms"`
	RTTMeasured bool    `json:"rtt_measured"`
}

// Capabilities lists every capability record this node holds, its own first.
func (s *PeerService) Capabilities() []Capability {
	var out []Capability
	if own := s.n.swarm.Caps(s.n.swarm.ID()); own != nil {
		out = append(out, Capability{Capabilities: *own, Connected: true, RTTMeasured: true})
	}
	for _, p := range s.n.swarm.Peers().List() {
		if p.Caps == nil {
			continue
		}
		c := Capability{Capabilities: *p.Caps, Connected: p.Connected}
		switch {
		case p.RTT > 0:
			c.RTTMillis, c.RTTMeasured = float64(p.RTT.Microseconds())/1000, true
		case p.EstimatedRTT > 0:
			c.RTTMillis = float64(p.EstimatedRTT.Microseconds()) / 1000
		}
		out = append(out, c)
	}
	return out
}

// FindCapable looks up through the DHT alone the workers of a class
// (an executor name, or "gpu") and returns their checked records.
func (s *PeerService) FindCapable(ctx context.Context, class string, max *int) ([]p2p.Capabilities, error) {
	limit := 20
	if max != nil && *max > 0 {
		limit = min(*max, 100)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cs, err := s.n.swarm.FindCapable(ctx, class, limit)
	if err != nil {
		return nil, err
	}
	out := make([]p2p.Capabilities, len(cs))
	for i, c := range cs {
		out[i] = *c
	}
	return out, nil
}
