package api

import (
	"encoding/json"
	"time"
)

// Reputation is what this node's coordinator knows of a peer from spot
// checks, summed over executor classes: it shows in `peers` and breaks
// placement ties.
type Reputation struct {
	Run       int     `json:"run"`      // tasklets it returned to this coordinator
	Checked   int     `json:"checked"`  // of those, decided by a vote
	Verified  int     `json:"verified"` // votes it was on the winning side of
	Lost      int     `json:"lost"`     // votes it lost
	Agreement float64 `json:"agreement"`
	// FirstSeen is when this coordinator first got a result from it.
	FirstSeen *time.Time `json:"first_seen,omitempty"`
	Banned    bool       `json:"banned"`
	BanReason string     `json:"ban_reason,omitempty"`
}

// TrustRecord is one peer's record on one executor class.
type TrustRecord struct {
	Peer        string     `json:"peer"`
	Class       string     `json:"class"`
	Run         int        `json:"run"`
	Checked     int        `json:"checked"`
	Verified    int        `json:"verified"`
	Lost        int        `json:"lost"`
	Consecutive int        `json:"consecutive"` // verified results since the last lost vote
	Agreement   float64    `json:"agreement"`
	CheckRate   float64    `json:"check_rate"` // chance its next tasklet gets a replica at the default job rates
	Strikes     int        `json:"strikes"`
	Offences    int        `json:"offences"` // bans so far
	FirstSeen   *time.Time `json:"first_seen,omitempty"`
	LastLoss    *time.Time `json:"last_loss,omitempty"`
	Banned      bool       `json:"banned"`
	BanReason   string     `json:"ban_reason,omitempty"`
	BannedUntil *time.Time `json:"banned_until,omitempty"`
}

// VerifyPeer is verify_peer's answer: a peer's records.
type VerifyPeer struct {
	Peer      string        `json:"peer"`
	Account   string        `json:"account,omitempty"` // its payout account, when known
	Banned    bool          `json:"banned"`
	BanReason string        `json:"ban_reason,omitempty"`
	Records   []TrustRecord `json:"records"`
}

// SpotResult is one replica's signed result in a spot check.
type SpotResult struct {
	Peer   string `json:"peer"`
	Output string `json:"output"`
}

// SpotCheck is one tasklet run on several peers and voted on.
type SpotCheck struct {
	Round       int          `json:"round"` // 1-based, as in job show
	Tasklet     int          `json:"tasklet"`
	SpecCID     string       `json:"spec_cid,omitempty"`
	Probability float64      `json:"probability"` // the check rate it was drawn at
	Drawn       string       `json:"drawn"`       // the peer whose record the draw used
	Need        int          `json:"need"`
	Results     []SpotResult `json:"results"`
	// Outcome: verified, odd-one-out, executor-fault, unverifiable, or
	// "running" while undecided.
	Outcome  string     `json:"outcome"`
	Winners  []string   `json:"winners,omitempty"`
	Losers   []string   `json:"losers,omitempty"`
	Reasons  []string   `json:"reasons,omitempty"`
	Decided  *time.Time `json:"decided,omitempty"`
	Evidence string     `json:"evidence,omitempty"` // CID of the evidence bundle
}

// SpotTally is one worker's line in a job's verification summary.
type SpotTally struct {
	Peer    string `json:"peer"`
	Ran     int    `json:"ran"`     // results it delivered in this job
	Checked int    `json:"checked"` // of those, in a decided vote
	Caught  int    `json:"caught"`  // votes it lost, and outputs the cheap checks refused
	Banned  bool   `json:"banned"`
}

// VerifyJob is verify_job's answer.
type VerifyJob struct {
	Job          string `json:"job"`
	Tasklets     int    `json:"tasklets"` // tasklets planned so far
	Checked      int    `json:"checked"`  // of those, spot-checked
	Verified     int    `json:"verified"`
	Mismatches   int    `json:"mismatches"` // checks that needed a third replica
	Dropped      int    `json:"dropped"`
	Unverifiable int    `json:"unverifiable"`
	Screened     int    `json:"screened"` // outputs the cheap checks kept out
	// UsedSeconds is the workers' compute time (by their receipts) of the
	// results the job used; ReplicaSeconds that of the results run only to
	// be compared (replicas, third runs, dropped tasklets); Overhead is
	// their ratio, what spot checks cost.
	UsedSeconds    float64     `json:"used_seconds"`
	ReplicaSeconds float64     `json:"replica_seconds"`
	Overhead       float64     `json:"overhead"`
	Checks         []SpotCheck `json:"checks"`
	Workers        []SpotTally `json:"workers"`
}

// ReportResult is verify_report's answer.
type ReportResult struct {
	Worker string `json:"worker"` // the account that signed both receipts
	Peer   string `json:"peer"`   // the peer the receipts name
	// Gossiped says whether the proof was sent to the swarm's other
	// coordinators.
	Gossiped bool `json:"gossiped"`
	// Slashed is the stake WorkerStake took from the worker for this
	// proof (base units) and SlashTx its transaction, when this node
	// settles on a chain and the worker had stake.
	Slashed string `json:"slashed,omitempty"`
	SlashTx string `json:"slash_tx,omitempty"`
	// NotSlashed says why no stake was taken (no chain, no stake, already
	// slashed for this tasklet).
	NotSlashed string `json:"not_slashed,omitempty"`
}

// Proof is an equivocation proof as JSON: two receipts one worker signed
// for one tasklet with different outputs ({"a": receipt, "b": receipt}).
type Proof = json.RawMessage
