package scheduler

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/verify"
)

// The round machine decides one round's offers. It is a pure state machine
// in the style of etcd-raft: it does no I/O, reads the time only from its
// callers and draws randomness only through placement's seed. The runner
// (drive.go) feeds it events and carries out its decisions:
//
//	runner ──Tick(now, snapshot)──▶ Machine ──▶ offer / cancel / wait / aggregate / fail
//	runner ──Observe(now, Outcome)─▶ Machine ──▶ cancel (a twin lost)
//
// The machine keeps its state in the Round it is given (tasklet states and
// attempt records), so what it decided is what is persisted, and a machine
// built again from a saved Round (a restart) makes the same choices.

// Attempt outcomes the machine writes.
const (
	OutcomeRunning     = "running"
	OutcomeDone        = "done"
	OutcomeFailed      = "failed"
	OutcomeLost        = "lost"
	OutcomeSuperseded  = "superseded"  // a twin delivered first
	OutcomeCancelled   = "cancelled"   // the job stopped or its deadline passed
	OutcomeInterrupted = "interrupted" // the coordinator restarted while it ran
	outcomeDeclined    = "declined: "  // + the worker's reason
)

// ReasonPeerLost is the Reason of a cancel decided because the attempt's
// peer left the snapshot (it disconnected): the attempt is lost at once,
// without waiting for the tasklet's heartbeat to time out.
const ReasonPeerLost = "peer lost"

// DecisionKind says what the runner must do.
type DecisionKind int

// Decisions the machine makes.
const (
	// DecideOffer: offer Tasklet to Peer as attempt Attempt.
	DecideOffer DecisionKind = iota + 1
	// DecideCancel: cancel attempt Attempt of Tasklet on Peer.
	DecideCancel
	// DecideWait: nothing to do before Until; Reason says why, if stalled.
	DecideWait
	// DecideAggregate: every tasklet has an output; fetch and aggregate.
	DecideAggregate
	// DecideFail: the job cannot go on; Reason says why.
	DecideFail
)

func (k DecisionKind) String() string {
	switch k {
	case DecideOffer:
		return "offer"
	case DecideCancel:
		return "cancel"
	case DecideWait:
		return "wait"
	case DecideAggregate:
		return "aggregate"
	case DecideFail:
		return "fail"
	}
	return fmt.Sprintf("DecisionKind(%d)", int(k))
}

// Decision is one thing the runner must do, with why.
type Decision struct {
	Kind        DecisionKind
	Tasklet     int
	Attempt     int
	Peer        string
	Speculative bool      // an offer that copies a straggler
	Until       time.Time // DecideWait: when to Tick again at the latest
	Reason      string
}

func (d Decision) String() string {
	switch d.Kind {
	case DecideOffer:
		s := fmt.Sprintf("offer tasklet %d attempt %d to %s", d.Tasklet, d.Attempt, d.Peer)
		if d.Speculative {
			s += " (speculative copy)"
		}
		return s
	case DecideCancel:
		return fmt.Sprintf("cancel tasklet %d attempt %d on %s: %s", d.Tasklet, d.Attempt, d.Peer, d.Reason)
	case DecideWait:
		if d.Reason == "" {
			return fmt.Sprintf("wait until %s", d.Until.UTC().Format(time.RFC3339Nano))
		}
		return fmt.Sprintf("wait until %s: %s", d.Until.UTC().Format(time.RFC3339Nano), d.Reason)
	}
	return strings.TrimSpace(d.Kind.String() + " " + d.Reason)
}

// OutcomeKind is how an attempt ended, as the runner saw it.
type OutcomeKind int

// Attempt endings.
const (
	EndDone     OutcomeKind = iota + 1 // a checked receipt came back
	EndDeclined                        // the worker declined the offer (Reason is its reason)
	EndFailed                          // the worker gave up, or the offer failed
	EndLost                            // the worker vanished
)

// Outcome is the end of one attempt, fed to Observe.
type Outcome struct {
	Tasklet, Attempt int
	Kind             OutcomeKind
	Reason           string // EndDeclined: the worker's reason constant
	Detail           string
	Receipt          receipt.Receipt // EndDone
}

// MachineConfig fixes what a round machine needs besides its Round.
type MachineConfig struct {
	JobID    string
	Round    int // 0-based
	Rounds   int
	Deadline time.Time
	// Template is every tasklet's placement shape; Inputs are filled per
	// tasklet from Weights and the tasklet's shard.
	Template     placement.Tasklet
	Weights      string
	WeightsBytes uint64
	ShardBytes   map[string]uint64
	// RetryEvery is the longest wait between Ticks, and how long a peer that
	// said busy or not-idle is left alone.
	RetryEvery time.Duration
	// StragglerFactor: a tasklet running longer than this × the round's
	// median gets a speculative copy.
	StragglerFactor float64
	// Backoffs are the per-peer failure backoffs; they outlive the round.
	Backoffs *Backoffs
	// ReplicaWait bounds how long a spot check with a result waits for a
	// peer to take its next replica before the result is accepted
	// unchecked (0: no bound; the coordinator sets Options.ReplicaWait).
	ReplicaWait time.Duration
	// Verify spot-checks the round's tasklets; a nil Verify.Trust turns
	// verification off.
	Verify VerifyConfig
	// Placement is the placement strategy (placement.StrategyETA, the
	// default when "", or placement.StrategyRandom).
	Placement string
}

// VerifyConfig is what the machine needs to spot-check tasklets.
type VerifyConfig struct {
	Trust      *Trust
	Class      verify.Class
	Rates      verify.Rates
	Comparator verify.Comparator
	// Rand is the draw's randomness: crypto/rand.Reader in the daemon, so
	// that no worker can predict which of its tasklets are checked.
	Rand io.Reader
	// Decoded returns an output's decoded delta, which the comparator
	// needs for a tolerance class (process), or nil when the runner has
	// not decoded it. Nil: no output is decoded.
	Decoded func(output string) *verify.Delta
}

// Backoffs holds each peer's failure backoff: after its n-th failure in a
// row a peer gets no offer for Base × 2^(n-1), capped at Max.
type Backoffs struct {
	Base, Max time.Duration
	peers     map[string]backoff
}

type backoff struct {
	failures int
	until    time.Time
}

// NewBackoffs returns an empty table.
func NewBackoffs(base, max time.Duration) *Backoffs {
	return &Backoffs{Base: base, Max: max, peers: map[string]backoff{}}
}

// Fail records a failure of peer at now.
func (b *Backoffs) Fail(now time.Time, peer string) {
	s := b.peers[peer]
	s.failures++
	d := b.Base << min(s.failures-1, 20)
	if b.Max > 0 && (d > b.Max || d <= 0) {
		d = b.Max
	}
	s.until = now.Add(d)
	b.peers[peer] = s
}

// Succeed clears peer's backoff.
func (b *Backoffs) Succeed(peer string) { delete(b.peers, peer) }

// Until is when peer may get an offer again; zero when it may now.
func (b *Backoffs) Until(peer string) time.Time { return b.peers[peer].until }

// Machine is one round's decision maker. It is not safe for concurrent use.
type Machine struct {
	cfg  MachineConfig
	rd   *Round
	busy map[string]time.Time // peer → when a busy/not-idle decline stops counting
	over bool                 // aggregate or fail was decided
	// due is when each running attempt was estimated to free its peer
	// (send its receipt), from its placement: ETA placement weighs waiting
	// for a busy peer by it. Not persisted: a restart interrupts every
	// running attempt anyway.
	due map[attemptRef]time.Time
	// held is the work that this Tick's waiting tasklets reserved on busy
	// peers, so the next tasklet sees those peers' queues grown.
	held map[string]time.Duration
}

type attemptRef struct{ tasklet, attempt int }

// NewMachine returns the machine for rd, which it updates in place.
// Attempts still running in rd were cut short by a restart: they become
// interrupted and their tasklets pending (offered again; their peers are
// not excluded).
func NewMachine(cfg MachineConfig, rd *Round, now time.Time) *Machine {
	if cfg.Backoffs == nil {
		cfg.Backoffs = NewBackoffs(500*time.Millisecond, time.Minute)
	}
	if cfg.RetryEvery <= 0 {
		cfg.RetryEvery = 2 * time.Second
	}
	for i := range rd.Tasklets {
		t := &rd.Tasklets[i]
		for k := range t.Attempts {
			if a := &t.Attempts[k]; a.Outcome == OutcomeRunning {
				a.Outcome, a.Why = OutcomeInterrupted, "the coordinator restarted"
				a.Ended = timePtr(now)
			}
		}
		if t.State == TaskRunning {
			t.State = TaskPending
		}
	}
	return &Machine{cfg: cfg, rd: rd, busy: map[string]time.Time{}, due: map[attemptRef]time.Time{}, held: map[string]time.Duration{}}
}

func timePtr(t time.Time) *time.Time { t = t.UTC(); return &t }

// transientDecline reports whether a decline says "not now" rather than
// "not this tasklet": the tasklet waits, the peer is not excluded. expired
// is one: the worker's clock says the offer or the job's deadline passed,
// which the coordinator's own deadline settles.
func transientDecline(reason string) bool {
	return reason == tasklet.ReasonBusy || reason == tasklet.ReasonNotIdle || reason == tasklet.ReasonExpired
}

// beforeResume marks the outcome of an attempt made before job resume:
// it no longer bars its peer.
const beforeResume = " (before resume)"

// forgiveExclusions lets every peer try rd's unfinished tasklets again,
// keeping the record of what happened.
func forgiveExclusions(rd *Round) {
	for i := range rd.Tasklets {
		for k := range rd.Tasklets[i].Attempts {
			if a := &rd.Tasklets[i].Attempts[k]; excludes(a.Outcome) {
				a.Outcome += beforeResume
			}
		}
	}
}

// excludes reports whether an attempt's outcome bars its peer from the
// tasklet for the rest of the round.
func excludes(outcome string) bool {
	if strings.HasSuffix(outcome, beforeResume) {
		return false
	}
	if r, ok := strings.CutPrefix(outcome, outcomeDeclined); ok {
		return !transientDecline(r)
	}
	return outcome == OutcomeFailed || outcome == OutcomeLost
}

// Excluded lists the peers barred from tasklet i this round, sorted.
func (m *Machine) Excluded(i int) []string {
	var out []string
	for _, a := range m.rd.Tasklets[i].Attempts {
		if excludes(a.Outcome) && !slices.Contains(out, a.Peer) {
			out = append(out, a.Peer)
		}
	}
	sort.Strings(out)
	return out
}

// fetchedWeights lists the peers that ran or run an attempt this round:
// they fetched the round's weights, so a next tasklet there does not wait
// for them.
func (m *Machine) fetchedWeights() map[string]bool {
	out := map[string]bool{}
	for _, t := range m.rd.Tasklets {
		for _, a := range t.Attempts {
			if a.Outcome == OutcomeRunning || a.Outcome == OutcomeDone {
				out[a.Peer] = true
			}
		}
	}
	return out
}

// holdWeights marks p, a peer of the Tick's own snapshot copy, as holding
// the round's weights.
func (m *Machine) holdWeights(p *placement.Peer) {
	if m.cfg.Weights == "" || p.Holds[m.cfg.Weights] >= m.cfg.WeightsBytes {
		return
	}
	p.Holds = maps.Clone(p.Holds) // the caller's map is not the machine's to change
	if p.Holds == nil {
		p.Holds = map[string]uint64{}
	}
	p.Holds[m.cfg.Weights] = m.cfg.WeightsBytes
}

// InFlight counts the running attempts per peer.
func (m *Machine) InFlight() map[string]int {
	out := map[string]int{}
	for _, t := range m.rd.Tasklets {
		for _, a := range t.Attempts {
			if a.Outcome == OutcomeRunning {
				out[a.Peer]++
			}
		}
	}
	return out
}

func running(t *Tasklet) []int {
	var out []int
	for k, a := range t.Attempts {
		if a.Outcome == OutcomeRunning {
			out = append(out, k)
		}
	}
	return out
}

// Observe records how an attempt ended. A result for an attempt that no
// longer runs (cancelled, superseded) is ignored.
func (m *Machine) Observe(now time.Time, o Outcome) []Decision {
	if o.Tasklet < 0 || o.Tasklet >= len(m.rd.Tasklets) {
		return nil
	}
	t := &m.rd.Tasklets[o.Tasklet]
	if o.Attempt < 0 || o.Attempt >= len(t.Attempts) || t.Attempts[o.Attempt].Outcome != OutcomeRunning {
		return nil
	}
	a := &t.Attempts[o.Attempt]
	a.Ended = timePtr(now)
	var out []Decision
	switch o.Kind {
	case EndDone:
		a.Outcome = OutcomeDone
		rc := o.Receipt
		m.cfg.Backoffs.Succeed(a.Peer)
		m.trust(a.Peer, func(r *verify.Record, _ verify.Rule) { r.Ran(now) })
		if c := t.Check; c != nil && c.Outcome == "" {
			c.Results = append(c.Results, CheckResult{Attempt: o.Attempt, Peer: a.Peer, Output: rc.OutputCID, Receipt: rc})
			if len(c.Results) >= c.Need {
				m.decide(now, o.Tasklet)
			}
			if len(running(t)) == 0 && !finished(t) {
				t.State = TaskPending
			}
			return nil
		}
		accept(t, a.Peer, rc)
		for _, k := range running(t) {
			b := &t.Attempts[k]
			b.Outcome, b.Why, b.Ended = OutcomeSuperseded, "attempt "+fmt.Sprint(o.Attempt)+" on "+a.Peer+" delivered first", timePtr(now)
			out = append(out, Decision{Kind: DecideCancel, Tasklet: o.Tasklet, Attempt: k, Peer: b.Peer, Reason: "superseded"})
		}
		return out
	case EndDeclined:
		a.Outcome, a.Why = outcomeDeclined+o.Reason, o.Detail
		if transientDecline(o.Reason) {
			m.busy[a.Peer] = now.Add(m.cfg.RetryEvery)
		}
	case EndLost:
		a.Outcome, a.Why = OutcomeLost, o.Detail
		m.cfg.Backoffs.Fail(now, a.Peer)
	default:
		a.Outcome, a.Why = OutcomeFailed, o.Detail
		m.cfg.Backoffs.Fail(now, a.Peer)
	}
	if len(running(t)) == 0 && !finished(t) {
		t.State = TaskPending
	}
	return out
}

// accept makes rc's output the tasklet's result.
func accept(t *Tasklet, peer string, rc receipt.Receipt) {
	t.State, t.Peer, t.Output, t.Loss, t.Receipt = TaskDone, peer, rc.OutputCID, float64(rc.Loss()), &rc
}

// finished reports whether t needs nothing more this round.
func finished(t *Tasklet) bool { return t.State == TaskDone || t.State == TaskDropped }

// OutputLost records that tasklet i's accepted output could not be fetched:
// its producer is barred from it and it is offered again.
func (m *Machine) OutputLost(now time.Time, i int, why string) {
	t := &m.rd.Tasklets[i]
	for k := len(t.Attempts) - 1; k >= 0; k-- {
		if a := &t.Attempts[k]; a.Outcome == OutcomeDone {
			a.Outcome, a.Why = OutcomeLost, why
			m.cfg.Backoffs.Fail(now, a.Peer)
			break
		}
	}
	// A spot check starts afresh: its replicas' outputs are the same CID.
	t.State, t.Output, t.Receipt, t.Peer, t.Loss, t.Check = TaskPending, "", nil, "", 0, nil
	m.over = false
}

// Stop ends the round for the job's own reason (cancel, shutdown): every
// running attempt is cancelled.
func (m *Machine) Stop(now time.Time, why string) []Decision {
	m.over = true
	return m.cancelAll(now, why)
}

func (m *Machine) cancelAll(now time.Time, why string) []Decision {
	var out []Decision
	for i := range m.rd.Tasklets {
		t := &m.rd.Tasklets[i]
		for _, k := range running(t) {
			a := &t.Attempts[k]
			a.Outcome, a.Why, a.Ended = OutcomeCancelled, why, timePtr(now)
			out = append(out, Decision{Kind: DecideCancel, Tasklet: i, Attempt: k, Peer: a.Peer, Reason: why})
		}
		if t.State == TaskRunning {
			t.State = TaskPending
		}
	}
	return out
}

// DeadlineMessage is the job's error when its deadline passes in round
// (0-based) of rounds.
func DeadlineMessage(round, rounds int) string {
	return fmt.Sprintf("deadline passed in round %d of %d; the last completed round's weights are kept: gridswarm job model / job resume", round+1, rounds)
}

// Tick decides what to do now, given a snapshot of the workers (without
// InFlight, which the machine fills in). It ends with exactly one of wait,
// aggregate or fail.
func (m *Machine) Tick(now time.Time, snap []placement.Peer) []Decision {
	if m.over {
		return nil
	}
	if !m.cfg.Deadline.IsZero() && !now.Before(m.cfg.Deadline) {
		out := m.cancelAll(now, "the job's deadline passed")
		m.over = true
		return append(out, Decision{Kind: DecideFail, Reason: DeadlineMessage(m.cfg.Round, m.cfg.Rounds)})
	}
	if m.allDone() {
		m.over = true
		return []Decision{{Kind: DecideAggregate}}
	}
	out := m.peersLost(now, snap)
	m.held = map[string]time.Duration{}
	snap = slices.Clone(snap)
	inflight := m.InFlight()
	fetched := m.fetchedWeights()
	for i := range snap {
		snap[i].InFlight = inflight[snap[i].ID]
		if fetched[snap[i].ID] {
			m.holdWeights(&snap[i])
		}
	}
	wake := now.Add(m.cfg.RetryEvery)
	if !m.cfg.Deadline.IsZero() && m.cfg.Deadline.Before(wake) {
		wake = m.cfg.Deadline
	}
	var waiting []string
	for i := range m.rd.Tasklets {
		t := &m.rd.Tasklets[i]
		if finished(t) {
			continue
		}
		if t.Check == nil {
			if len(running(t)) > 0 {
				continue
			}
			c := m.place(now, i, snap, nil, &wake)
			if c.fail != "" {
				out = append(out, m.cancelAll(now, "the job failed")...)
				m.over = true
				return append(out, Decision{Kind: DecideFail, Reason: c.fail})
			}
			if c.peer == "" {
				waiting = append(waiting, fmt.Sprintf("tasklet %d %s", i, c.why))
				continue
			}
			out = append(out, m.launch(now, i, c, false, snap))
			m.draw(i, c.peer)
			if t.Check == nil {
				continue
			}
		}
		ds, why := m.replicate(now, i, snap, &wake)
		out = append(out, ds...)
		if why != "" {
			waiting = append(waiting, fmt.Sprintf("tasklet %d %s", i, why))
		}
	}
	out = append(out, m.speculate(now, snap, &wake)...)
	if m.allDone() { // a spot check that ended unverifiable in this Tick
		m.over = true
		return append(out, Decision{Kind: DecideAggregate})
	}
	w := Decision{Kind: DecideWait, Until: wake}
	if len(waiting) > 0 {
		w.Reason = waiting[0]
		if len(waiting) > 1 {
			w.Reason += fmt.Sprintf(" (and %d more tasklets waiting)", len(waiting)-1)
		}
	}
	return append(out, w)
}

// peersLost marks lost every running attempt whose peer is not in the
// snapshot (it disconnected) and decides to cancel it; its tasklet is
// placed again in the same Tick.
func (m *Machine) peersLost(now time.Time, snap []placement.Peer) []Decision {
	present := make(map[string]bool, len(snap))
	for _, p := range snap {
		present[p.ID] = true
	}
	var out []Decision
	for i := range m.rd.Tasklets {
		t := &m.rd.Tasklets[i]
		for _, k := range running(t) {
			a := &t.Attempts[k]
			if present[a.Peer] {
				continue
			}
			a.Outcome, a.Why, a.Ended = OutcomeLost, ReasonPeerLost+": it disconnected while the tasklet ran", timePtr(now)
			m.cfg.Backoffs.Fail(now, a.Peer)
			out = append(out, Decision{Kind: DecideCancel, Tasklet: i, Attempt: k, Peer: a.Peer, Reason: ReasonPeerLost})
		}
		if t.State == TaskRunning && len(running(t)) == 0 {
			t.State = TaskPending
		}
	}
	return out
}

// noteFiltered records in the round each peer of the snapshot that pt's
// rules filter out, with why (the latest reason wins). A peer held back only
// because this job fills its slots is not recorded: that is not about it.
func (m *Machine) noteFiltered(snap []placement.Peer, pt *placement.Tasklet) {
	for _, p := range snap {
		p.InFlight = 0
		why := placement.Why(&p, pt)
		if why == "" {
			continue
		}
		if m.rd.Filtered == nil {
			m.rd.Filtered = map[string]string{}
		}
		m.rd.Filtered[p.ID] = why
	}
}

func (m *Machine) allDone() bool {
	for i := range m.rd.Tasklets {
		if !finished(&m.rd.Tasklets[i]) {
			return false
		}
	}
	return true
}

// choice is what place decided for one tasklet.
type choice struct {
	peer string        // "" when the tasklet waits
	busy time.Duration // how long peer is estimated to be busy with it
	why  string        // why peer was chosen, or why the tasklet waits
	fail string        // non-empty: no peer in the snapshot can ever run it this round
}

// place picks a peer for tasklet i, or says why it waits, or (fail != "")
// why no peer in the snapshot can ever run it this round. also != nil marks
// a replica or a speculative copy, placed only on a free slot; a first
// attempt under ETA placement may instead wait for a busy peer (see
// withQueues).
func (m *Machine) place(now time.Time, i int, snap []placement.Peer, also []string, wake *time.Time) choice {
	barred := m.Excluded(i)
	exclude := slices.Concat(barred, also)
	var backingOff, notNow int
	for _, p := range snap {
		for k, until := range []time.Time{m.cfg.Backoffs.Until(p.ID), m.busy[p.ID]} {
			if now.Before(until) && !slices.Contains(exclude, p.ID) {
				exclude = append(exclude, p.ID)
				if k == 0 {
					backingOff++
				} else {
					notNow++
				}
				if until.Before(*wake) {
					*wake = until
				}
			}
		}
	}
	pt := m.template(i)
	m.noteFiltered(snap, &pt)
	var left map[string]time.Duration
	if also == nil && m.cfg.Placement != placement.StrategyRandom {
		snap, left = m.withQueues(now, snap)
	}
	ds, err := placement.Place(snap, []placement.Tasklet{pt}, placement.Options{
		Seed: placement.SeedFrom(m.cfg.JobID, m.cfg.Round) + uint64(i), Exclude: map[string][]string{pt.ID: exclude},
		Strategy: m.cfg.Placement, RoundTrips: taskletRoundTrips})
	if err != nil {
		return choice{why: "cannot be placed: " + err.Error()}
	}
	d := ds[0]
	if d.Placed() {
		p := d.Peers[0]
		if until, busy := left[p]; busy {
			// Waiting for p ends sooner than starting anywhere free now.
			// Like Place, count what the tasklet adds to p's queue: its
			// transfer and compute; its round trips overlap others'.
			m.held[p] += d.Breakdown.Transfer + d.Breakdown.Compute
			if at := now.Add(until); at.Before(*wake) {
				*wake = at
			}
			return choice{why: fmt.Sprintf("waits for %s, busy with this job for about %s more: %s", p, until.Round(time.Millisecond), d.Explain())}
		}
		// p is busy with it until its receipt: the output fetch's round
		// trips come after the worker has freed the slot.
		busy := d.ETA[0] - d.Breakdown.Setup*fetchRoundTrips/taskletRoundTrips
		return choice{peer: p, busy: busy, why: d.Explain()}
	}
	if also == nil && len(barred) > 0 && m.hopeless(snap, &pt, barred) {
		return choice{fail: m.hopelessMessage(i, d, barred)}
	}
	why := d.Explain()
	if backingOff+notNow > 0 {
		why += fmt.Sprintf(" (of the excluded: %d barred from it, %d backing off after a failure, %d said busy, not idle or expired)", len(barred), backingOff, notNow)
	}
	return choice{why: why}
}

// withQueues returns snap in which each peer whose slots this job's
// attempts fill counts as having one slot free after a queue: the time
// until its earliest attempt is due to free it, plus what tasklets waiting
// for it in this Tick reserved. left maps those peers to the time until that
// slot frees. ETA placement then weighs a near, fast peer that frees soon
// against a far one that is free now, as it does when it places a whole
// round at once (the simulator's model); otherwise a round with more
// tasklets than near peers sends the rest across the world while the near
// peers finish in a fraction of that time. A peer without an estimate (an
// attempt launched before a restart) stays full.
func (m *Machine) withQueues(now time.Time, snap []placement.Peer) (out []placement.Peer, left map[string]time.Duration) {
	soonest := map[string]time.Duration{}
	for i := range m.rd.Tasklets {
		for _, k := range running(&m.rd.Tasklets[i]) {
			due, ok := m.due[attemptRef{i, k}]
			if !ok {
				continue
			}
			a := &m.rd.Tasklets[i].Attempts[k]
			left := remaining(now, due, a.Started)
			if r, seen := soonest[a.Peer]; !seen || left < r {
				soonest[a.Peer] = left
			}
		}
	}
	out = snap
	for k := range snap {
		p := &snap[k]
		r, ok := soonest[p.ID]
		if !ok || p.InFlight < max(p.Slots, 1) {
			continue
		}
		if left == nil {
			out, left = slices.Clone(snap), map[string]time.Duration{}
		}
		q := &out[k]
		q.InFlight = max(q.Slots, 1) - 1
		q.Queue = max(q.Queue, r) + m.held[p.ID]
		left[p.ID] = r
	}
	return out, left
}

// remaining estimates how long an attempt started at started and due at
// due still holds its peer: until due, or, once overdue, as long again as it has
// overrun, so that waiting for a straggler grows less attractive with
// every Tick.
func remaining(now, due, started time.Time) time.Duration {
	if now.Before(due) {
		return due.Sub(now)
	}
	return max(now.Sub(due), due.Sub(started)/4, time.Millisecond)
}

// taskletRoundTrips is what a tasklet costs in round trips between the
// coordinator and its worker, as this coordinator runs one: the offer and
// its answer (1); the worker's bitswap fetch of the weights, the root then
// its blocks (2); the receipt (1); the coordinator's fetch of the output,
// root then blocks (2). placement's default (3) counts only the first
// three steps' minimum. On the in-memory world network an attempt plus its
// output fetch grew by about 5.5 RTTs from a 7 ms to a 128 ms peer.
const taskletRoundTrips = 6

// template is tasklet i's placement shape.
func (m *Machine) template(i int) placement.Tasklet {
	t := &m.rd.Tasklets[i]
	pt := m.cfg.Template
	pt.ID = fmt.Sprint(i)
	pt.Inputs = []placement.Input{{CID: m.cfg.Weights, Bytes: m.cfg.WeightsBytes}, {CID: t.Shard, Bytes: m.cfg.ShardBytes[t.Shard]}}
	return pt
}

// hopeless reports whether every peer of the snapshot is barred from the
// tasklet or fails a rule that waiting cannot change.
func (m *Machine) hopeless(snap []placement.Peer, pt *placement.Tasklet, barred []string) bool {
	for i := range snap {
		p := snap[i]
		if slices.Contains(barred, p.ID) {
			continue
		}
		p.InFlight = 0 // slots free up
		switch placement.Check(&p, pt) {
		case placement.ReasonInvalid, placement.ReasonBanned, placement.ReasonExecutor, placement.ReasonGPUMemory,
			placement.ReasonDisk, placement.ReasonPrice, placement.ReasonVersion:
			continue
		}
		return false
	}
	return true
}

func (m *Machine) hopelessMessage(i int, d placement.Decision, barred []string) string {
	t := m.rd.Tasklets[i]
	var whys []string
	for _, p := range barred {
		for k := len(t.Attempts) - 1; k >= 0; k-- {
			if a := t.Attempts[k]; a.Peer == p && excludes(a.Outcome) {
				whys = append(whys, fmt.Sprintf("%s %s", p, a.Outcome))
				break
			}
		}
	}
	return fmt.Sprintf("round %d of %d: no peer can run tasklet %d: %s; %s", m.cfg.Round+1, m.cfg.Rounds, i, strings.Join(whys, ", "), d.Explain())
}

func (m *Machine) launch(now time.Time, i int, c choice, spec bool, snap []placement.Peer) Decision {
	t := &m.rd.Tasklets[i]
	t.State = TaskRunning
	peer := c.peer
	t.Attempts = append(t.Attempts, Attempt{Peer: peer, Started: now.UTC(), Outcome: OutcomeRunning, Placed: c.why})
	m.due[attemptRef{i, len(t.Attempts) - 1}] = now.Add(c.busy)
	for k := range snap {
		if snap[k].ID == peer {
			snap[k].InFlight++
			m.holdWeights(&snap[k])
		}
	}
	return Decision{Kind: DecideOffer, Tasklet: i, Attempt: len(t.Attempts) - 1, Peer: peer, Speculative: spec}
}

// speculate copies stragglers: a tasklet whose only running attempt has run
// longer than StragglerFactor × the median of the round's finished attempts
// (at least two) gets a copy on another peer that is not barred from it.
func (m *Machine) speculate(now time.Time, snap []placement.Peer, wake *time.Time) []Decision {
	if m.cfg.StragglerFactor <= 0 {
		return nil
	}
	var durs []time.Duration
	for _, t := range m.rd.Tasklets {
		for _, a := range t.Attempts {
			if a.Outcome == OutcomeDone && a.Ended != nil {
				durs = append(durs, a.Ended.Sub(a.Started))
			}
		}
	}
	if len(durs) < 2 {
		return nil
	}
	slices.Sort(durs)
	limit := time.Duration(m.cfg.StragglerFactor * float64(durs[len(durs)/2]))
	var out []Decision
	for i := range m.rd.Tasklets {
		t := &m.rd.Tasklets[i]
		rs := running(t)
		if finished(t) || t.Check != nil || len(rs) != 1 {
			continue
		}
		a := t.Attempts[rs[0]]
		if at := a.Started.Add(limit); now.Before(at) {
			if at.Before(*wake) {
				*wake = at
			}
			continue
		}
		if c := m.place(now, i, snap, []string{a.Peer}, wake); c.peer != "" {
			out = append(out, m.launch(now, i, c, true, snap))
			m.draw(i, c.peer) // the copy may deliver first: it is drawn like any placement
		}
	}
	return out
}
