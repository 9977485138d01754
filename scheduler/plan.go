package scheduler

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/trainer/contract"
)

// TaskletSeed derives a tasklet's seed from the job seed, round and index,
// so a re-placed or speculative copy computes exactly the same thing.
func TaskletSeed(jobSeed uint64, round, index int) uint64 {
	var b [24]byte
	binary.BigEndian.PutUint64(b[0:], jobSeed)
	binary.BigEndian.PutUint64(b[8:], uint64(round))
	binary.BigEndian.PutUint64(b[16:], uint64(index))
	sum := sha256.Sum256(b[:])
	return binary.BigEndian.Uint64(sum[:8])
}

// PlanRound cuts a round into n tasklets, walking the training shards so
// that successive rounds cover all of them.
func PlanRound(spec *jobspec.Spec, round, n int, shards []string) []Tasklet {
	out := make([]Tasklet, n)
	for i := range n {
		out[i] = Tasklet{
			Index: i,
			Shard: shards[(round*n+i)%len(shards)],
			Seed:  TaskletSeed(spec.Seed, round, i),
			State: TaskPending,
		}
	}
	return out
}

// BuiltinParams turns the job spec into the builtin executor's params.
func BuiltinParams(spec *jobspec.Spec) (json.RawMessage, error) {
	if spec.Model == nil {
		return nil, fmt.Errorf("model: required for the builtin executor")
	}
	o := spec.InnerOptimizer
	p := contract.Params{
		Model:     contractModel(spec.Model),
		Steps:     spec.InnerSteps,
		BatchSize: spec.BatchSize,
		Optimizer: contract.Optimizer{Kind: o.Kind, LR: float32(o.LR), Momentum: float32(o.Momentum), Beta1: float32(o.Beta1), Beta2: float32(o.Beta2), WeightDecay: float32(o.WeightDecay)},
	}
	return json.Marshal(p)
}

// contractModel is the tasklet contract's form of a spec's model; its
// Trainer method gives the model the coordinator initialises, evaluates
// and checks weights against (modelOf).
func contractModel(m *jobspec.Model) contract.Model {
	c := contract.Model{Kind: m.Kind, Inputs: m.Inputs, Hidden: m.Hidden, Classes: m.Classes}
	if m.Image != nil {
		c.Image = &contract.Image{Channels: m.Image.Channels, Height: m.Image.Height, Width: m.Image.Width}
	}
	for _, cv := range m.Conv {
		c.Conv = append(c.Conv, contract.Conv{Filters: cv.Filters, Size: cv.Size, Padding: cv.Padding, Pool: cv.Pool})
	}
	return c
}

// TaskletSpec is the content-addressed spec a worker receives. The inputs
// carry their sizes (weightsBytes, shardBytes; 0: unknown) so that a worker
// without the room for them declines before accepting.
func TaskletSpec(jobID string, spec *jobspec.Spec, params json.RawMessage, round int, t Tasklet, weights string, deadline int64, weightsBytes, shardBytes uint64) tasklet.Spec {
	inputs := []tasklet.Input{{Name: contract.InputWeights, CID: weights, Size: weightsBytes}, {Name: contract.InputShard, CID: t.Shard, Size: shardBytes}}
	if isProgram(spec) {
		inputs = programInputs(spec, t, weights, weightsBytes, shardBytes)
	}
	return tasklet.Spec{
		Version:  tasklet.SpecVersion,
		Executor: spec.Executor,
		JobID:    jobID,
		Round:    uint64(round),
		Index:    t.Index,
		Inputs:   inputs,
		Params:   params,
		Seed:     t.Seed,
		Deadline: deadline,
	}
}
