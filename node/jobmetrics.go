package node

import (
	"sync"
	"time"

	"github.com/gridswarm/gridswarm/scheduler"
)

// jobCounter is what jobTracker counts into (metrics.Jobs implements it).
type jobCounter interface {
	JobFinished(status string)
	RoundEnded(status string)
	Attempt(executor, outcome string, d time.Duration)
	Placed()
	Filtered(reason string)
}

// checkCounter counts decided spot checks (metrics.Verify implements it).
type checkCounter interface {
	SpotCheck(verdict string)
	Mismatch()
}

// jobTracker turns the coordinator's progress events into job, round,
// tasklet and placement counts without touching the scheduler: when an
// event shows a round ended (or the job did), it reads the job once and
// counts that round's attempts and filter reasons. The first event of a
// job after a restart only sets the baseline, so nothing is counted twice.
//
// When the scheduler counts these itself, it can call metrics.Jobs
// directly and this goes away.
type jobTracker struct {
	m   jobCounter
	v   checkCounter
	get func(id string) (*scheduler.Job, error)

	mu   sync.Mutex
	seen map[string]jobSeen
}

type jobSeen struct {
	round  int
	status string
}

func newJobTracker(m jobCounter, v checkCounter, get func(string) (*scheduler.Job, error)) *jobTracker {
	return &jobTracker{m: m, v: v, get: get, seen: map[string]jobSeen{}}
}

func ended(status string) bool {
	return status == scheduler.StatusDone || status == scheduler.StatusFailed || status == scheduler.StatusCancelled
}

// observe is the coordinator's OnEvent hook.
func (t *jobTracker) observe(ev scheduler.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev, ok := t.seen[ev.JobID]
	now := jobSeen{round: ev.Round, status: ev.Status}
	if ended(ev.Status) {
		delete(t.seen, ev.JobID)
	} else {
		t.seen[ev.JobID] = now
	}
	if !ok || ev.Round <= prev.round && (!ended(ev.Status) || ended(prev.status)) {
		return
	}
	j, err := t.get(ev.JobID)
	if err != nil {
		return // removed meanwhile: nothing left to count
	}
	countEnded(t.m, t.v, j, prev.round, ev.Round, ev.Status)
}

// countEnded counts rounds [from, to) of j as done and, when the job ended
// otherwise than done, the round it stopped in with the job's status.
func countEnded(m jobCounter, v checkCounter, j *scheduler.Job, from, to int, status string) {
	exec := executorOf(j)
	for i := from; i < to; i++ {
		if rd := roundByIndex(j, i); rd != nil {
			countRound(m, v, exec, rd, scheduler.StatusDone)
		}
	}
	if !ended(status) {
		return
	}
	if status != scheduler.StatusDone {
		if rd := roundByIndex(j, to); rd != nil {
			countRound(m, v, exec, rd, status)
		}
	}
	m.JobFinished(status)
}

func countRound(m jobCounter, v checkCounter, exec string, rd *scheduler.Round, status string) {
	for _, tl := range rd.Tasklets {
		if c := tl.Check; c != nil && c.Outcome != "" {
			v.SpotCheck(c.Outcome)
			if c.Need > 2 { // a third replica is drawn only after a mismatch
				v.Mismatch()
			}
		}
		for _, a := range tl.Attempts {
			m.Placed()
			if a.Ended == nil {
				continue
			}
			m.Attempt(exec, a.Outcome, a.Ended.Sub(a.Started))
		}
	}
	for _, why := range rd.Filtered {
		m.Filtered(why)
	}
	m.RoundEnded(status)
}

func roundByIndex(j *scheduler.Job, i int) *scheduler.Round {
	for k := range j.Rounds {
		if j.Rounds[k].Index == i {
			return &j.Rounds[k]
		}
	}
	return nil
}

func executorOf(j *scheduler.Job) string {
	var s struct {
		Executor string `json:"executor"`
	}
	if jsonUnmarshal(j.Spec, &s) != nil || s.Executor == "" {
		return "builtin"
	}
	return s.Executor
}
