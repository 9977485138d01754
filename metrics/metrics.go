package metrics

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every series.
const Namespace = "gridswarm"

// Sources are read at scrape time for the gauges that mirror state; a nil
// function leaves its series out.
type Sources struct {
	// JobsByStatus counts the jobs this node coordinates by status.
	JobsByStatus func() map[string]int
	// WorkerSlots returns the worker's busy and total slots.
	WorkerSlots func() (busy, total int)
	// Data reports the data grid's store and its bitswap traffic.
	Data func() DataStat
}

// DataStat is the data grid's state at one scrape.
type DataStat struct {
	UsedBytes, QuotaBytes, PinnedBytes, CacheBytes uint64
	Blocks                                         int64
	Pins, CacheEntries                             int
	// Exchange traffic since start (bitswap): bytes and blocks fetched
	// from peers and served to them.
	FetchedBytes, ServedBytes, FetchedBlocks, ServedBlocks uint64
}

// Set is one node's metrics.
type Set struct {
	Jobs   *Jobs
	Worker *Worker
	Data   *Data
	Verify *Verify
	Settle *Settle
}

// New creates the series and registers them on reg.
func New(reg prometheus.Registerer, src Sources) (*Set, error) {
	s := &Set{Jobs: newJobs(), Worker: newWorker(), Data: newData(), Verify: newVerify(), Settle: newSettle()}
	cs := []prometheus.Collector{}
	cs = append(cs, s.Jobs.collectors()...)
	cs = append(cs, s.Worker.collectors()...)
	cs = append(cs, s.Data.collectors()...)
	cs = append(cs, s.Verify.collectors()...)
	cs = append(cs, s.Settle.collectors()...)
	cs = append(cs, newStateCollector(src))
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func name(subsystem, n string) string { return prometheus.BuildFQName(Namespace, subsystem, n) }

// Reason shortens a free-text reason ("not idle: cpu busy 93%") to its
// label value ("not_idle"): the part before the first colon, lowercased,
// spaces as underscores, at most 32 bytes, so a label's values stay few.
func Reason(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		case r == ' ' || r == '.':
			return '_'
		}
		return -1
	}, s)
	if len(s) > 32 {
		s = s[:32]
	}
	if s == "" {
		return "unknown"
	}
	return s
}

// Jobs counts the coordinator's work: rounds, tasklet attempts and
// placement decisions. The node feeds it from the coordinator's events.
type Jobs struct {
	finished  *prometheus.CounterVec
	rounds    *prometheus.CounterVec
	attempts  *prometheus.CounterVec
	attemptS  *prometheus.HistogramVec
	decisions *prometheus.CounterVec
}

func newJobs() *Jobs {
	return &Jobs{
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("", "jobs_finished_total"),
			Help: "Jobs this node coordinated that ended, by final status (done, failed, cancelled)."}, []string{"status"}),
		rounds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("", "rounds_total"),
			Help: "Rounds that ended, by status (done, or the job's status when it ended mid-round)."}, []string{"status"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("coordinator", "tasklets_total"),
			Help: "Tasklet attempts that ended, by outcome (done, declined, failed, lost, superseded) and executor."}, []string{"outcome", "executor"}),
		attemptS: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name("coordinator", "tasklet_duration_seconds"),
			Help: "Wall time of tasklet attempts that ended done, offer to receipt.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}, []string{"executor"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("placement", "decisions_total"),
			Help: "Placement decisions: placed (an offer was made) or filtered, with the filter's reason."}, []string{"decision", "reason"}),
	}
}

func (j *Jobs) collectors() []prometheus.Collector {
	return []prometheus.Collector{j.finished, j.rounds, j.attempts, j.attemptS, j.decisions}
}

// JobFinished counts a job that ended with status.
func (j *Jobs) JobFinished(status string) { j.finished.WithLabelValues(status).Inc() }

// RoundEnded counts a round that ended with status.
func (j *Jobs) RoundEnded(status string) { j.rounds.WithLabelValues(status).Inc() }

// Attempt counts a tasklet attempt that ended; d is its wall time, counted
// in the duration histogram for done attempts.
func (j *Jobs) Attempt(executor, outcome string, d time.Duration) {
	outcome = Reason(outcome)
	j.attempts.WithLabelValues(outcome, executor).Inc()
	if outcome == "done" && d > 0 {
		j.attemptS.WithLabelValues(executor).Observe(d.Seconds())
	}
}

// Placed counts an offer the placement made.
func (j *Jobs) Placed() { j.decisions.WithLabelValues("placed", "").Inc() }

// Filtered counts a peer placement filtered out, with why.
func (j *Jobs) Filtered(reason string) { j.decisions.WithLabelValues("filtered", Reason(reason)).Inc() }

// Worker counts the worker side: offers answered and tasklets run.
type Worker struct {
	offers   *prometheus.CounterVec
	tasklets *prometheus.CounterVec
	seconds  *prometheus.CounterVec
}

func newWorker() *Worker {
	return &Worker{
		offers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("worker", "offers_total"),
			Help: "Tasklet offers this worker answered: accepted, or declined with the reason."}, []string{"outcome", "reason"}),
		tasklets: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("worker", "tasklets_total"),
			Help: "Tasklets this worker ran, by executor and outcome (ok, error)."}, []string{"executor", "outcome"}),
		seconds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("worker", "tasklet_seconds_total"),
			Help: "Seconds this worker spent running tasklets, by executor."}, []string{"executor"}),
	}
}

func (w *Worker) collectors() []prometheus.Collector {
	return []prometheus.Collector{w.offers, w.tasklets, w.seconds}
}

// Offer counts an answered offer; reason is the decline's reason.
func (w *Worker) Offer(accepted bool, reason string) {
	if accepted {
		w.offers.WithLabelValues("accepted", "").Inc()
		return
	}
	w.offers.WithLabelValues("declined", Reason(reason)).Inc()
}

// Tasklet counts a tasklet run by executor, whether it failed, and its time.
func (w *Worker) Tasklet(executor string, err error, d time.Duration) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	w.tasklets.WithLabelValues(executor, outcome).Inc()
	w.seconds.WithLabelValues(executor).Add(d.Seconds())
}

// Data counts what the data grid imports and evicts; traffic and store
// sizes come from Sources.Data at scrape time.
type Data struct {
	added     prometheus.Counter
	evictions prometheus.Counter
}

func newData() *Data {
	return &Data{
		added: prometheus.NewCounter(prometheus.CounterOpts{Name: name("datagrid", "added_bytes_total"),
			Help: "Bytes of files imported into the data grid (data add, job weights, tasklet outputs)."}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{Name: name("datagrid", "cache_evictions_total"),
			Help: "Cache entries evicted (LRU, for the quota or data gc)."}),
	}
}

func (d *Data) collectors() []prometheus.Collector {
	return []prometheus.Collector{d.added, d.evictions}
}

// Added counts bytes imported.
func (d *Data) Added(bytes uint64) { d.added.Add(float64(bytes)) }

// Evicted counts cache entries evicted.
func (d *Data) Evicted(entries int) { d.evictions.Add(float64(entries)) }

// Verify counts spot checks; the node feeds SpotCheck and Mismatch from the
// coordinator's job state, Ban waits for the reputation work to call it.
type Verify struct {
	checks     *prometheus.CounterVec
	mismatches prometheus.Counter
	bans       prometheus.Counter
}

func newVerify() *Verify {
	return &Verify{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("verify", "spot_checks_total"),
			Help: "Spot checks (replicated tasklets) decided, by verdict (verified, odd-one-out, executor-fault, unverifiable)."}, []string{"verdict"}),
		mismatches: prometheus.NewCounter(prometheus.CounterOpts{Name: name("verify", "mismatches_total"),
			Help: "Spot checks whose replicas disagreed (a third replica was needed)."}),
		bans: prometheus.NewCounter(prometheus.CounterOpts{Name: name("verify", "bans_total"),
			Help: "Peers banned for wrong outputs or equivocation."}),
	}
}

func (v *Verify) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.checks, v.mismatches, v.bans}
}

// SpotCheck counts a decided spot check.
func (v *Verify) SpotCheck(verdict string) { v.checks.WithLabelValues(Reason(verdict)).Inc() }

// Mismatch counts replica outputs that disagreed.
func (v *Verify) Mismatch() { v.mismatches.Inc() }

// Ban counts a banned peer.
func (v *Verify) Ban() { v.bans.Inc() }

// Settle is defined now so the settlement work only has to count.
type Settle struct {
	roots  prometheus.Counter
	claims *prometheus.CounterVec
	gas    *prometheus.CounterVec
}

func newSettle() *Settle {
	return &Settle{
		roots: prometheus.NewCounter(prometheus.CounterOpts{Name: name("settle", "roots_posted_total"),
			Help: "Payout Merkle roots posted to escrow contracts."}),
		claims: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("settle", "claims_total"),
			Help: "Payout claims sent, by outcome (ok, error)."}, []string{"outcome"}),
		gas: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("settle", "gas_used_total"),
			Help: "Gas used by this node's transactions, by operation (post_root, claim, slash, escrow)."}, []string{"op"}),
	}
}

func (s *Settle) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.roots, s.claims, s.gas}
}

// RootPosted counts a posted payout root and its gas.
func (s *Settle) RootPosted(gas uint64) {
	s.roots.Inc()
	s.gas.WithLabelValues("post_root").Add(float64(gas))
}

// Claim counts a claim and its gas.
func (s *Settle) Claim(err error, gas uint64) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	s.claims.WithLabelValues(outcome).Inc()
	s.gas.WithLabelValues("claim").Add(float64(gas))
}

// Gas counts gas used by another operation.
func (s *Settle) Gas(op string, gas uint64) { s.gas.WithLabelValues(Reason(op)).Add(float64(gas)) }
