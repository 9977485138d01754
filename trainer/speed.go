package trainer

import (
	"context"
	"math/rand/v2"
	"time"
)

// speedRows caps the size of Speed's dataset: a run draws its minibatches
// from as many samples as it trains on, up to a typical shard (MNIST's
// are 4,600 samples), so that they are gathered from memory rather than
// from a cache that a small set would fit in.
const speedRows = 4096

// Speed times steps steps of training model m with optimizer o on
// minibatches of batch random samples, one goroutine, from fresh weights,
// and returns the best of runs timed runs in samples per second (0 if none
// ran). The best, because other work on the machine, a GC or a page fault
// can only slow a run down. Callers pass the job's number of steps, so
// that a cost that changes as training goes on is counted as the job
// meets it.
// (Adam's step on the reference model used to be 10% slower after 1,000
// steps than in the first 200: its first moments went subnormal, which
// the optimizers now flush to zero; see flushSubnormal.)
func Speed(ctx context.Context, m Model, o Optimizer, batch, steps, runs int) float64 {
	p, err := Init(m, 1)
	if err != nil {
		return 0
	}
	n := min(max(steps*batch, batch), speedRows)
	r := rand.New(rand.NewPCG(1, 1))
	d := Data{X: make([]float32, n*m.Inputs), Y: make([]int32, n), N: n}
	for i := range d.X {
		d.X[i] = r.Float32()
	}
	for i := range d.Y {
		d.Y[i] = int32(i % max(m.Classes, 1))
	}
	cfg := TrainConfig{Steps: max(steps, 1), BatchSize: batch, Optimizer: o, Seed: 1}
	best := 0.0
	for range runs {
		start := time.Now()
		_, met, err := Train(ctx, m, p, d, cfg, nil)
		if err != nil {
			break
		}
		best = max(best, float64(met.Samples)/time.Since(start).Seconds())
	}
	return best
}
