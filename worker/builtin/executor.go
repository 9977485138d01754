package builtin

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"

	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
)

// errNoInput marks a tasklet spec that lacks an input the executor needs.
var errNoInput = errors.New("missing input")

// Store is what the executor needs of the data grid.
type Store interface {
	ReadFile(ctx context.Context, c cid.Cid, max int64) ([]byte, error)
	AddBytes(ctx context.Context, name string, b []byte) (cid.Cid, error)
}

// Executor runs builtin tasklets.
type Executor struct {
	store   Store
	workers int
}

var _ tasklet.Executor = (*Executor)(nil)

// New returns an executor that uses up to workers goroutines per matrix
// product (the results do not depend on it).
func New(store Store, workers int) *Executor { return &Executor{store: store, workers: workers} }

// Run trains the tasklet and stores the updated weights.
func (e *Executor) Run(ctx context.Context, spec tasklet.Spec, progress func(done, total int)) (tasklet.Output, error) {
	p, err := contract.ParseParams(spec.Params)
	if err != nil {
		return tasklet.Output{}, err
	}
	m := p.Model.Trainer()
	inputs := map[string]cid.Cid{}
	for _, in := range spec.Inputs {
		c, err := cid.Decode(in.CID)
		if err != nil {
			return tasklet.Output{}, fmt.Errorf("input %s: %w", in.Name, err)
		}
		inputs[in.Name] = c
	}
	read := func(name string) ([]byte, error) {
		c, ok := inputs[name]
		if !ok {
			return nil, fmt.Errorf("input %q: %w", name, errNoInput)
		}
		return e.store.ReadFile(ctx, c, contract.MaxInputBytes)
	}
	wb, err := read(contract.InputWeights)
	if err != nil {
		return tasklet.Output{}, err
	}
	weights, err := contract.DecodeParams(wb, m)
	if err != nil {
		return tasklet.Output{}, err
	}
	sb, err := read(contract.InputShard)
	if err != nil {
		return tasklet.Output{}, err
	}
	data, err := contract.DecodeShard(sb, p.Images, p.Labels, m)
	if err != nil {
		return tasklet.Output{}, err
	}
	cfg := trainer.TrainConfig{Steps: p.Steps, BatchSize: p.BatchSize, Optimizer: p.Optimizer.Trainer(), Seed: spec.Seed, Workers: e.workers}
	out, met, err := trainer.Train(ctx, m, weights, data, cfg, func(step int, _ float32) {
		if progress != nil {
			progress(step, p.Steps)
		}
	})
	if err != nil {
		return tasklet.Output{}, fmt.Errorf("training: %w", err)
	}
	b, err := contract.EncodeParams(out)
	if err != nil {
		return tasklet.Output{}, err
	}
	c, err := e.store.AddBytes(ctx, OutputName(spec), b)
	if err != nil {
		return tasklet.Output{}, fmt.Errorf("cannot store the output: %w", err)
	}
	return tasklet.Output{
		CID:     c.String(),
		Samples: uint64(met.Samples),
		Loss:    met.Loss,
		Metrics: map[string]float64{"final_loss": float64(met.FinalLoss), "steps": float64(met.Steps)},
	}, nil
}

// OutputName is the file name under which a tasklet's output is stored.
func OutputName(spec tasklet.Spec) string {
	return fmt.Sprintf("%s-r%d-t%d.safetensors", spec.JobID, spec.Round, spec.Index)
}
