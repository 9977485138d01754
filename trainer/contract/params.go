package contract

import (
	"encoding/json"
	"fmt"

	"github.com/gridswarm/gridswarm/datagrid/safetensors"
	"github.com/gridswarm/gridswarm/trainer"
)

// MaxInputBytes caps each input file read into memory.
const MaxInputBytes = 1 << 30

// Input names of a builtin tasklet.
const (
	InputWeights = "weights"
	InputShard   = "shard"
)

// Model is the JSON form of trainer.Model. Image and Conv are for kind
// cnn and left out otherwise, so the params of other kinds (and their
// tasklet CIDs) are what they were before cnn existed.
type Model struct {
	Kind    string `json:"kind"`
	Inputs  int    `json:"inputs"`
	Image   *Image `json:"image,omitempty"`
	Conv    []Conv `json:"conv,omitempty"`
	Hidden  []int  `json:"hidden,omitempty"`
	Classes int    `json:"classes"`
}

// Image is the JSON form of trainer.Image.
type Image struct {
	Channels int `json:"channels"`
	Height   int `json:"height"`
	Width    int `json:"width"`
}

// Conv is the JSON form of trainer.Conv.
type Conv struct {
	Filters int `json:"filters"`
	Size    int `json:"size"`
	Padding int `json:"padding"`
	Pool    int `json:"pool"`
}

// Trainer converts to the trainer's type.
func (m Model) Trainer() trainer.Model {
	t := trainer.Model{Kind: m.Kind, Inputs: m.Inputs, Hidden: m.Hidden, Classes: m.Classes}
	if m.Image != nil {
		t.Image = trainer.Image{Channels: m.Image.Channels, Height: m.Image.Height, Width: m.Image.Width}
	}
	for _, c := range m.Conv {
		t.Conv = append(t.Conv, trainer.Conv{Filters: c.Filters, Size: c.Size, Padding: c.Padding, Pool: c.Pool})
	}
	return t
}

// Optimizer is the JSON form of trainer.Optimizer.
type Optimizer struct {
	Kind        string  `json:"kind"`
	LR          float32 `json:"lr"`
	Momentum    float32 `json:"momentum,omitempty"`
	Beta1       float32 `json:"beta1,omitempty"`
	Beta2       float32 `json:"beta2,omitempty"`
	Eps         float32 `json:"eps,omitempty"`
	WeightDecay float32 `json:"weight_decay,omitempty"`
}

// Trainer converts to the trainer's type, filling Adam's usual constants.
func (o Optimizer) Trainer() trainer.Optimizer {
	t := trainer.Optimizer{Kind: o.Kind, LR: o.LR, Momentum: o.Momentum, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay}
	if o.Kind == trainer.OptAdam {
		d := trainer.Adam(o.LR)
		if t.Beta1 == 0 {
			t.Beta1 = d.Beta1
		}
		if t.Beta2 == 0 {
			t.Beta2 = d.Beta2
		}
		if t.Eps == 0 {
			t.Eps = d.Eps
		}
	}
	return t
}

// Params is a builtin tasklet's Spec.Params.
type Params struct {
	Model     Model     `json:"model"`
	Steps     int       `json:"steps"`
	BatchSize int       `json:"batch_size"`
	Optimizer Optimizer `json:"optimizer"`
	// Images and Labels name the shard's tensors (default images, labels).
	Images string `json:"images,omitempty"`
	Labels string `json:"labels,omitempty"`
}

// ParseParams decodes and checks a tasklet's params.
func ParseParams(b []byte) (Params, error) {
	var p Params
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("builtin params: %w", err)
	}
	if p.Images == "" {
		p.Images = "images"
	}
	if p.Labels == "" {
		p.Labels = "labels"
	}
	if err := p.Model.Trainer().Validate(); err != nil {
		return p, fmt.Errorf("builtin params: model: %w", err)
	}
	cfg := trainer.TrainConfig{Steps: p.Steps, BatchSize: p.BatchSize, Optimizer: p.Optimizer.Trainer()}
	if err := cfg.Validate(); err != nil {
		return p, fmt.Errorf("builtin params: %w", err)
	}
	return p, nil
}

// EncodeParams writes model parameters as a safetensors file. The bytes
// depend only on the values, so equal weights get equal CIDs.
func EncodeParams(p trainer.Params) ([]byte, error) {
	f := &safetensors.File{}
	for _, t := range p {
		shape := make([]int64, len(t.Shape))
		for i, d := range t.Shape {
			shape[i] = int64(d)
		}
		f.Tensors = append(f.Tensors, safetensors.FromF32(t.Name, shape, t.Data))
	}
	return safetensors.Encode(f)
}

// DecodeParams reads model parameters from a safetensors file and checks
// them against the model.
func DecodeParams(b []byte, m trainer.Model) (trainer.Params, error) {
	f, err := safetensors.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	want := trainer.Zeros(m)
	out := make(trainer.Params, 0, len(want))
	for _, w := range want {
		t, ok := f.Tensor(w.Name)
		if !ok {
			return nil, fmt.Errorf("weights: tensor %q is missing", w.Name)
		}
		v, err := safetensors.F32(t)
		if err != nil {
			return nil, fmt.Errorf("weights: tensor %q: %w", w.Name, err)
		}
		shape := make([]int, len(t.Shape))
		for i, d := range t.Shape {
			shape[i] = int(d)
		}
		out = append(out, trainer.Tensor{Name: w.Name, Shape: shape, Data: v})
	}
	if err := out.Check(m); err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	return out, nil
}

// DecodeShard reads a shard's images and labels as trainer data. Images
// stored as U8 stay bytes (Data.X8, a quarter of the memory of floats),
// which the trainer scales to [0, 1] as it reads them; they are b's own
// bytes, not a copy, so b must not change while the data is in use.
func DecodeShard(b []byte, images, labels string, m trainer.Model) (trainer.Data, error) {
	f, err := safetensors.Decode(b)
	if err != nil {
		return trainer.Data{}, fmt.Errorf("shard: %w", err)
	}
	xt, ok := f.Tensor(images)
	if !ok {
		return trainer.Data{}, fmt.Errorf("shard: tensor %q is missing", images)
	}
	yt, ok := f.Tensor(labels)
	if !ok {
		return trainer.Data{}, fmt.Errorf("shard: tensor %q is missing", labels)
	}
	var x []float32
	var x8 []uint8 // kept as bytes: the trainer scales rows as it reads them
	switch xt.DType {
	case safetensors.DTypeU8:
		if x8, err = safetensors.U8View(xt); err != nil {
			return trainer.Data{}, fmt.Errorf("shard: %w", err)
		}
	case safetensors.DTypeF32:
		if x, err = safetensors.F32(xt); err != nil {
			return trainer.Data{}, fmt.Errorf("shard: %w", err)
		}
	default:
		return trainer.Data{}, fmt.Errorf("shard: tensor %q is %s; want U8 or F32", images, xt.DType)
	}
	var y []int32
	switch yt.DType {
	case safetensors.DTypeU8:
		raw, err := safetensors.U8(yt)
		if err != nil {
			return trainer.Data{}, fmt.Errorf("shard: %w", err)
		}
		y = make([]int32, len(raw))
		for i, v := range raw {
			y[i] = int32(v)
		}
	case safetensors.DTypeI64:
		raw, err := safetensors.I64(yt)
		if err != nil {
			return trainer.Data{}, fmt.Errorf("shard: %w", err)
		}
		y = make([]int32, len(raw))
		for i, v := range raw {
			y[i] = int32(v)
		}
	default:
		return trainer.Data{}, fmt.Errorf("shard: tensor %q is %s; want U8 or I64", labels, yt.DType)
	}
	if values := len(x) + len(x8); len(y) == 0 || values != len(y)*m.Inputs {
		return trainer.Data{}, fmt.Errorf("shard: %d labels and %d image values do not fit %d inputs per sample", len(y), values, m.Inputs)
	}
	d := trainer.Data{X: x, X8: x8, Y: y, N: len(y)}
	if err := d.Validate(m); err != nil { // bytes need no scan for NaN or Inf
		return trainer.Data{}, fmt.Errorf("shard: %w", err)
	}
	return d, nil
}
