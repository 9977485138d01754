package tasklet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/gridswarm/gridswarm/receipt"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Timeouts of the worker side.
const (
	DefaultHeartbeatEvery = time.Second
	OfferReadTimeout      = 10 * time.Second // to receive the offer after the stream opens
	writeTimeout          = 10 * time.Second
	// PrefetchTimeout bounds fetching an offer's Prefetch data, which
	// may go on after its tasklet ended.
	PrefetchTimeout = 5 * time.Minute
	// maxPrefetching caps the offers whose Prefetch runs at once: more
	// are not prefetched, so a coordinator sending short tasklets cannot
	// pile up fetches that outlive them.
	maxPrefetching = 4
	closeGrace     = 5 * time.Second // for the coordinator to close after the last message
)

const (
	serviceName   = "gridswarm.tasklet"
	readBufSize   = 4 << 10
	workerMemory  = MaxOfferMsg + readBufSize
	reservePrioIn = network.ReservationPriorityMedium // inbound offers yield under memory pressure
)

var (
	errServiceClosed   = errors.New("tasklet service closed")
	errDeadline        = errors.New("tasklet deadline passed")
	errCoordinatorGone = errors.New("coordinator stream ended")
)

// Executor runs one tasklet. It reads inputs from and stores its output in
// the data grid itself; the Service only orchestrates. It must return soon
// after ctx is cancelled, and may call progress from any goroutine.
type Executor interface {
	Run(ctx context.Context, spec Spec, progress func(done, total int)) (Output, error)
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, spec Spec, progress func(done, total int)) (Output, error)

// Run implements Executor.
func (f ExecutorFunc) Run(ctx context.Context, spec Spec, progress func(done, total int)) (Output, error) {
	return f(ctx, spec, progress)
}

// Output is what an executor produced.
type Output struct {
	CID     string // the output's CID in the worker's data grid
	Samples uint64
	Loss    float32
	Metrics map[string]float64 // extra figures, sent unsigned beside the receipt
}

// ServiceConfig configures a worker's tasklet Service.
type ServiceConfig struct {
	// MinPrice, if set, declines offers that pay less (base units of the
	// settlement token); nil takes unpaid tasklets too.
	MinPrice *big.Int
	// Admit decides idle, slots and quota. It returns ok, or a Reason
	// constant (busy, not-idle, over-quota) and a detail. Nil admits all.
	Admit func(spec Spec) (ok bool, reason, detail string)
	// Release, if set, is called once for every admitted tasklet when it
	// ends, however it ends, so the caller can free what Admit took: as
	// soon as its result is sent, before the stream's closing handshake.
	Release func(spec Spec)
	// Delivered, if set, is called just before a tasklet's receipt is sent
	// to the coordinator from, with the output it names: the worker keeps
	// the output until from releases it (OnRelease) or a TTL passes. If the
	// receipt cannot be sent, Discard follows.
	Delivered func(spec Spec, from peer.ID, out Output)
	// Discard, if set, is called for every admitted tasklet that ends
	// without a delivered receipt (cancelled, failed, coordinator gone),
	// before Release, so the worker can drop whatever the run stored. out
	// is the executor's output when it produced one, else zero.
	Discard func(spec Spec, out Output)
	// OnRelease, if set, answers the release protocol
	// (ReleaseProtocolID): from says it holds outputs; the worker unpins
	// those it delivered to from and returns how many it let go.
	OnRelease func(ctx context.Context, from peer.ID, outputs []cid.Cid) int
	// Executors by Spec.Executor name. Other names are declined.
	Executors map[string]Executor
	// Fetch brings one input local, preferring the hinted providers. Nil
	// means inputs are already local.
	Fetch func(ctx context.Context, c cid.Cid, hints []peer.AddrInfo) error
	// Sign fills in the worker address and signs a receipt, typically
	// receipt.Sign with the wallet key and the settlement domain. Required.
	Sign func(r receipt.Receipt) (receipt.Receipt, error)
	// HeartbeatEvery is how often progress is sent even without progress
	// (default DefaultHeartbeatEvery).
	HeartbeatEvery time.Duration
	// Logger gets one line per offer outcome (default: discard).
	Logger *slog.Logger
	// Now is the clock for offer expiry and receipt times (default
	// time.Now); stream deadlines always use the real clock.
	Now func() time.Time
	// ReplayCacheSize bounds the remembered nonces (default DefaultReplayCacheSize).
	ReplayCacheSize int
}

// Service answers tasklet offers on a host.
type Service struct {
	h      host.Host
	cfg    ServiceConfig
	log    *slog.Logger
	replay *replayCache
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu          sync.Mutex
	closed      bool
	prefetching int // offers whose Prefetch runs (startPrefetch)
	prefetched  PrefetchStats
	wg          sync.WaitGroup
}

// PrefetchStats counts the CIDs that offers asked this worker to prefetch,
// by what became of them, since the service started.
type PrefetchStats struct {
	Done    uint64 `json:"done"`    // whole here (fetched, or held already)
	Failed  uint64 `json:"failed"`  // the fetch failed, timed out or was stopped
	Skipped uint64 `json:"skipped"` // not tried: maxPrefetching offers' prefetches were running
}

// PrefetchStats reports the prefetches so far; a prefetch still running is
// in none of the counts.
func (s *Service) PrefetchStats() PrefetchStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prefetched
}

// NewService registers the tasklet protocol handler on h. It panics if
// cfg.Sign is nil: a worker that cannot sign receipts cannot be paid.
func NewService(h host.Host, cfg ServiceConfig) *Service {
	if cfg.Sign == nil {
		panic("tasklet.NewService: ServiceConfig.Sign is nil; pass the receipt signer")
	}
	if cfg.HeartbeatEvery <= 0 {
		cfg.HeartbeatEvery = DefaultHeartbeatEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReplayCacheSize <= 0 {
		cfg.ReplayCacheSize = DefaultReplayCacheSize
	}
	s := &Service{h: h, cfg: cfg, log: cfg.Logger, replay: newReplayCache(cfg.ReplayCacheSize)}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	h.SetStreamHandler(ProtocolID, s.handle)
	if cfg.OnRelease != nil {
		h.SetStreamHandler(ReleaseProtocolID, s.handleRelease)
	}
	return s
}

// Close unregisters the handler, stops running tasklets (their
// coordinators get failed "shutting-down") and waits for the streams.
func (s *Service) Close() error {
	s.h.RemoveStreamHandler(ProtocolID)
	s.h.RemoveStreamHandler(ReleaseProtocolID)
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel(errServiceClosed)
	s.wg.Wait()
	return nil
}

// job is an accepted offer.
type job struct {
	offer    OfferRecord
	remote   peer.ID
	hints    []peer.AddrInfo
	exec     Executor
	accepted time.Time
	pre      *prefetch // the offer's Prefetch, once the inputs are local
	// free gives the slot back (Config.Release), once: as soon as the
	// result is sent, so that the coordinator's next offer, which may leave
	// as soon as it reads the receipt, finds the slot free.
	free func()
}

// enter admits a new stream unless the service is closing, counting it in
// s.wg so Close waits for it, and attaches it to the service's resource
// scope. On false the stream is reset and the caller returns; on true the
// caller must call s.wg.Done when it is finished with the stream.
func (s *Service) enter(st network.Stream) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = st.Reset()
		return false
	}
	s.wg.Add(1)
	s.mu.Unlock()
	if err := st.Scope().SetService(serviceName); err != nil {
		s.log.Debug("cannot attach stream to the tasklet service", "peer", st.Conn().RemotePeer(), "err", err)
		_ = st.Reset()
		s.wg.Done()
		return false
	}
	return true
}

func (s *Service) handle(st network.Stream) {
	if !s.enter(st) {
		return
	}
	defer s.wg.Done()

	remote := st.Conn().RemotePeer()
	if err := st.Scope().ReserveMemory(workerMemory, reservePrioIn); err != nil {
		s.refuse(st, declined(ReasonBusy, "no memory for another tasklet stream: %v", err))
		return
	}
	defer st.Scope().ReleaseMemory(workerMemory)

	br := bufio.NewReaderSize(st, readBufSize)
	j, err := s.receiveOffer(st, br, remote)
	var d *DeclinedError
	switch {
	case errors.As(err, &d):
		s.refuse(st, d)
	case err != nil:
		s.log.Debug("tasklet stream ended before an offer", "peer", remote, "err", err)
		_ = st.Reset()
	default:
		j.free = sync.OnceFunc(func() {
			if s.cfg.Release != nil {
				s.cfg.Release(j.offer.Spec)
			}
		})
		defer j.free()
		s.run(st, br, j)
	}
}

// receiveOffer reads and checks the offer. A *DeclinedError is answered;
// any other error means the stream is unusable.
func (s *Service) receiveOffer(st network.Stream, br *bufio.Reader, remote peer.ID) (*job, error) {
	_ = st.SetReadDeadline(time.Now().Add(OfferReadTimeout))
	m, err := ReadMsg(br, MaxOfferMsg)
	switch {
	case errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge):
		return nil, declined(ReasonMalformed, "%v", err)
	case err != nil:
		return nil, err
	case m.Type != TypeOffer:
		return nil, declined(ReasonMalformed, "expected an offer, got %s", m.Type)
	}
	now := s.cfg.Now()
	o, err := OpenOffer(m.Offer, remote, now)
	if err != nil {
		return nil, err
	}
	key := replayKey{signer: remote, nonce: o.Nonce}
	if !s.replay.add(key, o.Expires, now.UnixMilli()) {
		return nil, declined(ReasonReplayed, "offer nonce %x was already used", o.Nonce[:])
	}
	exec, ok := s.cfg.Executors[o.Spec.Executor]
	if !ok {
		return nil, declined(ReasonUnsupportedExecutor, "executor %q is not enabled on this worker", o.Spec.Executor)
	}
	price, err := receipt.ParsePrice(o.Price)
	if err != nil {
		return nil, declined(ReasonMalformed, "%v", err)
	}
	if s.cfg.MinPrice != nil && price.Cmp(s.cfg.MinPrice) < 0 {
		s.replay.remove(key)
		return nil, declined(ReasonUnderpriced, "the offer pays %s base units; this worker takes tasklets from %s (worker.min_price)", price, s.cfg.MinPrice)
	}
	if s.cfg.Admit != nil {
		if ok, reason, detail := s.cfg.Admit(o.Spec); !ok {
			s.replay.remove(key) // the same offer may be admitted later
			if len(reason) > MaxReasonLen || !reasonPattern.MatchString(reason) {
				reason = ReasonBusy
			}
			return nil, declined(reason, "%s", detail)
		}
	}
	hints, _ := o.AddrInfos() // checked by OpenOffer
	return &job{offer: o, remote: remote, hints: hints, exec: exec, accepted: now}, nil
}

// refuse sends a decline and closes the stream.
func (s *Service) refuse(st network.Stream, d *DeclinedError) {
	s.log.Info("tasklet offer declined", "peer", st.Conn().RemotePeer(), "reason", d.Reason, "detail", d.Detail)
	_ = st.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := WriteMsg(st, Msg{Type: TypeDecline, Reason: d.Reason, Detail: d.Detail}); err != nil {
		_ = st.Reset()
		return
	}
	_ = st.Close()
}

// run executes an accepted tasklet and answers with a receipt or a failure.
func (s *Service) run(st network.Stream, br *bufio.Reader, j *job) {
	w := &msgWriter{st: st}
	if err := w.write(Msg{Type: TypeAccept}); err != nil {
		s.log.Debug("cannot accept tasklet", "peer", j.remote, "err", err)
		_ = st.Reset()
		return
	}
	deadline := time.UnixMilli(j.offer.Spec.Deadline)
	ctx, cancel := context.WithCancelCause(s.ctx)
	defer cancel(nil)
	ctx, stop := context.WithDeadlineCause(ctx, deadline, errDeadline)
	defer stop()

	_ = st.SetReadDeadline(deadline.Add(closeGrace))
	watched := make(chan struct{})
	go watch(br, cancel, watched)

	beat := startHeartbeat(w, s.cfg.HeartbeatEvery, func(err error) {
		cancel(fmt.Errorf("%w: %v", errCoordinatorGone, err))
	})
	r, metrics, out, fail := s.execute(ctx, j, beat)
	beat.stop()

	var final Msg
	switch {
	case fail == nil:
		final = Msg{Type: TypeReceipt, Receipt: &r, Metrics: metrics}
		final.Prefetched, final.Prefetching = j.pre.claims()
	case fail.Reason != "":
		final = Msg{Type: TypeFailed, Reason: fail.Reason, Detail: fail.Detail}
	default: // the coordinator cancelled or vanished: nobody to tell
		s.log.Info("tasklet abandoned", "spec", j.offer.SpecCID, "peer", j.remote, "cause", context.Cause(ctx))
		_ = st.Reset()
		s.discard(j, out)
		<-watched
		return
	}
	s.log.Info("tasklet done", "spec", j.offer.SpecCID, "peer", j.remote, "result", final.Type, "reason", final.Reason)
	// Record the delivery first: the coordinator may release the output as
	// soon as it has read the receipt.
	if fail == nil && s.cfg.Delivered != nil {
		s.cfg.Delivered(j.offer.Spec, j.remote, out)
	}
	if err := w.write(final); err != nil {
		_ = st.Reset()
		s.discard(j, out)
		<-watched
		return
	}
	if fail != nil {
		s.discard(j, out)
	}
	j.free()
	// Let the coordinator read the last message and close first: a reset
	// now could discard it in flight.
	_ = st.CloseWrite()
	_ = st.SetReadDeadline(time.Now().Add(closeGrace))
	<-watched
	_ = st.Close()
}

// discard lets the worker drop what a run that delivered nothing stored.
func (s *Service) discard(j *job, out Output) {
	if s.cfg.Discard != nil {
		s.cfg.Discard(j.offer.Spec, out)
	}
}

// watch reads the coordinator's side while the tasklet runs: cancel, or
// the stream ending, cancels the run. It returns when the stream ends.
func watch(br *bufio.Reader, cancel context.CancelCauseFunc, done chan<- struct{}) {
	defer close(done)
	for {
		m, err := ReadMsg(br, MaxMsg)
		if err != nil {
			cancel(fmt.Errorf("%w: %v", errCoordinatorGone, err))
			return
		}
		if m.Type == TypeCancel {
			cancel(ErrCancelled)
		} else {
			cancel(fmt.Errorf("%w: coordinator sent %s during the run", errCoordinatorGone, m.Type))
		}
	}
}

// execute fetches inputs, runs the executor and signs the receipt. A
// FailedError with an empty Reason means there is nobody left to tell. The
// executor's output is returned even on failure, so it can be discarded.
func (s *Service) execute(ctx context.Context, j *job, beat *heartbeat) (receipt.Receipt, map[string]float64, Output, *FailedError) {
	spec := j.offer.Spec
	if err := s.fetch(ctx, j, beat); err != nil {
		return receipt.Receipt{}, nil, Output{}, failure(ctx, FailFetch, err)
	}
	// Only now: the data for later must not slow this tasklet's inputs.
	j.pre = s.startPrefetch(j)
	beat.set(PhaseRunning, 0, 0)
	start := s.cfg.Now()
	out, err := j.exec.Run(ctx, spec, beat.progress)
	end := s.cfg.Now()
	if err == nil {
		err = context.Cause(ctx) // output that arrives after cancellation is not used
	}
	if err != nil {
		return receipt.Receipt{}, nil, out, failure(ctx, FailExecutor, err)
	}
	if _, err := cid.Decode(out.CID); err != nil {
		return receipt.Receipt{}, nil, out, &FailedError{Reason: FailOutput, Detail: truncate(fmt.Sprintf("output CID %q: %v", out.CID, err), MaxDetailLen-4)}
	}
	r := receipt.Receipt{
		TaskletCID:    j.offer.SpecCID,
		OutputCID:     out.CID,
		WorkerPeer:    s.h.ID().String(),
		Coordinator:   j.remote.String(),
		JobID:         spec.JobID,
		Round:         spec.Round,
		Samples:       out.Samples,
		StartedAt:     j.accepted.UnixMilli(),
		FinishedAt:    end.UnixMilli(),
		ComputeMillis: uint64(max(end.Sub(start).Milliseconds(), 0)),
		Price:         j.offer.Price,
	}
	r.SetLoss(out.Loss)
	signed, err := s.cfg.Sign(r)
	if err == nil {
		err = signed.CheckShape()
	}
	if err != nil {
		return receipt.Receipt{}, nil, out, &FailedError{Reason: FailSign, Detail: truncate(err.Error(), MaxDetailLen-4)}
	}
	return signed, cleanMetrics(out.Metrics), out, nil
}

// fetchParallel caps the inputs of one tasklet fetched at once.
const fetchParallel = 4

// fetch brings the tasklet's inputs into the local grid side by side: each
// fetch mostly waits on round trips (to the coordinator for the weights, to
// a holder for the shard), so together they take about as long as the
// slowest, not the sum. The first failure stops the others and is returned.
func (s *Service) fetch(ctx context.Context, j *job, beat *heartbeat) error {
	inputs := j.offer.Spec.Inputs
	beat.set(PhaseFetching, 0, len(inputs))
	if s.cfg.Fetch == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		done     int
		firstErr error
	)
	slots := make(chan struct{}, fetchParallel)
	for _, in := range inputs {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			c, err := cid.Decode(in.CID)
			if err == nil {
				err = s.cfg.Fetch(ctx, c, j.hints)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("input %s (%s): %w", in.Name, in.CID, err)
					cancel()
				}
				return
			}
			done++
			beat.set(PhaseFetching, done, len(inputs))
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return context.Cause(ctx) // nil unless the tasklet was stopped before every fetch began
}

// prefetch is an offer's Prefetch data being fetched: what is local whole
// so far, and what is arriving.
type prefetch struct {
	mu       sync.Mutex
	done     []string
	fetching string
}

func (p *prefetch) start(c string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fetching = c
}

// end records the end of c's fetch, whole when ok.
func (p *prefetch) end(c string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fetching = ""
	if ok {
		p.done = append(p.done, c)
	}
}

// claims is what the receipt message says: the CIDs whole, and the one
// arriving; nil for no prefetch.
func (p *prefetch) claims() (whole, arriving []string) {
	if p == nil {
		return nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fetching != "" {
		arriving = []string{p.fetching}
	}
	return slices.Clone(p.done), arriving
}

// startPrefetch fetches the offer's Prefetch CIDs one after another into
// the cache, from the hinted peers first, unless maxPrefetching offers'
// prefetches run already. The coordinator will most likely
// send this worker a tasklet on them next, which then finds them local
// instead of waiting for them at its start. The fetch belongs to the
// service, not the tasklet: it may finish after the receipt (which says
// what is whole by then and what is still arriving) and is bounded by
// PrefetchTimeout and Close.
// Failures are only logged: the data is fetched again when it is needed.
func (s *Service) startPrefetch(j *job) *prefetch {
	if len(j.offer.Prefetch) == 0 || s.cfg.Fetch == nil {
		return nil
	}
	s.mu.Lock()
	if s.closed || s.prefetching >= maxPrefetching {
		if !s.closed {
			s.prefetched.Skipped += uint64(len(j.offer.Prefetch))
		}
		s.mu.Unlock()
		return nil
	}
	s.prefetching++
	s.wg.Add(1)
	s.mu.Unlock()
	p := &prefetch{}
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			s.prefetching--
			s.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(s.ctx, PrefetchTimeout)
		defer cancel()
		for _, in := range j.offer.Prefetch {
			c, err := cid.Decode(in) // checked by OpenOffer
			if err == nil {
				p.start(in)
				err = s.cfg.Fetch(ctx, c, j.hints)
			}
			p.end(in, err == nil)
			s.mu.Lock()
			if err == nil {
				s.prefetched.Done++
			} else {
				s.prefetched.Failed++
			}
			s.mu.Unlock()
			if err != nil {
				s.log.Debug("prefetch failed", "cid", in, "peer", j.remote, "err", err)
			}
		}
	}()
	return p
}

// failure turns an error during the run into what the coordinator is told.
func failure(ctx context.Context, reason string, err error) *FailedError {
	if ctx.Err() != nil {
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, errDeadline):
			reason = FailDeadline
		case errors.Is(cause, errServiceClosed):
			reason = FailShutdown
		default:
			return &FailedError{Detail: cause.Error()}
		}
	}
	var f *FailedError
	if errors.As(err, &f) && len(f.Reason) <= MaxReasonLen && reasonPattern.MatchString(f.Reason) {
		// the worker said why, e.g. over-quota; its detail stands alone
		return &FailedError{Reason: f.Reason, Detail: truncate(f.Detail, MaxDetailLen-4)}
	}
	return &FailedError{Reason: reason, Detail: truncate(err.Error(), MaxDetailLen-4)}
}
