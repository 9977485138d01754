package jobspec

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Version is the only spec version this package reads.
const Version = 1

// MaxSpecSize is the largest job spec Parse reads, in bytes.
const MaxSpecSize = 1 << 20

// Executors.
const (
	ExecutorBuiltin = "builtin" // the pure-Go trainer; takes a model
	ExecutorWasm    = "wasm"    // a user program in the WASM sandbox; takes a program
	ExecutorProcess = "process" // a command on opted-in peers; takes a program
)

// Model kinds of the builtin executor.
const (
	ModelMLP     = "mlp"
	ModelSoftmax = "softmax"
	ModelCNN     = "cnn"
)

// Inner (per-tasklet) optimizer kinds.
const (
	OptimizerSGD  = "sgd"
	OptimizerAdam = "adam"
)

// Outer (per-round) optimizer kinds.
const (
	OuterNesterov = "nesterov" // DiLoCo: Nesterov momentum on the averaged delta
	OuterAverage  = "average"  // plain averaging: lr 1, momentum 0
)

// Dataset split names, as in the dataset manifest.
const (
	SplitTrain      = "train"
	SplitValidation = "validation"
	SplitTest       = "test"
)

// Limits on a spec.
const (
	MaxNameLen      = 64
	MaxRounds       = 10000
	MaxTasklets     = 1024
	MaxInnerSteps   = 1000000
	MaxBatchSize    = 65536
	MaxHiddenLayers = 8
	MaxHiddenWidth  = 4096
	MaxConvStages   = 8
	MaxFilters      = 1024
	MaxKernelSize   = 15
	MaxPool         = 8
	MaxImageSide    = 4096
	MaxConvUnrolled = 1 << 24 // im2col values of one conv stage for one sample
	MaxModelWidth   = 1 << 20 // largest inputs or classes
	MaxModelParams  = 1 << 27 // float32 parameters: 512 MiB of weights
	MaxArgs         = 256
	MaxArgLen       = 4096
	MaxCIDLen       = 512
)

// Spec is a training job as the practitioner wrote it, with defaults
// filled in. Parse builds one from YAML; Canonical turns it into the JSON
// the daemon persists and hashes.
type Spec struct {
	Version          int            `yaml:"version" json:"version"`
	Name             string         `yaml:"name" json:"name"`
	Executor         string         `yaml:"executor" json:"executor"`
	Model            *Model         `yaml:"model,omitempty" json:"model,omitempty"`
	Program          *Program       `yaml:"program,omitempty" json:"program,omitempty"`
	Dataset          Dataset        `yaml:"dataset" json:"dataset"`
	Rounds           int            `yaml:"rounds" json:"rounds"`
	TaskletsPerRound TaskletCount   `yaml:"tasklets_per_round" json:"tasklets_per_round"`
	InnerSteps       int            `yaml:"inner_steps" json:"inner_steps"`
	BatchSize        int            `yaml:"batch_size" json:"batch_size"`
	InnerOptimizer   InnerOptimizer `yaml:"inner_optimizer" json:"inner_optimizer"`
	OuterOptimizer   OuterOptimizer `yaml:"outer_optimizer" json:"outer_optimizer"`
	Seed             uint64         `yaml:"seed" json:"seed"`
	Resources        Resources      `yaml:"resources" json:"resources"`
	Deadline         Duration       `yaml:"deadline" json:"deadline"`
	MaxPricePerHour  float64        `yaml:"max_price_per_hour" json:"max_price_per_hour"`
	Verify           Verify         `yaml:"verify" json:"verify"`
	// Payment, when given, pays the workers through the coordinator's
	// settlement chain; without it the job is unpaid.
	Payment *Payment `yaml:"payment,omitempty" json:"payment,omitempty"`
}

// Payment is what a paid job escrows and offers. Amounts are decimal
// numbers of whole tokens ("12.5"), converted with the token's decimals.
type Payment struct {
	Budget string `yaml:"budget" json:"budget"` // escrowed at submit
	Price  string `yaml:"price" json:"price"`   // per Per
	// Per is what Price is for: "tasklet" (each verified run of a
	// tasklet) or "sample" (each training sample a tasklet runs).
	Per string `yaml:"per" json:"per"`
	// DatasetToken is the Registry token of the job's dataset; with it,
	// RoyaltyBps of what workers are paid goes to the token's owner.
	DatasetToken uint64 `yaml:"dataset_token,omitempty" json:"dataset_token,omitempty"`
	RoyaltyBps   int    `yaml:"royalty_bps,omitempty" json:"royalty_bps,omitempty"`
}

// What Payment.Price is for.
const (
	PerTasklet = "tasklet"
	PerSample  = "sample"
)

// MaxRoyaltyBps is the escrow contract's bound on the dataset's share.
const MaxRoyaltyBps = 5000

// Model is the network the builtin executor trains: Inputs → Hidden… →
// Classes, ReLU between layers (mlp), or one linear layer (softmax); or
// (cnn) each sample read as an Image, through the Conv stages, then
// dense layers Hidden… → Classes.
type Model struct {
	Kind    string `yaml:"kind" json:"kind"`
	Inputs  int    `yaml:"inputs" json:"inputs"`
	Image   *Image `yaml:"image,omitempty" json:"image,omitempty"`
	Conv    []Conv `yaml:"conv,omitempty" json:"conv,omitempty"`
	Hidden  []int  `yaml:"hidden,omitempty" json:"hidden,omitempty"`
	Classes int    `yaml:"classes" json:"classes"`
}

// Image is the shape of one sample of a cnn: channels × height × width,
// which must multiply to inputs.
type Image struct {
	Channels int `yaml:"channels" json:"channels"`
	Height   int `yaml:"height" json:"height"`
	Width    int `yaml:"width" json:"width"`
}

// Conv is one stage of a cnn: Filters convolutions of Size×Size, stride 1,
// over the input zero-padded by Padding; ReLU; then a Pool×Pool max-pool of
// stride Pool (1, the default: none).
type Conv struct {
	Filters int `yaml:"filters" json:"filters"`
	Size    int `yaml:"size" json:"size"`
	Padding int `yaml:"padding" json:"padding"`
	Pool    int `yaml:"pool" json:"pool"`
}

// Program is what the wasm and process executors run: a program stored in
// the data grid and its arguments.
type Program struct {
	CID  string   `yaml:"cid" json:"cid"`
	Args []string `yaml:"args,omitempty" json:"args,omitempty"`
}

// Dataset names the data set in the grid and which of its splits to use.
// Test is optional: empty means no final test accuracy.
type Dataset struct {
	CID      string `yaml:"cid" json:"cid"`
	Train    string `yaml:"train" json:"train"`
	Validate string `yaml:"validate" json:"validate"`
	Test     string `yaml:"test" json:"test"`
}

// InnerOptimizer is the optimizer each tasklet runs for its H inner steps.
// Momentum belongs to sgd, Beta1 and Beta2 to adam; the other kind's fields
// must be zero.
type InnerOptimizer struct {
	Kind        string  `yaml:"kind" json:"kind"`
	LR          float64 `yaml:"lr" json:"lr"`
	Momentum    float64 `yaml:"momentum" json:"momentum"`
	Beta1       float64 `yaml:"beta1" json:"beta1"`
	Beta2       float64 `yaml:"beta2" json:"beta2"`
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"`
}

// OuterOptimizer is the step the coordinator applies to the averaged delta
// of a round.
type OuterOptimizer struct {
	Kind     string  `yaml:"kind" json:"kind"`
	LR       float64 `yaml:"lr" json:"lr"`
	Momentum float64 `yaml:"momentum" json:"momentum"`
}

// Resources is what a peer needs to take one of the job's tasklets.
type Resources struct {
	GPUMemory Size `yaml:"gpu_memory" json:"gpu_memory"` // 0: no GPU needed
	Disk      Size `yaml:"disk" json:"disk"`
}

// Verify holds the spot-check rates (see package verify).
type Verify struct {
	Rate            float64 `yaml:"rate" json:"rate"`
	MinRateNewPeers float64 `yaml:"min_rate_new_peers" json:"min_rate_new_peers"`
}

// Canonical returns the spec as compact JSON: fields in declaration order,
// every defaulted field written out, no HTML escaping, -0 written as 0 and
// empty lists left out. Equal specs give equal bytes, and Parse reads the
// bytes back (JSON is YAML) to an equal Spec.
func (s *Spec) Canonical() ([]byte, error) {
	c := s.normalized()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("cannot encode job spec %q as canonical JSON (is a number NaN or infinite?): %w", s.Name, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// TaskletsFor resolves tasklets_per_round for a round that has peers
// available peers and a training split of shards shards. A fixed count is
// returned as is (the round driver reuses shards when it exceeds them).
// "auto" gives one tasklet per peer, at most one per shard and at most
// MaxTasklets, and at least 1 so that a round can wait for a peer rather
// than have nothing to place.
func (s *Spec) TaskletsFor(peers, shards int) int {
	if s.TaskletsPerRound != AutoTasklets {
		return int(s.TaskletsPerRound)
	}
	return max(1, min(peers, shards, MaxTasklets))
}

// normalized returns a deep copy of s with the representation choices
// that do not change meaning made one way: empty lists are nil and
// negative zeros are zero.
func (s *Spec) normalized() Spec {
	c := *s
	if s.Model != nil {
		m := *s.Model
		m.Hidden = nilIfEmpty(m.Hidden)
		m.Conv = nilIfEmpty(m.Conv)
		if m.Image != nil {
			im := *m.Image
			m.Image = &im
		}
		c.Model = &m
	}
	if s.Payment != nil {
		p := *s.Payment
		c.Payment = &p
	}
	if s.Program != nil {
		p := *s.Program
		p.Args = nilIfEmpty(p.Args)
		c.Program = &p
	}
	for _, f := range []*float64{
		&c.InnerOptimizer.LR, &c.InnerOptimizer.Momentum, &c.InnerOptimizer.Beta1,
		&c.InnerOptimizer.Beta2, &c.InnerOptimizer.WeightDecay,
		&c.OuterOptimizer.LR, &c.OuterOptimizer.Momentum,
		&c.MaxPricePerHour, &c.Verify.Rate, &c.Verify.MinRateNewPeers,
	} {
		*f = positiveZero(*f)
	}
	return c
}

func nilIfEmpty[T any](xs []T) []T {
	if len(xs) == 0 {
		return nil
	}
	return append([]T(nil), xs...)
}

func positiveZero(f float64) float64 {
	if f == 0 {
		return 0
	}
	return f
}
