package trainer

import (
	"errors"
	"fmt"
	"math"
)

// Optimizer kinds.
const (
	OptSGD  = "sgd"  // SGD with (heavy-ball) momentum, as torch.optim.SGD
	OptAdam = "adam" // Adam with decoupled weight decay, as torch.optim.AdamW
)

// Limits on a training config and on data, bounding what a spec from the
// network can make a worker allocate or compute.
const (
	MaxSteps     = 1 << 24
	MaxBatchSize = 1 << 16
	MaxWorkers   = 256
	MaxSamples   = 1 << 26
)

// Optimizer is the inner optimizer of a tasklet. At step t with gradient g:
//
//	sgd:  v = Momentum*v + (g + WeightDecay*w)
//	      w = w - LR*v
//	adam: w = w - LR*WeightDecay*w
//	      m = Beta1*m + (1-Beta1)*g
//	      v = Beta2*v + (1-Beta2)*g²
//	      w = w - LR/(1-Beta1^t) * m / (sqrt(v)/sqrt(1-Beta2^t) + Eps)
//
// Fields that do not belong to Kind are ignored. Optimizer state starts at
// zero in every call to Train.
type Optimizer struct {
	Kind        string
	LR          float32
	Momentum    float32 // sgd only
	Beta1       float32 // adam only
	Beta2       float32 // adam only
	Eps         float32 // adam only
	WeightDecay float32
}

// Adam returns the usual Adam settings (0.9, 0.999, 1e-8) with learning rate lr.
func Adam(lr float32) Optimizer {
	return Optimizer{Kind: OptAdam, LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
}

// Validate reports the first field of o that is out of range, by name.
func (o Optimizer) Validate() error {
	if o.Kind != OptSGD && o.Kind != OptAdam {
		return fmt.Errorf("optimizer: kind %q is unknown: use %q or %q", o.Kind, OptSGD, OptAdam)
	}
	if err := checkRange("lr", o.LR, 0, false, 1e6); err != nil {
		return err
	}
	if err := checkRange("weight_decay", o.WeightDecay, 0, true, 1e6); err != nil {
		return err
	}
	if o.Kind == OptSGD {
		return checkFraction("momentum", o.Momentum)
	}
	if err := checkFraction("beta1", o.Beta1); err != nil {
		return err
	}
	if err := checkFraction("beta2", o.Beta2); err != nil {
		return err
	}
	return checkRange("eps", o.Eps, 0, false, 1)
}

// checkRange requires lo < v <= hi, or lo <= v <= hi when orEqual.
func checkRange(field string, v, lo float32, orEqual bool, hi float32) error {
	ok := v <= hi && (v > lo || orEqual && v == lo)
	if !ok || math.IsNaN(float64(v)) {
		op := "<"
		if orEqual {
			op = "<="
		}
		return fmt.Errorf("optimizer: %s = %v, want %v %s %s <= %v", field, v, lo, op, field, hi)
	}
	return nil
}

// checkFraction requires 0 <= v < 1.
func checkFraction(field string, v float32) error {
	if !(v >= 0 && v < 1) {
		return fmt.Errorf("optimizer: %s = %v, want 0 <= %s < 1", field, v, field)
	}
	return nil
}

// TrainConfig says how one tasklet trains: Steps inner steps (DiLoCo's H)
// on minibatches of BatchSize samples drawn by Seed.
type TrainConfig struct {
	Steps     int
	BatchSize int
	Optimizer Optimizer
	Seed      uint64
	// Workers is how many goroutines share each matrix product; 0 means 1.
	// Each output value is computed by one goroutine in a fixed order,
	// so the result is the same bits for every Workers value.
	Workers int
}

// Validate reports the first field of c that is out of range, by name.
func (c TrainConfig) Validate() error {
	if c.Steps < 1 || c.Steps > MaxSteps {
		return fmt.Errorf("train config: steps = %d, want 1 to %d", c.Steps, MaxSteps)
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		return fmt.Errorf("train config: batch_size = %d, want 1 to %d", c.BatchSize, MaxBatchSize)
	}
	if c.Workers < 0 || c.Workers > MaxWorkers {
		return fmt.Errorf("train config: workers = %d, want 0 to %d", c.Workers, MaxWorkers)
	}
	if err := c.Optimizer.Validate(); err != nil {
		return fmt.Errorf("train config: %w", err)
	}
	return nil
}

// Data is a labelled data set: N samples of Inputs features each, row
// major in X (or X8), and their classes in Y.
type Data struct {
	X []float32
	// X8 holds the features as bytes instead of X, each standing for
	// byte/255 (images as datasets store them): a quarter of X's memory,
	// finite by construction, and scaled only as a batch's rows are read,
	// to the same bits as X filled with float32(byte) * ByteScale. At most
	// one of X and X8 is set.
	X8 []uint8
	Y  []int32
	N  int
}

// ByteScale maps a byte feature of X8 to [0, 1]: float32(b) * ByteScale.
const ByteScale = float32(1.0 / 255)

// copyRows writes the features of samples start to start+n-1 to dst.
func (d Data) copyRows(dst []float32, start, n, inputs int) {
	if d.X8 == nil {
		copy(dst, d.X[start*inputs:(start+n)*inputs])
		return
	}
	src := d.X8[start*inputs : (start+n)*inputs]
	dst = dst[:len(src)]
	i := 0
	if haveAVX2 && len(src) >= 8 {
		i = len(src) &^ 7
		scaleBytesAVX2(&dst[0], &src[0], i, ByteScale)
	}
	for ; i < len(src); i++ {
		dst[i] = float32(src[i]) * ByteScale
	}
}

// Validate checks d against the model's input width and class count:
// lengths, label range, and that every feature is finite.
func (d Data) Validate(m Model) error {
	if err := d.validateShape(m); err != nil {
		return err
	}
	if i := firstNonFinite(d.X); i >= 0 { // X8's bytes are finite
		v := d.X[i]
		return fmt.Errorf("data: x[%d] (sample %d, feature %d) = %v, want a finite value", i, i/m.Inputs, i%m.Inputs, v)
	}
	return nil
}

// validateShape checks lengths and labels: Validate without the scan for
// non-finite features.
func (d Data) validateShape(m Model) error {
	if d.N < 1 || d.N > MaxSamples {
		return fmt.Errorf("data: n = %d, want 1 to %d", d.N, MaxSamples)
	}
	name, n := "x", len(d.X)
	if d.X8 != nil {
		if d.X != nil {
			return errors.New("data: both x and x8 hold features; give one")
		}
		name, n = "x8", len(d.X8)
	}
	if int64(n) != int64(d.N)*int64(m.Inputs) {
		return fmt.Errorf("data: %s has %d values, want n*inputs = %d*%d = %d", name, n, d.N, m.Inputs, int64(d.N)*int64(m.Inputs))
	}
	if len(d.Y) != d.N {
		return fmt.Errorf("data: y has %d labels, want n = %d", len(d.Y), d.N)
	}
	for i, y := range d.Y {
		if y < 0 || int(y) >= m.Classes {
			return fmt.Errorf("data: y[%d] = %d, want 0 to %d", i, y, m.Classes-1)
		}
	}
	return nil
}

// A float32's exponent bits (expMask) are all ones exactly when it is NaN
// or ±Inf, and all zeros when it is ±0 or subnormal; expStep is one
// exponent step, signBit the bit above them.
const (
	expMask = 0x7f800000
	expStep = 0x00800000
	signBit = 0x80000000
)

// firstNonFinite returns the index of the first NaN or ±Inf in x, or -1.
// Every tasklet validates its shard (millions of values), so this tests
// the exponent bits, several times faster than math.IsNaN and math.IsInf
// on float64 conversions. It scans blocks without branching: adding one
// exponent step to the exponent bits carries into the sign bit exactly
// when they are all ones; only a block with such a carry is searched.
func firstNonFinite(x []float32) int {
	const block = 64
	for start := 0; start < len(x); start += block {
		end := min(start+block, len(x))
		if end-start == block && !blockHasNonFinite((*[block]float32)(x[start:end])) {
			continue
		}
		for i, v := range x[start:end] {
			if math.Float32bits(v)&expMask == expMask {
				return start + i
			}
		}
	}
	return -1
}

// blockHasNonFinite reports whether b holds a NaN or ±Inf, with four
// independent accumulators so the additions need not wait on each other.
func blockHasNonFinite(b *[64]float32) bool {
	var c0, c1, c2, c3 uint32
	for i := 0; i < len(b); i += 4 {
		c0 |= math.Float32bits(b[i])&expMask + expStep
		c1 |= math.Float32bits(b[i+1])&expMask + expStep
		c2 |= math.Float32bits(b[i+2])&expMask + expStep
		c3 |= math.Float32bits(b[i+3])&expMask + expStep
	}
	return (c0|c1|c2|c3)&signBit != 0
}

// Metrics summarise one call to Train.
type Metrics struct {
	Steps     int     // steps completed
	Samples   int     // samples seen, Steps*BatchSize
	Loss      float32 // mean of the per-step minibatch losses
	FinalLoss float32 // minibatch loss of the last step, before its update
}
