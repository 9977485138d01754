package trainer

import (
	"math"
	"testing"
)

// refLoss is the mean softmax cross-entropy of the model in float64,
// written as plainly as possible: the reference the float32 trainer's
// gradients are checked against.
func refLoss(m Model, w [][]float64, d Data) float64 {
	dims := m.dims()
	var total float64
	for r := range d.N {
		act := make([]float64, dims[0])
		for i := range act {
			act[i] = float64(d.X[r*dims[0]+i])
		}
		for l := 0; l+1 < len(dims); l++ {
			in, out := dims[l], dims[l+1]
			weight, bias := w[2*l], w[2*l+1]
			z := make([]float64, out)
			for o := range out {
				z[o] = bias[o]
				for i := range in {
					z[o] += weight[o*in+i] * act[i]
				}
				if l+2 < len(dims) {
					z[o] = math.Max(z[o], 0)
				}
			}
			act = z
		}
		mx := act[0]
		for _, v := range act {
			mx = math.Max(mx, v)
		}
		var s float64
		for _, v := range act {
			s += math.Exp(v - mx)
		}
		total += mx + math.Log(s) - act[d.Y[r]]
	}
	return total / float64(d.N)
}

// analyticGrad runs the trainer's forward and backward pass on all of d
// and returns its loss and gradient, in Params order.
func analyticGrad(m Model, p Params, d Data) (float32, []float32) {
	nt := newNetwork(m, d.N, 1)
	nt.load(p)
	copy(nt.input(), d.X)
	logits := nt.forward(d.N)
	last := &nt.layers[len(nt.layers)-1]
	loss := softmaxXent(logits, d.Y, d.N, m.Classes, last.dzT) / float64(d.N)
	nt.backward(d.N)
	return float32(loss), nt.g
}

func TestGradientMatchesFiniteDifferences(t *testing.T) {
	models := []Model{
		{Kind: KindSoftmax, Inputs: 5, Classes: 3},
		{Kind: KindMLP, Inputs: 5, Hidden: []int{7}, Classes: 4},
		{Kind: KindMLP, Inputs: 4, Hidden: []int{6, 5}, Classes: 3},
	}
	for i, m := range models {
		p := randParams(m, uint64(i), 0.8)
		d := blobs(uint64(10+i), 6, m.Inputs, m.Classes, 0.5)
		w := make([][]float64, len(p))
		for ti, tn := range p {
			for _, v := range tn.Data {
				w[ti] = append(w[ti], float64(v))
			}
		}
		loss, grad := analyticGrad(m, p, d)
		if ref := refLoss(m, w, d); math.Abs(float64(loss)-ref) > 1e-5*math.Max(1, ref) {
			t.Errorf("model %d: loss = %v, float64 reference = %v", i, loss, ref)
		}
		const h = 1e-6
		k := 0
		for ti := range w {
			for j := range w[ti] {
				orig := w[ti][j]
				w[ti][j] = orig + h
				up := refLoss(m, w, d)
				w[ti][j] = orig - h
				down := refLoss(m, w, d)
				w[ti][j] = orig
				num := (up - down) / (2 * h)
				if diff := math.Abs(float64(grad[k]) - num); diff > 2e-5+1e-3*math.Abs(num) {
					t.Errorf("model %d: d loss / d %s[%d] = %v, finite difference = %v", i, p[ti].Name, j, grad[k], num)
				}
				k++
			}
		}
	}
}

// TestOptimizerSteps compares a few updates of each optimizer with the
// formulas of torch.optim.SGD and AdamW evaluated in float64.
func TestOptimizerSteps(t *testing.T) {
	grads := [][]float32{{0.5, -1, 2e-3}, {0.25, 0.5, -3}, {-1, 0, 1}}
	w0 := []float32{1, -2, 0.5}
	tests := []struct {
		name string
		opt  Optimizer
		ref  func(w, g []float64, st *[3][]float64, t int)
	}{
		{"sgd", Optimizer{Kind: OptSGD, LR: 0.1, Momentum: 0.9, WeightDecay: 0.01}, func(w, g []float64, st *[3][]float64, _ int) {
			for i := range w {
				gi := g[i] + float64(float32(0.01))*w[i]
				st[0][i] = float64(float32(0.9))*st[0][i] + gi
				w[i] -= float64(float32(0.1)) * st[0][i]
			}
		}},
		{"adamw", Optimizer{Kind: OptAdam, LR: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}, func(w, g []float64, st *[3][]float64, t int) {
			lr, b1, b2, eps, wd := float64(float32(0.01)), float64(float32(0.9)), float64(float32(0.999)), float64(float32(1e-8)), float64(float32(0.1))
			for i := range w {
				w[i] *= 1 - lr*wd
				st[0][i] = b1*st[0][i] + (1-b1)*g[i]
				st[1][i] = b2*st[1][i] + (1-b2)*g[i]*g[i]
				mh := st[0][i] / (1 - math.Pow(b1, float64(t)))
				vh := st[1][i] / (1 - math.Pow(b2, float64(t)))
				w[i] -= lr * mh / (math.Sqrt(vh) + eps)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := append([]float32(nil), w0...)
			ref := make([]float64, len(w))
			for i, v := range w0 {
				ref[i] = float64(v)
			}
			st := [3][]float64{make([]float64, 3), make([]float64, 3), make([]float64, 3)}
			opt := newOptimizer(tt.opt, len(w))
			for step, g := range grads {
				opt.update(w, g)
				g64 := []float64{float64(g[0]), float64(g[1]), float64(g[2])}
				tt.ref(ref, g64, &st, step+1)
				for i := range w {
					if math.Abs(float64(w[i])-ref[i]) > 1e-6*math.Max(1, math.Abs(ref[i])) {
						t.Fatalf("step %d: w[%d] = %v, float64 reference = %v", step+1, i, w[i], ref[i])
					}
				}
			}
		})
	}
}
