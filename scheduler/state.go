package scheduler

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gridswarm/gridswarm/internal/fsutil"
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
}

// Attempt records one offer of a tasklet and how it ended.
type Attempt struct {
	Peer    string    `json:"peer"`
	Started time.Time `json:"started"`
	Outcome string    `json:"outcome"` // running, done, declined: …, failed: …, lost, superseded
	Why     string    `json:"why,omitempty"`
	// Ended is when the attempt stopped running; nil while it runs.
	Ended *time.Time `json:"ended,omitempty"`
}

// Store keeps jobs as one JSON file each, written atomically.
type Store struct{ dir string }

// NewStore opens (creating) the jobs folder.
func NewStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the jobs folder: %w", err)
	}
	return &Store{dir: dir}, nil
}

// ErrNoJob is returned for an unknown job ID.
var ErrNoJob = errors.New("no such job")

func (s *Store) path(id string) string { return filepath.Join(s.dir, id+".json") }

// Save writes a job atomically: a crash leaves the previous or this state.
func (s *Store) Save(j *Job) error {
	j.Updated = time.Now().UTC()
	b, err := json.MarshalIndent(j, "", " ")
	if err != nil {
		return fmt.Errorf("cannot encode job %s: %w", j.ID, err)
	}
	return fsutil.WriteFile(s.path(j.ID), b, 0o600)
}

// Load reads one job.
func (s *Store) Load(id string) (*Job, error) {
	if strings.ContainsAny(id, "/\\.") || id == "" {
		return nil, fmt.Errorf("%w: %q", ErrNoJob, id)
	}
	b, err := os.ReadFile(s.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoJob, id)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read job %s: %w", id, err)
	}
	var j Job
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("job file of %s is corrupt: %w", id, err)
	}
	return &j, nil
}

// List reads every job, newest first.
func (s *Store) List() ([]*Job, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list jobs: %w", err)
	}
	var out []*Job
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(name, ".") {
			continue
		}
		j, err := s.Load(name)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Submitted.After(out[b].Submitted) })
	return out, nil
}
