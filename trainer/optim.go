package trainer

import "math"

// optimizer updates the parameters w in place from their gradient g.
type optimizer interface {
	update(w, g []float32)
}

func newOptimizer(o Optimizer, n int) optimizer {
	if o.Kind == OptAdam {
		return &adam{Optimizer: o, m: make([]float32, n), v: make([]float32, n), pow1: 1, pow2: 1}
	}
	return &sgd{Optimizer: o, v: make([]float32, n)}
}

// sgd is torch.optim.SGD with momentum, no dampening and no Nesterov.
type sgd struct {
	Optimizer
	v []float32
}

func (o *sgd) update(w, g []float32) {
	n := len(w)
	sgdUpdate(w, g[:n], o.v[:n], &sgdStep{lr: o.LR, mu: o.Momentum, wd: o.WeightDecay})
}

// sgdStep holds the scalars of an SGD step, in the order the assembly
// kernel reads them.
type sgdStep struct {
	lr, mu, wd float32
}

// sgdGo applies SGD step k to every parameter: the reference that the
// assembly kernel (optim_amd64.s) matches bit for bit, and the code for
// what it leaves over. Without weight decay the gradient is used as it is
// (adding a zero decay term would turn a -0 gradient into +0).
func sgdGo(w, g, v []float32, k *sgdStep) {
	g, v = g[:len(w)], v[:len(w)]
	lr, mu, wd := k.lr, k.mu, k.wd
	if wd == 0 {
		for i, wi := range w {
			vi := flushSubnormal(float32(mu*v[i]) + g[i])
			v[i] = vi
			w[i] = wi - float32(lr*vi)
		}
		return
	}
	for i, wi := range w {
		vi := flushSubnormal(float32(mu*v[i]) + (g[i] + float32(wd*wi)))
		v[i] = vi
		w[i] = wi - float32(lr*vi)
	}
}

// adam is torch.optim.AdamW: decoupled weight decay, bias-corrected moments.
type adam struct {
	Optimizer
	m, v       []float32
	pow1, pow2 float64 // Beta1^t and Beta2^t
}

func (o *adam) update(w, g []float32) {
	k := o.next()
	n := len(w)
	adamUpdate(w, g[:n], o.m[:n], o.v[:n], &k)
}

// next advances the step count and returns the step's scalars.
func (o *adam) next() adamStep {
	// Go may fuse a product into a later addition even across statements
	// (arm64 does, here); the conversions keep both powers rounded.
	o.pow1 = float64(o.pow1 * float64(o.Beta1))
	o.pow2 = float64(o.pow2 * float64(o.Beta2))
	return adamStep{
		decay:   1 - float32(o.LR*o.WeightDecay),
		beta1:   o.Beta1,
		c1:      1 - o.Beta1,
		beta2:   o.Beta2,
		c2:      1 - o.Beta2,
		sqrtBC2: float32(math.Sqrt(1 - o.pow2)),
		eps:     o.Eps,
		step:    float32(float64(o.LR) / (1 - o.pow1)),
	}
}

// adamStep holds the scalars of one Adam step, in the order the assembly
// kernel reads them.
type adamStep struct {
	decay   float32 // 1 - lr·weight decay: exactly 1 without weight decay
	beta1   float32
	c1      float32 // 1 - beta1
	beta2   float32
	c2      float32 // 1 - beta2
	sqrtBC2 float32 // √(1 - beta2^t), the second moment's bias correction
	eps     float32
	step    float32 // lr / (1 - beta1^t)
}

// adamGo applies Adam step k to every parameter: the reference that the
// assembly kernel (optim_amd64.s) matches bit for bit, and the code for
// what it leaves over. Each float32 conversion rounds its product before
// the next operation, so that no compiler fuses it into an addition.
func adamGo(w, g, m, v []float32, k *adamStep) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for i, wi := range w {
		if k.decay != 1 {
			wi = float32(wi * k.decay)
		}
		gi := g[i]
		mi := flushSubnormal(float32(k.beta1*m[i]) + float32(k.c1*gi))
		vi := flushSubnormal(float32(k.beta2*v[i]) + float32(float32(k.c2*gi)*gi))
		m[i], v[i] = mi, vi
		den := sqrt32(vi)/k.sqrtBC2 + k.eps
		w[i] = wi - float32(k.step*(mi/den))
	}
}

// flushSubnormal returns a subnormal x as a zero of its sign (what the
// CPU's flush-to-zero mode would do), and any other x as it is. The
// optimizers keep their state normal: a moment whose gradient stays zero
// (a dead unit's weights) decays by its factor every step into float32's
// subnormal range, where x86 CPUs take a slow microcode assist on every
// operation on it. With most of Adam's m subnormal, as in
// BenchmarkTrainMLPAdam's model after about 750 steps, a step ran 1.6
// times slower. Such a moment moves no weight of ordinary size (Adam's
// m/den stays below 2^-126/ε ≈ 10^-30, times a learning rate of at most
// 10; SGD's step is smaller still), so the results keep their bits in
// practice. Done in software, the flush gives the same bits on every
// CPU, which replicated tasklets need.
func flushSubnormal(x float32) float32 {
	if b := math.Float32bits(x); b&expMask == 0 {
		return math.Float32frombits(b & signBit)
	}
	return x
}

// sqrt32 is the correctly rounded float32 square root (rounding the
// float64 root again is exact for square roots), the same on every CPU.
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
