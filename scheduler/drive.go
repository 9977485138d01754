package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
)

// drive runs a job's remaining rounds, then evaluates the final model.
func (c *Coordinator) drive(ctx context.Context, r *run) {
	r.mu.Lock()
	r.job.Status = StatusRunning
	r.mu.Unlock()
	c.save(r)
	var err error
	for err == nil && c.round(r) < r.spec.Rounds {
		err = c.runRound(ctx, r)
	}
	if err == nil {
		err = c.finish(ctx, r)
	}
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
	now := time.Now().UTC()
	if r.job.Status != StatusRunning {
		r.job.Finished = &now
	}
	r.mu.Unlock()
	c.save(r)
}

func (c *Coordinator) round(r *run) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.job.Round
}

// save persists the job and tells watchers.
func (c *Coordinator) save(r *run) {
	r.mu.Lock()
	err := c.store.Save(r.job)
	ev := eventOf(r.job, r.spec.Rounds)
	r.mu.Unlock()
	if err != nil {
		c.log.Error("cannot persist job state", "job", r.job.ID, "err", err)
	}
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(ev)
	}
}

func eventOf(j *Job, rounds int) Event {
	ev := Event{JobID: j.ID, Status: j.Status, Round: j.Round, Rounds: rounds, Waiting: j.Waiting, Error: j.Error}
	var durs []float64
	for _, rd := range j.Rounds {
		if rd.Finished != nil {
			durs = append(durs, rd.Finished.Sub(rd.Started).Seconds())
			ev.Loss, ev.ValAccuracy = rd.Loss, rd.ValAccuracy
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
				if a.Outcome != "done" && a.Outcome != "running" && a.Outcome != "superseded" {
					ev.Failed++
				}
			}
		}
	}
	return ev
}

// result is one offer's outcome.
type result struct {
	index   int
	attempt int
	peer    string
	rcpt    receipt.Receipt
	err     error
	elapsed time.Duration
}

// runRound plans (once), dispatches and collects the current round, then
// applies the outer step and evaluates.
func (c *Coordinator) runRound(ctx context.Context, r *run) error {
	spec := r.spec
	params, err := BuiltinParams(spec)
	if err != nil {
		return err
	}
	if err := c.awaitWorkers(ctx, r); err != nil {
		return err
	}
	r.mu.Lock()
	if len(r.job.Rounds) <= r.job.Round {
		n := spec.TaskletsFor(len(c.swarm.Workers()), len(r.job.Dataset.Train))
		r.job.Rounds = append(r.job.Rounds, Round{Index: r.job.Round, Weights: r.job.Weights, Started: time.Now().UTC(),
			Tasklets: PlanRound(spec, r.job.Round, n, r.job.Dataset.Train)})
	}
	round := r.job.Round
	rd := &r.job.Rounds[round]
	for i := range rd.Tasklets { // running at a crash means not accepted: offer again
		t := &rd.Tasklets[i]
		if t.State == TaskRunning {
			t.State = TaskPending
		}
		for k := range t.Attempts {
			if t.Attempts[k].Outcome == "running" {
				t.Attempts[k].Outcome = "interrupted"
			}
		}
	}
	weights := rd.Weights
	r.mu.Unlock()
	c.save(r)

	roundStart := time.Now()
	results := make(chan result)
	inflight := map[int][]string{} // tasklet → peers running it now
	started := map[int]time.Time{}
	var finished []time.Duration
	backoffUntil := map[int]time.Time{}
	deadline := jobDeadline(r).UnixMilli()
	wait := time.NewTimer(0)
	defer wait.Stop()
	for {
		pending, done := c.pending(r, round, inflight, backoffUntil)
		if done {
			break
		}
		if len(pending) > 0 {
			c.dispatch(ctx, r, round, pending, params, weights, deadline, inflight, started, results)
		}
		c.speculate(ctx, r, round, params, weights, deadline, inflight, started, finished, results)
		wait.Reset(c.opts.RetryEvery)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case res := <-results:
			if err := c.collect(r, round, res, inflight, backoffUntil); err != nil {
				return err
			}
			if res.err == nil {
				finished = append(finished, res.elapsed)
			}
			c.save(r)
		case <-wait.C:
		}
	}
	tasklets := time.Since(roundStart)
	aggStart := time.Now()
	err = c.aggregate(ctx, r, round)
	if errors.Is(err, errOutputLost) {
		c.log.Warn("re-running tasklets whose outputs could not be fetched", "job", r.job.ID, "round", round, "err", err)
		return c.runRound(ctx, r)
	}
	c.log.Info("round timing", "job", r.job.ID, "round", round, "tasklets_s", tasklets.Seconds(), "aggregate_s", time.Since(aggStart).Seconds())
	return err
}

// errOutputLost marks an accepted output that could no longer be fetched.
var errOutputLost = errors.New("tasklet output lost")

// outputFetchTimeout bounds fetching one accepted output.
const outputFetchTimeout = time.Minute

// defaultJobDeadline bounds a job whose spec sets no deadline.
const defaultJobDeadline = 7 * 24 * time.Hour

// jobDeadline is fixed at submission, so a tasklet's spec (and so its CID)
// is the same when a restarted coordinator offers it again.
func jobDeadline(r *run) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := time.Duration(r.spec.Deadline)
	if d <= 0 {
		d = defaultJobDeadline
	}
	return r.job.Submitted.Add(d)
}

// awaitWorkers holds an unplanned round until at least one worker is known,
// so "auto" does not size the round for an empty swarm.
func (c *Coordinator) awaitWorkers(ctx context.Context, r *run) error {
	for {
		r.mu.Lock()
		planned := len(r.job.Rounds) > r.job.Round
		r.mu.Unlock()
		if planned || len(c.swarm.Workers()) > 0 {
			return nil
		}
		r.mu.Lock()
		r.job.Waiting = "no worker peers known yet: connect to a swarm (gridswarm peer connect, --bootstrap)"
		r.mu.Unlock()
		c.save(r)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.opts.RetryEvery):
		}
	}
}

// pending lists tasklets to offer now; done is true when all have outputs.
func (c *Coordinator) pending(r *run, round int, inflight map[int][]string, backoff map[int]time.Time) ([]int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	done := true
	now := time.Now()
	for _, t := range r.job.Rounds[round].Tasklets {
		if t.State == TaskDone {
			continue
		}
		done = false
		if len(inflight[t.Index]) == 0 && now.After(backoff[t.Index]) {
			out = append(out, t.Index)
		}
	}
	return out, done
}

// snapshot is the placement view: workers with what they hold.
func (c *Coordinator) snapshot(ctx context.Context, inputs []string, busy map[string]int) []placement.Peer {
	peers := c.swarm.Workers()
	holders := c.lookupHolders(ctx, inputs[1:]) // inputs[0] is this round's weights: only we hold them
	for i := range peers {
		p := &peers[i]
		p.Holds = map[string]uint64{}
		for in, hs := range holders {
			if slices.Contains(hs, p.ID) {
				p.Holds[in] = 1 << 40 // whole DAG: the size is not needed to rank a holder
			}
		}
		if busy[p.ID] > 0 {
			p.Idle = false // our own tasklet already fills its slot
		}
	}
	return peers
}

// holding is a cached provider lookup.
type holding struct {
	peers []string
	at    time.Time
}

// holdersTTL bounds how stale a provider lookup may be for placement.
const holdersTTL = 30 * time.Second

// lookupHolders asks the DHT for the providers of each input, in parallel,
// reusing answers younger than holdersTTL.
func (c *Coordinator) lookupHolders(ctx context.Context, inputs []string) map[string][]string {
	out := map[string][]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, in := range inputs {
		c.mu.Lock()
		h, ok := c.holders[in]
		c.mu.Unlock()
		if ok && time.Since(h.at) < holdersTTL {
			out[in] = h.peers
			continue
		}
		id, err := cid.Decode(in)
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps := c.grid.Holders(ctx, id)
			mu.Lock()
			out[in] = ps
			mu.Unlock()
			c.mu.Lock()
			c.holders[in] = holding{peers: ps, at: time.Now()}
			c.mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// dispatch places the pending tasklets and offers each to its peer.
func (c *Coordinator) dispatch(ctx context.Context, r *run, round int, pending []int, params []byte, weights string, deadline int64,
	inflight map[int][]string, started map[int]time.Time, results chan<- result) {
	r.mu.Lock()
	rd := &r.job.Rounds[round]
	var ts []placement.Tasklet
	inputs := []string{weights}
	exclude := map[string][]string{}
	for _, i := range pending {
		t := rd.Tasklets[i]
		inputs = append(inputs, t.Shard)
		ts = append(ts, placement.Tasklet{ID: fmt.Sprint(i), Executor: r.spec.Executor, Samples: r.spec.InnerSteps * r.spec.BatchSize,
			GPUMem: uint64(r.spec.Resources.GPUMemory), Disk: uint64(r.spec.Resources.Disk), MaxPrice: r.spec.MaxPricePerHour,
			Inputs: []placement.Input{{CID: weights, Bytes: 1 << 20}, {CID: t.Shard, Bytes: r.job.Dataset.Bytes[t.Shard]}}})
		for _, a := range t.Attempts {
			// Peers that failed or vanished are not asked again for this
			// tasklet; a decline (busy, not idle) only delays the next offer.
			if a.Outcome == "failed" || a.Outcome == "lost" {
				exclude[fmt.Sprint(i)] = append(exclude[fmt.Sprint(i)], a.Peer)
			}
		}
	}
	r.mu.Unlock()
	busy := map[string]int{}
	for _, ps := range inflight {
		for _, p := range ps {
			busy[p]++
		}
	}
	snap := c.snapshot(ctx, inputs, busy)
	decisions, err := placement.Place(snap, ts, placement.Options{Seed: placement.SeedFrom(r.job.ID, round), Exclude: exclude})
	if err != nil {
		c.log.Error("placement", "job", r.job.ID, "err", err)
		return
	}
	r.mu.Lock()
	var waiting []string
	for k, d := range decisions {
		i := pending[k]
		if !d.Placed() {
			waiting = append(waiting, fmt.Sprintf("tasklet %d %s", i, d.Explain()))
			continue
		}
		c.launch(ctx, r, round, i, d.Peers[0], params, weights, deadline, inflight, started, results)
	}
	r.job.Waiting = ""
	if len(waiting) > 0 {
		r.job.Waiting = waiting[0]
		if len(waiting) > 1 {
			r.job.Waiting += fmt.Sprintf(" (and %d more tasklets waiting)", len(waiting)-1)
		}
	}
	r.mu.Unlock()
	c.save(r)
}

// launch offers tasklet i to peer; r.mu is held.
func (c *Coordinator) launch(ctx context.Context, r *run, round, i int, peer string, params []byte, weights string, deadline int64,
	inflight map[int][]string, started map[int]time.Time, results chan<- result) {
	t := &r.job.Rounds[round].Tasklets[i]
	spec := TaskletSpec(r.job.ID, r.spec, params, round, *t, weights, deadline)
	if sc, err := spec.CID(); err == nil {
		t.SpecCID = sc.String()
	}
	t.State = TaskRunning
	t.Attempts = append(t.Attempts, Attempt{Peer: peer, Started: time.Now().UTC(), Outcome: "running"})
	attempt := len(t.Attempts) - 1
	inflight[i] = append(inflight[i], peer)
	if _, ok := started[i]; !ok {
		started[i] = time.Now()
	}
	begin := time.Now()
	go func() {
		rc, err := c.swarm.Offer(ctx, peer, spec, nil)
		select {
		case results <- result{index: i, attempt: attempt, peer: peer, rcpt: rc, err: err, elapsed: time.Since(begin)}:
		case <-ctx.Done():
		}
	}()
}

// speculate sends a second copy of a straggler to another peer.
func (c *Coordinator) speculate(ctx context.Context, r *run, round int, params []byte, weights string, deadline int64,
	inflight map[int][]string, started map[int]time.Time, finished []time.Duration, results chan<- result) {
	if len(finished) < 2 {
		return
	}
	sorted := slices.Clone(finished)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
	median := sorted[len(sorted)/2]
	limit := time.Duration(c.opts.StragglerFactor * float64(median))
	for i, ps := range inflight {
		if len(ps) != 1 || time.Since(started[i]) < limit {
			continue
		}
		busy := map[string]int{}
		for _, qs := range inflight {
			for _, q := range qs {
				busy[q]++
			}
		}
		r.mu.Lock()
		t := r.job.Rounds[round].Tasklets[i]
		r.mu.Unlock()
		snap := c.snapshot(ctx, []string{weights, t.Shard}, busy)
		ds, err := placement.Place(snap, []placement.Tasklet{{ID: "spec", Executor: r.spec.Executor, Samples: r.spec.InnerSteps * r.spec.BatchSize}},
			placement.Options{Seed: placement.SeedFrom(r.job.ID, round) + uint64(i), Exclude: map[string][]string{"spec": ps}})
		if err != nil || !ds[0].Placed() {
			continue
		}
		c.log.Info("straggler: sending a speculative copy", "job", r.job.ID, "round", round, "tasklet", i, "slow", ps[0], "copy", ds[0].Peers[0])
		r.mu.Lock()
		c.launch(ctx, r, round, i, ds[0].Peers[0], params, weights, deadline, inflight, started, results)
		r.mu.Unlock()
	}
}

// collect records an offer's outcome. A job fails only when a tasklet has
// used up its attempts.
func (c *Coordinator) collect(r *run, round int, res result, inflight map[int][]string, backoff map[int]time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	inflight[res.index] = slices.DeleteFunc(inflight[res.index], func(p string) bool { return p == res.peer })
	t := &r.job.Rounds[round].Tasklets[res.index]
	a := &t.Attempts[res.attempt]
	if t.State == TaskDone { // a speculative twin already delivered
		a.Outcome = "superseded"
		return nil
	}
	if res.err == nil {
		a.Outcome = "done"
		rc := res.rcpt
		t.State, t.Peer, t.Output, t.Loss, t.Receipt = TaskDone, res.peer, rc.OutputCID, float64(rc.Loss()), &rc
		return nil
	}
	switch {
	case tasklet.IsDeclined(res.err):
		var d *tasklet.DeclinedError
		errors.As(res.err, &d)
		a.Outcome, a.Why = "declined: "+d.Reason, d.Detail
	case errors.Is(res.err, tasklet.ErrWorkerLost):
		a.Outcome, a.Why = "lost", res.err.Error()
	default:
		a.Outcome, a.Why = "failed", res.err.Error()
	}
	if len(inflight[res.index]) == 0 {
		t.State = TaskPending
	}
	failures := 0
	for _, x := range t.Attempts {
		if (x.Outcome == "failed" || x.Outcome == "lost") && !isDecline(x.Outcome) {
			failures++
		}
	}
	if failures >= c.opts.MaxAttempts {
		return fmt.Errorf("round %d tasklet %d failed %d times; last: %s", round, res.index, failures, a.Why)
	}
	backoff[res.index] = time.Now().Add(c.opts.Backoff << min(len(t.Attempts)-1, 6))
	c.log.Info("tasklet attempt ended", "job", r.job.ID, "round", round, "tasklet", res.index, "peer", res.peer, "outcome", a.Outcome, "why", a.Why)
	return nil
}

func isDecline(outcome string) bool { return len(outcome) > 9 && outcome[:9] == "declined:" }

// aggregate applies the outer step to the round's outputs and evaluates.
func (c *Coordinator) aggregate(ctx context.Context, r *run, round int) error {
	m := modelOf(r.spec)
	r.mu.Lock()
	rd := r.job.Rounds[round]
	momentumCID := r.job.OuterMomentum
	r.mu.Unlock()
	global, err := c.loadParams(ctx, rd.Weights, m)
	if err != nil {
		return fmt.Errorf("round %d: global weights: %w", round, err)
	}
	locals := make([]trainer.Params, 0, len(rd.Tasklets))
	loss, compute := 0.0, 0.0
	var lost []int
	for _, t := range rd.Tasklets { // in index order: the sum's order is fixed
		fctx, cancel := context.WithTimeout(ctx, outputFetchTimeout)
		p, err := c.loadParams(fctx, t.Output, m, t.Peer)
		cancel()
		if err != nil && ctx.Err() == nil {
			lost = append(lost, t.Index)
			continue
		}
		if err != nil {
			return err
		}
		locals = append(locals, p)
		loss += t.Loss
		if t.Receipt != nil {
			compute += float64(t.Receipt.ComputeMillis) / 1000
		}
	}
	if len(lost) > 0 {
		r.mu.Lock()
		for _, i := range lost {
			t := &r.job.Rounds[round].Tasklets[i]
			t.Attempts = append(t.Attempts, Attempt{Peer: t.Peer, Started: time.Now().UTC(), Outcome: "lost", Why: "its output could not be fetched"})
			t.State, t.Output, t.Receipt, t.Peer = TaskPending, "", nil, ""
		}
		r.mu.Unlock()
		c.save(r)
		return fmt.Errorf("%w: round %d tasklets %v", errOutputLost, round, lost)
	}
	state := &trainer.OuterState{}
	if momentumCID != "" {
		if state.Momentum, err = c.loadParams(ctx, momentumCID, m); err != nil {
			return fmt.Errorf("round %d: outer momentum: %w", round, err)
		}
	}
	o := r.spec.OuterOptimizer
	next, err := trainer.OuterStep(global, locals, state, float32(o.LR), float32(o.Momentum))
	if err != nil {
		return fmt.Errorf("round %d: outer step: %w", round, err)
	}
	wc, err := c.storeParams(ctx, fmt.Sprintf("%s-weights-%d", r.job.ID, round+1), next)
	if err != nil {
		return err
	}
	mc := ""
	if state.Momentum != nil {
		if mc, err = c.storeParams(ctx, fmt.Sprintf("%s-momentum-%d", r.job.ID, round+1), state.Momentum); err != nil {
			return err
		}
	}
	vl, va, err := c.evaluate(ctx, r, next, r.job.Dataset.Validation)
	if err != nil {
		return fmt.Errorf("round %d: validation: %w", round, err)
	}
	now := time.Now().UTC()
	r.mu.Lock()
	cur := &r.job.Rounds[round]
	cur.Loss, cur.ValLoss, cur.ValAccuracy, cur.Finished, cur.ComputeSeconds = loss/float64(len(locals)), vl, va, &now, compute
	r.job.Weights, r.job.OuterMomentum, r.job.Round = wc, mc, round+1
	r.mu.Unlock()
	c.log.Info("round done", "job", r.job.ID, "round", round, "loss", cur.Loss, "val_accuracy", va)
	c.save(r)
	return nil
}

// evaluate computes loss and accuracy of p over the given shards.
func (c *Coordinator) evaluate(ctx context.Context, r *run, p trainer.Params, shards []string) (float64, float64, error) {
	m := modelOf(r.spec)
	var lossSum, accSum float64
	n := 0
	for _, s := range shards {
		id, err := cid.Decode(s)
		if err != nil {
			return 0, 0, err
		}
		b, err := c.grid.ReadFile(ctx, id, contract.MaxInputBytes)
		if err != nil {
			return 0, 0, err
		}
		d, err := contract.DecodeShard(b, "images", "labels", m)
		if err != nil {
			return 0, 0, err
		}
		l, a, err := trainer.Evaluate(m, p, d)
		if err != nil {
			return 0, 0, err
		}
		lossSum += float64(l) * float64(d.N)
		accSum += float64(a) * float64(d.N)
		n += d.N
	}
	if n == 0 {
		return 0, 0, errors.New("no samples to evaluate on")
	}
	return lossSum / float64(n), accSum / float64(n), nil
}

// finish evaluates the final model on the test split and marks the job done.
func (c *Coordinator) finish(ctx context.Context, r *run) error {
	r.mu.Lock()
	weights, test := r.job.Weights, r.job.Dataset.Test
	r.mu.Unlock()
	if len(test) > 0 {
		p, err := c.loadParams(ctx, weights, modelOf(r.spec))
		if err != nil {
			return err
		}
		l, a, err := c.evaluate(ctx, r, p, test)
		if err != nil {
			return fmt.Errorf("test: %w", err)
		}
		r.mu.Lock()
		r.job.TestLoss, r.job.TestAccuracy = l, a
		r.mu.Unlock()
	}
	r.mu.Lock()
	r.job.FinalModel, r.job.Status, r.job.Waiting = weights, StatusDone, ""
	r.mu.Unlock()
	return nil
}
