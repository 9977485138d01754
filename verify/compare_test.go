package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/trainer"
)

// The recorded deltas (testdata/deltas.json) are real tasklet results of
// the built-in trainer, with honest replicas that differ the way GPU
// replicas do (a few ulps, or relative noise of 1e-6 as from another
// reduction order) and tampered ones. go test ./verify -run
// TestRecordedDeltas -update regenerates them (and compare.golden).
const deltasFile = "testdata/deltas.json"

type recorded struct {
	Note     string           `json:"note"`
	Honest   []honestPair     `json:"honest"`
	Tampered []tamperedResult `json:"tampered"`
}

type honestPair struct {
	Kind string      `json:"kind"` // how the second replica differs
	Pair [2]recDelta `json:"pair"`
}

type tamperedResult struct {
	Kind   string   `json:"kind"`
	Honest recDelta `json:"honest"`
	Cheat  recDelta `json:"cheat"`
}

type recDelta struct {
	Loss    float32          `json:"loss"`
	Tensors []trainer.Tensor `json:"tensors"`
}

func (r recDelta) delta() Delta { return Delta{Params: trainer.Params(r.Tensors), Loss: r.Loss} }

func toRec(d Delta) recDelta { return recDelta{Loss: d.Loss, Tensors: d.Params} }

// generateDeltas trains a small MLP for two rounds of six tasklets.
func generateDeltas(t *testing.T) recorded {
	t.Helper()
	m := trainer.Model{Kind: trainer.KindMLP, Inputs: 8, Hidden: []int{6}, Classes: 3}
	src := rand.New(rand.NewPCG(1, 2))
	const n = 240
	data := trainer.Data{N: n, X: make([]float32, n*m.Inputs), Y: make([]int32, n)}
	for i := range n {
		var s [3]float64
		for j := range m.Inputs {
			x := src.NormFloat64()
			data.X[i*m.Inputs+j] = float32(x)
			s[j%3] += x
		}
		y := 0
		for c := 1; c < 3; c++ {
			if s[c] > s[y] {
				y = c
			}
		}
		data.Y[i] = int32(y)
	}
	global, err := trainer.Init(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	round := func(global trainer.Params) []Delta {
		var out []Delta
		for seed := range uint64(6) {
			cfg := trainer.TrainConfig{Steps: 10, BatchSize: 16, Optimizer: trainer.Adam(0.01), Seed: seed + 1}
			local, met, err := trainer.Train(context.Background(), m, global, data, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			d, err := trainer.Delta(global, local)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, Delta{Params: d, Loss: met.Loss})
		}
		return out
	}
	r0 := round(global)
	var locals []trainer.Params
	for _, d := range r0 {
		l := global.Clone()
		for ti := range l {
			for i := range l[ti].Data {
				l[ti].Data[i] += d.Params[ti].Data[i]
			}
		}
		locals = append(locals, l)
	}
	var state trainer.OuterState
	global1, err := trainer.OuterStep(global, locals, &state, 0.7, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	r1 := round(global1)

	noise := rand.New(rand.NewPCG(3, 4))
	rec := recorded{Note: "built-in trainer deltas: MLP 8-6-3, 10 Adam steps, 6 tasklets a round, two rounds; see compare_test.go"}
	for i, d := range r1 {
		kind := "ulps"
		b := mapDelta(d, func(x float32) float32 { return ulps(x, noise.IntN(9)-4) })
		if i%2 == 1 {
			kind = "relative 1e-6"
			b = mapDelta(d, func(x float32) float32 { return x * float32(1+1e-6*(2*noise.Float64()-1)) })
		}
		b.Loss = ulps(d.Loss, noise.IntN(5)-2)
		rec.Honest = append(rec.Honest, honestPair{Kind: kind, Pair: [2]recDelta{toRec(d), toRec(b)}})
	}
	// A reduction in another order, as a GPU's atomic adds do: the sum of
	// the round's deltas taken forwards and backwards, divided by 6.
	sum := func(order []int) Delta {
		out := mapDelta(r1[0], func(float32) float32 { return 0 })
		for _, i := range order {
			for ti := range out.Params {
				for j, x := range r1[i].Params[ti].Data {
					out.Params[ti].Data[j] += x
				}
			}
			out.Loss += r1[i].Loss
		}
		return mapDelta(Delta{Params: out.Params, Loss: out.Loss / 6}, func(x float32) float32 { return x / 6 })
	}
	fwd, bwd := sum([]int{0, 1, 2, 3, 4, 5}), sum([]int{5, 4, 3, 2, 1, 0})
	rec.Honest = append(rec.Honest, honestPair{Kind: "reduction order", Pair: [2]recDelta{toRec(fwd), toRec(bwd)}})
	rms := 0.0
	for _, t := range r1[0].Params {
		for _, x := range t.Data {
			rms += float64(x) * float64(x)
		}
	}
	rms = math.Sqrt(rms / float64(r1[0].Params.NumElements()))
	h := r1[0]
	cheats := []struct {
		kind string
		d    Delta
	}{
		{"scaled ×1.01", mapDelta(h, func(x float32) float32 { return x * 1.01 })},
		{"scaled ×0", mapDelta(h, func(float32) float32 { return 0 })},
		{"noised σ = 1e-3 rms", mapDelta(h, func(x float32) float32 { return x + float32(1e-3*rms*noise.NormFloat64()) })},
		{"stale (last round's delta)", r0[0]},
		{"other shard's delta", r1[1]},
		{"loss faked +1e-3", Delta{Params: h.Params, Loss: h.Loss + 1e-3}},
	}
	for _, c := range cheats {
		rec.Tampered = append(rec.Tampered, tamperedResult{Kind: c.kind, Honest: toRec(h), Cheat: toRec(c.d)})
	}
	return rec
}

func mapDelta(d Delta, f func(float32) float32) Delta {
	out := Delta{Params: d.Params.Clone(), Loss: d.Loss}
	for ti := range out.Params {
		for i, x := range out.Params[ti].Data {
			out.Params[ti].Data[i] = f(x)
		}
	}
	return out
}

// ulps moves x by k units in the last place.
func ulps(x float32, k int) float32 {
	for ; k > 0; k-- {
		x = math.Nextafter32(x, float32(math.Inf(1)))
	}
	for ; k < 0; k++ {
		x = math.Nextafter32(x, float32(math.Inf(-1)))
	}
	return x
}

func loadDeltas(t *testing.T) recorded {
	t.Helper()
	if *update {
		rec := generateDeltas(t)
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(deltasFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(deltasFile)
	if err != nil {
		t.Fatalf("%v (run with -update to record it)", err)
	}
	var rec recorded
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("cannot decode %s: %v", deltasFile, err)
	}
	if len(rec.Honest) < 4 || len(rec.Tampered) == 0 {
		t.Fatalf("%s holds %d honest pairs and %d tampered results, want at least 4 and 1", deltasFile, len(rec.Honest), len(rec.Tampered))
	}
	return rec
}

// TestRecordedDeltas calibrates a process-class threshold on half of the
// honest pairs, then checks that the held-out honest pairs agree and that
// every tampered result is caught, and pins the report in compare.golden.
func TestRecordedDeltas(t *testing.T) {
	rec := loadDeltas(t)
	var train [][2]Delta
	for i, p := range rec.Honest {
		if i%2 == 0 || i == 1 { // both kinds of honest noise in the calibration set
			train = append(train, [2]Delta{p.Pair[0].delta(), p.Pair[1].delta()})
		}
	}
	cal, err := Calibrate(ClassProcess, train, SafetyFactor, epoch)
	if err != nil {
		t.Fatal(err)
	}
	cmp := Comparator{Class: ClassProcess, Tolerance: cal.Threshold}
	var report strings.Builder
	fmt.Fprintf(&report, "calibration on %d pairs: max observed relL2 %.3g loss %.3g → threshold relL2 %.3g loss %.3g\n",
		cal.Pairs, cal.MaxObserved.RelL2, cal.MaxObserved.Loss, cal.Threshold.RelL2, cal.Threshold.Loss)
	for i, p := range rec.Honest {
		c := cmp.Compare(Output{Peer: "a", CID: "x", Delta: ptr(p.Pair[0].delta())}, Output{Peer: "b", CID: "y", Delta: ptr(p.Pair[1].delta())})
		fmt.Fprintf(&report, "honest %d (%s): relL2 %.3g loss %.3g agree=%v\n", i, p.Kind, c.RelL2, c.LossDiff, c.Agree)
		if !c.Agree {
			t.Errorf("honest pair %d (%s) disagrees: %s", i, p.Kind, c.Reason)
		}
	}
	for _, tr := range rec.Tampered {
		c := cmp.Compare(Output{Peer: "a", CID: "x", Delta: ptr(tr.Honest.delta())}, Output{Peer: "b", CID: "y", Delta: ptr(tr.Cheat.delta())})
		fmt.Fprintf(&report, "tampered %s: relL2 %.3g loss %.3g agree=%v: %s\n", tr.Kind, c.RelL2, c.LossDiff, c.Agree, c.Reason)
		if c.Agree {
			t.Errorf("tampered result %q agrees with the honest one (relL2 %.3g, loss %.3g, threshold %+v)", tr.Kind, c.RelL2, c.LossDiff, cal.Threshold)
		}
	}
	golden := "testdata/compare.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(report.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if report.String() != string(want) {
		t.Errorf("report differs from %s:\ngot:\n%s\nwant:\n%s", golden, report.String(), want)
	}
}

func ptr[T any](v T) *T { return &v }

func TestCompareExactAndShapes(t *testing.T) {
	d := Delta{Params: trainer.Params{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}, Loss: 1}
	other := Delta{Params: trainer.Params{{Name: "w", Shape: []int{1, 2}, Data: []float32{1, 2}}}, Loss: 1}
	renamed := Delta{Params: trainer.Params{{Name: "v", Shape: []int{2}, Data: []float32{1, 2}}}, Loss: 1}
	nan := Delta{Params: trainer.Params{{Name: "w", Shape: []int{2}, Data: []float32{1, float32(math.NaN())}}}, Loss: 1}
	loose := Tolerance{RelL2: 1, Loss: 1}
	tests := []struct {
		name   string
		cmp    Comparator
		a, b   Output
		agree  bool
		reason string
	}{
		{"builtin equal CIDs", Comparator{Class: ClassBuiltin}, Output{CID: "bafyA"}, Output{CID: "bafyA"}, true, ""},
		{"wasm different CIDs", Comparator{Class: ClassWasm}, Output{CID: "bafyA", Delta: &d}, Output{CID: "bafyB", Delta: &d}, false, "output CID bafyA differs from bafyB"},
		{"empty CIDs never agree", Comparator{Class: ClassBuiltin}, Output{}, Output{}, false, "differs"},
		{"process equal CIDs", Comparator{Class: ClassProcess}, Output{CID: "c"}, Output{CID: "c"}, true, ""},
		{"process undecoded", Comparator{Class: ClassProcess, Tolerance: loose}, Output{CID: "c"}, Output{CID: "d"}, false, "not decoded"},
		{"process shape mismatch", Comparator{Class: ClassProcess, Tolerance: loose}, Output{CID: "c", Delta: &d}, Output{CID: "d", Delta: &other}, false, "shape"},
		{"process name mismatch", Comparator{Class: ClassProcess, Tolerance: loose}, Output{CID: "c", Delta: &d}, Output{CID: "d", Delta: &renamed}, false, "missing"},
		{"process NaN", Comparator{Class: ClassProcess, Tolerance: loose}, Output{CID: "c", Delta: &d}, Output{CID: "d", Delta: &nan}, false, "not finite"},
		{"process same values", Comparator{Class: ClassProcess}, Output{CID: "c", Delta: &d}, Output{CID: "d", Delta: &d}, true, ""},
	}
	for _, tt := range tests {
		c := tt.cmp.Compare(tt.a, tt.b)
		if c.Agree != tt.agree || !strings.Contains(c.Reason, tt.reason) {
			t.Errorf("%s: Compare = agree %v reason %q, want agree %v reason containing %q", tt.name, c.Agree, c.Reason, tt.agree, tt.reason)
		}
	}
}

func TestCalibrateRefuses(t *testing.T) {
	d := Delta{Params: trainer.Params{{Name: "w", Shape: []int{1}, Data: []float32{1}}}}
	if _, err := Calibrate(ClassProcess, nil, 2, epoch); err == nil {
		t.Error("Calibrate with no pairs succeeded")
	}
	if _, err := Calibrate(ClassProcess, [][2]Delta{{d, d}}, 0.5, epoch); err == nil {
		t.Error("Calibrate with factor 0.5 succeeded")
	}
	cal, err := Calibrate(ClassProcess, [][2]Delta{{d, d}}, 2, epoch)
	if err != nil || cal.Threshold.RelL2 != MinRelL2 || cal.Threshold.Loss != MinLossDiff {
		t.Errorf("Calibrate on identical pairs = %+v, %v; want the floors", cal, err)
	}
}
