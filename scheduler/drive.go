package scheduler

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"golang.org/x/sync/errgroup"

	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
	"github.com/gridswarm/gridswarm/verify"
)

// The runner is the I/O edge around the round machine (machine.go): it
// takes snapshots of the swarm, runs each attempt in its own goroutine with
// its own context, feeds the outcomes back and persists the job. Every
// attempt context is a child of the round's, itself a child of the job's,
// and the runner waits for every attempt goroutine before a round returns:
// no goroutine outlives its job, and a cancelled attempt makes tasklet.Offer
// tell the worker to stop.

// drive runs a job's remaining rounds, then evaluates the final model.
func (c *Coordinator) drive(ctx context.Context, r *run) {
	r.mu.Lock()
	r.job.Status, r.job.Error = StatusRunning, ""
	r.mu.Unlock()
	c.save(r)
	c.awaitCaps(ctx, r.job.ID) // a resumed round places on every known worker
	c.resumeValidation(ctx, r)
	la := newLookahead(ctx)
	r.lookahead = la
	defer la.stop()
	var err error
	for err == nil && c.round(r) < r.spec.Rounds {
		if err = c.runRound(ctx, r); err == nil {
			c.settle(ctx, r, false)
		}
	}
	if err == nil {
		err = c.finish(ctx, r)
	}
	if verr := c.awaitValidation(ctx, r); err == nil { // none outlives the job
		err = verr
	}
	r.cleanup.Wait()
	r.mu.Lock()
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errCancelled):
		r.job.Status, r.job.Waiting = StatusCancelled, ""
	case ctx.Err() != nil:
		// The daemon is stopping: the job stays running on disk and resumes.
		r.mu.Unlock()
		return
	case err != nil:
		r.job.Status, r.job.Error, r.job.Waiting = StatusFailed, err.Error(), ""
	}
	now := c.now().UTC()
	ended := r.job.Status != StatusRunning
	if ended {
		r.job.Finished = &now
	}
	r.mu.Unlock()
	c.save(r)
	if ended {
		// Verified work is paid however the job ended; the rest goes back.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
		defer cancel()
		c.settle(sctx, r, true)
	}
}

// settleTimeout bounds closing a job's escrow (a few transactions).
const settleTimeout = 2 * time.Minute

func (c *Coordinator) round(r *run) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.job.Round
}

// pausedPrefix starts the Waiting line of a job whose state cannot be saved.
const pausedPrefix = "cannot save job state: "

// save persists the job and tells watchers. When the store fails, the job
// is paused: Waiting says why, and the runner offers nothing until a later
// save succeeds, so memory and disk do not drift apart.
func (c *Coordinator) save(r *run) error {
	r.mu.Lock()
	err := c.store.Save(r.job)
	switch {
	case err != nil:
		r.job.Waiting = pausedPrefix + err.Error() + "; the job is paused"
	case r.paused:
		r.job.Waiting = ""
	}
	r.paused = err != nil
	ev := eventOf(r.job, r.spec.Rounds)
	r.mu.Unlock()
	if err != nil {
		c.log.Error("cannot persist job state; the job is paused", "job", ev.JobID, "err", err)
	}
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(ev)
	}
	return err
}

func eventOf(j *Job, rounds int) Event {
	ev := Event{JobID: j.ID, Status: j.Status, Round: j.Round, Rounds: rounds, Waiting: j.Waiting, Error: j.Error}
	var durs []float64
	for _, rd := range j.Rounds {
		if rd.Finished != nil {
			durs = append(durs, rd.Finished.Sub(rd.Started).Seconds())
		}
		if rd.Finished != nil && !rd.Validating {
			ev.Loss, ev.ValAccuracy, ev.Validated = rd.Loss, rd.ValAccuracy, rd.Index+1
		}
	}
	if len(durs) > 0 && j.Status == StatusRunning {
		mean := 0.0
		for _, d := range durs {
			mean += d
		}
		ev.ETASeconds = mean / float64(len(durs)) * float64(rounds-j.Round)
	}
	if j.Round < len(j.Rounds) {
		rd := j.Rounds[j.Round]
		ev.Tasklets = len(rd.Tasklets)
		for _, t := range rd.Tasklets {
			switch t.State {
			case TaskDone:
				ev.Done++
			case TaskRunning:
				ev.Running++
			}
			if t.State != TaskPending {
				ev.Placed++
			}
			for _, a := range t.Attempts {
				switch a.Outcome {
				case OutcomeDone, OutcomeRunning, OutcomeSuperseded, OutcomeCancelled:
				default: // failed, lost, declined, interrupted: it was or will be retried
					ev.Failed++
				}
			}
		}
	}
	return ev
}

// defaultJobDeadline bounds a job whose spec sets no deadline.
const defaultJobDeadline = 7 * 24 * time.Hour

// jobDeadline is the job's deadline: the one job resume set, else fixed at
// submission, so a tasklet's spec (and so its CID) is the same when a
// restarted coordinator offers it again.
func jobDeadline(r *run) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.job.Deadline.IsZero() {
		return r.job.Deadline
	}
	d := time.Duration(r.spec.Deadline)
	if d <= 0 {
		d = defaultJobDeadline
	}
	return r.job.Submitted.Add(d)
}

// capsAskedTimeout bounds how long a round waits for the connected peers'
// capability records before it plans with what is known.
const capsAskedTimeout = 5 * time.Second

// awaitCaps waits (at most capsAskedTimeout) until every connected peer was
// asked for its capability record, so that a coordinator that just started
// knows all its workers before it sizes a round ("auto") or resumes one.
func (c *Coordinator) awaitCaps(ctx context.Context, jobID string) {
	actx, cancel := context.WithTimeout(ctx, capsAskedTimeout)
	defer cancel()
	if err := c.swarm.CapsAsked(actx); err != nil && ctx.Err() == nil {
		c.log.Info("planning before every connected peer's capability record came", "job", jobID, "err", err)
	}
}

// awaitWorkers holds an unplanned round until at least one worker is known,
// so "auto" does not size the round for an empty swarm.
func (c *Coordinator) awaitWorkers(ctx context.Context, r *run, deadline time.Time) error {
	for {
		r.mu.Lock()
		planned := len(r.job.Rounds) > r.job.Round
		round := r.job.Round
		r.mu.Unlock()
		if !planned {
			c.awaitCaps(ctx, r.job.ID)
		}
		if planned || len(c.swarm.Workers()) > 0 {
			return nil
		}
		if !c.now().Before(deadline) {
			return errors.New(DeadlineMessage(round, r.spec.Rounds))
		}
		r.mu.Lock()
		r.job.Waiting = "no worker peers known yet: connect to a swarm (gridswarm peer connect, --bootstrap)"
		r.mu.Unlock()
		c.save(r)
		wait := time.NewTimer(min(c.opts.RetryEvery, max(deadline.Sub(c.now()), time.Millisecond)))
		select {
		case <-ctx.Done():
			wait.Stop()
			return ctx.Err()
		case <-wait.C:
		}
	}
}

// modelBytes estimates the safetensors size of a model's weights.
func modelBytes(params int64) uint64 {
	return uint64(params)*4 + 4096 // float32 values + header
}

// runRound plans the current round (once), drives it to completion through
// its machine, then applies the outer step and evaluates.
func (c *Coordinator) runRound(ctx context.Context, r *run) error {
	spec := r.spec
	params, err := TaskletParams(spec)
	if err != nil {
		return err
	}
	deadline := jobDeadline(r)
	if err := c.awaitWorkers(ctx, r, deadline); err != nil {
		return err
	}
	m := modelOf(spec)
	nParams := m.NumParams()
	r.mu.Lock()
	if len(r.job.Rounds) <= r.job.Round {
		n := spec.TaskletsFor(availableWorkers(c.swarm.Workers(), spec.Executor), len(r.job.Dataset.Train))
		r.mu.Unlock()
		if err := c.budgetLeft(r, n); err != nil {
			return err
		}
		r.mu.Lock()
		r.job.Rounds = append(r.job.Rounds, Round{Index: r.job.Round, Weights: r.job.Weights, Started: c.now().UTC(),
			Tasklets: PlanRound(spec, r.job.Round, n, r.job.Dataset.Train)})
	}
	round := r.job.Round
	rd := &r.job.Rounds[round]
	tmpl := placement.Tasklet{Executor: spec.Executor, Samples: spec.InnerSteps * spec.BatchSize,
		GPUMem: uint64(spec.Resources.GPUMemory), Disk: uint64(spec.Resources.Disk), MaxPrice: spec.MaxPricePerHour}
	cfg := MachineConfig{
		JobID: r.job.ID, Round: round, Rounds: spec.Rounds, Deadline: deadline, Template: tmpl,
		Weights: rd.Weights, WeightsBytes: modelBytes(nParams), ShardBytes: r.job.Dataset.Bytes,
		RetryEvery: c.opts.RetryEvery, StragglerFactor: c.opts.StragglerFactor, Backoffs: r.backoffs,
		ReplicaWait: c.opts.ReplicaWait, Placement: c.opts.Placement,
		Verify: VerifyConfig{Trust: c.trust, Class: verify.Class(spec.Executor), Rand: c.opts.Rand,
			Rates:      verify.Rates{Rate: spec.Verify.Rate, MinRateNewPeers: spec.Verify.MinRateNewPeers},
			Comparator: verify.Comparator{Class: verify.Class(spec.Executor), Tolerance: toleranceOf(spec)}},
	}
	mach := NewMachine(cfg, rd, c.now())
	var shards, next []string
	for _, t := range rd.Tasklets {
		shards = append(shards, t.Shard)
	}
	if round+1 < spec.Rounds {
		// The next round's shards, if it has as many tasklets: their
		// holders are looked up while this round runs.
		for _, t := range PlanRound(spec, round+1, len(rd.Tasklets), r.job.Dataset.Train) {
			next = append(next, t.Shard)
		}
	}
	r.mu.Unlock()
	c.save(r)
	rn := &roundRunner{c: c, r: r, m: mach, round: round, params: params, weights: cfg.Weights, deadline: deadline,
		shards: shards, next: next, claimed: map[int]string{}, nParams: nParams, cancels: map[[2]int]context.CancelFunc{}, results: make(chan attemptResult),
		signed: map[[2]string]receipt.Receipt{}, decoded: map[string]*verify.Delta{}}
	mach.cfg.Verify.Decoded = rn.decodedDelta
	return rn.run(ctx)
}

// attemptResult is one offer's outcome.
type attemptResult struct {
	index, attempt int
	peer           string
	rcpt           receipt.Receipt
	prefetched     []string // of the next round's data, what the worker holds
	err            error
}

// roundRunner carries out one round's machine decisions.
type roundRunner struct {
	c        *Coordinator
	r        *run
	m        *Machine
	round    int
	params   []byte
	weights  string
	deadline time.Time
	shards   []string
	next     []string // the next round's shards, whose holders are prefetched
	// claimed is, by next-round tasklet index, the worker of this round
	// that holds or fetches that tasklet's shard (planPrefetch); only the
	// runner's goroutine touches it.
	claimed map[int]string
	nParams int64

	wg      sync.WaitGroup
	cancels map[[2]int]context.CancelFunc // running attempts
	results chan attemptResult

	// signed is every receipt of the round by worker and tasklet CID
	// (noteReceipt); only the runner's goroutine touches it.
	signed map[[2]string]receipt.Receipt

	lateMu sync.Mutex
	late   map[string][]string // peer → outputs of attempts that delivered after they were cancelled

	// decoded holds the deltas of spot-checked outputs of a tolerance
	// class, by output CID (decodeForCheck); the machine reads it through
	// VerifyConfig.Decoded while the runner holds r.mu.
	decMu   sync.Mutex
	decoded map[string]*verify.Delta

	// pre fetches accepted outputs while the round still runs (set by run).
	pre *prefetcher

	// failedBy records, per tasklet, the peers whose program exited
	// saying its inputs were bad or training diverged, with their detail;
	// only the runner's goroutine touches it.
	failedBy map[int]map[string]string
}

// addLate records an output delivered by an attempt that no longer counts
// (superseded or cancelled), so its worker is told it may unpin it.
func (rn *roundRunner) addLate(peer, output string) {
	if output == "" {
		return
	}
	rn.lateMu.Lock()
	defer rn.lateMu.Unlock()
	if rn.late == nil {
		rn.late = map[string][]string{}
	}
	if !slices.Contains(rn.late[peer], output) {
		rn.late[peer] = append(rn.late[peer], output)
	}
}

// releaseLate tells the workers of late deliveries they may unpin them.
// It runs when the round's attempts are over, also when the job stopped,
// each release bounded by tasklet.ReleaseTimeout.
func (rn *roundRunner) releaseLate(ctx context.Context) {
	rn.lateMu.Lock()
	late := rn.late
	rn.late = nil
	rn.lateMu.Unlock()
	rn.c.release(context.WithoutCancel(ctx), rn.r.job.ID, late)
}

func (rn *roundRunner) run(ctx context.Context) error {
	c, r := rn.c, rn.r
	rctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		rn.wg.Wait()
		rn.releaseLate(ctx)
	}()
	if !isProgram(r.spec) { // a program's output is checked against the weights as aggregate loads it
		m := modelOf(r.spec)
		rn.pre = newPrefetcher(rctx, &rn.wg, c.now, func(ctx context.Context, output, peer string) (trainer.Params, int64, error) {
			return c.loadParamsN(ctx, output, m, peer)
		})
	}
	roundStart := c.now()
	if len(rn.next) > 0 {
		// A provider lookup takes a few RTTs through the DHT; done now, the
		// next round places at once from the cache (holdersTTL). It may
		// take longer than this round, so the job owns it, not the round.
		next := rn.next
		r.lookahead.start(func(ctx context.Context) { c.lookupHolders(ctx, next) })
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		wake := c.now().Add(c.opts.RetryEvery)
		r.mu.Lock()
		paused := r.paused
		r.mu.Unlock()
		// A paused job offers nothing until its state can be saved again.
		if !paused || c.save(r) == nil {
			snap := c.snapshot(ctx, rn.shards, rn.nParams, rn.m.cfg.Verify.Class)
			r.mu.Lock()
			ds := rn.m.Tick(c.now(), snap)
			r.mu.Unlock()
			c.flushTrust()
			prefetch := rn.planPrefetch(ds)
			for _, d := range ds {
				switch d.Kind {
				case DecideOffer:
					rn.launch(rctx, d, prefetch[[2]int{d.Tasklet, d.Attempt}])
				case DecideCancel:
					rn.cancel(d.Tasklet, d.Attempt)
					if d.Reason == ReasonPeerLost {
						c.measure.ObserveOutcome(d.Peer, false)
						c.log.Info("tasklet attempt lost: its worker disconnected", "job", r.job.ID, "round", rn.round, "tasklet", d.Tasklet, "attempt", d.Attempt, "peer", d.Peer)
					}
				case DecideWait:
					wake = d.Until
					r.mu.Lock()
					r.job.Waiting = d.Reason
					r.mu.Unlock()
				case DecideFail:
					c.save(r)
					return errors.New(d.Reason)
				case DecideAggregate:
					rn.keepEvidence(ctx) // checks decided in this Tick (unverifiable)
					c.log.Info("round timing", "job", r.job.ID, "round", rn.round, "tasklets_s", c.now().Sub(roundStart).Seconds())
					c.save(r)
					lost, err := c.aggregate(ctx, r, rn.round, rn.pre)
					if err != nil || len(lost) == 0 {
						return err
					}
					c.log.Warn("offering again tasklets whose outputs could not be fetched", "job", r.job.ID, "round", rn.round, "tasklets", lost)
					r.mu.Lock()
					for _, i := range lost {
						rn.m.OutputLost(c.now(), i, "its output could not be fetched")
					}
					r.mu.Unlock()
					wake = c.now()
				}
			}
			c.save(r)
		}
		timer.Reset(max(wake.Sub(c.now()), time.Millisecond))
		select {
		case <-ctx.Done():
			r.mu.Lock()
			rn.m.Stop(c.now(), "the job stopped: "+context.Cause(ctx).Error())
			r.mu.Unlock()
			return ctx.Err()
		case res := <-rn.results:
			ferr := rn.observe(ctx, res)
			// Persist the outcome before the next Tick acts on it: if it
			// cannot be saved the job pauses before offering anything new.
			c.save(r)
			if ferr != nil {
				return ferr
			}
			rn.keepEvidence(ctx)
		case <-timer.C:
		}
	}
}

// planPrefetch picks, for the first offers among ds, which of the next
// round's shards their workers fetch while they train (the function
// planPrefetch decides): (tasklet, attempt) → CID. Only a tasklet's
// first attempt asks: a spot check's replica or a speculative copy,
// offered in the same batch, must not inherit it, or a second worker
// fetches the same shard. Random placement ignores holders, so it asks
// for none: it would be a transfer for nothing.
func (rn *roundRunner) planPrefetch(ds []Decision) map[[2]int]string {
	c := rn.c
	if len(rn.next) == 0 || c.opts.Placement == placement.StrategyRandom {
		return nil
	}
	var offers []prefetchOffer
	for _, d := range ds {
		if d.Kind == DecideOffer && d.Attempt == 0 && !d.Speculative && d.Tasklet < len(rn.shards) {
			offers = append(offers, prefetchOffer{tasklet: d.Tasklet, peer: d.Peer, input: rn.shards[d.Tasklet]})
		}
	}
	if len(offers) == 0 {
		return nil
	}
	workers := map[string]bool{}
	for _, p := range c.swarm.Workers() {
		if !p.Banned {
			workers[p.ID] = true
		}
	}
	plan := map[[2]int]string{}
	for i, cid := range planPrefetch(rn.next, offers, rn.claimed, c.knownHolders(rn.next), workers) {
		plan[[2]int{i, 0}] = cid
	}
	return plan
}

// launch starts one attempt in its own goroutine with its own context;
// its worker fetches prefetch (a next round's shard, or "") beside it.
func (rn *roundRunner) launch(rctx context.Context, d Decision, prefetch string) {
	c, r := rn.c, rn.r
	r.mu.Lock()
	t := &r.job.Rounds[rn.round].Tasklets[d.Tasklet]
	spec := TaskletSpec(r.job.ID, r.spec, rn.params, rn.round, *t, rn.weights, rn.deadline.UnixMilli(),
		modelBytes(rn.nParams), r.job.Dataset.Bytes[t.Shard])
	if sc, err := spec.CID(); err == nil {
		t.SpecCID = sc.String()
	}
	if d.Attempt < len(t.Attempts) {
		t.Attempts[d.Attempt].Prefetch = prefetch
	}
	r.mu.Unlock()
	if d.Speculative {
		c.log.Info("straggler: sending a speculative copy", "job", r.job.ID, "round", rn.round, "tasklet", d.Tasklet, "copy", d.Peer)
	}
	price := offerPrice(r)
	var pf []string
	if prefetch != "" {
		// Placement then finds a holder ready (noteHeld) instead of making
		// the next round wait for the shard's transfer.
		pf = []string{prefetch}
	}
	actx, cancel := context.WithCancel(rctx)
	rn.cancels[[2]int{d.Tasklet, d.Attempt}] = cancel
	rn.wg.Add(1)
	go func() {
		defer rn.wg.Done()
		var rc receipt.Receipt
		var held []string
		var err error
		if ws, ok := c.swarm.(prefetchSwarm); ok {
			rc, held, err = ws.OfferWith(actx, d.Peer, spec, OfferRequest{Price: price, Prefetch: pf})
		} else if ps, ok := c.swarm.(pricedSwarm); ok && price != "" {
			rc, err = ps.OfferPriced(actx, d.Peer, spec, price, nil)
		} else if price != "" {
			err = errors.New("this coordinator's swarm cannot offer paid tasklets")
		} else {
			rc, err = c.swarm.Offer(actx, d.Peer, spec, nil)
		}
		select {
		case rn.results <- attemptResult{index: d.Tasklet, attempt: d.Attempt, peer: d.Peer, rcpt: rc, prefetched: held, err: err}:
		case <-actx.Done():
			if err == nil { // it delivered as it was cancelled
				rn.addLate(d.Peer, rc.OutputCID)
			}
		}
	}()
}

func (rn *roundRunner) cancel(i, k int) {
	if f := rn.cancels[[2]int{i, k}]; f != nil {
		f()
		delete(rn.cancels, [2]int{i, k})
	}
}

// observe feeds an attempt's outcome to the machine and the measurements.
// It returns an error when the job must fail: its program failed by itself
// on enough workers (programFailed).
func (rn *roundRunner) observe(ctx context.Context, res attemptResult) error {
	c, r := rn.c, rn.r
	rn.cancel(res.index, res.attempt) // its goroutine is done: release the context
	o := Outcome{Tasklet: res.index, Attempt: res.attempt, Receipt: res.rcpt}
	var d *tasklet.DeclinedError
	switch {
	case res.err == nil:
		o.Kind = EndDone
		c.measure.ObserveTasklet(res.peer, rn.nParams, int(res.rcpt.Samples), time.Duration(res.rcpt.ComputeMillis)*time.Millisecond)
		c.measure.ObserveOutcome(res.peer, true)
	case errors.As(res.err, &d):
		o.Kind, o.Reason, o.Detail = EndDeclined, d.Reason, d.Detail
	case errors.Is(res.err, tasklet.ErrWorkerLost):
		o.Kind, o.Detail = EndLost, res.err.Error()
		c.measure.ObserveOutcome(res.peer, false)
	default:
		o.Kind, o.Detail = EndFailed, res.err.Error()
		c.measure.ObserveOutcome(res.peer, false)
	}
	if res.err == nil {
		rn.decodeForCheck(ctx, res)
		// The worker holds what it prefetched and, in its cache, the
		// shard it just trained on.
		c.noteHeld(res.peer, append(slices.Clip(res.prefetched), rn.shards[res.index]))
	}
	r.mu.Lock()
	ds := rn.m.Observe(c.now(), o)
	counted := r.job.Rounds[rn.round].Tasklets[res.index].Attempts[res.attempt].Outcome == OutcomeDone
	r.mu.Unlock()
	c.flushTrust()
	if res.err == nil {
		rn.noteReceipt(res.rcpt)
	}
	if res.err == nil && !counted {
		rn.addLate(res.peer, res.rcpt.OutputCID) // a twin won or the round ended first
	}
	if res.err == nil && counted && rn.pre != nil {
		rn.pre.start(res.rcpt.OutputCID, res.peer) // aggregate will need it
	}
	for _, d := range ds {
		if d.Kind == DecideCancel {
			rn.cancel(d.Tasklet, d.Attempt)
		}
	}
	c.log.Info("tasklet attempt ended", "job", r.job.ID, "round", rn.round, "tasklet", res.index, "attempt", res.attempt, "peer", res.peer, "err", res.err)
	return rn.programFailed(res)
}

// flushTrust saves the trust records if they changed. A failure is
// logged: the records stay in memory and the next change tries again.
func (c *Coordinator) flushTrust() {
	if err := c.trust.Flush(); err != nil {
		c.log.Warn("cannot save the trust records; bans made since the last save would not survive a crash", "err", err)
	}
}

// noteReceipt remembers each receipt's output by worker and tasklet CID:
// a worker that signs a second, different output for one tasklet has
// equivocated, and the two receipts prove it to anyone (verify.Proof).
func (rn *roundRunner) noteReceipt(rc receipt.Receipt) {
	k := [2]string{rc.Worker.Hex(), rc.TaskletCID}
	prev, ok := rn.signed[k]
	if !ok {
		rn.signed[k] = rc
		return
	}
	if prev.OutputCID == rc.OutputCID {
		return
	}
	c := rn.c
	p := verify.Proof{A: prev, B: rc}
	if _, err := p.Check(c.opts.Domain); err != nil {
		c.log.Warn("two receipts for one tasklet do not prove equivocation", "job", rn.r.job.ID, "err", err)
		return
	}
	c.Equivocated(p)
	if c.opts.OnEquivocation != nil {
		c.opts.OnEquivocation(p)
	}
}

// outputFetchTimeout bounds fetching one accepted output.
const outputFetchTimeout = time.Minute

// owner names the data-grid owner of a job's data under "job/<id>".
func owner(jobID string, parts ...any) string {
	s := "job/" + jobID
	for _, p := range parts {
		s += fmt.Sprintf("/%v", p)
	}
	return s
}

// aggregate applies the outer step to the round's outputs and evaluates.
// It returns the tasklets whose outputs could not be fetched, if any: they
// must run again before the round can end.
func (c *Coordinator) aggregate(ctx context.Context, r *run, round int, pre *prefetcher) ([]int, error) {
	m := modelOf(r.spec)
	r.mu.Lock()
	rd := r.job.Rounds[round]
	momentumCID := r.job.OuterMomentum
	r.mu.Unlock()
	global, err := c.loadParams(ctx, rd.Weights, m)
	if err != nil {
		return nil, fmt.Errorf("round %d: global weights: %w", round, err)
	}
	var weightsFile []byte // the program contract checks deltas against its header
	if isProgram(r.spec) {
		if weightsFile, err = contract.EncodeParams(global); err != nil {
			return nil, fmt.Errorf("round %d: global weights: %w", round, err)
		}
	}
	fetched := map[int]trainer.Params{}
	losses := map[int]float64{}
	broken := map[int]string{} // outputs that break the program contract
	var lost []int
	rtts := map[string]time.Duration{}
	for _, w := range c.swarm.Workers() {
		rtts[w.ID] = w.RTT
	}
	fetchStart := c.now()
	for _, t := range rd.Tasklets { // in index order: the sum's order is fixed
		if t.State == TaskDropped {
			continue
		}
		fctx, cancel := context.WithTimeout(ctx, outputFetchTimeout)
		p, n, taken, ok := pre.get(fctx, t.Output)
		var err error
		if !ok { // not prefetched, or that fetch failed: load it now
			start := c.now()
			p, n, err = c.loadOutput(fctx, r.spec, t.Output, global, weightsFile, t.Peer)
			taken = c.now().Sub(start)
		}
		cancel()
		if errors.Is(err, errBadOutput) {
			broken[t.Index] = err.Error()
			continue
		}
		if err != nil && ctx.Err() == nil {
			c.log.Warn("cannot fetch a tasklet output", "job", r.job.ID, "round", round, "tasklet", t.Index, "peer", t.Peer, "err", err)
			lost = append(lost, t.Index)
			continue
		}
		if err != nil {
			return nil, err
		}
		c.measure.ObserveTransfer(t.Peer, n, netOfRoundTrips(taken, rtts[t.Peer]))
		fetched[t.Index], losses[t.Index] = p, t.Loss
	}
	if len(lost) > 0 {
		return lost, nil
	}
	outerStart := c.now()
	screened := c.screen(global, fetched, losses)
	for i, why := range broken {
		screened[i] = why
	}
	locals := make([]trainer.Params, 0, len(fetched))
	loss, compute := 0.0, 0.0
	r.mu.Lock()
	for i := range r.job.Rounds[round].Tasklets { // index order
		t := &r.job.Rounds[round].Tasklets[i]
		if t.Receipt != nil {
			compute += float64(t.Receipt.ComputeMillis) / 1000
		}
		if why, bad := screened[t.Index]; bad {
			t.Screened = why
			c.screenedOut(round, t, why, r.spec.Executor)
			continue
		}
		p, ok := fetched[t.Index]
		if !ok {
			continue
		}
		locals = append(locals, p)
		loss += t.Loss
	}
	r.mu.Unlock()
	c.flushTrust()
	if len(locals) == 0 {
		c.log.Warn("no output of the round passed verification; the weights stay as they were", "job", r.job.ID, "round", round)
		locals = append(locals, global) // a zero delta: the outer step keeps the weights
	}
	state := &trainer.OuterState{}
	if momentumCID != "" {
		if state.Momentum, err = c.loadParams(ctx, momentumCID, m); err != nil {
			return nil, fmt.Errorf("round %d: outer momentum: %w", round, err)
		}
	}
	o := r.spec.OuterOptimizer
	next, err := trainer.OuterStep(global, locals, state, float32(o.LR), float32(o.Momentum))
	if err != nil {
		return nil, fmt.Errorf("round %d: outer step: %w", round, err)
	}
	wc, err := c.storeParams(ctx, fmt.Sprintf("%s-weights-%d", r.job.ID, round+1), owner(r.job.ID, "round", round+1, "weights"), next)
	if err != nil {
		return nil, err
	}
	mc := ""
	if state.Momentum != nil {
		if mc, err = c.storeParams(ctx, fmt.Sprintf("%s-momentum-%d", r.job.ID, round+1), owner(r.job.ID, "round", round+1, "momentum"), state.Momentum); err != nil {
			return nil, err
		}
	}
	// The previous round's validation ran beside this round's tasklets;
	// it ends before this one starts, so at most one runs.
	if err := c.awaitValidation(ctx, r); err != nil {
		return nil, err
	}
	now := c.now().UTC()
	r.mu.Lock()
	cur := &r.job.Rounds[round]
	cur.Loss, cur.Finished, cur.ComputeSeconds, cur.Validating = loss/float64(len(locals)), &now, compute, true
	r.job.Weights, r.job.OuterMomentum, r.job.Round = wc, mc, round+1
	loss = cur.Loss
	r.mu.Unlock()
	c.log.Info("round done", "job", r.job.ID, "round", round, "loss", loss,
		"fetch_s", outerStart.Sub(fetchStart).Seconds(), "outer_s", now.Sub(outerStart).Seconds())
	c.save(r)
	c.startValidation(ctx, r, round, next)
	// Off the path to the next round: telling each worker it may unpin
	// its outputs is a round trip per worker, which on a world-wide swarm
	// added up to seconds between rounds.
	byPeer, drop := retained(rd)
	id := r.job.ID
	r.cleanup.Go(func() { c.retain(ctx, id, round+1, byPeer, drop) })
	return nil, nil
}

// fetchRoundTrips is how many round trips fetching a small DAG waits for:
// its root, then the blocks it links. Placement's ETA counts them in its
// setup term (RTT × 6 holds the weights' and the output's fetches).
const fetchRoundTrips = 2

// netOfRoundTrips is a fetch's time without the round trips it waited
// for, so that a peer's bandwidth measures its link rather than its
// distance, which the ETA would otherwise count twice. It is never less
// than a quarter of the time: an RTT read on busy cores can exceed it.
func netOfRoundTrips(taken, rtt time.Duration) time.Duration {
	return max(taken-fetchRoundTrips*rtt, taken/4)
}

// evaluate computes loss and accuracy of p over the given shards. The
// shards are evaluated side by side, as many at once as there are cores:
// the final test runs while the coordinator has nothing else to do (its
// split is two shards for MNIST), and the job's time ends with it. The
// per-shard results are summed in shard order, so the figures do not
// depend on which shard finished first.
func (c *Coordinator) evaluate(ctx context.Context, r *run, p trainer.Params, shards []string) (float64, float64, error) {
	m := modelOf(r.spec)
	type result struct {
		loss, acc float64
		n         int
	}
	res := make([]result, len(shards))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, s := range shards {
		g.Go(func() error {
			id, err := cid.Decode(s)
			if err != nil {
				return err
			}
			b, err := c.grid.ReadFile(gctx, id, contract.MaxInputBytes)
			if err != nil {
				return err
			}
			d, err := contract.DecodeShard(b, "images", "labels", m)
			if err != nil {
				return err
			}
			l, a, err := trainer.Evaluate(m, p, d)
			if err != nil {
				return err
			}
			res[i] = result{float64(l) * float64(d.N), float64(a) * float64(d.N), d.N}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, 0, err
	}
	var lossSum, accSum float64
	n := 0
	for _, sr := range res {
		lossSum += sr.loss
		accSum += sr.acc
		n += sr.n
	}
	if n == 0 {
		return 0, 0, errors.New("no samples to evaluate on")
	}
	return lossSum / float64(n), accSum / float64(n), nil
}

// finish evaluates the final model on the test split, pins it as the job's
// final model and marks the job done.
func (c *Coordinator) finish(ctx context.Context, r *run) error {
	r.mu.Lock()
	weights, test := r.job.Weights, r.job.Dataset.Test
	r.mu.Unlock()
	p, err := c.loadParams(ctx, weights, modelOf(r.spec))
	if err != nil {
		return fmt.Errorf("final model: %w", err)
	}
	if _, err := c.storeParams(ctx, r.job.ID+"-final", owner(r.job.ID, "final"), p); err != nil {
		return fmt.Errorf("final model: %w", err)
	}
	if len(test) > 0 {
		l, a, err := c.evaluate(ctx, r, p, test)
		if err != nil {
			return fmt.Errorf("test: %w", err)
		}
		r.mu.Lock()
		r.job.TestLoss, r.job.TestAccuracy = l, a
		r.mu.Unlock()
	}
	// The last round's validation ran beside the test: a done job has
	// every round validated.
	if err := c.awaitValidation(ctx, r); err != nil {
		return err
	}
	r.mu.Lock()
	r.job.FinalModel, r.job.Status, r.job.Waiting = weights, StatusDone, ""
	r.mu.Unlock()
	return nil
}

// availableWorkers is how many workers "auto" plans a round for: those that
// run the executor and are idle now, so a worker that advertises itself
// unable (over-quota, unwritable, paused) does not get a tasklet the others
// must then run in a second wave. When none is idle (a swarm paused for a
// moment) it counts every worker that runs the executor, so the round keeps
// its usual size rather than shrinking to one tasklet.
func availableWorkers(peers []placement.Peer, executor string) int {
	idle, capable := 0, 0
	for _, p := range peers {
		if !slices.Contains(p.Executors, executor) {
			continue
		}
		capable++
		if p.Idle {
			idle++
		}
	}
	if idle > 0 {
		return idle
	}
	return capable
}
