package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/verify"
)

// ClassAll is the class of records that bans earned outside any one job
// are kept under (equivocation): a ban on any class bans everywhere.
const ClassAll verify.Class = "all"

// Equivocated acts on an equivocation proof, this coordinator's own or
// one gossiped by another: it checks the proof and bans the payout account
// that signed both receipts and, when the receipts' worker peer is known
// to be bound to that account, the peer. A proof already acted on changes
// nothing. It returns the signer, or why the proof is refused.
func (c *Coordinator) Equivocated(p verify.Proof) (common.Address, error) {
	signer, err := p.Check(c.opts.Domain)
	if err != nil {
		return signer, err
	}
	now := c.now()
	keys := []string{accountKey(signer.Hex())}
	for _, w := range c.swarm.Workers() {
		if w.ID == p.A.WorkerPeer && common.IsHexAddress(w.Account) && common.HexToAddress(w.Account) == signer {
			keys = append(keys, w.ID)
		}
	}
	for _, k := range keys {
		c.trust.Update(verify.Key{Peer: k, Class: ClassAll}, func(r *verify.Record, u verify.Rule) {
			if ok, why := r.Banned(now); ok && strings.Contains(why, p.A.TaskletCID) {
				return // this proof, seen again
			}
			r.Equivocated(now, u, p.A.TaskletCID)
		})
	}
	c.flushTrust()
	c.log.Warn("worker equivocated: banned", "account", signer.Hex(), "peer", p.A.WorkerPeer, "tasklet", p.A.TaskletCID)
	return signer, nil
}

// Trust returns the coordinator's trust records.
func (c *Coordinator) Trust() *Trust { return c.trust }

// SpotCheckView is one decided or running spot check of a job.
type SpotCheckView struct {
	Round   int    `json:"round"` // 0-based
	Tasklet int    `json:"tasklet"`
	SpecCID string `json:"spec_cid,omitempty"`
	SpotCheck
}

// SpotChecks lists a job's spot checks, round by round.
func (c *Coordinator) SpotChecks(id string) ([]SpotCheckView, error) {
	j, err := c.Get(id)
	if err != nil {
		return nil, err
	}
	var out []SpotCheckView
	for _, rd := range j.Rounds {
		for _, t := range rd.Tasklets {
			if t.Check != nil {
				out = append(out, SpotCheckView{Round: rd.Index, Tasklet: t.Index, SpecCID: t.SpecCID, SpotCheck: *t.Check})
			}
		}
	}
	return out, nil
}

// Evidence is the bundle kept in the data grid for each decided spot
// check: what anyone needs to re-check the verdict.
type Evidence struct {
	Version  int           `json:"version"`
	JobID    string        `json:"job_id"`
	Round    int           `json:"round"` // 0-based
	Tasklet  int           `json:"tasklet"`
	SpecCID  string        `json:"spec_cid"`
	Class    verify.Class  `json:"class"`
	Results  []CheckResult `json:"results"` // every signed receipt and its output CID
	Outcome  string        `json:"outcome"`
	Reasons  []string      `json:"reasons"` // the comparison report
	Winners  []string      `json:"winners,omitempty"`
	Losers   []string      `json:"losers,omitempty"`
	Decision string        `json:"decided"`
}

// keepEvidence stores an evidence bundle for every decided spot check of
// the round that has none yet, pinned under the job's owner so `job rm`
// frees it. A failure is logged and retried after the next outcome.
func (rn *roundRunner) keepEvidence(ctx context.Context) {
	c, r := rn.c, rn.r
	type todo struct {
		i int
		e Evidence
	}
	var work []todo
	r.mu.Lock()
	for i, t := range r.job.Rounds[rn.round].Tasklets {
		ck := t.Check
		if ck == nil || ck.Outcome == "" || ck.Evidence != "" {
			continue
		}
		work = append(work, todo{i, Evidence{Version: 1, JobID: r.job.ID, Round: rn.round, Tasklet: t.Index, SpecCID: t.SpecCID,
			Class: rn.m.cfg.Verify.Class, Results: ck.Results, Outcome: ck.Outcome, Reasons: ck.Reasons,
			Winners: ck.Winners, Losers: ck.Losers, Decision: ck.Decided.UTC().Format("2006-01-02T15:04:05.000Z")}})
	}
	r.mu.Unlock()
	for _, w := range work {
		b, err := json.MarshalIndent(w.e, "", "  ")
		if err != nil {
			c.log.Warn("cannot encode spot-check evidence", "job", r.job.ID, "err", err)
			continue
		}
		name := fmt.Sprintf("%s-evidence-%d-%d.json", r.job.ID, rn.round, w.i)
		id, err := c.grid.AddBytesOwned(ctx, name, b, owner(r.job.ID, "evidence", rn.round, w.i))
		if err != nil {
			c.log.Warn("cannot store spot-check evidence; will try again", "job", r.job.ID, "round", rn.round, "tasklet", w.i, "err", err)
			continue
		}
		r.mu.Lock()
		r.job.Rounds[rn.round].Tasklets[w.i].Check.Evidence = id.String()
		r.mu.Unlock()
	}
	if len(work) > 0 {
		c.save(r)
	}
}

// screen runs verify.Screen over the round's fetched outputs (local
// weights by tasklet index) against the global weights: an output that
// is not finite or whose delta norm is far from the others' is kept out
// of the outer step and costs its producer a lost vote. It returns the
// reasons by tasklet index.
func (c *Coordinator) screen(global trainer.Params, locals map[int]trainer.Params, losses map[int]float64) map[int]string {
	deltas := map[string]verify.Delta{}
	out := map[int]string{}
	for i, p := range locals {
		d, err := trainer.Delta(global, p)
		if err != nil {
			out[i] = "its output does not match the model: " + err.Error()
			continue
		}
		deltas[fmt.Sprint(i)] = verify.Delta{Params: d, Loss: float32(losses[i])}
	}
	for k, err := range verify.Screen(deltas) {
		var i int
		fmt.Sscan(k, &i)
		out[i] = err.Error()
	}
	return out
}

// screenedOut charges the producer of an output the cheap checks refused
// with a lost vote, unless replicas on independent peers agreed on it: two
// peers computing the same output are more likely honest than the
// screen's norm bounds right. Called with the run's lock held.
func (c *Coordinator) screenedOut(round int, t *Tasklet, why, executor string) {
	c.log.Warn("a tasklet output failed the cheap checks and is left out of the outer step", "round", round, "tasklet", t.Index, "peer", t.Peer, "why", why)
	if ck := t.Check; ck != nil && (ck.Outcome == string(verify.Verified) || ck.Outcome == string(verify.OddOneOut)) {
		return
	}
	now := c.now()
	c.trust.Update(verify.Key{Peer: t.Peer, Class: verify.Class(executor)}, func(r *verify.Record, u verify.Rule) { r.LostVote(now, u) })
}

// TaskletSpec rebuilds the spec a tasklet of a job was offered with (round
// 0-based), so anyone can run it again and compare outputs. It fails when
// the rebuilt spec's CID differs from the one recorded at dispatch (the
// job's deadline was changed by a resume since).
func (c *Coordinator) TaskletSpec(id string, round, index int) (tasklet.Spec, error) {
	j, err := c.Get(id)
	if err != nil {
		return tasklet.Spec{}, err
	}
	if round < 0 || round >= len(j.Rounds) {
		return tasklet.Spec{}, fmt.Errorf("job %s has %d planned rounds: there is no round %d", id, len(j.Rounds), round+1)
	}
	rd := j.Rounds[round]
	if index < 0 || index >= len(rd.Tasklets) {
		return tasklet.Spec{}, fmt.Errorf("round %d of job %s has %d tasklets: there is no tasklet %d", round+1, id, len(rd.Tasklets), index)
	}
	t := rd.Tasklets[index]
	if t.SpecCID == "" {
		return tasklet.Spec{}, fmt.Errorf("tasklet %d of round %d was never offered", index, round+1)
	}
	spec, err := jobspec.Parse(j.Spec)
	if err != nil {
		return tasklet.Spec{}, fmt.Errorf("job %s's stored spec: %w", id, err)
	}
	params, err := TaskletParams(spec)
	if err != nil {
		return tasklet.Spec{}, err
	}
	deadline := j.Deadline
	if deadline.IsZero() {
		d := time.Duration(spec.Deadline)
		if d <= 0 {
			d = defaultJobDeadline
		}
		deadline = j.Submitted.Add(d)
	}
	ts := TaskletSpec(j.ID, spec, params, round, t, rd.Weights, deadline.UnixMilli(), modelBytes(modelOf(spec).NumParams()), j.Dataset.Bytes[t.Shard])
	sc, err := ts.CID()
	if err != nil {
		return tasklet.Spec{}, err
	}
	if sc.String() != t.SpecCID {
		return tasklet.Spec{}, fmt.Errorf("tasklet %d of round %d cannot be rebuilt: its spec was %s, the rebuilt one is %s (the job's deadline changed since)", index, round+1, t.SpecCID, sc)
	}
	return ts, nil
}
