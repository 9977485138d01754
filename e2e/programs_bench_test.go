package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/datagrid/dataset"
	"github.com/gridswarm/gridswarm/datagrid/dataset/mnistdata"
	"github.com/gridswarm/gridswarm/datagrid/safetensors"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
)

// aloneResult is the PyTorch script run alone, as one process.
type aloneResult struct {
	accuracy      float64
	wall, cpu     time.Duration
	trainSeconds  float64 // the script's own timing of the training loop
	steps, sample int
}

// pytorchAlone runs examples/pytorch/train_tasklet.py alone on the whole
// training split for the samples the swarm job j trained on, from the
// job's first weights (trainer.Init of its model and seed), and evaluates
// the result on the test split with the built-in evaluator, as the
// coordinator does.
func pytorchAlone(t *testing.T, specYAML []byte, j scheduler.Job) aloneResult {
	t.Helper()
	spec, err := jobspec.Parse(specYAML)
	if err != nil {
		t.Fatal(err)
	}
	cm := contract.Model{Kind: spec.Model.Kind, Inputs: spec.Model.Inputs, Hidden: spec.Model.Hidden, Classes: spec.Model.Classes}
	m := cm.Trainer()
	w0, err := trainer.Init(m, spec.Seed)
	if err != nil {
		t.Fatal(err)
	}
	samples := 0
	for _, rd := range j.Rounds {
		for _, tk := range rd.Tasklets {
			if tk.Receipt != nil {
				samples += int(tk.Receipt.Samples)
			}
		}
	}
	steps := samples / spec.BatchSize
	data := t.TempDir()
	man, err := dataset.BuildMNISTFS(context.Background(), mnistdata.Files(), "mnistdata", data, dataset.MNISTOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var images, labels []byte
	var test []trainer.Data
	for _, s := range man.Shards {
		b, err := os.ReadFile(filepath.Join(data, s.File))
		if err != nil {
			t.Fatal(err)
		}
		switch s.Split {
		case "train":
			f, err := safetensors.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			im, _ := f.Tensor("images")
			lb, _ := f.Tensor("labels")
			images, labels = append(images, im.Data...), append(labels, lb.Data...)
		case "test":
			d, err := contract.DecodeShard(b, "images", "labels", m)
			if err != nil {
				t.Fatal(err)
			}
			test = append(test, d)
		}
	}
	n := int64(len(labels))
	shard, err := safetensors.Encode(&safetensors.File{Tensors: []safetensors.Tensor{
		{Name: "images", DType: safetensors.DTypeU8, Shape: []int64{n, int64(spec.Model.Inputs)}, Data: images},
		{Name: "labels", DType: safetensors.DTypeU8, Shape: []int64{n}, Data: labels}}})
	if err != nil {
		t.Fatal(err)
	}
	wb, err := contract.EncodeParams(w0)
	if err != nil {
		t.Fatal(err)
	}
	o := spec.InnerOptimizer
	params, _ := json.Marshal(contract.Params{Model: cm, Steps: steps, BatchSize: spec.BatchSize,
		Optimizer: contract.Optimizer{Kind: o.Kind, LR: float32(o.LR), Momentum: float32(o.Momentum), Beta1: float32(o.Beta1), Beta2: float32(o.Beta2), WeightDecay: float32(o.WeightDecay)}})
	in, out := t.TempDir(), t.TempDir()
	for name, b := range map[string][]byte{contract.ProgramShard: shard, contract.ProgramWeights: wb, contract.ProgramParams: params} {
		if err := os.WriteFile(filepath.Join(in, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("/usr/bin/python3", filepath.Join("..", "examples", "pytorch", "train_tasklet.py"), "--device", "cpu")
	cmd.Env = append(os.Environ(), "GRIDSWARM_IN="+in, "GRIDSWARM_OUT="+out, "GRIDSWARM_SEED="+strconv.FormatUint(spec.Seed, 10))
	start := time.Now()
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("train_tasklet.py alone: %v\n%s", err, stdout)
	}
	res := aloneResult{wall: time.Since(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), steps: steps, sample: samples}
	db, err := os.ReadFile(filepath.Join(out, contract.ProgramDelta))
	if err != nil {
		t.Fatal(err)
	}
	delta, err := contract.DecodeParams(db, m)
	if err != nil {
		t.Fatal(err)
	}
	for i := range w0 {
		for k, d := range delta[i].Data {
			w0[i].Data[k] += d
		}
	}
	var timing struct {
		Seconds float64 `json:"seconds"` // printed on stdout, not in the outputs
	}
	if err := json.Unmarshal(stdout, &timing); err != nil {
		t.Errorf("train_tasklet.py printed %q: %v", stdout, err)
	}
	res.trainSeconds = timing.Seconds
	var hit, all float64
	for _, d := range test {
		_, a, err := trainer.Evaluate(m, w0, d)
		if err != nil {
			t.Fatal(err)
		}
		hit += float64(a) * float64(d.N)
		all += float64(d.N)
	}
	res.accuracy = hit / all
	return res
}

// benchLine is the comparison docs/benchmarks.md records.
func benchLine(j scheduler.Job, swarmWall time.Duration, a aloneResult) string {
	compute := 0.0
	for _, rd := range j.Rounds {
		compute += rd.ComputeSeconds
	}
	return fmt.Sprintf("swarm: test accuracy %.4f, wall %.1f s, tasklet compute %.1f s | alone: %d steps (%d samples), test accuracy %.4f, wall %.1f s (training loop %.1f s), CPU %.1f s | accuracy gap %.2f points, swarm wall / alone wall %.2f",
		j.TestAccuracy, swarmWall.Seconds(), compute, a.steps, a.sample, a.accuracy, a.wall.Seconds(), a.trainSeconds, a.cpu.Seconds(),
		100*(a.accuracy-j.TestAccuracy), swarmWall.Seconds()/a.wall.Seconds())
}
