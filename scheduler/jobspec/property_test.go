package jobspec

import (
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
	"pgregory.net/rapid"
)

// genSpec draws a valid spec from the whole allowed space.
func genSpec(t *rapid.T) *Spec {
	s := &Spec{
		Version:  Version,
		Name:     rapid.StringMatching(`[a-z0-9-]{1,64}`).Draw(t, "name"),
		Executor: rapid.SampledFrom([]string{ExecutorBuiltin, ExecutorWasm, ExecutorProcess}).Draw(t, "executor"),
		Dataset: Dataset{
			CID:      cidDataset,
			Train:    SplitTrain,
			Validate: rapid.SampledFrom([]string{SplitValidation, SplitTest}).Draw(t, "validate"),
			Test:     rapid.SampledFrom([]string{"", SplitValidation, SplitTest}).Draw(t, "test"),
		},
		Rounds:           rapid.IntRange(1, MaxRounds).Draw(t, "rounds"),
		TaskletsPerRound: TaskletCount(rapid.IntRange(0, MaxTasklets).Draw(t, "tasklets")),
		InnerSteps:       rapid.IntRange(1, MaxInnerSteps).Draw(t, "inner_steps"),
		BatchSize:        rapid.IntRange(1, MaxBatchSize).Draw(t, "batch_size"),
		Seed:             rapid.Uint64().Draw(t, "seed"),
		Resources: Resources{
			GPUMemory: Size(rapid.Uint64Range(0, uint64(maxGPUMemory)).Draw(t, "gpu")),
			Disk:      Size(rapid.Uint64Range(0, uint64(maxDisk)).Draw(t, "disk")),
		},
		MaxPricePerHour: rapid.Float64Range(0, 1e9).Draw(t, "price"),
		Verify:          Verify{Rate: rapid.Float64Range(0, 1).Draw(t, "rate"), MinRateNewPeers: rapid.Float64Range(0, 1).Draw(t, "new")},
	}
	if rapid.Bool().Draw(t, "has deadline") {
		s.Deadline = Duration(rapid.Int64Range(int64(minDeadline), int64(maxDeadline)).Draw(t, "deadline"))
	}
	if s.Executor == ExecutorBuiltin {
		s.Model = &Model{Kind: ModelSoftmax, Inputs: rapid.IntRange(1, 1000).Draw(t, "inputs"), Classes: rapid.IntRange(2, 1000).Draw(t, "classes")}
		if rapid.Bool().Draw(t, "mlp") {
			s.Model.Kind = ModelMLP
			s.Model.Hidden = rapid.SliceOfN(rapid.IntRange(1, MaxHiddenWidth), 1, MaxHiddenLayers).Draw(t, "hidden")
		}
	} else {
		s.Program = &Program{CID: cidProgram, Args: rapid.SliceOfN(rapid.StringMatching(`[\p{L}\p{N}\p{P}\p{S} ]{1,20}`), 0, 5).Draw(t, "args")}
		if len(s.Program.Args) == 0 {
			s.Program.Args = nil
		}
	}
	fraction := rapid.Float64Range(0, 0.999)
	lr := rapid.Float64Range(1e-9, maxLR)
	s.InnerOptimizer = InnerOptimizer{Kind: OptimizerAdam, LR: lr.Draw(t, "lr"), Beta1: fraction.Draw(t, "b1"), Beta2: fraction.Draw(t, "b2")}
	if rapid.Bool().Draw(t, "sgd") {
		s.InnerOptimizer = InnerOptimizer{Kind: OptimizerSGD, LR: lr.Draw(t, "lr"), Momentum: fraction.Draw(t, "m")}
	}
	s.InnerOptimizer.WeightDecay = rapid.Float64Range(0, maxDecay).Draw(t, "wd")
	s.OuterOptimizer = OuterOptimizer{Kind: OuterAverage, LR: 1}
	if rapid.Bool().Draw(t, "nesterov") {
		s.OuterOptimizer = OuterOptimizer{Kind: OuterNesterov, LR: lr.Draw(t, "olr"), Momentum: fraction.Draw(t, "om")}
	}
	return s
}

// TestPropertyRoundTrip: every valid spec validates, and comes back equal
// through its canonical JSON and through yaml.Marshal.
func TestPropertyRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genSpec(t)
		if err := s.Validate(); err != nil {
			t.Fatalf("Validate(generated spec) = %v", err)
		}
		c, err := s.Canonical()
		if err != nil {
			t.Fatalf("Canonical: %v", err)
		}
		viaJSON, err := Parse(c)
		if err != nil {
			t.Fatalf("Parse(Canonical) = %v\n%s", err, c)
		}
		if !reflect.DeepEqual(viaJSON, s) {
			t.Fatalf("Parse(Canonical)\n got %+v\nwant %+v", viaJSON, s)
		}
		y, err := yaml.Marshal(s)
		if err != nil {
			t.Fatalf("yaml.Marshal: %v", err)
		}
		viaYAML, err := Parse(y)
		if err != nil {
			t.Fatalf("Parse(yaml.Marshal) = %v\n%s", err, y)
		}
		if !reflect.DeepEqual(viaYAML, s) {
			t.Fatalf("Parse(yaml.Marshal)\n got %+v\nwant %+v", viaYAML, s)
		}
	})
}

// TestPropertyTaskletsFor: auto never exceeds the peers (when there are
// any), the shards or the cap, and is at least 1.
func TestPropertyTaskletsFor(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		peers := rapid.IntRange(-5, 5000).Draw(t, "peers")
		shards := rapid.IntRange(-5, 5000).Draw(t, "shards")
		n := (&Spec{}).TaskletsFor(peers, shards)
		if n < 1 || n > MaxTasklets || peers >= 1 && n > peers || shards >= 1 && n > shards {
			t.Fatalf("TaskletsFor(%d, %d) = %d", peers, shards, n)
		}
	})
}
