package node

import (
	"sort"
	"time"
)

// A payout notice is gossiped once, when its root is posted; a worker
// whose daemon was down then, or not yet subscribed, never hears of it and
// cannot claim. So a coordinator gossips each job's latest notice again
// while its escrow holds committed pay that nobody has claimed: soon after
// a peer joins the topic (a worker that restarted), and at doubling gaps
// (renoticeFirst up to renoticeMax) for those that came back unnoticed.
// Notices are cumulative, so the latest one is all a worker needs.
const (
	renoticeFirst = time.Minute
	renoticeMax   = time.Hour
	// renoticeJoinGap bounds how often joins re-send one job's notice: in a
	// busy swarm peers join all the time.
	renoticeJoinGap = 30 * time.Second
	// renoticeBurst bounds notices sent at once, inside the topic's
	// per-author burst (20) that receivers enforce.
	renoticeBurst = 10
)

// renotices is the pure core: which jobs' notices to gossip again, when.
// Only the renotice loop uses it, so it has no lock.
type renotices struct {
	jobs map[string]*renotice
}

type renotice struct {
	notice PayoutNotice
	next   time.Time // the next scheduled re-send
	gap    time.Duration
	sent   time.Time // the last send, scheduled or for a join
	joined bool      // a peer joined since sent
}

func newRenotices() *renotices { return &renotices{jobs: map[string]*renotice{}} }

// add keeps pn as its job's latest notice; a newer batch replaces an older
// one and starts its schedule again. sent is when pn was last gossiped
// (now for a root just posted; zero for one found in a job's record at
// start, which is then due at once).
func (r *renotices) add(pn PayoutNotice, sent, now time.Time) {
	if old, ok := r.jobs[pn.Job]; ok && old.notice.Batch >= pn.Batch {
		return
	}
	next := now
	if !sent.IsZero() {
		next = sent.Add(renoticeFirst)
	}
	r.jobs[pn.Job] = &renotice{notice: pn, next: next, gap: renoticeFirst, sent: sent}
}

// joined notes that a peer joined the topic: every notice becomes due
// once renoticeJoinGap has passed since it was last sent.
func (r *renotices) joined() {
	for _, j := range r.jobs {
		j.joined = true
	}
}

// drop forgets a job: its escrow owes nothing more to anyone.
func (r *renotices) drop(job string) { delete(r.jobs, job) }

// due returns the notices to send now, at most renoticeBurst, the oldest
// sends first, and records them as sent.
func (r *renotices) due(now time.Time) []PayoutNotice {
	var ready []*renotice
	for _, j := range r.jobs {
		scheduled := !now.Before(j.next)
		greet := j.joined && now.Sub(j.sent) >= renoticeJoinGap
		if scheduled || greet {
			ready = append(ready, j)
		}
	}
	sort.Slice(ready, func(a, b int) bool {
		if !ready[a].sent.Equal(ready[b].sent) {
			return ready[a].sent.Before(ready[b].sent)
		}
		return ready[a].notice.Job < ready[b].notice.Job
	})
	if len(ready) > renoticeBurst {
		ready = ready[:renoticeBurst]
	}
	out := make([]PayoutNotice, len(ready))
	for i, j := range ready {
		out[i] = j.notice
		if !now.Before(j.next) {
			j.gap = min(2*j.gap, renoticeMax)
		}
		// Any send, a greeting too, puts the next scheduled one a gap
		// away: two sends of a job are never closer than renoticeJoinGap.
		j.next = now.Add(j.gap)
		j.sent, j.joined = now, false
	}
	return out
}

// wake is when due next has something to return, if anything is kept.
func (r *renotices) wake(now time.Time) (time.Time, bool) {
	var at time.Time
	for _, j := range r.jobs {
		t := j.next
		if greet := j.sent.Add(renoticeJoinGap); j.joined && greet.Before(t) {
			t = greet
		}
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	if at.IsZero() {
		return time.Time{}, false
	}
	if at.Before(now) {
		at = now
	}
	return at, true
}
