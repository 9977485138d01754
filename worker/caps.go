package worker

import (
	"bytes"
	"context"
	"io"
	"time"

	"github.com/gridswarm/gridswarm/p2p"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/worker/probe"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// benchRuns is how many timed runs one throughput measurement takes; the
// fastest counts, since a run can only be slowed (by other work on the
// cores, a GC, a page fault), never sped up.
const benchRuns = 3

// measureThroughput times the builtin trainer on the reference model
// (MLP 784-128-10, SGD, 16 steps of batch 64) and returns the best of benchRuns runs
// in samples per second, so the record says how fast this node trains;
// the scheduler turns it into compute time. It returns 0 if none ran.
func measureThroughput(ctx context.Context) float64 {
	m := trainer.Model{Kind: trainer.KindMLP, Inputs: 784, Hidden: []int{128}, Classes: 10}
	return trainer.Speed(ctx, m, trainer.Optimizer{Kind: trainer.OptSGD, LR: 0.01}, 64, 16, benchRuns)
}

// benchClock says when an idle worker measures its throughput again. The
// measurement at start runs while the daemon (and, on a shared machine,
// its neighbours) start up, and reads anything from a tenth of the speed
// up; later idle moments give a truer figure. The gaps double from
// benchFirst to benchMax, and the best reading is kept.
type benchClock struct {
	next time.Time
	gap  time.Duration
}

const (
	benchFirst = 10 * time.Second
	benchMax   = 30 * time.Minute
)

func newBenchClock(start time.Time) benchClock {
	return benchClock{next: start.Add(benchFirst), gap: benchFirst}
}

// due reports whether a measurement is due at now, and if so schedules
// the next one.
func (b *benchClock) due(now time.Time) bool {
	if now.Before(b.next) {
		return false
	}
	b.gap = min(2*b.gap, benchMax)
	b.next = now.Add(b.gap)
	return true
}

// benchQuiet is how long after its last tasklet a worker counts as out
// of a job. Between a job's rounds a worker runs nothing for a moment; a
// measurement then takes the cores from the round's other tasklets and,
// on a shared machine, reads low anyway.
const benchQuiet = 30 * time.Second

// quiet reports whether the worker runs no tasklet and ran none within
// benchQuiet of now.
func (w *Worker) quiet(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running == 0 && now.Sub(w.lastRan) >= benchQuiet
}

// remeasure measures the throughput again while the worker is quiet and
// keeps the better figure, republishing the record if it rose.
func (w *Worker) remeasure(ctx context.Context, now time.Time) {
	if !w.quiet(now) || w.paused.Load() || !w.bench.due(now) {
		return
	}
	t := measureThroughput(ctx)
	w.mu.Lock()
	rose := t > w.throughput
	if rose {
		w.throughput = t
	}
	w.mu.Unlock()
	if rose {
		w.poke()
	}
}

// capabilities builds this node's record from a fresh probe.
func (w *Worker) capabilities(ctx context.Context) (p2p.Capabilities, []string) {
	pr, err := probe.Run(ctx, probe.Options{RepoDir: w.deps.RepoDir, GridQuota: w.deps.GridQuota})
	if err != nil {
		w.log.Warn("capability probe", "err", err)
	}
	now := time.Now()
	w.idle.Observe(now, pr.GPUs, nil)
	offered := map[int]bool{}
	for _, i := range w.idle.Offerable(now) {
		offered[i] = true
	}
	st := w.Status()
	w.mu.Lock()
	w.last = pr
	w.mu.Unlock()
	c := p2p.Capabilities{
		Agent:        w.deps.Agent,
		Executors:    append([]string(nil), w.cfg.Executors...),
		CPUCores:     pr.CPUCores,
		MemoryBytes:  pr.MemoryTotal,
		DiskFree:     pr.DiskFree,
		GridQuota:    pr.GridQuota,
		Idle:         st.Idle,
		IdleReason:   st.Reason,
		Slots:        st.Slots,
		SlotsFree:    st.Slots - st.SlotsInUse,
		Throughput:   st.Throughput,
		PricePerHour: w.cfg.PricePerHour,
	}
	if !w.cfg.Enabled {
		c.Executors = nil
	}
	for _, g := range pr.GPUs {
		c.GPUs = append(c.GPUs, p2p.GPUCap{Name: g.Name, MemoryTotal: g.MemoryTotal, MemoryFree: g.MemoryFree,
			Utilization: g.UtilizationGPU, ComputeCapability: g.ComputeCapability, Offered: offered[g.Index]})
	}
	classes := append([]string(nil), c.Executors...)
	if len(offered) > 0 {
		classes = append(classes, "gpu")
	}
	return c, classes
}

// publishLoop publishes the record at start, on every change and at the
// configured interval.
func (w *Worker) publishLoop(ctx context.Context) {
	defer w.wg.Done()
	// Timed here rather than in Start: the daemon is ready (its API up)
	// about 40 ms sooner, and the first record still carries the figure.
	t := measureThroughput(ctx)
	w.mu.Lock()
	w.throughput = max(w.throughput, t)
	w.mu.Unlock()
	sig, err := p2p.SignBinding(func(h []byte) ([]byte, error) { return cryptoSign(h, w) }, w.deps.Swarm.ID())
	if err != nil {
		w.log.Error("cannot sign the account binding; no capability record will be published", "err", err)
		return
	}
	tick := time.NewTicker(w.cfg.CapsEvery)
	defer tick.Stop()
	// The DHT copy is written at start until it succeeds and then at each
	// interval; changes in between go out on gossip alone.
	announce, announced := true, false
	for {
		c, classes := w.capabilities(ctx)
		c.Account, c.AccountSig = w.Account(), sig
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := w.deps.Swarm.PublishCaps(pctx, c, classes, announce || !announced)
		cancel()
		if err != nil && ctx.Err() == nil {
			w.log.Debug("publish capability record", "err", err)
		} else if err == nil && w.deps.Swarm.RoutingTableSize() > 0 {
			announced = true
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			announce = true
		case <-w.changed:
			announce = false
		}
	}
}
