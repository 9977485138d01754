package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/gridswarm/gridswarm/datagrid/safetensors"
)

// ProgramVersion is the version of the program tasklet contract
// (docs/programs.md) that wasm and process tasklets follow.
const ProgramVersion = 1

// Files of the program tasklet contract, under $GRIDSWARM_IN (inputs) and
// $GRIDSWARM_OUT (outputs).
const (
	ProgramWeights = "weights.safetensors" // in: the round's global weights
	ProgramShard   = "shard.safetensors"   // in: the tasklet's data shard
	ProgramParams  = "params.json"         // in: the job's model and inner training settings (Params)
	ProgramFile    = "program"             // in (process): the program itself, e.g. a Python script
	ProgramDelta   = "delta.safetensors"   // out: local weights minus the global ones
	ProgramMetrics = "metrics.json"        // out: loss, samples, steps
)

// ProgramTask is the Spec.Params of a wasm or process tasklet: how the
// worker starts the program and what it writes to params.json.
type ProgramTask struct {
	Args    []string `json:"args,omitempty"`    // wasm: argv after argv[0]
	Command []string `json:"command,omitempty"` // process: argv, argv[0] on the worker's allowlist
	// Train, when set, is written to $GRIDSWARM_IN/params.json: the job's
	// model and inner training settings, for the program to follow.
	Train *Params `json:"train,omitempty"`
}

// Exit statuses of a program, with their meaning to the coordinator.
const (
	ExitOK       = 0 // the outputs are there
	ExitBadInput = 2 // the inputs or arguments are wrong: no worker would do better
	ExitDiverged = 3 // training met a NaN or infinity: lower the learning rate
)

// Failure reasons a worker reports (tasklet.FailedError.Reason) when a
// program exits with ExitBadInput or ExitDiverged: the program, not the
// worker, failed, and another worker would fail the same way.
const (
	FailBadInput = "program-bad-input"
	FailDiverged = "program-diverged"
)

// ExitReason is the failure reason of a program's exit status, or "" for
// a status that says nothing about the program (retry elsewhere).
func ExitReason(status int) string {
	switch status {
	case ExitBadInput:
		return FailBadInput
	case ExitDiverged:
		return FailDiverged
	}
	return ""
}

// MaxMetricsBytes caps metrics.json.
const MaxMetricsBytes = 64 << 10

// ErrContract is wrapped by every error that reports outputs breaking the
// program tasklet contract.
var ErrContract = errors.New("program output breaks the tasklet contract")

// CheckDelta reports the first way a program's delta does not fit the
// weights it started from: a tensor missing or extra, or a dtype or
// shape that differs. It reads only the two safetensors headers (see
// safetensors.DecodeHeader), so it is cheap for any model size; the
// values are the aggregator's to check.
func CheckDelta(weights, delta *safetensors.Header) error {
	if weights == nil || delta == nil {
		return fmt.Errorf("%w: no header to compare", ErrContract)
	}
	for _, w := range weights.Tensors {
		d, ok := delta.Tensor(w.Name)
		switch {
		case !ok:
			return fmt.Errorf("%w: %s lacks tensor %q of the weights (%s %v)", ErrContract, ProgramDelta, w.Name, w.DType, w.Shape)
		case d.DType != w.DType:
			return fmt.Errorf("%w: %s tensor %q is %s, the weights' is %s", ErrContract, ProgramDelta, w.Name, d.DType, w.DType)
		case !slices.Equal(d.Shape, w.Shape):
			return fmt.Errorf("%w: %s tensor %q has shape %v, the weights' has %v", ErrContract, ProgramDelta, w.Name, d.Shape, w.Shape)
		}
	}
	if len(delta.Tensors) != len(weights.Tensors) {
		for _, d := range delta.Tensors {
			if _, ok := weights.Tensor(d.Name); !ok {
				return fmt.Errorf("%w: %s holds tensor %q, which the weights do not", ErrContract, ProgramDelta, d.Name)
			}
		}
	}
	return nil
}

// CheckDeltaBytes is CheckDelta on two whole safetensors files, as read
// from the data grid; a header that does not decode breaks the contract.
func CheckDeltaBytes(weights, delta []byte) error {
	wh, _, err := safetensors.DecodeHeader(bytes.NewReader(weights))
	if err != nil {
		return fmt.Errorf("cannot read the weights' header: %w", err)
	}
	dh, _, err := safetensors.DecodeHeader(bytes.NewReader(delta))
	if err != nil {
		return fmt.Errorf("%w: %s is not safetensors: %v", ErrContract, ProgramDelta, err)
	}
	return CheckDelta(wh, dh)
}

// ProgramMetricsFile is what a program writes to metrics.json. Other
// fields are allowed and ignored.
type ProgramMetricsFile struct {
	Loss    float64 `json:"loss"`    // mean minibatch loss over the tasklet
	Samples int64   `json:"samples"` // samples trained on
	Steps   int64   `json:"steps"`   // optimizer steps taken
}

// ParseMetrics reads and checks metrics.json: a JSON object with a finite
// loss and positive samples and steps.
func ParseMetrics(b []byte) (ProgramMetricsFile, error) {
	var m ProgramMetricsFile
	if len(b) > MaxMetricsBytes {
		return m, fmt.Errorf("%w: %s is %d bytes, over the %d-byte limit", ErrContract, ProgramMetrics, len(b), MaxMetricsBytes)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return m, fmt.Errorf("%w: %s is not a JSON object: %v", ErrContract, ProgramMetrics, err)
	}
	for _, k := range []string{"loss", "samples", "steps"} {
		if _, ok := raw[k]; !ok {
			return m, fmt.Errorf("%w: %s lacks %q: write loss, samples and steps", ErrContract, ProgramMetrics, k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("%w: %s: %v (want a number for loss and integers for samples and steps)", ErrContract, ProgramMetrics, err)
	}
	switch {
	case math.IsNaN(m.Loss) || math.IsInf(m.Loss, 0):
		return m, fmt.Errorf("%w: %s loss is %v: exit with status %d when training diverges", ErrContract, ProgramMetrics, m.Loss, ExitDiverged)
	case m.Samples < 1 || m.Steps < 1:
		return m, fmt.Errorf("%w: %s has samples = %d and steps = %d, want both at least 1", ErrContract, ProgramMetrics, m.Samples, m.Steps)
	}
	return m, nil
}
