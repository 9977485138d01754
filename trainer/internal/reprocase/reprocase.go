// Package reprocase is the fixed training scenario whose digest must be
// the same for every build of the trainer: two workers train an MLP from
// the same start on different shards, with SGD and with AdamW, and the
// results are merged by one DiLoCo outer step; then a small CNN trains on
// the same data read as 3×4×4 images, through every convolution kernel
// (eight rows, four rows, Go edges). The reprocheck program
// prints its digest; the trainer's tests compare builds with it.
package reprocase

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/gridswarm/gridswarm/trainer"
)

// Model is the scenario's network: large enough that its products take
// the parallel path when Workers > 1.
var Model = trainer.Model{Kind: trainer.KindMLP, Inputs: 48, Hidden: []int{64, 32}, Classes: 5}

// CNN is the scenario's convolutional network, on Model's inputs.
var CNN = trainer.Model{Kind: trainer.KindCNN, Inputs: 48, Hidden: []int{16}, Classes: 5, Image: trainer.Image{Channels: 3, Height: 4, Width: 4},
	Conv: []trainer.Conv{{Filters: 12, Size: 3, Padding: 1, Pool: 2}, {Filters: 8, Size: 2, Padding: 1, Pool: 1}}}

// Digest runs the scenario and returns the hex SHA-256 of the merged
// parameters, the workers' metrics and an evaluation of the result.
func Digest(ctx context.Context) (string, error) {
	global, err := trainer.Init(Model, 7)
	if err != nil {
		return "", err
	}
	opts := []trainer.Optimizer{
		{Kind: trainer.OptSGD, LR: 0.05, Momentum: 0.9, WeightDecay: 1e-4},
		{Kind: trainer.OptAdam, LR: 3e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01},
	}
	h := sha256.New()
	var deltas []trainer.Params
	for i, opt := range opts {
		shard := Data(uint64(100+i), 90)
		cfg := trainer.TrainConfig{Steps: 7, BatchSize: 32, Optimizer: opt, Seed: uint64(i + 1), Workers: 3}
		local, met, err := trainer.Train(ctx, Model, global, shard, cfg, nil)
		if err != nil {
			return "", fmt.Errorf("worker %d: %w", i, err)
		}
		putFloats(h, met.Loss, met.FinalLoss)
		d, err := trainer.Delta(global, local)
		if err != nil {
			return "", err
		}
		deltas = append(deltas, d)
	}
	avg, err := trainer.AverageDeltas(deltas)
	if err != nil {
		return "", err
	}
	var st trainer.OuterState
	next, err := trainer.OuterNesterov(global, avg, &st, 0.7, 0.9)
	if err != nil {
		return "", err
	}
	loss, acc, err := trainer.Evaluate(Model, next, Data(999, 300))
	if err != nil {
		return "", err
	}
	putFloats(h, loss, acc)
	d := next.Digest()
	h.Write(d[:])
	m := st.Momentum.Digest()
	h.Write(m[:])
	if err := cnnDigest(ctx, h); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// cnnDigest trains CNN for a few AdamW steps and hashes the result.
func cnnDigest(ctx context.Context, h interface{ Write([]byte) (int, error) }) error {
	p, err := trainer.Init(CNN, 11)
	if err != nil {
		return err
	}
	cfg := trainer.TrainConfig{Steps: 6, BatchSize: 24, Optimizer: trainer.Optimizer{Kind: trainer.OptAdam, LR: 3e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}, Seed: 3, Workers: 3}
	p, met, err := trainer.Train(ctx, CNN, p, Data(200, 90), cfg, nil)
	if err != nil {
		return fmt.Errorf("cnn: %w", err)
	}
	loss, acc, err := trainer.Evaluate(CNN, p, Data(998, 100))
	if err != nil {
		return fmt.Errorf("cnn: %w", err)
	}
	putFloats(h, met.Loss, met.FinalLoss, loss, acc)
	d := p.Digest()
	h.Write(d[:])
	return nil
}

func putFloats(h interface{ Write([]byte) (int, error) }, fs ...float32) {
	for _, f := range fs {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(f))
		h.Write(b[:])
	}
}

// Data returns n samples for Model from a fixed generator: each class is
// a direction in input space, and a sample is its direction plus noise.
func Data(seed uint64, n int) trainer.Data {
	s := seed
	next := func() float32 { // splitmix64 → [-1, 1), exactly representable
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		return float32(float32(int32(z>>40)-1<<23) / (1 << 23))
	}
	in := Model.Inputs
	d := trainer.Data{X: make([]float32, n*in), Y: make([]int32, n), N: n}
	for i := range n {
		c := i % Model.Classes
		d.Y[i] = int32(c)
		for j := range in {
			v := next()
			if j%Model.Classes == c {
				v += 2
			}
			d.X[i*in+j] = v
		}
	}
	return d
}
