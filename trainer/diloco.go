package trainer

import (
	"errors"
	"fmt"
)

// The outer step of DiLoCo (Douillard et al. 2023), run by the coordinator
// once per round on the local models its workers returned:
//
//	global' = OuterStep(global, locals, &state, lr, momentum)
//
// or, from deltas (when workers ship deltas rather than models):
//
//	deltas[i] = Delta(global, locals[i])
//	avg       = AverageDeltas(deltas)
//	global'   = OuterNesterov(global, avg, &state, lr, momentum)
//
// Everything is elementwise in Params order with sums in the order given,
// so the result is the same bits everywhere. Arithmetic is float64 with
// one rounding to float32 at the end. OuterStep never rounds the
// pseudo-gradient to float32, so with lr = 1, momentum = 0 and one worker
// it returns that worker's model exactly (barring a weight that shrank by
// more than 2^29 in one round, where float64 runs out of bits). The Delta
// route rounds each change to float32 first: exact when a weight stays
// within a factor of two of where it started (Sterbenz), otherwise off by
// up to about an ulp of its change.

// OuterState is the outer optimizer's memory between rounds: the Nesterov
// momentum buffer, laid out like the model's parameters so it can be
// stored and shipped as Params. The zero value is a buffer of zeros.
type OuterState struct {
	Momentum Params
}

// Delta returns after - before, tensor by tensor: a worker's change to
// the model. The two must have the same names, shapes and lengths.
func Delta(before, after Params) (Params, error) {
	if err := checkInput(before, before); err != nil {
		return nil, fmt.Errorf("cannot compute delta: before: %w", err)
	}
	if err := checkInput(before, after); err != nil {
		return nil, fmt.Errorf("cannot compute delta: after: %w", err)
	}
	d := before.Clone()
	for i, t := range d {
		a := after[i].Data
		for j, b := range t.Data {
			t.Data[j] = a[j] - b
		}
	}
	return d, nil
}

// AverageDeltas returns the elementwise mean of deltas. Each value is
// summed in float64 in the order given and rounded once, so the result
// depends on that order only, and n identical deltas average to exactly
// that delta.
func AverageDeltas(deltas []Params) (Params, error) {
	if len(deltas) == 0 {
		return nil, errors.New("cannot average deltas: none given")
	}
	for i, d := range deltas {
		if err := checkInput(deltas[0], d); err != nil {
			return nil, fmt.Errorf("cannot average deltas: delta %d: %w", i, err)
		}
	}
	avg := deltas[0].Clone()
	for ti, t := range avg {
		for j, s := range mean64(deltas, ti) {
			t.Data[j] = float32(s)
		}
	}
	return avg, nil
}

// OuterNesterov applies one outer step of Nesterov momentum to the
// averaged pseudo-gradient g = -avgDelta (= global - mean(locals)):
//
//	v = momentum*v + g
//	global' = global - lr*(g + momentum*v)
//
// It returns global' (global is not modified) and updates state in place.
func OuterNesterov(global, avgDelta Params, state *OuterState, lr, momentum float32) (Params, error) {
	if err := checkOuter(global, state, lr, momentum); err != nil {
		return nil, fmt.Errorf("cannot apply outer step: %w", err)
	}
	if err := checkInput(global, avgDelta); err != nil {
		return nil, fmt.Errorf("cannot apply outer step: delta: %w", err)
	}
	return nesterov(global, state, lr, momentum, func(ti int, g []float64) {
		for j, d := range avgDelta[ti].Data {
			g[j] = -float64(d)
		}
	}), nil
}

// OuterStep is the whole outer step from the workers' local models: the
// pseudo-gradient global - mean(locals) is formed in float64 (locals
// summed in the order given) and handed to the same Nesterov update as
// OuterNesterov. It returns global' and updates state in place.
func OuterStep(global Params, locals []Params, state *OuterState, lr, momentum float32) (Params, error) {
	if err := checkOuter(global, state, lr, momentum); err != nil {
		return nil, fmt.Errorf("cannot apply outer step: %w", err)
	}
	if len(locals) == 0 {
		return nil, errors.New("cannot apply outer step: no local models given")
	}
	for i, l := range locals {
		if err := checkInput(global, l); err != nil {
			return nil, fmt.Errorf("cannot apply outer step: local model %d: %w", i, err)
		}
	}
	return nesterov(global, state, lr, momentum, func(ti int, g []float64) {
		for j, m := range mean64(locals, ti) {
			g[j] = float64(global[ti].Data[j]) - m
		}
	}), nil
}

// nesterov returns global' for the pseudo-gradient that fill writes, one
// tensor at a time, into a float64 buffer. The momentum buffer is kept in
// float32 (it is shipped as Params); this round's update uses its float64
// value before that rounding.
func nesterov(global Params, state *OuterState, lr, momentum float32, fill func(ti int, g []float64)) Params {
	if state.Momentum == nil {
		state.Momentum = global.Clone()
		for _, t := range state.Momentum {
			clear(t.Data)
		}
	}
	mu, eta := float64(momentum), float64(lr)
	out := global.Clone()
	var buf []float64
	for ti, t := range out {
		if cap(buf) < len(t.Data) {
			buf = make([]float64, len(t.Data))
		}
		g := buf[:len(t.Data)]
		fill(ti, g)
		v := state.Momentum[ti].Data[:len(t.Data)]
		for j, w := range t.Data {
			vj := float64(mu*float64(v[j])) + g[j]
			v[j] = float32(vj)
			t.Data[j] = float32(float64(w) - float64(eta*(g[j]+float64(mu*vj))))
		}
	}
	return out
}

// mean64 is the elementwise mean of tensor ti over ps, summed in order.
func mean64(ps []Params, ti int) []float64 {
	acc := make([]float64, len(ps[0][ti].Data))
	for _, p := range ps {
		for j, v := range p[ti].Data {
			acc[j] += float64(v)
		}
	}
	n := float64(len(ps))
	for j := range acc {
		acc[j] /= n
	}
	return acc
}

func checkOuter(global Params, state *OuterState, lr, momentum float32) error {
	if state == nil {
		return errors.New("outer state is nil: pass &OuterState{} for the first round")
	}
	if !(lr > 0 && lr <= 1e6) {
		return fmt.Errorf("outer lr = %v, want 0 < lr <= 1e6", lr)
	}
	if !(momentum >= 0 && momentum < 1) {
		return fmt.Errorf("outer momentum = %v, want 0 <= momentum < 1", momentum)
	}
	if err := checkInput(global, global); err != nil {
		return fmt.Errorf("global model: %w", err)
	}
	if state.Momentum != nil {
		if err := checkInput(global, state.Momentum); err != nil {
			return fmt.Errorf("momentum buffer: %w", err)
		}
	}
	return nil
}

// checkInput checks that ref is well formed and that p has its layout and
// only finite values: a NaN from one worker would poison the global model.
func checkInput(ref, p Params) error {
	if len(ref) == 0 {
		return errors.New("no tensors")
	}
	for _, t := range ref {
		if err := layoutOf(t); err != nil {
			return err
		}
	}
	if err := sameLayout(ref, p); err != nil {
		return err
	}
	for _, t := range p {
		for i, v := range t.Data {
			if v-v != 0 { // NaN or ±Inf
				return fmt.Errorf("%s[%d] = %v: %w", t.Name, i, v, ErrNonFinite)
			}
		}
	}
	return nil
}
