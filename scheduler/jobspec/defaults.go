package jobspec

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
)

// Defaults of the fields a spec may leave out. Kind-dependent defaults
// (learning rates, momentum, betas) are in applyDefaults.
const (
	DefaultExecutor   = ExecutorBuiltin
	DefaultRounds     = 10
	DefaultInnerSteps = 200
	DefaultBatchSize  = 64
	DefaultDisk       = Size(1 << 30)
	DefaultVerifyRate = 0.08
	DefaultNewPeers   = 0.5
)

// applyDefaults fills every field the YAML did not give (has reports which
// paths it gave). Fields given explicitly, even as 0, are kept, so that
// "rounds: 0" is an error rather than silently 10.
func applyDefaults(s *Spec, has func(path string) bool) {
	setDefault(&s.Executor, !has("executor"), DefaultExecutor)
	setDefault(&s.Dataset.Train, !has("dataset.train"), SplitTrain)
	setDefault(&s.Dataset.Validate, !has("dataset.validate"), SplitValidation)
	setDefault(&s.Rounds, !has("rounds"), DefaultRounds)
	setDefault(&s.InnerSteps, !has("inner_steps"), DefaultInnerSteps)
	setDefault(&s.BatchSize, !has("batch_size"), DefaultBatchSize)
	if !has("seed") {
		s.Seed = seedFromName(s.Name)
	}
	if !has("resources.disk") {
		s.Resources.Disk = DefaultDisk
	}
	setDefault(&s.Verify.Rate, !has("verify.rate"), DefaultVerifyRate)
	setDefault(&s.Verify.MinRateNewPeers, !has("verify.min_rate_new_peers"), DefaultNewPeers)
	if s.Payment != nil {
		setDefault(&s.Payment.Per, !has("payment.per"), PerTasklet)
	}
	if s.Model != nil {
		for i := range s.Model.Conv {
			setDefault(&s.Model.Conv[i].Pool, !has("model.conv["+strconv.Itoa(i)+"].pool"), 1)
		}
	}

	in := &s.InnerOptimizer
	setDefault(&in.Kind, !has("inner_optimizer.kind"), OptimizerAdam)
	switch in.Kind {
	case OptimizerAdam:
		setDefault(&in.LR, !has("inner_optimizer.lr"), 0.001)
		setDefault(&in.Beta1, !has("inner_optimizer.beta1"), 0.9)
		setDefault(&in.Beta2, !has("inner_optimizer.beta2"), 0.999)
	case OptimizerSGD:
		setDefault(&in.LR, !has("inner_optimizer.lr"), 0.01)
		setDefault(&in.Momentum, !has("inner_optimizer.momentum"), 0.9)
	}

	out := &s.OuterOptimizer
	setDefault(&out.Kind, !has("outer_optimizer.kind"), OuterNesterov)
	switch out.Kind {
	case OuterNesterov:
		setDefault(&out.LR, !has("outer_optimizer.lr"), 0.7)
		setDefault(&out.Momentum, !has("outer_optimizer.momentum"), 0.9)
	case OuterAverage:
		setDefault(&out.LR, !has("outer_optimizer.lr"), 1)
	}
}

func setDefault[T any](p *T, unset bool, v T) {
	if unset {
		*p = v
	}
}

// seedFromName is the default seed: the first 8 bytes, big-endian, of
// SHA-256("gridswarm/jobspec/seed\x00" + name). The same name always gives
// the same seed, so resubmitting a job reproduces it.
func seedFromName(name string) uint64 {
	h := sha256.Sum256([]byte("gridswarm/jobspec/seed\x00" + name))
	return binary.BigEndian.Uint64(h[:8])
}
