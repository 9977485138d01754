package trainer

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Both benchmarks run the same training step of a 784-128-10 MLP on a
// minibatch of 64 (gather, forward, softmax cross-entropy, backward, SGD
// with momentum) on one thread, and report samples per second.

const (
	benchBatch = 64
	benchN     = 4096
)

var benchModel = Model{Kind: KindMLP, Inputs: 784, Hidden: []int{128}, Classes: 10}

func benchData() Data {
	r := rand.New(rand.NewPCG(1, 1))
	d := Data{X: make([]float32, benchN*784), Y: make([]int32, benchN), N: benchN}
	for i := range d.X {
		d.X[i] = r.Float32()
	}
	for i := range d.Y {
		d.Y[i] = int32(r.IntN(10))
	}
	return d
}

func singleThread(b *testing.B) {
	prev := runtime.GOMAXPROCS(1)
	b.Cleanup(func() { runtime.GOMAXPROCS(prev) })
}

// benchSteps runs step until the benchmark is done and reports samples
// per second of wall time and, where the OS tells, per second of CPU time.
func benchSteps(b *testing.B, step func()) {
	steps := 0
	cpu0, okCPU := processCPU()
	for b.Loop() {
		step()
		steps++
	}
	cpu1, _ := processCPU()
	samples := float64(steps * benchBatch)
	b.ReportMetric(samples/b.Elapsed().Seconds(), "samples/s")
	if okCPU && cpu1 > cpu0 {
		b.ReportMetric(samples/(cpu1-cpu0).Seconds(), "samples/cpu-s")
	}
}

func BenchmarkTrainMLP784_128_10(b *testing.B) {
	singleThread(b)
	p, _ := Init(benchModel, 1)
	cfg := TrainConfig{Steps: 1, BatchSize: benchBatch, Optimizer: Optimizer{Kind: OptSGD, LR: 0.01, Momentum: 0.9}}
	r := newRun(benchModel, p, benchData(), cfg)
	benchSteps(b, func() { r.step() })
}

// gonumMLP is the same step written the obvious way on gonum's BLAS.
type gonumMLP struct {
	d             Data
	smp           *sampler
	idx, y        []int32
	x, h, dh, l   blas32.General
	w1, w2        blas32.General
	gw1, gw2      blas32.General
	b1, b2, gb1   []float32
	gb2           []float32
	params, grads [][]float32
	velocity      [][]float32
	lr, momentum  float32
}

func newGonumMLP(p Params, d Data) *gonumMLP {
	mat := func(r, c int, data []float32) blas32.General {
		if data == nil {
			data = make([]float32, r*c)
		}
		return blas32.General{Rows: r, Cols: c, Stride: c, Data: data}
	}
	g := &gonumMLP{
		d: d, smp: newSampler(d.N, 0),
		idx: make([]int32, benchBatch), y: make([]int32, benchBatch),
		x: mat(benchBatch, 784, nil), h: mat(benchBatch, 128, nil), dh: mat(benchBatch, 128, nil), l: mat(benchBatch, 10, nil),
		w1: mat(128, 784, p[0].Data), w2: mat(10, 128, p[2].Data),
		gw1: mat(128, 784, nil), gw2: mat(10, 128, nil),
		b1: p[1].Data, b2: p[3].Data, gb1: make([]float32, 128), gb2: make([]float32, 10),
		lr: 0.01, momentum: 0.9,
	}
	g.params = [][]float32{g.w1.Data, g.b1, g.w2.Data, g.b2}
	g.grads = [][]float32{g.gw1.Data, g.gb1, g.gw2.Data, g.gb2}
	for _, q := range g.params {
		g.velocity = append(g.velocity, make([]float32, len(q)))
	}
	return g
}

func vec(s []float32) blas32.Vector { return blas32.Vector{N: len(s), Inc: 1, Data: s} }

func addBias(m blas32.General, b []float32) {
	for r := 0; r < m.Rows; r++ {
		blas32.Axpy(1, vec(b), vec(m.Data[r*m.Stride:r*m.Stride+m.Cols]))
	}
}

func colSums(dst []float32, m blas32.General) {
	clear(dst)
	for r := 0; r < m.Rows; r++ {
		blas32.Axpy(1, vec(m.Data[r*m.Stride:r*m.Stride+m.Cols]), vec(dst))
	}
}

func (g *gonumMLP) step() {
	g.smp.fill(g.idx)
	gather(g.x.Data, g.y, g.d, g.idx, 784)
	// Forward.
	blas32.Gemm(blas.NoTrans, blas.Trans, 1, g.x, g.w1, 0, g.h)
	addBias(g.h, g.b1)
	for i, v := range g.h.Data {
		g.h.Data[i] = max(v, 0)
	}
	blas32.Gemm(blas.NoTrans, blas.Trans, 1, g.h, g.w2, 0, g.l)
	addBias(g.l, g.b2)
	// Softmax cross-entropy gradient, in place in l.
	for r := 0; r < benchBatch; r++ {
		z := g.l.Data[r*10 : r*10+10]
		mx := z[0]
		for _, v := range z {
			mx = max(mx, v)
		}
		var s float64
		for j, v := range z {
			e := math.Exp(float64(v - mx))
			z[j] = float32(e)
			s += e
		}
		for j := range z {
			z[j] = float32(float64(z[j]) / s)
		}
		z[g.y[r]] -= 1
		blas32.Scal(1.0/benchBatch, vec(z))
	}
	// Backward.
	blas32.Gemm(blas.Trans, blas.NoTrans, 1, g.l, g.h, 0, g.gw2)
	colSums(g.gb2, g.l)
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, g.l, g.w2, 0, g.dh)
	for i, v := range g.h.Data {
		if v <= 0 {
			g.dh.Data[i] = 0
		}
	}
	blas32.Gemm(blas.Trans, blas.NoTrans, 1, g.dh, g.x, 0, g.gw1)
	colSums(g.gb1, g.dh)
	// SGD with momentum: v = mu*v + g; w -= lr*v.
	for i, w := range g.params {
		v := vec(g.velocity[i])
		blas32.Scal(g.momentum, v)
		blas32.Axpy(1, vec(g.grads[i]), v)
		blas32.Axpy(-g.lr, v, vec(w))
	}
}

func BenchmarkGonumMLP784_128_10(b *testing.B) {
	singleThread(b)
	p, _ := Init(benchModel, 1)
	g := newGonumMLP(p, benchData())
	benchSteps(b, g.step)
}

// TestGonumBaselineLearns keeps the benchmark's baseline honest: on
// separable data its step must reduce the loss like the trainer's does.
func TestGonumBaselineLearns(t *testing.T) {
	d := blobs(1, 512, 784, 10, 0.5)
	p, _ := Init(benchModel, 1)
	before, _, _ := Evaluate(benchModel, p, d)
	g := newGonumMLP(p.Clone(), d)
	for range 30 {
		g.step()
	}
	after := Params{
		{Name: "layer0.weight", Shape: []int{128, 784}, Data: g.w1.Data},
		{Name: "layer0.bias", Shape: []int{128}, Data: g.b1},
		{Name: "layer1.weight", Shape: []int{10, 128}, Data: g.w2.Data},
		{Name: "layer1.bias", Shape: []int{10}, Data: g.b2},
	}
	loss, _, err := Evaluate(benchModel, after, d)
	if err != nil {
		t.Fatal(err)
	}
	if !(loss < before/2) {
		t.Errorf("gonum baseline: loss %v -> %v after 30 steps, want it at least halved", before, loss)
	}
}

// BenchCNN is the MNIST CNN of examples/jobs/mnist-cnn.yaml and of
// bench/torchcnn/torchcnn.py: conv 5×5×16 (padding 2), max-pool 2, conv
// 5×5×32 (padding 2), max-pool 2, dense 1568 → 128 → 10.
var BenchCNN = Model{Kind: KindCNN, Inputs: 784, Hidden: []int{128}, Classes: 10, Image: Image{1, 28, 28},
	Conv: []Conv{{Filters: 16, Size: 5, Padding: 2, Pool: 2}, {Filters: 32, Size: 5, Padding: 2, Pool: 2}}}

// BenchmarkTrainCNN is one Adam training step of BenchCNN on a minibatch
// of 64, on one thread, with its dense 128 layer and without: compare its
// samples/cpu-s with bench/torchcnn/torchcnn.py [--hidden 0].
func BenchmarkTrainCNN(b *testing.B) {
	for _, bc := range []struct {
		name   string
		hidden []int
	}{{"hidden128", []int{128}}, {"nohidden", nil}} {
		b.Run(bc.name, func(b *testing.B) {
			singleThread(b)
			m := BenchCNN
			m.Hidden = bc.hidden
			p, _ := Init(m, 1)
			cfg := TrainConfig{Steps: 1, BatchSize: benchBatch, Optimizer: Adam(1e-3)}
			r := newRun(m, p, benchData(), cfg)
			benchSteps(b, func() { r.step() })
		})
	}
}

// BenchmarkTrainMLPAdam is BenchmarkTrainMLP784_128_10 with the inner
// optimizer of the example DiLoCo jobs (Adam, as examples/jobs/mnist-mlp.yaml).
func BenchmarkTrainMLPAdam(b *testing.B) {
	singleThread(b)
	p, _ := Init(benchModel, 1)
	cfg := TrainConfig{Steps: 1, BatchSize: benchBatch, Optimizer: Optimizer{Kind: OptAdam, LR: 0.001, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}}
	r := newRun(benchModel, p, benchData(), cfg)
	benchSteps(b, func() { r.step() })
}
