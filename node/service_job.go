package node

import (
	"context"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/rpc"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/datagrid"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/tasklet"
)

// JobService is the job_ namespace: jobs this node coordinates.
type JobService struct{ n *Node }

func summary(j *scheduler.Job) Summary {
	s := Summary{ID: j.ID, Name: j.Name, Status: j.Status, Round: j.Round, Rounds: roundsOf(j), TestAccuracy: j.TestAccuracy, Waiting: j.Waiting, Error: j.Error}
	for _, r := range j.Rounds {
		if r.Finished != nil && !r.Validating {
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

// Resume continues a failed or cancelled job from its last completed
// round. deadline, a duration such as "10m", replaces the job's deadline
// with now + deadline; without it the old deadline must not have passed.
func (s *JobService) Resume(id string, deadline *string) (Summary, error) {
	var d time.Duration
	if deadline != nil && *deadline != "" {
		var err error
		if d, err = time.ParseDuration(*deadline); err != nil || d <= 0 {
			return Summary{}, fmt.Errorf("deadline %q: want a positive duration such as 30m or 2h", *deadline)
		}
	}
	j, err := s.n.coord.ResumeJob(id, d)
	if err != nil {
		return Summary{}, err
	}
	return summary(j), nil
}

// RmResult is job_rm's answer (package api).
type RmResult = api.RmResult

// Rm removes an ended job and releases every pin it held ("job/<id>").
func (s *JobService) Rm(ctx context.Context, id string) (RmResult, error) {
	n, err := s.n.coord.Remove(ctx, id)
	if err != nil {
		return RmResult{}, err
	}
	return RmResult{ID: id, Released: n}, nil
}

// Model writes a job's model (safetensors) to an absolute path: the final
// model of a done job, or the last completed round's weights of a failed
// or cancelled one.
func (s *JobService) Model(ctx context.Context, id, path string) (string, error) {
	j, err := s.n.coord.Get(id)
	if err != nil {
		return "", err
	}
	model, err := modelOf(j)
	if err != nil {
		return "", err
	}
	p, err := absPath(path)
	if err != nil {
		return "", err
	}
	c, err := parseCID(model)
	if err != nil {
		return "", err
	}
	return model, s.n.grid.Get(ctx, c, p, datagrid.GetOptions{})
}

// modelOf picks the model job_model writes: the final model of a done job,
// the weights after the last completed round of a failed or cancelled one.
// A job cancelled before any round completed never gets a model (it holds
// only its initial weights) and says so; a running one has none yet.
func modelOf(j *scheduler.Job) (string, error) {
	if j.FinalModel != "" {
		return j.FinalModel, nil
	}
	switch {
	case j.Status == scheduler.StatusCancelled && j.Round == 0:
		return "", fmt.Errorf("job %s was cancelled before any round completed: it has no model (job resume runs it again)", j.ID)
	case (j.Status == scheduler.StatusFailed || j.Status == scheduler.StatusCancelled) && j.Weights != "":
		return j.Weights, nil
	case j.Status == scheduler.StatusFailed || j.Status == scheduler.StatusCancelled:
		return "", fmt.Errorf("job %s %s before any round completed: it has no model", j.ID, j.Status)
	}
	return "", fmt.Errorf("job %s has no final model yet (status %s, round %d of %d)", j.ID, j.Status, min(j.Round+1, max(roundsOf(j), 1)), roundsOf(j))
}

// Progress is job_subscribe("progress", id): an event after every change.
func (s *JobService) Progress(ctx context.Context, id string) (*rpc.Subscription, error) {
	if _, err := s.n.coord.Get(id); err != nil {
		return nil, err
	}
	return s.n.jobEvents.subscribe(ctx, id)
}

// Tasklet returns the spec tasklet index (0-based) of round (1-based) was
// offered with, rebuilt and checked against the CID recorded at dispatch:
// running it again must give the output the job accepted.
func (s *JobService) Tasklet(id string, round, index int) (tasklet.Spec, error) {
	return s.n.coord.TaskletSpec(id, round-1, index)
}
