package scheduler

import (
	"context"
	"fmt"

	"github.com/gridswarm/gridswarm/trainer"
)

// A round's new weights are evaluated on the validation split beside the
// next round's tasklets instead of before them: the next round needs only
// the weights, and the workers would otherwise wait for the evaluation
// (0.1-0.3 s a round in the demo). The round is recorded finished with
// Validating set; the validation fills in ValLoss and ValAccuracy and
// clears it. At most one runs: the next round's aggregate, the job's
// finish and the end of drive wait for it (awaitValidation), so none
// outlives its job, and a validation error still fails the job. A
// coordinator that restarts validates again the rounds still marked
// (resumeValidation). The validated round is always one of the job's last
// two when its result is saved (round k's validation ends before round k+1
// aggregates, so before round k+2 is planned): the store's journal diffs
// those on every save (recentRounds), so the result is journalled at once.

// validation is one round's evaluation running in the background.
type validation struct {
	round int
	done  chan struct{}
	err   error // set before done is closed
}

// startValidation evaluates next, the weights round produced, in the
// background and records the result in the round.
func (c *Coordinator) startValidation(ctx context.Context, r *run, round int, next trainer.Params) {
	v := &validation{round: round, done: make(chan struct{})}
	r.validation = v
	go func() {
		defer close(v.done)
		start := c.now()
		if next == nil { // resumed: the weights are in the grid
			r.mu.Lock()
			w := weightsAfter(r.job, round)
			r.mu.Unlock()
			p, err := c.loadParams(ctx, w, modelOf(r.spec))
			if err != nil {
				v.err = fmt.Errorf("round %d: validation: weights: %w", round, err)
				return
			}
			next = p
		}
		vl, va, err := c.evaluate(ctx, r, next, r.job.Dataset.Validation)
		if err != nil {
			v.err = fmt.Errorf("round %d: validation: %w", round, err)
			return
		}
		r.mu.Lock()
		rd := &r.job.Rounds[round]
		rd.ValLoss, rd.ValAccuracy, rd.Validating = vl, va, false
		r.mu.Unlock()
		c.log.Info("round validated", "job", r.job.ID, "round", round, "val_accuracy", va, "validate_s", c.now().Sub(start).Seconds())
		c.save(r)
	}()
}

// awaitValidation waits for the background validation, if any, and
// returns its error.
func (c *Coordinator) awaitValidation(ctx context.Context, r *run) error {
	v := r.validation
	if v == nil {
		return nil
	}
	select {
	case <-v.done:
	case <-ctx.Done():
		<-v.done // it runs under ctx too: it ends promptly
	}
	r.validation = nil
	return v.err
}

// resumeValidation restarts the validation of a round a stopped
// coordinator left marked Validating.
func (c *Coordinator) resumeValidation(ctx context.Context, r *run) {
	r.mu.Lock()
	round := -1
	for i, rd := range r.job.Rounds {
		if rd.Finished != nil && rd.Validating {
			round = i
		}
	}
	r.mu.Unlock()
	if round >= 0 {
		c.startValidation(ctx, r, round, nil)
	}
}

// weightsAfter is the CID of the weights round i produced: where round
// i+1 started, or the job's weights when round i is the last finished.
func weightsAfter(j *Job, i int) string {
	if i+1 < len(j.Rounds) {
		return j.Rounds[i+1].Weights
	}
	return j.Weights
}
