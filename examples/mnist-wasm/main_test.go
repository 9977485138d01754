package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/datagrid/dataset"
	"github.com/gridswarm/gridswarm/datagrid/dataset/mnistdata"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
	"github.com/gridswarm/gridswarm/worker/wasm"
)

// testParams is a small MLP tasklet, the shape of examples/jobs/mnist-wasm.yaml's.
var testParams = contract.Params{
	Model: contract.Model{Kind: "mlp", Inputs: 784, Hidden: []int{128}, Classes: 10},
	Steps: 100, BatchSize: 64,
	Optimizer: contract.Optimizer{Kind: "adam", LR: 0.001},
}

// inputs lays out the contract's inputs for one tasklet on MNIST's first
// training shard and returns the folder.
func inputs(t *testing.T, p contract.Params) string {
	t.Helper()
	ds := t.TempDir()
	if _, err := dataset.BuildMNISTFS(context.Background(), mnistdata.Files(), "mnistdata", ds, dataset.MNISTOptions{}); err != nil {
		t.Fatal(err)
	}
	in := t.TempDir()
	shard, err := os.ReadFile(filepath.Join(ds, "train-000.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	w0, err := trainer.Init(p.Model.Trainer(), 7)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := contract.EncodeParams(w0)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := json.Marshal(p)
	for name, b := range map[string][]byte{contract.ProgramShard: shard, contract.ProgramWeights: wb, contract.ProgramParams: pb} {
		if err := os.WriteFile(filepath.Join(in, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

// checkOutputs checks out against the contract and returns delta's bytes.
func checkOutputs(t *testing.T, in, out string) []byte {
	t.Helper()
	wb, _ := os.ReadFile(filepath.Join(in, contract.ProgramWeights))
	db, err := os.ReadFile(filepath.Join(out, contract.ProgramDelta))
	if err != nil {
		t.Fatal(err)
	}
	if err := contract.CheckDeltaBytes(wb, db); err != nil {
		t.Fatal(err)
	}
	mb, err := os.ReadFile(filepath.Join(out, contract.ProgramMetrics))
	if err != nil {
		t.Fatal(err)
	}
	m, err := contract.ParseMetrics(mb)
	if err != nil {
		t.Fatal(err)
	}
	if m.Steps != int64(testParams.Steps) || m.Samples != int64(testParams.Steps*testParams.BatchSize) || m.Loss <= 0 || m.Loss > 2.5 {
		t.Errorf("metrics = %+v, want %d steps of %d and a loss below ln(10)", m, testParams.Steps, testParams.BatchSize)
	}
	return db
}

// The program natively: it follows the contract and its delta is what the
// builtin trainer computes from the same inputs.
func TestRunNative(t *testing.T) {
	in, out := inputs(t, testParams), t.TempDir()
	if err := run(context.Background(), in, out, "11"); err != nil {
		t.Fatal(err)
	}
	got := checkOutputs(t, in, out)
	m := testParams.Model.Trainer()
	wb, _ := os.ReadFile(filepath.Join(in, contract.ProgramWeights))
	sb, _ := os.ReadFile(filepath.Join(in, contract.ProgramShard))
	w, _ := contract.DecodeParams(wb, m)
	d, _ := contract.DecodeShard(sb, "images", "labels", m)
	local, _, err := trainer.Train(context.Background(), m, w, d, trainer.TrainConfig{Steps: testParams.Steps, BatchSize: testParams.BatchSize, Optimizer: testParams.Optimizer.Trainer(), Seed: 11}, nil)
	if err != nil {
		t.Fatal(err)
	}
	delta, _ := trainer.Delta(w, local)
	want, _ := contract.EncodeParams(delta)
	if !bytes.Equal(got, want) {
		t.Error("the program's delta differs from the builtin trainer's on the same inputs and seed")
	}
}

// Bad inputs exit with the contract's status 2 reasons.
func TestRunBadInput(t *testing.T) {
	in := inputs(t, testParams)
	for name, tc := range map[string]struct {
		seed string
		file string
		body []byte
	}{
		"seed":    {seed: "x"},
		"params":  {seed: "1", file: contract.ProgramParams, body: []byte(`{"model":{"kind":"mlp"}}`)},
		"weights": {seed: "1", file: contract.ProgramWeights, body: []byte("not safetensors")},
	} {
		t.Run(name, func(t *testing.T) {
			dir := in
			if tc.file != "" {
				dir = t.TempDir()
				for _, f := range []string{contract.ProgramParams, contract.ProgramWeights, contract.ProgramShard} {
					b, _ := os.ReadFile(filepath.Join(in, f))
					if f == tc.file {
						b = tc.body
					}
					if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := run(context.Background(), dir, t.TempDir(), tc.seed); err == nil || !errorsIsBad(err) {
				t.Errorf("run = %v, want a bad-input error", err)
			}
		})
	}
}

func errorsIsBad(err error) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte("bad input"))
}

// buildModule runs build.sh and returns the module's bytes.
func buildModule(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "mnist.wasm")
	cmd := exec.Command("sh", "build.sh", out)
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Under the wasm executor, twice with one seed: the outputs are the same
// bytes and follow the contract; the build is reproducible.
func TestWasmReplicasAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module and trains twice in wazero")
	}
	mod := buildModule(t)
	if again := buildModule(t); !bytes.Equal(mod, again) {
		t.Fatal("two builds of the module differ")
	}
	in := inputs(t, testParams)
	ctx := context.Background()
	x, err := wasm.New(ctx, wasm.Options{Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close(ctx)
	var deltas [][]byte
	for i := range 2 {
		out := t.TempDir()
		start := time.Now()
		res, err := x.Run(ctx, wasm.Task{Module: mod, Seed: 11, InputDir: in, OutputDir: out})
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, res.Stderr)
		}
		t.Logf("run %d: %v (%s), %d MiB of linear memory", i, time.Since(start).Round(time.Millisecond), runtime.GOARCH, res.MemoryBytes>>20)
		deltas = append(deltas, checkOutputs(t, in, out))
	}
	if !bytes.Equal(deltas[0], deltas[1]) {
		t.Error("two runs with the same inputs and seed wrote different deltas")
	}
}
