package scheduler

import (
	"encoding/json"
	"time"

	"github.com/gridswarm/gridswarm/receipt"
)

// Job states.
const (
	StatusSubmitted = "submitted"
	StatusRunning   = "running"
	StatusDone      = "done"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// Tasklet states within a round.
const (
	TaskPending = "pending"
	TaskRunning = "running"
	TaskDone    = "done"
	// TaskDropped: verification found no two outputs that agree (an
	// executor fault), or no independent peer to settle a mismatch; the
	// round aggregates without it.
	TaskDropped = "dropped"
)

// Job is the persisted state of one job: everything needed to resume it.
type Job struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Spec      json.RawMessage `json:"spec"` // jobspec canonical JSON
	Status    string          `json:"status"`
	Error     string          `json:"error,omitempty"`
	Waiting   string          `json:"waiting,omitempty"` // why the round is stalled, if it is
	Submitted time.Time       `json:"submitted"`
	Updated   time.Time       `json:"updated"`
	Finished  *time.Time      `json:"finished,omitempty"`
	// Deadline overrides the spec's deadline (job resume --deadline); zero
	// means Submitted + the spec's deadline.
	Deadline time.Time `json:"deadline,omitzero"`

	Dataset DatasetInfo `json:"dataset"`
	Round   int         `json:"round"` // the round in progress (0-based); == rounds when done
	Rounds  []Round     `json:"rounds"`
	// Weights is the current global model's CID; OuterMomentum the outer
	// optimizer's state.
	Weights       string `json:"weights"`
	OuterMomentum string `json:"outer_momentum,omitempty"`

	FinalModel   string  `json:"final_model,omitempty"`
	TestAccuracy float64 `json:"test_accuracy,omitempty"`
	TestLoss     float64 `json:"test_loss,omitempty"`

	// Settlement is a paid job's escrow and payouts; nil when unpaid.
	Settlement *Settlement `json:"settlement,omitempty"`
}

// DatasetInfo is what the coordinator resolved from the manifest.
type DatasetInfo struct {
	Root       string            `json:"root"`
	Train      []string          `json:"train"`      // shard CIDs
	Validation []string          `json:"validation"` // shard CIDs
	Test       []string          `json:"test,omitempty"`
	Bytes      map[string]uint64 `json:"bytes"` // shard CID → size
}

// Round is one round's plan and outcome.
type Round struct {
	Index          int        `json:"index"`
	Weights        string     `json:"weights"` // global weights the round started from
	Tasklets       []Tasklet  `json:"tasklets"`
	Loss           float64    `json:"loss,omitempty"` // mean training loss reported by workers
	ValLoss        float64    `json:"val_loss,omitempty"`
	ValAccuracy    float64    `json:"val_accuracy,omitempty"`
	Started        time.Time  `json:"started"`
	Finished       *time.Time `json:"finished,omitempty"`
	ComputeSeconds float64    `json:"compute_seconds,omitempty"` // sum of workers' compute time
	// Validating is set while the round's new weights are evaluated on
	// the validation split, which runs beside the next round's tasklets;
	// ValLoss and ValAccuracy are known once it is clear again.
	Validating bool `json:"validating,omitempty"`
	// Filtered names each worker placement filtered out this round, with
	// why (e.g. "not idle: over-quota: …"); the latest reason wins.
	Filtered map[string]string `json:"filtered,omitempty"`
}

// Tasklet is one tasklet's plan, attempts and accepted result.
type Tasklet struct {
	Index    int              `json:"index"`
	Shard    string           `json:"shard"`
	Seed     uint64           `json:"seed"`
	SpecCID  string           `json:"spec_cid,omitempty"`
	State    string           `json:"state"`
	Peer     string           `json:"peer,omitempty"` // who produced the accepted output
	Attempts []Attempt        `json:"attempts,omitempty"`
	Output   string           `json:"output,omitempty"`
	Loss     float64          `json:"loss,omitempty"`
	Receipt  *receipt.Receipt `json:"receipt,omitempty"`
	// Check is the tasklet's spot check, when a draw gave it one.
	Check *SpotCheck `json:"check,omitempty"`
	// Screened is why the accepted output was kept out of the outer step
	// by the cheap checks (verify.Screen); "" when it joined.
	Screened string `json:"screened,omitempty"`
	// Dropped is why a TaskDropped tasklet was dropped.
	Dropped string `json:"dropped,omitempty"`
}

// SpotCheck is a tasklet run on several independent peers and voted on.
// The tasklet is done only when the vote is decided.
type SpotCheck struct {
	// Need is how many outputs the vote compares: 2, then 3 after a
	// mismatch.
	Need int `json:"need"`
	// Probability is the check rate the draw that chose it ran at, and
	// Drawn the peer whose record it was.
	Probability float64       `json:"probability"`
	Drawn       string        `json:"drawn"`
	Results     []CheckResult `json:"results,omitempty"`
	// Outcome is the vote (verify.Outcome: verified, odd-one-out,
	// executor-fault) or OutcomeUnverifiable; "" while it runs.
	Outcome string     `json:"outcome,omitempty"`
	Reasons []string   `json:"reasons,omitempty"`
	Winners []string   `json:"winners,omitempty"`
	Losers  []string   `json:"losers,omitempty"`
	Decided *time.Time `json:"decided,omitempty"`
	// Evidence is the CID of the decided check's evidence bundle.
	Evidence string `json:"evidence,omitempty"`
}

// OutcomeUnverifiable is a spot check that could not be carried out: no
// independent peer could run the replica. The result is accepted unchecked
// (or, after a mismatch, the tasklet dropped); nobody is penalised.
const OutcomeUnverifiable = "unverifiable"

// CheckResult is one replica's delivered result.
type CheckResult struct {
	Attempt int             `json:"attempt"`
	Peer    string          `json:"peer"`
	Output  string          `json:"output"`
	Receipt receipt.Receipt `json:"receipt"`
}

// Attempt records one offer of a tasklet and how it ended.
type Attempt struct {
	Peer    string    `json:"peer"`
	Started time.Time `json:"started"`
	Outcome string    `json:"outcome"` // running, done, declined: …, failed: …, lost, superseded
	Why     string    `json:"why,omitempty"`
	// Ended is when the attempt stopped running; nil while it runs.
	Ended *time.Time `json:"ended,omitempty"`
	// Placed is why placement chose the peer (placement.Decision.Explain).
	Placed string `json:"placed,omitempty"`
	// Prefetch is the next round's shard the worker was asked to fetch
	// while it ran this attempt (planPrefetch); "" when none.
	Prefetch string `json:"prefetch,omitempty"`
}
