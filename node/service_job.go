package node

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/rpc"

	"github.com/gridswarm/gridswarm/datagrid"
	"github.com/gridswarm/gridswarm/scheduler"
)

// JobService is the job_ namespace: jobs this node coordinates.
type JobService struct{ n *Node }

func summary(j *scheduler.Job) Summary {
	s := Summary{ID: j.ID, Name: j.Name, Status: j.Status, Round: j.Round, Rounds: roundsOf(j), TestAccuracy: j.TestAccuracy, Waiting: j.Waiting, Error: j.Error}
	for _, r := range j.Rounds {
		if r.Finished != nil {
			s.ValAccuracy = r.ValAccuracy
		}
	}
	return s
}

func roundsOf(j *scheduler.Job) int {
	var s struct {
		Rounds int `json:"rounds"`
	}
	_ = jsonUnmarshal(j.Spec, &s)
	return s.Rounds
}

// Submit validates a job spec (YAML), checks its dataset and starts it.
// Every bad field is named in the error.
func (s *JobService) Submit(ctx context.Context, spec string) (Summary, error) {
	j, err := s.n.coord.Submit(ctx, []byte(spec))
	if err != nil {
		return Summary{}, err
	}
	return summary(j), nil
}

// List returns every job, newest first.
func (s *JobService) List() ([]Summary, error) {
	jobs, err := s.n.coord.List()
	if err != nil {
		return nil, err
	}
	out := make([]Summary, len(jobs))
	for i, j := range jobs {
		out[i] = summary(j)
	}
	return out, nil
}

// Show returns a job's whole state: rounds, tasklets, attempts and why.
func (s *JobService) Show(id string) (*scheduler.Job, error) { return s.n.coord.Get(id) }

// Cancel stops a job for good.
func (s *JobService) Cancel(id string) error { return s.n.coord.Cancel(id) }

// Model writes a finished job's final model (safetensors) to an absolute path.
func (s *JobService) Model(ctx context.Context, id, path string) (string, error) {
	j, err := s.n.coord.Get(id)
	if err != nil {
		return "", err
	}
	if j.FinalModel == "" {
		return "", fmt.Errorf("job %s has no final model yet (status %s, round %d)", id, j.Status, j.Round)
	}
	p, err := absPath(path)
	if err != nil {
		return "", err
	}
	c, err := parseCID(j.FinalModel)
	if err != nil {
		return "", err
	}
	return j.FinalModel, s.n.grid.Get(ctx, c, p, datagrid.GetOptions{})
}

// Progress is job_subscribe("progress", id): an event after every change.
func (s *JobService) Progress(ctx context.Context, id string) (*rpc.Subscription, error) {
	if _, err := s.n.coord.Get(id); err != nil {
		return nil, err
	}
	return s.n.jobEvents.subscribe(ctx, id)
}
