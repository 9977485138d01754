package worker

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"math/big"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/datagrid"
	"github.com/gridswarm/gridswarm/p2p"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/worker/builtin"
	"github.com/gridswarm/gridswarm/worker/probe"
	"github.com/gridswarm/gridswarm/worker/process"
	"github.com/gridswarm/gridswarm/worker/wasm"
)

// Config is what the contributor set in config.toml's [worker].
type Config struct {
	// MinPrice declines paid offers under it (base units); nil: any.
	MinPrice     *big.Int
	Enabled      bool
	Executors    []string // builtin, wasm, process
	Idle         probe.IdlePolicy
	PricePerHour float64
	// TrainerWorkers is the goroutines per matrix product of the builtin
	// trainer; results do not depend on it.
	TrainerWorkers int
	Process        process.Config
	Wasm           wasm.Options
	CapsEvery      time.Duration // republish interval (default 2m)
	// OutputTTL is how long a delivered output stays pinned when its
	// coordinator never releases it (default DefaultOutputTTL).
	OutputTTL time.Duration
	// HealthEvery is how often the store is probed (writable, room for the
	// last tasklet that did not fit) and expired outputs swept (default
	// DefaultHealthEvery).
	HealthEvery time.Duration
	// Now is the clock of the output TTL (default time.Now).
	Now func() time.Time
	// Fault makes the worker cheat on builtin tasklets, for tests and
	// demos only (the daemon honours it only in the local profile).
	Fault FaultConfig
}

// DefaultHealthEvery is Config.HealthEvery's default.
const DefaultHealthEvery = 5 * time.Second

// Deps are the daemon's parts the worker uses.
type Deps struct {
	Swarm     *p2p.Swarm
	Grid      *datagrid.Grid
	EthKey    *ecdsa.PrivateKey
	Domain    receipt.Domain
	RepoDir   string
	GridDir   string // the data grid's folder (default RepoDir/datagrid)
	GridQuota uint64
	Agent     string
	Logger    *slog.Logger
	// Metrics, if set, counts offers answered and tasklets run.
	Metrics Metrics
}

// Metrics is what the worker counts (package metrics implements it).
type Metrics interface {
	Offer(accepted bool, reason string)
	Tasklet(executor string, err error, d time.Duration)
}

// Worker is the running worker side of a daemon.
type Worker struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	execs   map[string]tasklet.Executor
	slots   *probe.Slots
	idle    *probe.IdleTracker
	svc     *tasklet.Service
	paused  atomic.Bool
	wasm    *wasm.Executor
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	changed chan struct{}
	outs    *outputs
	faulty  *faultyExecutor // nil for an honest worker

	mu         sync.Mutex
	health     health
	needFloor  uint64 // bytes the last tasklet that did not fit needed
	releases   map[string][]func()
	last       probe.Probe
	throughput float64    // best measured, samples/s on one core
	bench      benchClock // maintainLoop's alone: when to measure again
	running    int
	lastRan    time.Time // when a tasklet last started or ended
	done       int
}

// Start builds the executors, registers the tasklet protocol and starts
// publishing the capability record.
func Start(ctx context.Context, cfg Config, d Deps) (*Worker, error) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CapsEvery == 0 {
		cfg.CapsEvery = 2 * time.Minute
	}
	if cfg.OutputTTL <= 0 {
		cfg.OutputTTL = DefaultOutputTTL
	}
	if cfg.HealthEvery <= 0 {
		cfg.HealthEvery = DefaultHealthEvery
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Idle = cfg.Idle.WithDefaults()
	idle, err := probe.NewIdleTracker(cfg.Idle)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	w := &Worker{
		cfg: cfg, deps: d, log: d.Logger, idle: idle,
		slots:    probe.NewSlots(cfg.Idle.MaxConcurrent),
		execs:    map[string]tasklet.Executor{},
		releases: map[string][]func(){},
		changed:  make(chan struct{}, 1),
	}
	w.outs = &outputs{grid: d.Grid, ledger: newOutputLedger(), ttl: cfg.OutputTTL, now: cfg.Now, log: w.log}
	store := gridStore{g: d.Grid, w: w}
	f, err := newFault(cfg.Fault, w.Account())
	if err != nil {
		return nil, err
	}
	if f != nil && !slices.Contains(cfg.Executors, tasklet.ExecutorBuiltin) {
		return nil, fmt.Errorf("worker.fault: lies about builtin outputs only, and worker.executors lacks builtin")
	}
	for _, name := range cfg.Executors {
		switch name {
		case tasklet.ExecutorBuiltin:
			w.execs[name] = builtin.New(store, cfg.TrainerWorkers)
			if f != nil {
				w.faulty = &faultyExecutor{honest: w.execs[name], store: store, workers: cfg.TrainerWorkers, f: f}
				w.execs[name] = w.faulty
				w.log.Warn("THIS WORKER CHEATS: worker.fault is set, for tests and demos only; its builtin outputs are lies",
					"kind", cfg.Fault.Kind, "rate", cfg.Fault.Rate, "group", cfg.Fault.Group)
			}
		case tasklet.ExecutorWasm:
			if w.wasm, err = wasm.New(ctx, cfg.Wasm); err != nil {
				return nil, fmt.Errorf("worker: wasm executor: %w", err)
			}
			w.execs[name] = &wasmExecutor{x: w.wasm, grid: d.Grid}
		case tasklet.ExecutorProcess:
			px, err := process.New(cfg.Process)
			if err != nil {
				return nil, fmt.Errorf("worker: process executor: %w", err)
			}
			w.execs[name] = &processExecutor{x: px, grid: d.Grid}
		default:
			return nil, fmt.Errorf("worker.executors: %q is not one of builtin, wasm, process", name)
		}
	}
	w.bench = newBenchClock(time.Now())
	runCtx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	if cfg.Enabled {
		owned := make(map[string]tasklet.Executor, len(w.execs))
		for name, e := range w.execs {
			owned[name] = ownedExecutor{Executor: e, name: name, m: d.Metrics, now: cfg.Now}
		}
		w.svc = tasklet.NewService(d.Swarm.Host(), tasklet.ServiceConfig{
			MinPrice:  cfg.MinPrice,
			Admit:     w.admit,
			Release:   w.release,
			Executors: owned,
			Fetch: func(ctx context.Context, c cid.Cid, hints []peer.AddrInfo) error {
				_, err := d.Grid.Fetch(ctx, c, hints...)
				return w.storageFailure(err)
			},
			Delivered: w.outs.delivered,
			Discard:   w.outs.discard,
			OnRelease: w.outs.release,
			Sign:      func(r receipt.Receipt) (receipt.Receipt, error) { return receipt.Sign(d.EthKey, d.Domain, r) },
			Logger:    d.Logger,
		})
	}
	w.probeHealth(ctx)
	w.wg.Add(2)
	go w.publishLoop(runCtx)
	go w.maintainLoop(runCtx)
	return w, nil
}

// Close stops the service and the loops.
func (w *Worker) Close(ctx context.Context) error {
	w.cancel()
	if w.svc != nil {
		_ = w.svc.Close()
	}
	w.wg.Wait()
	if w.wasm != nil {
		return w.wasm.Close(ctx)
	}
	return nil
}

// Executor returns an enabled executor by name, for local runs.
func (w *Worker) Executor(name string) (tasklet.Executor, bool) {
	e, ok := w.execs[name]
	return e, ok
}

// Account is the worker's Ethereum address.
func (w *Worker) Account() string { return crypto.PubkeyToAddress(w.deps.EthKey.PublicKey).Hex() }

func specKey(s tasklet.Spec) string {
	c, err := s.CID()
	if err != nil {
		return fmt.Sprintf("%s/%d/%d", s.JobID, s.Round, s.Index)
	}
	return c.String()
}

// admit decides idle, slots and quota for an offer, and counts the answer.
func (w *Worker) admit(spec tasklet.Spec) (bool, string, string) {
	ok, reason, detail := w.decide(spec)
	if w.deps.Metrics != nil {
		w.deps.Metrics.Offer(ok, reason)
	}
	return ok, reason, detail
}

func (w *Worker) decide(spec tasklet.Spec) (bool, string, string) {
	now := time.Now()
	if w.paused.Load() {
		return false, tasklet.ReasonNotIdle, "the contributor paused this worker (gridswarm worker resume)"
	}
	if !w.idle.OffersCPU(now) {
		return false, tasklet.ReasonNotIdle, w.idle.Reason(now)
	}
	if h := w.admitHealth(spec); !h.ok() {
		return false, h.Reason, h.Detail
	}
	release, ok := w.slots.TryAcquire()
	if !ok {
		return false, tasklet.ReasonBusy, strings.TrimPrefix(w.slots.Reason(), "busy: ")
	}
	w.mu.Lock()
	k := specKey(spec)
	w.releases[k] = append(w.releases[k], release)
	w.running++
	w.lastRan = time.Now()
	w.mu.Unlock()
	w.poke()
	return true, "", ""
}

// admitHealth probes the store for an offer: writable, and room for the
// inputs it lacks and its output. A failure is advertised until fixed.
func (w *Worker) admitHealth(spec tasklet.Spec) health {
	ctx, cancel := context.WithTimeout(context.Background(), admitCheckTimeout)
	defer cancel()
	h := probeWritable(w.blocksDir())
	if h.ok() {
		h = w.checkSpec(ctx, spec)
	}
	if !h.ok() {
		w.setHealth(h)
	}
	return h
}

// admitCheckTimeout bounds the store checks of one offer, well inside the
// coordinator's wait for an answer.
const admitCheckTimeout = 2 * time.Second

func (w *Worker) release(spec tasklet.Spec) {
	w.mu.Lock()
	k := specKey(spec)
	rs := w.releases[k]
	if len(rs) > 0 {
		rs[len(rs)-1]()
		w.releases[k] = rs[:len(rs)-1]
		if len(w.releases[k]) == 0 {
			delete(w.releases, k)
		}
		w.running--
		w.done++
		w.lastRan = time.Now()
	}
	w.mu.Unlock()
	w.poke()
}

// poke asks the publish loop to republish soon (state changed).
func (w *Worker) poke() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// Pause stops (or resumes) accepting tasklets.
func (w *Worker) Pause(p bool) {
	w.paused.Store(p)
	w.poke()
}

// Status is what worker_status reports.
type Status struct {
	Enabled      bool        `json:"enabled"`
	Executors    []string    `json:"executors"`
	Idle         bool        `json:"idle"`
	Reason       string      `json:"reason,omitempty"`
	Paused       bool        `json:"paused"`
	SlotsInUse   int         `json:"slots_in_use"`
	Slots        int         `json:"slots"`
	Completed    int         `json:"completed"`
	Throughput   float64     `json:"throughput"`
	PricePerHour float64     `json:"price_per_hour"`
	Account      string      `json:"account"`
	Probe        probe.Probe `json:"probe"`
	// Prefetch counts the data coordinators asked this worker to fetch
	// ahead of the tasklet that needs it (the next round's shard).
	Prefetch tasklet.PrefetchStats `json:"prefetch"`
	// Fault is set on a cheating worker (local profile only). It is shown
	// here, to the contributor, and never advertised to the swarm.
	Fault *FaultStatus `json:"fault,omitempty"`
}

// Status reports the worker's state now.
func (w *Worker) Status() Status {
	now := time.Now()
	used, total := w.slots.InUse()
	var prefetch tasklet.PrefetchStats
	if w.svc != nil {
		prefetch = w.svc.PrefetchStats()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s := Status{
		Enabled: w.cfg.Enabled, Executors: w.cfg.Executors, Paused: w.paused.Load(),
		SlotsInUse: used, Slots: total, Completed: w.done, Throughput: w.throughput,
		PricePerHour: w.cfg.PricePerHour, Account: crypto.PubkeyToAddress(w.deps.EthKey.PublicKey).Hex(), Probe: w.last,
		Prefetch: prefetch,
	}
	if w.faulty != nil {
		s.Fault = &FaultStatus{Kind: w.cfg.Fault.Kind, Rate: w.cfg.Fault.Rate, Group: w.cfg.Fault.Group, Cheated: w.faulty.cheated.Load()}
	}
	s.Idle = w.cfg.Enabled && !s.Paused && w.idle.OffersCPU(now) && w.health.ok()
	switch {
	case !w.cfg.Enabled:
		s.Reason = "the worker is off (worker.enabled = false)"
	case s.Paused:
		s.Reason = "paused by the contributor"
	case !w.health.ok():
		s.Reason = w.health.String()
	case !s.Idle:
		s.Reason = w.idle.Reason(now)
	}
	return s
}

// maintainLoop probes the store's health, measures the throughput again
// when due and idle, and sweeps expired outputs every HealthEvery until
// ctx ends.
func (w *Worker) maintainLoop(ctx context.Context) {
	defer w.wg.Done()
	tick := time.NewTicker(w.cfg.HealthEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		w.probeHealth(ctx)
		w.remeasure(ctx, time.Now())
		if _, err := w.outs.sweep(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("output sweep", "err", err)
		}
	}
}

// ownedExecutor runs an executor with its output's pin owner in the
// context, so outputs are pinned per tasklet and can be let go of.
// It also counts the run when the worker has Metrics.
type ownedExecutor struct {
	tasklet.Executor
	name string
	m    Metrics
	now  func() time.Time
}

type ownerKey struct{}

func (e ownedExecutor) Run(ctx context.Context, spec tasklet.Spec, progress func(done, total int)) (tasklet.Output, error) {
	start := e.now()
	out, err := e.Executor.Run(context.WithValue(ctx, ownerKey{}, outputOwner(spec)), spec, progress)
	if e.m != nil {
		e.m.Tasklet(e.name, err, e.now().Sub(start))
	}
	return out, err
}

// gridStore adapts the data grid to the builtin executor. Outputs of
// offered tasklets are pinned for their owner (see ownedExecutor).
type gridStore struct {
	g *datagrid.Grid
	w *Worker
}

func (s gridStore) ReadFile(ctx context.Context, c cid.Cid, max int64) ([]byte, error) {
	return s.g.ReadFile(ctx, c, max)
}

func (s gridStore) AddBytes(ctx context.Context, name string, b []byte) (cid.Cid, error) {
	if owner, ok := ctx.Value(ownerKey{}).(string); ok {
		c, err := s.g.AddBytesOwned(ctx, name, b, owner)
		return c, s.w.storageFailure(err)
	}
	r, err := s.g.AddReader(ctx, bytesReader(b), nil)
	if err != nil {
		return cid.Undef, err
	}
	return r.Root, nil
}

func cpuCores() int { return runtime.NumCPU() }
