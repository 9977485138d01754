package worker

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync/atomic"

	"github.com/ipfs/go-cid"

	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
	"github.com/gridswarm/gridswarm/worker/builtin"
)

// Fault kinds: how a cheating worker lies about a builtin tasklet's output.
const (
	// FaultLazy skips training and returns the input weights (a zero delta).
	FaultLazy = "lazy"
	// FaultNoise trains, then adds small Gaussian noise to the weights.
	FaultNoise = "noise"
	// FaultGarbage skips training and returns random weights.
	FaultGarbage = "garbage"
	// FaultCollude skips training and returns a wrong output derived only
	// from the group, the tasklet and its inputs, so every member of a
	// group returns the same bytes.
	FaultCollude = "collude"
)

// Standard deviations of the lies' Gaussian draws.
const (
	faultNoiseStd   = 0.01 // added to every trained weight by noise
	faultColludeStd = 0.01 // added to every input weight by collude
	faultGarbageStd = 1.0  // garbage weights are N(0, 1)
)

// FaultConfig makes a worker cheat on some of its builtin tasklets, for
// tests and demos of verification: config.toml's [worker.fault], honoured
// only in the local profile. The worker still signs its receipts: it lies,
// it does not break the protocol. The zero value is an honest worker.
type FaultConfig struct {
	// Kind is FaultLazy, FaultNoise, FaultGarbage or FaultCollude; empty
	// means honest.
	Kind string
	// Rate is the share of tasklets cheated on, 0 to 1. Whether a tasklet is
	// cheated on is drawn from a hash of the seed (the group for collude)
	// and the tasklet spec's CID, so a cheater is consistent.
	Rate float64
	// Seed keys the draws and the noise; nil keys them with the worker's
	// account, so two cheaters of one kind do not agree by accident.
	// Collude takes none: its group is its key.
	Seed *uint64
	// Group names the colluders that return the same wrong outputs.
	Group string
}

// Enabled reports whether the worker cheats at all.
func (c FaultConfig) Enabled() bool { return c.Kind != "" }

// Validate checks the settings, naming config.toml's keys.
func (c FaultConfig) Validate() error {
	switch c.Kind {
	case "":
		return nil
	case FaultLazy, FaultNoise, FaultGarbage:
		if c.Group != "" {
			return fmt.Errorf("worker.fault.group: only kind = %q takes a group, got kind = %q", FaultCollude, c.Kind)
		}
	case FaultCollude:
		if c.Group == "" {
			return fmt.Errorf("worker.fault.group: kind = %q needs a group naming the colluders", FaultCollude)
		}
		if c.Seed != nil {
			return fmt.Errorf("worker.fault.seed: kind = %q draws from its group, not a seed: remove it", FaultCollude)
		}
	default:
		return fmt.Errorf("worker.fault.kind: %q is not one of lazy, noise, garbage, collude", c.Kind)
	}
	if !(c.Rate >= 0 && c.Rate <= 1) {
		return fmt.Errorf("worker.fault.rate: must be 0 to 1, got %g", c.Rate)
	}
	return nil
}

// FaultStatus is what worker_status shows of a cheating worker, so demos
// can print it. Nothing the coordinator sees carries it.
type FaultStatus struct {
	Kind    string  `json:"kind"`
	Rate    float64 `json:"rate"`
	Group   string  `json:"group,omitempty"`
	Cheated int64   `json:"cheated"` // tasklets lied about since start
}

// fault is the pure core of a cheater: which tasklets to lie about and
// what to return, each a function of its key and the tasklet spec's CID.
type fault struct {
	kind string
	rate float64
	key  [32]byte
}

// newFault keys c's draws: by the group for collude, else by the seed or,
// without one, by account.
func newFault(c FaultConfig, account string) (*fault, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !c.Enabled() {
		return nil, nil
	}
	f := &fault{kind: c.Kind, rate: c.Rate}
	switch {
	case c.Kind == FaultCollude:
		f.key = sha256.Sum256([]byte("gridswarm/fault/group/" + c.Group))
	case c.Seed != nil:
		f.key = sha256.Sum256(binary.BigEndian.AppendUint64([]byte("gridswarm/fault/seed/"), *c.Seed))
	default:
		f.key = sha256.Sum256([]byte("gridswarm/fault/account/" + account))
	}
	return f, nil
}

// digest hashes the key, a purpose, the spec CID and extra bytes.
func (f *fault) digest(purpose string, spec cid.Cid, extra []byte) [32]byte {
	h := sha256.New()
	h.Write(f.key[:])
	h.Write([]byte(purpose))
	h.Write(spec.Bytes())
	h.Write(extra)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// rng is a generator seeded by digest(purpose, spec, extra).
func (f *fault) rng(purpose string, spec cid.Cid, extra []byte) *rand.Rand {
	d := f.digest(purpose, spec, extra)
	return rand.New(rand.NewPCG(binary.BigEndian.Uint64(d[:8]), binary.BigEndian.Uint64(d[8:16])))
}

// cheats reports whether the tasklet with this spec CID is lied about.
func (f *fault) cheats(spec cid.Cid) bool {
	if f == nil || f.rate <= 0 {
		return false
	}
	if f.rate >= 1 {
		return true
	}
	d := f.digest("draw", spec, nil)
	u := float64(binary.BigEndian.Uint64(d[:8])>>11) / (1 << 53)
	return u < f.rate
}

// trains reports whether a lie starts from honestly trained weights.
func (f *fault) trains() bool { return f.kind == FaultNoise }

// lie returns the weights reported for spec in place of the honest ones:
// input is the tasklet's input weights, trained the trained weights (nil
// unless trains). Neither is changed.
func (f *fault) lie(spec cid.Cid, input, trained trainer.Params) trainer.Params {
	switch f.kind {
	case FaultLazy:
		return input
	case FaultNoise:
		return addNoise(trained, f.rng("noise", spec, nil), faultNoiseStd)
	case FaultGarbage:
		out, r := input.Clone(), f.rng("garbage", spec, nil)
		for i := range out {
			for j := range out[i].Data {
				out[i].Data[j] = float32(r.NormFloat64() * faultGarbageStd)
			}
		}
		return out
	case FaultCollude:
		d := input.Digest()
		return addNoise(input, f.rng("collude", spec, d[:]), faultColludeStd)
	}
	return trained
}

// addNoise returns a copy of p with N(0, std) added to every value.
func addNoise(p trainer.Params, r *rand.Rand, std float64) trainer.Params {
	out := p.Clone()
	for i := range out {
		for j := range out[i].Data {
			out[i].Data[j] += float32(r.NormFloat64() * std)
		}
	}
	return out
}

// faultyExecutor runs builtin tasklets as a cheater: the tasklets its
// fault draws are lied about, the others run honestly.
type faultyExecutor struct {
	honest  tasklet.Executor
	store   builtin.Store
	workers int
	f       *fault
	cheated atomic.Int64
}

var _ tasklet.Executor = (*faultyExecutor)(nil)

// Run is tasklet.Executor.Run.
func (e *faultyExecutor) Run(ctx context.Context, spec tasklet.Spec, progress func(done, total int)) (tasklet.Output, error) {
	sc, err := spec.CID()
	if err != nil || !e.f.cheats(sc) {
		return e.honest.Run(ctx, spec, progress)
	}
	p, err := contract.ParseParams(spec.Params)
	if err != nil {
		return tasklet.Output{}, err
	}
	var out tasklet.Output
	if e.f.trains() {
		out, err = builtin.New(tamperStore{Store: e.store, tamper: func(b []byte) ([]byte, error) {
			trained, err := contract.DecodeParams(b, p.Model.Trainer())
			if err != nil {
				return nil, err
			}
			return contract.EncodeParams(e.f.lie(sc, nil, trained))
		}}, e.workers).Run(ctx, spec, progress)
	} else {
		out, err = e.fake(ctx, spec, sc, p, progress)
	}
	if err == nil {
		e.cheated.Add(1)
	}
	return out, err
}

// fake makes up an output without training. The loss it reports is the
// input weights' loss over the shard, which looks like a real one.
func (e *faultyExecutor) fake(ctx context.Context, spec tasklet.Spec, sc cid.Cid, p contract.Params, progress func(done, total int)) (tasklet.Output, error) {
	m := p.Model.Trainer()
	wb, err := e.readInput(ctx, spec, contract.InputWeights)
	if err != nil {
		return tasklet.Output{}, err
	}
	input, err := contract.DecodeParams(wb, m)
	if err != nil {
		return tasklet.Output{}, err
	}
	sb, err := e.readInput(ctx, spec, contract.InputShard)
	if err != nil {
		return tasklet.Output{}, err
	}
	data, err := contract.DecodeShard(sb, p.Images, p.Labels, m)
	if err != nil {
		return tasklet.Output{}, err
	}
	loss, _, err := trainer.Evaluate(m, input, data)
	if err != nil {
		return tasklet.Output{}, err
	}
	ob := wb // lazy: the very bytes, so the output CID is the input's
	if e.f.kind != FaultLazy {
		if ob, err = contract.EncodeParams(e.f.lie(sc, input, nil)); err != nil {
			return tasklet.Output{}, err
		}
	}
	c, err := e.store.AddBytes(ctx, builtin.OutputName(spec), ob)
	if err != nil {
		return tasklet.Output{}, fmt.Errorf("cannot store the output: %w", err)
	}
	if progress != nil {
		progress(p.Steps, p.Steps)
	}
	return tasklet.Output{
		CID:     c.String(),
		Samples: uint64(p.Steps * p.BatchSize),
		Loss:    loss,
		Metrics: map[string]float64{"final_loss": float64(loss), "steps": float64(p.Steps)},
	}, nil
}

// readInput reads the tasklet's input called name.
func (e *faultyExecutor) readInput(ctx context.Context, spec tasklet.Spec, name string) ([]byte, error) {
	for _, in := range spec.Inputs {
		if in.Name != name {
			continue
		}
		c, err := cid.Decode(in.CID)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", name, err)
		}
		return e.store.ReadFile(ctx, c, contract.MaxInputBytes)
	}
	return nil, fmt.Errorf("input %q: missing input", name)
}

// tamperStore rewrites what the builtin executor stores.
type tamperStore struct {
	builtin.Store
	tamper func([]byte) ([]byte, error)
}

func (s tamperStore) AddBytes(ctx context.Context, name string, b []byte) (cid.Cid, error) {
	b, err := s.tamper(b)
	if err != nil {
		return cid.Undef, fmt.Errorf("cannot tamper with the output: %w", err)
	}
	return s.Store.AddBytes(ctx, name, b)
}
