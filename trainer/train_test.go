package trainer

import (
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// split returns the first n samples of d and the rest.
func split(d Data, n, inputs int) (Data, Data) {
	a := Data{X: d.X[:n*inputs], Y: d.Y[:n], N: n}
	b := Data{X: d.X[n*inputs:], Y: d.Y[n:], N: d.N - n}
	return a, b
}

func TestTrainLearns(t *testing.T) {
	sgd := Optimizer{Kind: OptSGD, LR: 0.1, Momentum: 0.9}
	tests := []struct {
		name           string
		m              Model
		data           Data
		cfg            TrainConfig
		minAcc, maxAcc float32
	}{
		{"softmax blobs", Model{Kind: KindSoftmax, Inputs: 10, Classes: 4},
			blobs(1, 2000, 10, 4, 0.3), TrainConfig{Steps: 300, BatchSize: 32, Optimizer: sgd, Seed: 1}, 0.95, 1},
		{"mlp blobs sgd", Model{Kind: KindMLP, Inputs: 10, Hidden: []int{32}, Classes: 4},
			blobs(2, 2000, 10, 4, 0.3), TrainConfig{Steps: 300, BatchSize: 32, Optimizer: sgd, Seed: 2}, 0.95, 1},
		{"mlp blobs adamw", Model{Kind: KindMLP, Inputs: 10, Hidden: []int{32, 16}, Classes: 4},
			blobs(3, 2000, 10, 4, 0.3), TrainConfig{Steps: 300, BatchSize: 32, Optimizer: Optimizer{Kind: OptAdam, LR: 3e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-2}, Seed: 3}, 0.95, 1},
		{"mlp xor", Model{Kind: KindMLP, Inputs: 2, Hidden: []int{16}, Classes: 2},
			xor(4, 2000), TrainConfig{Steps: 1500, BatchSize: 32, Optimizer: Adam(1e-2), Seed: 4}, 0.95, 1},
		// A linear model cannot learn XOR: this row shows the hidden layer is what learns it above.
		{"softmax xor", Model{Kind: KindSoftmax, Inputs: 2, Classes: 2},
			xor(4, 2000), TrainConfig{Steps: 1500, BatchSize: 32, Optimizer: Adam(1e-2), Seed: 4}, 0, 0.8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			train, test := split(tt.data, 1500, tt.m.Inputs)
			p0, err := Init(tt.m, 1)
			if err != nil {
				t.Fatal(err)
			}
			lossBefore, _, err := Evaluate(tt.m, p0, test)
			if err != nil {
				t.Fatal(err)
			}
			p, met, err := Train(context.Background(), tt.m, p0, train, tt.cfg, nil)
			if err != nil {
				t.Fatalf("Train: %v", err)
			}
			loss, acc, err := Evaluate(tt.m, p, test)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("held-out loss %.4f -> %.4f, accuracy %.3f, train loss mean %.4f final %.4f", lossBefore, loss, acc, met.Loss, met.FinalLoss)
			if acc < tt.minAcc || acc > tt.maxAcc {
				t.Errorf("held-out accuracy = %.3f, want %.2f to %.2f", acc, tt.minAcc, tt.maxAcc)
			}
			if tt.minAcc > 0 && !(loss < lossBefore) {
				t.Errorf("held-out loss went from %v to %v, want it lower", lossBefore, loss)
			}
		})
	}
}

// reproCase is big enough that every product takes the parallel path
// when Workers > 1.
func reproCase(t *testing.T) (Model, Params, Data) {
	t.Helper()
	m := Model{Kind: KindMLP, Inputs: 48, Hidden: []int{64, 32}, Classes: 5}
	p, err := Init(m, 9)
	if err != nil {
		t.Fatal(err)
	}
	return m, p, blobs(5, 100, 48, 5, 0.5)
}

func TestTrainBitwiseDeterministic(t *testing.T) {
	m, p0, d := reproCase(t)
	run := func(opt Optimizer, workers, procs int) string {
		prev := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(prev)
		cfg := TrainConfig{Steps: 6, BatchSize: 32, Optimizer: opt, Seed: 11, Workers: workers}
		p, _, err := Train(context.Background(), m, p0, d, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return digestHex(p)
	}
	for _, opt := range []Optimizer{{Kind: OptSGD, LR: 0.05, Momentum: 0.9, WeightDecay: 1e-3}, Adam(1e-3)} {
		want := run(opt, 1, 1)
		for _, c := range []struct{ workers, procs int }{{1, 1}, {1, 4}, {4, 1}, {4, 4}, {3, 2}, {16, 4}} {
			if got := run(opt, c.workers, c.procs); got != want {
				t.Errorf("%s, Workers %d, GOMAXPROCS %d: digest %s, want %s (Workers 1, GOMAXPROCS 1)", opt.Kind, c.workers, c.procs, got, want)
			}
		}
	}
}

func TestTrainSeedChangesResult(t *testing.T) {
	m, p0, d := reproCase(t)
	cfg := TrainConfig{Steps: 3, BatchSize: 16, Optimizer: Adam(1e-3), Seed: 1}
	a, _, _ := Train(context.Background(), m, p0, d, cfg, nil)
	cfg.Seed = 2
	b, _, _ := Train(context.Background(), m, p0, d, cfg, nil)
	if digestHex(a) == digestHex(b) {
		t.Errorf("seeds 1 and 2 gave the same parameters, want different minibatches")
	}
	if digestHex(p0) == digestHex(a) {
		t.Errorf("training left the parameters unchanged")
	}
}

func TestTrainLeavesInputAlone(t *testing.T) {
	m, p0, d := reproCase(t)
	before := digestHex(p0)
	if _, _, err := Train(context.Background(), m, p0, d, TrainConfig{Steps: 2, BatchSize: 8, Optimizer: Adam(1e-2)}, nil); err != nil {
		t.Fatal(err)
	}
	if digestHex(p0) != before {
		t.Errorf("Train modified its input parameters")
	}
}

func TestTrainProgressAndMetrics(t *testing.T) {
	m, p0, d := reproCase(t)
	var steps []int
	var sum float64
	var last float32
	cfg := TrainConfig{Steps: 7, BatchSize: 30, Optimizer: Adam(1e-3)}
	_, met, err := Train(context.Background(), m, p0, d, cfg, func(step int, loss float32) {
		steps = append(steps, step)
		sum += float64(loss)
		last = loss
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Metrics{Steps: 7, Samples: 210, Loss: float32(sum / 7), FinalLoss: last}
	if met != want {
		t.Errorf("Metrics = %+v, want %+v", met, want)
	}
	for i, s := range steps {
		if s != i+1 {
			t.Fatalf("progress steps = %v, want 1..7", steps)
		}
	}
}

func TestTrainCancel(t *testing.T) {
	m, p0, d := reproCase(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := TrainConfig{Steps: 100, BatchSize: 8, Optimizer: Adam(1e-3)}
	p, met, err := Train(ctx, m, p0, d, cfg, func(step int, _ float32) {
		if step == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Train after cancel: err = %v, want context.Canceled", err)
	}
	if p != nil || met.Steps != 3 {
		t.Errorf("Train after cancel = (%d tensors, %d steps), want (nil, 3 steps)", len(p), met.Steps)
	}
}

func TestTrainDiverges(t *testing.T) {
	m := Model{Kind: KindSoftmax, Inputs: 4, Classes: 3}
	p0, _ := Init(m, 1)
	d := blobs(1, 50, 4, 3, 1)
	for i := range d.X {
		d.X[i] *= 1e18
	}
	cfg := TrainConfig{Steps: 50, BatchSize: 10, Optimizer: Optimizer{Kind: OptSGD, LR: 1e6, Momentum: 0.9}}
	_, _, err := Train(context.Background(), m, p0, d, cfg, nil)
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("Train with lr 1e6 on huge inputs: err = %v, want ErrDiverged", err)
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	m, p0, d := reproCase(t)
	cfg := TrainConfig{Steps: 1, BatchSize: 4, Optimizer: Adam(1e-3)}
	other := Model{Kind: KindSoftmax, Inputs: 48, Classes: 5}
	tests := []struct {
		name    string
		m       Model
		p       Params
		d       Data
		cfg     TrainConfig
		wantErr string
	}{
		{"bad model", Model{Kind: "mlp", Inputs: 48, Classes: 5}, p0, d, cfg, "hidden"},
		{"params of another model", other, p0, d, cfg, "tensors"},
		{"bad data", m, p0, Data{X: d.X, Y: d.Y, N: 3}, cfg, "data"},
		{"bad config", m, p0, d, TrainConfig{Steps: 1, Optimizer: Adam(1e-3)}, "batch_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Train(context.Background(), tt.m, tt.p, tt.d, tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Train = %v, want an error containing %q", err, tt.wantErr)
			}
			if _, _, err := Evaluate(tt.m, tt.p, tt.d); tt.name != "bad config" && err == nil {
				t.Errorf("Evaluate = nil error, want one")
			}
		})
	}
}

func TestEvaluateZeroModel(t *testing.T) {
	// With all-zero parameters every class gets probability 1/C, the loss
	// is ln C, and ties predict class 0.
	m := Model{Kind: KindMLP, Inputs: 3, Hidden: []int{4}, Classes: 5}
	d := Data{X: make([]float32, 3*600), Y: make([]int32, 600), N: 600}
	for i := range d.Y {
		d.Y[i] = int32(i % 3) // a third are class 0
	}
	loss, acc, err := Evaluate(m, Zeros(m), d)
	if err != nil {
		t.Fatal(err)
	}
	if want := math.Log(5); math.Abs(float64(loss)-want) > 1e-6 {
		t.Errorf("loss = %v, want ln 5 = %v", loss, want)
	}
	if want := float32(1.0 / 3); math.Abs(float64(acc-want)) > 1e-6 {
		t.Errorf("accuracy = %v, want %v", acc, want)
	}
}

func TestSamplerEpochs(t *testing.T) {
	const n = 10
	s := newSampler(n, 3)
	idx := make([]int32, 4)
	var stream []int32
	for range 5 { // 20 samples: two full epochs
		s.fill(idx)
		stream = append(stream, idx...)
	}
	for e := range 2 {
		seen := make(map[int32]bool)
		for _, i := range stream[e*n : (e+1)*n] {
			seen[i] = true
		}
		if len(seen) != n {
			t.Errorf("epoch %d = %v, want each of 0..%d once", e, stream[e*n:(e+1)*n], n-1)
		}
	}
	if equalInt32(stream[:n], stream[n:]) {
		t.Errorf("epochs 0 and 1 have the same order %v, want a reshuffle", stream[:n])
	}
	again := newSampler(n, 3)
	for b := range 5 {
		again.fill(idx)
		if !equalInt32(idx, stream[b*4:(b+1)*4]) {
			t.Fatalf("same seed, batch %d = %v, want %v", b, idx, stream[b*4:(b+1)*4])
		}
	}
}

func equalInt32(a, b []int32) bool { return slices.Equal(a, b) }
