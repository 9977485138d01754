package trainer

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Model kinds understood by the trainer.
const (
	KindSoftmax = "softmax" // one linear layer: softmax regression
	KindMLP     = "mlp"     // linear layers with ReLU between them
	KindCNN     = "cnn"     // convolutions with ReLU and max-pool, then an MLP head
)

// Limits on a model spec. They bound the memory a spec received from the
// network can make a worker allocate.
const (
	MaxWidth     = 1 << 20 // largest Inputs, hidden width or Classes
	MaxHidden    = 16      // most hidden layers of an MLP
	MaxParams    = 1 << 27 // most float32 parameters (512 MiB)
	MaxTensorDim = 4       // most dimensions a tensor shape may have
)

// Model is the architecture of a network the trainer can train.
//
// A softmax model has a single layer of Classes×Inputs weights. An MLP has
// len(Hidden)+1 layers: Inputs → Hidden[0] → … → Classes, with ReLU after
// every layer but the last. Layer l holds the tensors "layer<l>.weight"
// ([out, in], row major) and "layer<l>.bias" ([out]).
//
// A CNN reads each sample as an Image (channels × height × width, row
// major, Inputs values) and runs it through the Conv stages, each a
// convolution, ReLU and max-pool; the last stage's output, flattened in
// (channel, row, column) order, feeds an MLP head Hidden… → Classes whose
// layers are named as above (Hidden may be empty). Stage s holds
// "conv<s>.weight" ([filters, channels, size, size], PyTorch's Conv2d
// layout) and "conv<s>.bias" ([filters]), before the head's tensors.
type Model struct {
	Kind    string
	Inputs  int
	Hidden  []int
	Classes int
	Image   Image  // cnn only
	Conv    []Conv // cnn only
}

// Validate reports the first field of m that is out of range, by name.
func (m Model) Validate() error {
	switch m.Kind {
	case KindSoftmax:
		if len(m.Hidden) != 0 {
			return fmt.Errorf("model: hidden has %d layers but kind %q takes none: drop hidden or use kind %q", len(m.Hidden), KindSoftmax, KindMLP)
		}
	case KindMLP:
		if len(m.Hidden) == 0 {
			return fmt.Errorf("model: hidden is empty but kind %q needs at least one hidden layer: add a width or use kind %q", KindMLP, KindSoftmax)
		}
		if len(m.Hidden) > MaxHidden {
			return fmt.Errorf("model: hidden has %d layers, more than the limit of %d", len(m.Hidden), MaxHidden)
		}
	case KindCNN:
		if len(m.Hidden) > MaxHidden {
			return fmt.Errorf("model: hidden has %d layers, more than the limit of %d", len(m.Hidden), MaxHidden)
		}
		if err := m.validateConv(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("model: kind %q is unknown: use %q, %q or %q", m.Kind, KindSoftmax, KindMLP, KindCNN)
	}
	if m.Kind != KindCNN && (len(m.Conv) != 0 || m.Image != (Image{})) {
		return fmt.Errorf("model: conv and image belong to kind %q, not %q: remove them or use kind %q", KindCNN, m.Kind, KindCNN)
	}
	if err := checkWidth("inputs", m.Inputs, 1); err != nil {
		return err
	}
	for i, h := range m.Hidden {
		if err := checkWidth("hidden["+strconv.Itoa(i)+"]", h, 1); err != nil {
			return err
		}
	}
	if err := checkWidth("classes", m.Classes, 2); err != nil {
		return err
	}
	if n := m.countParams(); n > MaxParams {
		return fmt.Errorf("model: %d parameters, more than the limit of %d: use narrower layers", n, MaxParams)
	}
	return nil
}

func checkWidth(field string, v, lo int) error {
	if v < lo || v > MaxWidth {
		return fmt.Errorf("model: %s = %d, want %d to %d", field, v, lo, MaxWidth)
	}
	return nil
}

// dims returns the widths of the dense layers: [Inputs, Hidden...,
// Classes], or for a CNN [flattened features of the last stage, Hidden...,
// Classes]. It assumes m is valid.
func (m Model) dims() []int {
	d := make([]int, 0, len(m.Hidden)+2)
	if m.Kind == KindCNN {
		d = append(d, m.features())
	} else {
		d = append(d, m.Inputs)
	}
	if m.Kind == KindMLP || m.Kind == KindCNN {
		d = append(d, m.Hidden...)
	}
	return append(d, m.Classes)
}

// countParams counts parameters in int64, which cannot overflow for
// widths up to MaxWidth, even where int has 32 bits.
func (m Model) countParams() int64 {
	d := m.dims()
	var n int64
	for _, g := range m.stages() {
		n += int64(g.f)*int64(g.ckk()) + int64(g.f)
	}
	for l := 0; l+1 < len(d); l++ {
		n += int64(d[l+1])*int64(d[l]) + int64(d[l+1])
	}
	return n
}

// NumParams is the parameter count of m (which need not be valid), for
// sizing its weights: about NumParams × 4 bytes of safetensors.
func (m Model) NumParams() int64 { return m.countParams() }

// numParams is the parameter count of a valid model.
func (m Model) numParams() int { return int(m.countParams()) }

// Tensor is a named float32 tensor, row major.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Params is the ordered list of a model's tensors: layer0.weight,
// layer0.bias, layer1.weight, … The order is part of the format: Digest and
// every function that pairs two Params rely on it.
type Params []Tensor

// Zeros returns parameters of the layout m expects, all zero. m must be valid.
func Zeros(m Model) Params {
	p := layout(m)
	for i := range p {
		p[i].Data = make([]float32, numel(p[i].Shape))
	}
	return p
}

// layout returns the names and shapes of m's tensors, without data.
func layout(m Model) Params {
	d := m.dims()
	st := m.stages()
	p := make(Params, 0, 2*(len(st)+len(d)-1))
	for s, g := range st {
		p = append(p, Tensor{Name: convWeightName(s), Shape: []int{g.f, g.c, g.k, g.k}}, Tensor{Name: convBiasName(s), Shape: []int{g.f}})
	}
	for l := 0; l+1 < len(d); l++ {
		in, out := d[l], d[l+1]
		p = append(p, Tensor{Name: weightName(l), Shape: []int{out, in}}, Tensor{Name: biasName(l), Shape: []int{out}})
	}
	return p
}

// numel is the number of values a tensor of the given shape holds.
func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

func weightName(l int) string { return "layer" + strconv.Itoa(l) + ".weight" }
func biasName(l int) string   { return "layer" + strconv.Itoa(l) + ".bias" }

// Init returns freshly initialised parameters for m; the same (m, seed)
// give the same bits on every machine. Weights of layers followed by a
// ReLU (every convolution, every dense layer but the last) are
// He-uniform, U(±sqrt(6/in)) where in is the fan-in (channels×size² for a
// convolution); the last layer is Glorot-uniform, U(±sqrt(6/(in+out)));
// biases are zero.
func Init(m Model, seed uint64) (Params, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("cannot initialise parameters: %w", err)
	}
	p := Zeros(m)
	rng := newRNG(seed, streamInit)
	last := len(p)/2 - 1
	for l := 0; l <= last; l++ {
		w := p[2*l]
		out, in := w.Shape[0], numel(w.Shape[1:])
		limit := math.Sqrt(6 / float64(in))
		if l == last {
			limit = math.Sqrt(6 / float64(in+out))
		}
		for i := range w.Data {
			// One rounding to float64, one to float32: the same everywhere.
			w.Data[i] = float32(float64(rng.sym() * limit))
		}
	}
	return p, nil
}

// Clone returns a deep copy of p.
func (p Params) Clone() Params {
	if p == nil {
		return nil
	}
	c := make(Params, len(p))
	for i, t := range p {
		c[i] = Tensor{Name: t.Name, Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
	}
	return c
}

// Lookup returns the tensor called name.
func (p Params) Lookup(name string) (Tensor, bool) {
	for _, t := range p {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// NumElements is the total number of float32 values in p.
func (p Params) NumElements() int {
	n := 0
	for _, t := range p {
		n += len(t.Data)
	}
	return n
}

// ErrNonFinite is wrapped by Check when a parameter is NaN or infinite,
// which is how a diverged training run shows.
var ErrNonFinite = errors.New("non-finite parameter")

// Check reports whether p has exactly the tensors, order, shapes and data
// lengths that m expects and holds only finite values. Use it on
// parameters read from a file or the network before anything else.
func (p Params) Check(m Model) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("cannot check parameters: %w", err)
	}
	if err := sameLayout(layout(m), p); err != nil {
		return fmt.Errorf("parameters do not fit the model: %w", err)
	}
	for _, t := range p {
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%s[%d] = %v: %w: the model has diverged; lower the learning rate", t.Name, i, v, ErrNonFinite)
			}
		}
	}
	return nil
}

// sameLayout reports the first difference in names, shapes or data lengths
// between want and got. want's shapes must be valid; its data is not read.
func sameLayout(want, got Params) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d tensors, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if g.Name != w.Name {
			return fmt.Errorf("tensor %d is named %q, want %q", i, g.Name, w.Name)
		}
		if !equalShape(g.Shape, w.Shape) {
			return fmt.Errorf("%s has shape %v, want %v", g.Name, g.Shape, w.Shape)
		}
		if n := numel(w.Shape); len(g.Data) != n {
			return fmt.Errorf("%s has %d values, want %d", g.Name, len(g.Data), n)
		}
	}
	return nil
}

// layoutOf checks that t's shape is sane and matches its data length.
func layoutOf(t Tensor) error {
	if len(t.Shape) > MaxTensorDim {
		return fmt.Errorf("%s has %d dimensions, more than %d", t.Name, len(t.Shape), MaxTensorDim)
	}
	n := int64(1)
	for _, s := range t.Shape {
		if s < 0 || s > MaxParams {
			return fmt.Errorf("%s has dimension %d out of range", t.Name, s)
		}
		n *= int64(s)
		if n > MaxParams {
			return fmt.Errorf("%s has more than %d values", t.Name, MaxParams)
		}
	}
	if n != int64(len(t.Data)) {
		return fmt.Errorf("%s has shape %v (%d values) but %d values", t.Name, t.Shape, n, len(t.Data))
	}
	return nil
}

func equalShape(a, b []int) bool { return slices.Equal(a, b) }

// Digest is the SHA-256 of p's names, shapes and the IEEE-754 bits of
// every value, in order. Equal digests mean bitwise-equal parameters.
func (p Params) Digest() [32]byte {
	h := sha256.New()
	chunk := make([]byte, 1<<16)
	var buf [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	put(uint64(len(p)))
	for _, t := range p {
		put(uint64(len(t.Name)))
		h.Write([]byte(t.Name))
		put(uint64(len(t.Shape)))
		for _, s := range t.Shape {
			put(uint64(s))
		}
		put(uint64(len(t.Data)))
		for data := t.Data; len(data) > 0; {
			n := min(len(data), len(chunk)/4)
			for i, v := range data[:n] {
				binary.LittleEndian.PutUint32(chunk[4*i:], math.Float32bits(v))
			}
			h.Write(chunk[:4*n])
			data = data[n:]
		}
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}
