package trainer

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// ulp32 is the gap between |x| and the next float32 away from zero.
func ulp32(x float32) float64 {
	a := float32(math.Abs(float64(x)))
	return float64(math.Nextafter32(a, float32(math.Inf(1))) - a)
}

func flatten(p Params) []float32 {
	var out []float32
	for _, t := range p {
		out = append(out, t.Data...)
	}
	return out
}

// localRound trains one worker from global as a tasklet would.
func localRound(t *testing.T, m Model, global Params, seed uint64) Params {
	t.Helper()
	d := blobs(seed, 200, m.Inputs, m.Classes, 0.5)
	cfg := TrainConfig{Steps: 20, BatchSize: 16, Optimizer: Optimizer{Kind: OptSGD, LR: 0.1, Momentum: 0.9}, Seed: seed}
	local, _, err := Train(context.Background(), m, global, d, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return local
}

func TestOuterStepOneWorkerReproducesLocal(t *testing.T) {
	m := Model{Kind: KindMLP, Inputs: 30, Hidden: []int{40}, Classes: 4}
	global, _ := Init(m, 1)
	local := localRound(t, m, global, 7)

	var st OuterState
	got, err := OuterStep(global, []Params{local}, &st, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if digestHex(got) != digestHex(local) {
		t.Errorf("OuterStep(lr 1, momentum 0) of one local model differs from that model")
	}

	// The delta route: exact wherever the float32 delta is; elsewhere off
	// by at most the rounding of the delta.
	delta, err := Delta(global, local)
	if err != nil {
		t.Fatal(err)
	}
	avg, err := AverageDeltas([]Params{delta})
	if err != nil {
		t.Fatal(err)
	}
	viaDelta, err := OuterNesterov(global, avg, &OuterState{}, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	g, l, dv, v := flatten(global), flatten(local), flatten(delta), flatten(viaDelta)
	inexact := 0
	for i := range l {
		exactDelta := float64(dv[i]) == float64(l[i])-float64(g[i])
		switch {
		case exactDelta && v[i] != l[i]:
			t.Fatalf("value %d: delta %v is exact but global+delta = %v, want local %v", i, dv[i], v[i], l[i])
		case !exactDelta && math.Abs(float64(v[i])-float64(l[i])) > ulp32(dv[i]):
			t.Fatalf("value %d: global+delta = %v, local %v: further apart than an ulp of the delta %v", i, v[i], l[i], dv[i])
		case !exactDelta:
			inexact++
		}
	}
	t.Logf("%d of %d float32 deltas were inexact", inexact, len(l))
}

func TestOuterNesterovKnownAnswer(t *testing.T) {
	// global 1, pseudo-gradient 0.1 (avgDelta -0.1), lr 0.5, momentum 0.9:
	// round 1: v = 0.1,  global = 1 - 0.5*(0.1 + 0.09)       = 0.905
	// round 2: v = 0.19, global = 0.905 - 0.5*(0.1 + 0.171)  = 0.7695
	global := Params{{Name: "w", Shape: []int{1}, Data: []float32{1}}}
	avg := Params{{Name: "w", Shape: []int{1}, Data: []float32{-0.1}}}
	var st OuterState
	for round, want := range []struct{ w, v float64 }{{0.905, 0.1}, {0.7695, 0.19}} {
		next, err := OuterNesterov(global, avg, &st, 0.5, 0.9)
		if err != nil {
			t.Fatal(err)
		}
		if w := float64(next[0].Data[0]); math.Abs(w-want.w) > 1e-6 {
			t.Errorf("round %d: global = %v, want %v", round+1, w, want.w)
		}
		if v := float64(st.Momentum[0].Data[0]); math.Abs(v-want.v) > 1e-6 {
			t.Errorf("round %d: momentum = %v, want %v", round+1, v, want.v)
		}
		if global[0].Data[0] == next[0].Data[0] {
			t.Fatalf("round %d: global unchanged", round+1)
		}
		global = next
	}
}

func TestOuterStepMatchesDeltaRoute(t *testing.T) {
	// Two workers, momentum on: both routes see the same pseudo-gradient up
	// to the float32 rounding of the deltas, so they agree to a few ulps.
	m := Model{Kind: KindMLP, Inputs: 10, Hidden: []int{8}, Classes: 3}
	global, _ := Init(m, 2)
	locals := []Params{localRound(t, m, global, 1), localRound(t, m, global, 2)}
	var stA, stB OuterState
	var deltas []Params
	for _, l := range locals {
		d, _ := Delta(global, l)
		deltas = append(deltas, d)
	}
	avg, _ := AverageDeltas(deltas)
	a, err := OuterStep(global, locals, &stA, 0.7, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	b, err := OuterNesterov(global, avg, &stB, 0.7, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	fa, fb := flatten(a), flatten(b)
	for i := range fa {
		if math.Abs(float64(fa[i]-fb[i])) > 1e-6*math.Max(1, math.Abs(float64(fa[i]))) {
			t.Fatalf("value %d: OuterStep %v, OuterNesterov %v", i, fa[i], fb[i])
		}
	}
	if err := stA.Momentum.Check(m); err != nil {
		t.Errorf("momentum buffer is not a valid Params for the model: %v", err)
	}
}

func TestAverageDeltasOfIdenticalDeltas(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		vals := rapid.SliceOfN(rapid.Float32(), 1, 16).Draw(rt, "values")
		n := rapid.IntRange(1, 50).Draw(rt, "copies")
		d := Params{{Name: "x", Shape: []int{len(vals)}, Data: vals}}
		deltas := make([]Params, n)
		for i := range deltas {
			deltas[i] = d.Clone()
		}
		avg, err := AverageDeltas(deltas)
		if err != nil {
			rt.Fatal(err)
		}
		for i, v := range avg[0].Data {
			if math.Float32bits(v) != math.Float32bits(vals[i]) && !(v == 0 && vals[i] == 0) {
				rt.Fatalf("average of %d copies: value %d = %v, want %v", n, i, v, vals[i])
			}
		}
	})
}

func TestDeltaRoundTripWhenExact(t *testing.T) {
	// Sterbenz: for b/2 <= a <= 2b the float32 difference a-b is exact, so
	// one delta applied with lr 1 and no momentum gives back the local value.
	rapid.Check(t, func(rt *rapid.T) {
		g := rapid.Float32Range(1e-30, 1e30).Draw(rt, "global")
		l := g * rapid.Float32Range(0.5, 2).Draw(rt, "ratio")
		if rapid.Bool().Draw(rt, "negative") {
			g, l = -g, -l
		}
		global := Params{{Name: "w", Shape: []int{1}, Data: []float32{g}}}
		local := Params{{Name: "w", Shape: []int{1}, Data: []float32{l}}}
		d, _ := Delta(global, local)
		avg, _ := AverageDeltas([]Params{d})
		got, err := OuterNesterov(global, avg, &OuterState{}, 1, 0)
		if err != nil {
			rt.Fatal(err)
		}
		if got[0].Data[0] != l {
			rt.Fatalf("global %v + delta %v = %v, want local %v", g, d[0].Data[0], got[0].Data[0], l)
		}
	})
}

func TestOuterRejectsBadInput(t *testing.T) {
	w := func(vals ...float32) Params { return Params{{Name: "w", Shape: []int{len(vals)}, Data: vals}} }
	other := Params{{Name: "v", Shape: []int{2}, Data: []float32{1, 2}}}
	nan := float32(math.NaN())
	tests := []struct {
		name    string
		call    func() error
		wantErr string
	}{
		{"delta layout", func() error { _, err := Delta(w(1, 2), other); return err }, `named "v"`},
		{"delta length", func() error { _, err := Delta(w(1, 2), w(1)); return err }, "shape"},
		{"delta nan", func() error { _, err := Delta(w(1, 2), w(1, nan)); return err }, "w[1]"},
		{"delta empty", func() error { _, err := Delta(nil, nil); return err }, "no tensors"},
		{"average none", func() error { _, err := AverageDeltas(nil); return err }, "none given"},
		{"average mismatch", func() error { _, err := AverageDeltas([]Params{w(1), w(1, 2)}); return err }, "delta 1"},
		{"nil state", func() error { _, err := OuterNesterov(w(1), w(1), nil, 1, 0); return err }, "state is nil"},
		{"zero lr", func() error { _, err := OuterNesterov(w(1), w(1), &OuterState{}, 0, 0); return err }, "lr"},
		{"momentum 1", func() error { _, err := OuterNesterov(w(1), w(1), &OuterState{}, 1, 1); return err }, "momentum"},
		{"bad momentum buffer", func() error {
			_, err := OuterNesterov(w(1), w(1), &OuterState{Momentum: other}, 1, 0)
			return err
		}, "momentum buffer"},
		{"no locals", func() error { _, err := OuterStep(w(1), nil, &OuterState{}, 1, 0); return err }, "no local"},
		{"nan local", func() error { _, err := OuterStep(w(1), []Params{w(1), w(nan)}, &OuterState{}, 1, 0); return err }, "local model 1"},
		{"bad shape", func() error {
			_, err := Delta(Params{{Name: "w", Shape: []int{3}, Data: []float32{1}}}, w(1))
			return err
		}, "shape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	_, err := OuterStep(w(1), []Params{w(float32(math.Inf(1)))}, &OuterState{}, 1, 0)
	if !errors.Is(err, ErrNonFinite) {
		t.Errorf("OuterStep(+Inf local) = %v, want ErrNonFinite", err)
	}
}
