package trainer

import (
	"math"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

func TestFlushSubnormal(t *testing.T) {
	smallestNormal := math.Float32frombits(0x00800000) // 2^-126
	largestSubnormal := math.Float32frombits(0x007fffff)
	inf := float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	for _, tc := range []struct {
		name string
		in   float32
		want float32
	}{
		{"zero", 0, 0},
		{"negative zero", negZero, negZero},
		{"smallest subnormal", math.Float32frombits(1), 0},
		{"largest subnormal", largestSubnormal, 0},
		{"negative subnormal", -largestSubnormal, negZero},
		{"smallest normal", smallestNormal, smallestNormal},
		{"negative smallest normal", -smallestNormal, -smallestNormal},
		{"one", 1, 1},
		{"infinity", inf, inf},
	} {
		got := flushSubnormal(tc.in)
		if math.Float32bits(got) != math.Float32bits(tc.want) {
			t.Errorf("%s: flushSubnormal(%g) = %g (bits %#x), want %g", tc.name, tc.in, got, math.Float32bits(got), tc.want)
		}
	}
	if nan := flushSubnormal(float32(math.NaN())); nan == nan {
		t.Errorf("flushSubnormal(NaN) = %g, want NaN", nan)
	}
}

func isSubnormal(x float32) bool {
	b := math.Float32bits(x) & 0x7fffffff
	return b != 0 && b < 0x00800000
}

// TestOptimizerStateStaysNormal: whatever the gradients, including long
// runs of zeros after a nonzero one (a dead unit's weights) and tiny
// ones, neither optimizer ever holds a subnormal in its state, where
// every step would be slow.
func TestOptimizerStateStaysNormal(t *testing.T) {
	opts := []Optimizer{
		{Kind: OptAdam, LR: 0.001, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8},
		{Kind: OptAdam, LR: 0.01, Beta1: 0.5, Beta2: 0.9, Eps: 1e-8, WeightDecay: 0.01},
		{Kind: OptSGD, LR: 0.1, Momentum: 0.9},
		{Kind: OptSGD, LR: 0.1, Momentum: 0.5, WeightDecay: 0.001},
	}
	rapid.Check(t, func(rt *rapid.T) {
		o := opts[rapid.IntRange(0, len(opts)-1).Draw(rt, "optimizer")]
		n := rapid.IntRange(1, 8).Draw(rt, "params")
		w := make([]float32, n)
		for i := range w {
			w[i] = rapid.Float32Range(-1, 1).Draw(rt, "w")
		}
		opt := newOptimizer(o, n)
		g := make([]float32, n)
		bursts := rapid.IntRange(1, 40).Draw(rt, "bursts")
		for range bursts {
			for i := range g {
				// mostly zero, sometimes tiny, sometimes ordinary
				switch rapid.IntRange(0, 3).Draw(rt, "kind") {
				case 0, 1:
					g[i] = 0
				case 2:
					g[i] = math.Float32frombits(uint32(rapid.IntRange(1, 0x01000000).Draw(rt, "tiny bits")))
				default:
					g[i] = rapid.Float32Range(-1, 1).Draw(rt, "g")
				}
			}
			for range rapid.IntRange(1, 100).Draw(rt, "repeat") {
				opt.update(w, g)
				checkNormalState(rt, opt)
			}
		}
	})
}

// moments returns an optimizer's state: Adam's m and v, SGD's momentum.
func moments(opt optimizer) [][]float32 {
	switch o := opt.(type) {
	case *adam:
		return [][]float32{o.m, o.v}
	case *sgd:
		return [][]float32{o.v}
	}
	return nil
}

func checkNormalState(t interface{ Fatalf(string, ...any) }, opt optimizer) {
	for k, s := range moments(opt) {
		for i, x := range s {
			if isSubnormal(x) {
				t.Fatalf("state %d[%d] = %g is subnormal", k, i, x)
			}
		}
	}
}

// TestZeroGradientMomentReachesZero: one gradient, then zeros: the
// moment decays and is dropped once it leaves the normal range, long
// before the float32 arithmetic alone would round it to zero.
func TestZeroGradientMomentReachesZero(t *testing.T) {
	for _, o := range []Optimizer{
		{Kind: OptAdam, LR: 0.001, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8},
		{Kind: OptSGD, LR: 0.1, Momentum: 0.9},
	} {
		w := []float32{0.5}
		opt := newOptimizer(o, 1)
		opt.update(w, []float32{1e-3})
		zero := []float32{0}
		var first float32
		steps := 0
		for ; steps < 2000; steps++ {
			opt.update(w, zero)
			checkNormalState(t, opt)
			m := moments(opt)[0][0] // Adam's m, SGD's momentum
			if steps == 0 {
				first = m
			}
			if m == 0 {
				break
			}
		}
		// 0.9^k · 1e-4 falls below 2^-126 after about 740 steps and
		// would stay subnormal for about 130 more.
		if steps < 600 || steps > 800 {
			t.Errorf("%s: the moment (%g after the first zero step) reached 0 after %d zero steps, want about 740", o.Kind, first, steps)
		}
	}
}

// drawParam draws an optimizer value: mostly ordinary, sometimes one of
// the bit patterns where arithmetic differs (zeros of both signs,
// subnormals, the largest floats, infinities, NaNs).
func drawParam(rt *rapid.T, label string) float32 {
	switch rapid.IntRange(0, 7).Draw(rt, label+" kind") {
	case 0:
		return math.Float32frombits(rapid.Uint32().Draw(rt, label+" bits"))
	case 1:
		return math.Float32frombits(rapid.Uint32Range(0, 0x00ffffff).Draw(rt, label+" tiny bits") | uint32(rapid.IntRange(0, 1).Draw(rt, label+" sign"))<<31)
	case 2:
		return []float32{0, float32(math.Copysign(0, -1)), math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}[rapid.IntRange(0, 5).Draw(rt, label+" special")]
	default:
		return rapid.Float32Range(-4, 4).Draw(rt, label)
	}
}

// drawParams draws n values with drawParam.
func drawParams(rt *rapid.T, n int, label string) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = drawParam(rt, label)
	}
	return s
}

// kernelAgrees fails rt unless the kernel's state got has the bits of
// the Go loop's want, a NaN's payload aside.
func kernelAgrees(rt *rapid.T, step int, name string, got, want []float32) {
	rt.Helper()
	for i := range want {
		g, w := math.Float32bits(got[i]), math.Float32bits(want[i])
		if g != w && !(isNaN32(got[i]) && isNaN32(want[i])) {
			rt.Fatalf("step %d: %s[%d] = %g (%#08x), the Go loop gives %g (%#08x)", step, name, i, got[i], g, want[i], w)
		}
	}
}

// TestAdamKernelMatchesGo: the assembly Adam step (where this build has
// one) gives the same bits as adamGo for every value, tail and setting,
// step after step, except that a NaN may carry another payload: which of
// two NaN operands an instruction passes on depends on the operand order
// the compiler picked. No NaN gets past Params.Check into a result.
// Without a kernel adamUpdate is adamGo, and this checks nothing more;
// TestCrossBuildReproducible compares the builds.
func TestAdamKernelMatchesGo(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		o := Optimizer{
			Kind:  OptAdam,
			LR:    rapid.Float32Range(1e-6, 10).Draw(rt, "lr"),
			Beta1: rapid.Float32Range(0, 0.999).Draw(rt, "beta1"),
			Beta2: rapid.Float32Range(0, 0.9999).Draw(rt, "beta2"),
			Eps:   rapid.Float32Range(1e-12, 1e-2).Draw(rt, "eps"),
		}
		if rapid.Bool().Draw(rt, "weight decay") {
			o.WeightDecay = rapid.Float32Range(0, 0.5).Draw(rt, "wd")
		}
		n := rapid.IntRange(0, 41).Draw(rt, "params")
		state := newOptimizer(o, n).(*adam)
		w, m, v := drawParams(rt, n, "w"), drawParams(rt, n, "m"), drawParams(rt, n, "v")
		w2, m2, v2 := slices.Clone(w), slices.Clone(m), slices.Clone(v)
		for step := range rapid.IntRange(1, 4).Draw(rt, "steps") {
			g := drawParams(rt, n, "g")
			k := state.next()
			adamUpdate(w, g, m, v, &k)
			adamGo(w2, g, m2, v2, &k)
			kernelAgrees(rt, step+1, "w", w, w2)
			kernelAgrees(rt, step+1, "m", m, m2)
			kernelAgrees(rt, step+1, "v", v, v2)
		}
	})
}

func isNaN32(x float32) bool { return x != x }

// TestSGDKernelMatchesGo is TestAdamKernelMatchesGo for SGD, with and
// without weight decay (a zero one of either sign takes the plain loop).
func TestSGDKernelMatchesGo(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		k := sgdStep{
			lr: rapid.Float32Range(1e-6, 10).Draw(rt, "lr"),
			mu: rapid.Float32Range(0, 0.999).Draw(rt, "momentum"),
		}
		switch rapid.IntRange(0, 2).Draw(rt, "weight decay") {
		case 1:
			k.wd = float32(math.Copysign(0, -1))
		case 2:
			k.wd = rapid.Float32Range(0, 0.5).Draw(rt, "wd")
		}
		n := rapid.IntRange(0, 41).Draw(rt, "params")
		w, v := drawParams(rt, n, "w"), drawParams(rt, n, "v")
		w2, v2 := slices.Clone(w), slices.Clone(v)
		for step := range rapid.IntRange(1, 4).Draw(rt, "steps") {
			g := drawParams(rt, n, "g")
			sgdUpdate(w, g, v, &k)
			sgdGo(w2, g, v2, &k)
			kernelAgrees(rt, step+1, "w", w, w2)
			kernelAgrees(rt, step+1, "v", v, v2)
		}
	})
}
