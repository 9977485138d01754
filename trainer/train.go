package trainer

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// ErrDiverged is wrapped by Train when a minibatch loss becomes NaN or
// infinite.
var ErrDiverged = errors.New("training diverged")

// evalRows is how many samples Evaluate pushes through the network at once.
const evalRows = 256

// Train runs cfg.Steps steps of minibatch training of model m from
// parameters p on d and returns the new parameters; p is not modified.
//
// Minibatches are cut in order from a stream of samples that is a
// sequence of random permutations of d (a fresh one each epoch), drawn
// from cfg.Seed alone; a batch may span two epochs. The loss is softmax
// cross-entropy. The result is the same bits on every machine and for
// every cfg.Workers.
//
// progress, if not nil, is called after each step with the step number
// (1-based) and that step's minibatch loss. ctx is checked before every
// step; on cancellation Train returns the metrics so far and an error
// wrapping ctx.Err().
func Train(ctx context.Context, m Model, p Params, d Data, cfg TrainConfig, progress func(step int, loss float32)) (Params, Metrics, error) {
	if err := checkInputs(m, p, d); err != nil {
		return nil, Metrics{}, fmt.Errorf("cannot train: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, Metrics{}, fmt.Errorf("cannot train: %w", err)
	}
	r := newRun(m, p, d, cfg)
	var met Metrics
	var lossSum float64
	for step := 1; step <= cfg.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return nil, met, fmt.Errorf("training stopped after %d of %d steps: %w", met.Steps, cfg.Steps, err)
		}
		loss := r.step()
		if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
			return nil, met, fmt.Errorf("step %d: loss is %v: %w; lower the learning rate", step, loss, ErrDiverged)
		}
		lossSum += float64(loss)
		met.Steps, met.Samples, met.FinalLoss = step, step*cfg.BatchSize, loss
		met.Loss = float32(lossSum / float64(step))
		if progress != nil {
			progress(step, loss)
		}
	}
	return r.nt.params(m), met, nil
}

// run is the state of one Train call between steps.
type run struct {
	m   Model
	d   Data
	nt  *network
	opt optimizer
	smp *sampler
	idx []int32
	y   []int32
}

// newRun prepares training; its arguments must have been validated.
func newRun(m Model, p Params, d Data, cfg TrainConfig) *run {
	bs := cfg.BatchSize
	nt := newNetwork(m, bs, max(cfg.Workers, 1))
	nt.load(p)
	return &run{
		m: m, d: d, nt: nt,
		opt: newOptimizer(cfg.Optimizer, len(nt.w)),
		smp: newSampler(d.N, cfg.Seed),
		idx: make([]int32, bs),
		y:   make([]int32, bs),
	}
}

// step trains on the next minibatch and returns its loss before the update.
func (r *run) step() float32 {
	bs := len(r.idx)
	r.smp.fill(r.idx)
	gather(r.nt.input(), r.y, r.d, r.idx, r.m.Inputs)
	logits := r.nt.forward(bs)
	last := &r.nt.layers[len(r.nt.layers)-1]
	loss := float32(softmaxXent(logits, r.y, bs, r.m.Classes, last.dzT) / float64(bs))
	r.nt.backward(bs)
	r.opt.update(r.nt.w, r.nt.g)
	return loss
}

// Evaluate returns the mean softmax cross-entropy and the accuracy of
// model m with parameters p over all of d. Ties in the prediction go to
// the lowest class index.
func Evaluate(m Model, p Params, d Data) (loss, accuracy float32, err error) {
	if err := checkInputs(m, p, d); err != nil {
		return 0, 0, fmt.Errorf("cannot evaluate: %w", err)
	}
	rows := min(evalRows, d.N)
	nt := newNetwork(m, rows, 1)
	nt.load(p)
	x := nt.input()
	var sum float64
	correct := 0
	for start := 0; start < d.N; start += rows {
		n := min(rows, d.N-start)
		d.copyRows(x, start, n, m.Inputs)
		y := d.Y[start : start+n]
		logits := nt.forward(n)
		sum += softmaxXent(logits, y, n, m.Classes, nil)
		for s := 0; s < n; s++ {
			if argmaxColumn(logits, n, m.Classes, s) == int(y[s]) {
				correct++
			}
		}
	}
	return float32(sum / float64(d.N)), float32(float64(correct) / float64(d.N)), nil
}

func checkInputs(m Model, p Params, d Data) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if err := p.Check(m); err != nil {
		return err
	}
	return d.Validate(m)
}

// gather copies the samples idx of d into the batch rows x and labels y.
func gather(x []float32, y []int32, d Data, idx []int32, inputs int) {
	for r, i := range idx {
		d.copyRows(x[r*inputs:(r+1)*inputs], int(i), 1, inputs)
		y[r] = d.Y[i]
	}
}

// sampler yields the sample stream: permutation after permutation of 0..n-1.
type sampler struct {
	rng  *rng
	perm []int32
	pos  int
}

func newSampler(n int, seed uint64) *sampler {
	return &sampler{rng: newRNG(seed, streamShuffle), perm: make([]int32, n), pos: n}
}

// fill writes the next len(idx) sample indices of the stream into idx.
func (s *sampler) fill(idx []int32) {
	for i := range idx {
		if s.pos == len(s.perm) {
			s.rng.shuffle(s.perm)
			s.pos = 0
		}
		idx[i] = s.perm[s.pos]
		s.pos++
	}
}
