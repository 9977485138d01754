package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/gridswarm/gridswarm/datagrid/safetensors"
	"github.com/gridswarm/gridswarm/internal/memstore"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
	"github.com/gridswarm/gridswarm/worker/builtin"
)

// memStore is the data grid reduced to a map: equal bytes, equal CIDs.
type memStore = memstore.Store

var faultModel = contract.Model{Kind: "mlp", Inputs: 8, Hidden: []int{6}, Classes: 3}

// faultTasklet stores random weights and a small shard and returns a
// builtin tasklet over them.
func faultTasklet(t *testing.T) (*memStore, tasklet.Spec) {
	t.Helper()
	st := memstore.New()
	ctx := context.Background()
	w0, err := trainer.Init(faultModel.Trainer(), 3)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := contract.EncodeParams(w0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	r := rand.New(rand.NewPCG(5, 6))
	x, y := make([]uint8, n*faultModel.Inputs), make([]uint8, n)
	for i := range n {
		y[i] = uint8(i % 3)
		for j := range faultModel.Inputs {
			x[i*faultModel.Inputs+j] = uint8(r.IntN(256))
		}
	}
	sb, err := safetensors.Encode(&safetensors.File{Tensors: []safetensors.Tensor{
		safetensors.FromU8("images", []int64{n, int64(faultModel.Inputs)}, x),
		safetensors.FromU8("labels", []int64{n}, y),
	}})
	if err != nil {
		t.Fatal(err)
	}
	wc, _ := st.AddBytes(ctx, "w", wb)
	sc, _ := st.AddBytes(ctx, "s", sb)
	params, _ := json.Marshal(contract.Params{Model: faultModel, Steps: 5, BatchSize: 8, Optimizer: contract.Optimizer{Kind: "sgd", LR: 0.1}})
	return st, tasklet.Spec{Version: 1, Executor: tasklet.ExecutorBuiltin, JobID: "j", Round: 1,
		Inputs: []tasklet.Input{{Name: contract.InputWeights, CID: wc.String()}, {Name: contract.InputShard, CID: sc.String()}},
		Params: params, Seed: 9}
}

func seed(v uint64) *uint64 { return &v }

// cheater returns a faulty builtin executor over st.
func cheater(t *testing.T, st *memStore, c FaultConfig, account string) *faultyExecutor {
	t.Helper()
	f, err := newFault(c, account)
	if err != nil {
		t.Fatal(err)
	}
	return &faultyExecutor{honest: builtin.New(st, 1), store: st, workers: 1, f: f}
}

func run(t *testing.T, e tasklet.Executor, spec tasklet.Spec) tasklet.Output {
	t.Helper()
	out, err := e.Run(context.Background(), spec, nil)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return out
}

// weightsOf decodes an output and checks every value is finite.
func weightsOf(t *testing.T, st *memStore, out tasklet.Output) trainer.Params {
	t.Helper()
	c, err := cid.Decode(out.CID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.ReadFile(context.Background(), c, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	p, err := contract.DecodeParams(b, faultModel.Trainer())
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range p {
		for _, v := range tn.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("output %s has a non-finite value in %s", out.CID, tn.Name)
			}
		}
	}
	return p
}

// maxAbsDiff is the largest |a-b| over two parameter sets of one layout.
func maxAbsDiff(a, b trainer.Params) float64 {
	d := 0.0
	for i := range a {
		for j := range a[i].Data {
			d = math.Max(d, math.Abs(float64(a[i].Data[j]-b[i].Data[j])))
		}
	}
	return d
}

func TestFaultKinds(t *testing.T) {
	st, spec := faultTasklet(t)
	honest := run(t, builtin.New(st, 1), spec)
	honestW := weightsOf(t, st, honest)
	inputCID := spec.Inputs[0].CID
	tests := []struct {
		name  string
		cfg   FaultConfig
		check func(t *testing.T, out tasklet.Output, w trainer.Params)
	}{
		{"lazy returns the input weights", FaultConfig{Kind: FaultLazy, Rate: 1}, func(t *testing.T, out tasklet.Output, _ trainer.Params) {
			if out.CID != inputCID {
				t.Errorf("output %s, want the input weights %s", out.CID, inputCID)
			}
		}},
		{"noise stays close to the trained weights", FaultConfig{Kind: FaultNoise, Rate: 1, Seed: seed(1)}, func(t *testing.T, out tasklet.Output, w trainer.Params) {
			if out.Loss != honest.Loss {
				t.Errorf("loss %v, want the honest training's %v", out.Loss, honest.Loss)
			}
			if d := maxAbsDiff(w, honestW); d == 0 || d > 10*faultNoiseStd {
				t.Errorf("largest change from the trained weights = %g, want small but not 0", d)
			}
		}},
		{"garbage is far from anything", FaultConfig{Kind: FaultGarbage, Rate: 1}, func(t *testing.T, out tasklet.Output, w trainer.Params) {
			if d := maxAbsDiff(w, honestW); d < 1 {
				t.Errorf("largest change from the trained weights = %g, want garbage", d)
			}
		}},
		{"collude is near the input", FaultConfig{Kind: FaultCollude, Rate: 1, Group: "g"}, func(t *testing.T, out tasklet.Output, _ trainer.Params) {
			if out.CID == inputCID {
				t.Error("collude returned the input weights unchanged")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cheater(t, st, tt.cfg, "0xA")
			out := run(t, e, spec)
			if out.CID == honest.CID {
				t.Fatalf("a cheater at rate 1 returned the honest output %s", out.CID)
			}
			if out.Samples != honest.Samples {
				t.Errorf("samples = %d, want %d like an honest run", out.Samples, honest.Samples)
			}
			if !(out.Loss > 0) || math.IsInf(float64(out.Loss), 0) {
				t.Errorf("loss = %v, want a plausible positive loss", out.Loss)
			}
			if e.cheated.Load() != 1 {
				t.Errorf("cheated = %d, want 1", e.cheated.Load())
			}
			tt.check(t, out, weightsOf(t, st, out))
			if again := run(t, cheater(t, st, tt.cfg, "0xA"), spec); again.CID != out.CID {
				t.Errorf("the same cheater gave %s then %s for one tasklet", out.CID, again.CID)
			}
		})
	}
}

func TestFaultRateZeroIsHonest(t *testing.T) {
	st, spec := faultTasklet(t)
	honest := run(t, builtin.New(st, 1), spec)
	for _, kind := range []string{FaultLazy, FaultNoise, FaultGarbage} {
		e := cheater(t, st, FaultConfig{Kind: kind, Rate: 0}, "0xA")
		if out := run(t, e, spec); out.CID != honest.CID || e.cheated.Load() != 0 {
			t.Errorf("%s at rate 0: output %s (cheated %d), want the honest %s", kind, out.CID, e.cheated.Load(), honest.CID)
		}
	}
}

func TestFaultColludersAgree(t *testing.T) {
	st, spec := faultTasklet(t)
	honest := run(t, builtin.New(st, 1), spec)
	a := run(t, cheater(t, st, FaultConfig{Kind: FaultCollude, Rate: 1, Group: "friends"}, "0xA"), spec)
	b := run(t, cheater(t, st, FaultConfig{Kind: FaultCollude, Rate: 1, Group: "friends"}, "0xB"), spec)
	other := run(t, cheater(t, st, FaultConfig{Kind: FaultCollude, Rate: 1, Group: "strangers"}, "0xA"), spec)
	if a.CID != b.CID || a.Loss != b.Loss {
		t.Errorf("two colluders returned %s (loss %v) and %s (loss %v), want the same", a.CID, a.Loss, b.CID, b.Loss)
	}
	if a.CID == honest.CID || a.CID == other.CID {
		t.Errorf("colluders' output %s, honest %s, another group's %s: want all different", a.CID, honest.CID, other.CID)
	}
	spec.Index++
	if c := run(t, cheater(t, st, FaultConfig{Kind: FaultCollude, Rate: 1, Group: "friends"}, "0xA"), spec); c.CID == a.CID {
		t.Error("colluders returned the same output for two tasklets")
	}
}

// Two noisy cheaters without a seed are keyed by their accounts: they must
// not agree by accident, or a replica between them would pass.
func TestFaultNoiseCheatersDisagree(t *testing.T) {
	st, spec := faultTasklet(t)
	a := run(t, cheater(t, st, FaultConfig{Kind: FaultNoise, Rate: 1}, "0xA"), spec)
	b := run(t, cheater(t, st, FaultConfig{Kind: FaultNoise, Rate: 1}, "0xB"), spec)
	s1 := run(t, cheater(t, st, FaultConfig{Kind: FaultNoise, Rate: 1, Seed: seed(1)}, "0xA"), spec)
	s2 := run(t, cheater(t, st, FaultConfig{Kind: FaultNoise, Rate: 1, Seed: seed(1)}, "0xB"), spec)
	if a.CID == b.CID {
		t.Errorf("two unseeded noisy cheaters agreed on %s", a.CID)
	}
	if s1.CID != s2.CID {
		t.Errorf("one seed gave %s and %s, want the same", s1.CID, s2.CID)
	}
}

func TestFaultDrawIsPerSpecAndNearTheRate(t *testing.T) {
	specs := make([]cid.Cid, 2000)
	for i := range specs {
		h, _ := mh.Sum([]byte(fmt.Sprint("spec", i)), mh.SHA2_256, -1)
		specs[i] = cid.NewCidV1(cid.DagJSON, h)
	}
	tests := []struct {
		cfg  FaultConfig
		want float64
	}{
		{FaultConfig{Kind: FaultLazy, Rate: 0}, 0},
		{FaultConfig{Kind: FaultLazy, Rate: 1}, 1},
		{FaultConfig{Kind: FaultNoise, Rate: 0.3, Seed: seed(4)}, 0.3},
		{FaultConfig{Kind: FaultGarbage, Rate: 0.05}, 0.05},
		{FaultConfig{Kind: FaultCollude, Rate: 0.5, Group: "g"}, 0.5},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%g", tt.cfg.Kind, tt.cfg.Rate), func(t *testing.T) {
			f, _ := newFault(tt.cfg, "0xA")
			g, _ := newFault(tt.cfg, "0xA")
			n := 0
			for _, c := range specs {
				if f.cheats(c) != g.cheats(c) || f.cheats(c) != f.cheats(c) {
					t.Fatalf("draw for %s is not a function of the spec CID", c)
				}
				if f.cheats(c) {
					n++
				}
			}
			// Deterministic for these specs; the bound is 5 standard deviations.
			got, sd := float64(n)/float64(len(specs)), math.Sqrt(tt.want*(1-tt.want)/float64(len(specs)))
			if math.Abs(got-tt.want) > 5*sd+1e-9 {
				t.Errorf("cheated on %.3f of tasklets, want %.3f ± %.3f", got, tt.want, 5*sd)
			}
		})
	}
	// Colluders draw from their group, so they cheat on the same tasklets.
	a, _ := newFault(FaultConfig{Kind: FaultCollude, Rate: 0.5, Group: "g"}, "0xA")
	b, _ := newFault(FaultConfig{Kind: FaultCollude, Rate: 0.5, Group: "g"}, "0xB")
	for _, c := range specs {
		if a.cheats(c) != b.cheats(c) {
			t.Fatalf("two colluders drew differently for %s", c)
		}
	}
}

func TestFaultConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  FaultConfig
		want string // "" = valid
	}{
		{"honest", FaultConfig{}, ""},
		{"lazy", FaultConfig{Kind: FaultLazy, Rate: 0.3}, ""},
		{"noise seeded", FaultConfig{Kind: FaultNoise, Rate: 1, Seed: seed(0)}, ""},
		{"collude", FaultConfig{Kind: FaultCollude, Rate: 1, Group: "g"}, ""},
		{"unknown kind", FaultConfig{Kind: "sloppy", Rate: 1}, "worker.fault.kind"},
		{"rate above 1", FaultConfig{Kind: FaultLazy, Rate: 1.5}, "worker.fault.rate"},
		{"negative rate", FaultConfig{Kind: FaultLazy, Rate: -0.1}, "worker.fault.rate"},
		{"NaN rate", FaultConfig{Kind: FaultLazy, Rate: math.NaN()}, "worker.fault.rate"},
		{"collude without group", FaultConfig{Kind: FaultCollude, Rate: 1}, "worker.fault.group"},
		{"group without collude", FaultConfig{Kind: FaultNoise, Rate: 1, Group: "g"}, "worker.fault.group"},
		{"collude with seed", FaultConfig{Kind: FaultCollude, Rate: 1, Group: "g", Seed: seed(1)}, "worker.fault.seed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}
