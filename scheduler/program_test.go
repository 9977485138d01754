package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/gridswarm/gridswarm/examples/jobs"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
	"github.com/gridswarm/gridswarm/verify"
)

// programSpec is tinySpec as a program job.
func programSpec(root, executor, args string, rounds, tasklets int) string {
	s := tinySpec(root, rounds, tasklets)
	s = strings.Replace(s, "executor: builtin", "executor: "+executor, 1)
	return s + "program: {cid: bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy, args: " + args + "}\n"
}

// programWorker acts like an honest program: it reads its inputs by the
// contract's names, trains with the settings of params (as a program reads
// params.json) and stores a folder with delta.safetensors and metrics.json.
// edit, when set, spoils the delta as a broken program would.
func programWorker(t *testing.T, g *fakeGrid, edit func(trainer.Params) trainer.Params) behaviour {
	return func(ctx context.Context, spec tasklet.Spec) (receipt.Receipt, error) {
		in := map[string][]byte{}
		for _, i := range spec.Inputs {
			if i.Name == contract.ProgramFile {
				continue
			}
			id, err := cid.Decode(i.CID)
			if err != nil {
				return receipt.Receipt{}, err
			}
			if in[i.Name], err = g.ReadFile(ctx, id, 1<<30); err != nil {
				return receipt.Receipt{}, err
			}
		}
		var task contract.ProgramTask
		if err := json.Unmarshal(spec.Params, &task); err != nil || task.Train == nil {
			return receipt.Receipt{}, fmt.Errorf("params %s: %v", spec.Params, err)
		}
		m := task.Train.Model.Trainer()
		w, err := contract.DecodeParams(in[contract.ProgramWeights], m)
		if err != nil {
			return receipt.Receipt{}, err
		}
		d, err := contract.DecodeShard(in[contract.ProgramShard], "images", "labels", m)
		if err != nil {
			return receipt.Receipt{}, err
		}
		local, met, err := trainer.Train(ctx, m, w, d, trainer.TrainConfig{Steps: task.Train.Steps, BatchSize: task.Train.BatchSize, Optimizer: task.Train.Optimizer.Trainer(), Seed: spec.Seed}, nil)
		if err != nil {
			return receipt.Receipt{}, err
		}
		delta, err := trainer.Delta(w, local)
		if err != nil {
			return receipt.Receipt{}, err
		}
		if edit != nil {
			delta = edit(delta)
		}
		db, err := contract.EncodeParams(delta)
		if err != nil {
			return receipt.Receipt{}, err
		}
		mb, _ := json.Marshal(contract.ProgramMetricsFile{Loss: float64(met.Loss), Samples: int64(met.Samples), Steps: int64(met.Steps)})
		dir := map[string]DirEntry{contract.ProgramDelta: {CID: g.put(db)}, contract.ProgramMetrics: {CID: g.put(mb)}}
		root := g.put(append([]byte("program output "), db...))
		g.mu.Lock()
		g.dirs[root] = dir
		g.mu.Unlock()
		rc := receipt.Receipt{OutputCID: root.String(), Samples: uint64(met.Samples), ComputeMillis: 5}
		rc.SetLoss(met.Loss)
		return rc, nil
	}
}

func (s *fakeSwarm) addExec(id string, executors []string, b behaviour) {
	s.add(id, 1, b)
	s.mu.Lock()
	s.peers[len(s.peers)-1].Executors = executors
	s.mu.Unlock()
}

// A wasm job runs round by round on the workers that run wasm: they get
// the program and the contract's inputs, their deltas are applied, and the
// job reports validation and test accuracy from the declared model.
func TestProgramJobRuns(t *testing.T) {
	h := newHarness(t, Options{})
	var mu = &h.swarm.mu
	var specs []tasklet.Spec
	honest := programWorker(t, h.grid, nil)
	rec := func(ctx context.Context, spec tasklet.Spec) (receipt.Receipt, error) {
		mu.Lock()
		specs = append(specs, spec)
		mu.Unlock()
		return honest(ctx, spec)
	}
	h.swarm.addExec("w1", []string{"builtin", "wasm"}, rec)
	h.swarm.addExec("w2", []string{"wasm"}, rec)
	h.swarm.addExec("builtin-only", []string{"builtin"}, healthy)
	root := h.grid.addDataset(t)
	spec := strings.Replace(programSpec(root, "wasm", "[--fast]", 4, 2), "inner_steps: 1", "inner_steps: 20", 1)
	j, err := h.c.Submit(context.Background(), []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	got := h.wait(t, j.ID)
	if got.Status != StatusDone {
		t.Fatalf("status %s (%s), want done", got.Status, got.Error)
	}
	if got.TestAccuracy < 0.99 {
		t.Errorf("test accuracy %.3f on the separable tiny set, want 1", got.TestAccuracy)
	}
	if h.swarm.offers["builtin-only"] != 0 {
		t.Errorf("a worker without wasm got %d offers", h.swarm.offers["builtin-only"])
	}
	mu.Lock()
	defer mu.Unlock()
	if len(specs) != 8 {
		t.Fatalf("%d offers, want 4 rounds of 2", len(specs))
	}
	s := specs[0]
	var names []string
	for _, in := range s.Inputs {
		names = append(names, in.Name)
	}
	if want := []string{contract.ProgramFile, contract.ProgramWeights, contract.ProgramShard}; s.Executor != "wasm" || !slices.Equal(names, want) {
		t.Errorf("offer: executor %s inputs %v, want wasm %v", s.Executor, names, want)
	}
	var task contract.ProgramTask
	if err := json.Unmarshal(s.Params, &task); err != nil || !slices.Equal(task.Args, []string{"--fast"}) || task.Train.Steps != 20 || task.Train.Model.Kind != "mlp" {
		t.Errorf("params %s (%v), want the args and the job's inner settings", s.Params, err)
	}
}

// A delta that breaks the contract is left out of the outer step with the
// reason, its worker is charged, and the job carries on with the others.
func TestProgramJobScreensBrokenDeltas(t *testing.T) {
	h := newHarness(t, Options{})
	h.swarm.addExec("good", []string{"wasm"}, programWorker(t, h.grid, nil))
	h.swarm.addExec("bad", []string{"wasm"}, programWorker(t, h.grid, func(p trainer.Params) trainer.Params {
		return p[:len(p)-1] // a tensor short
	}))
	root := h.grid.addDataset(t)
	j, err := h.c.Submit(context.Background(), []byte(programSpec(root, "wasm", "[]", 2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	got := h.wait(t, j.ID)
	if got.Status != StatusDone {
		t.Fatalf("status %s (%s), want done", got.Status, got.Error)
	}
	n := 0
	for _, rd := range got.Rounds {
		for _, tk := range rd.Tasklets {
			if tk.Peer == "bad" {
				n++
				if !strings.Contains(tk.Screened, "lacks tensor") {
					t.Errorf("round %d: the bad worker's output was screened %q, want the missing tensor named", rd.Index, tk.Screened)
				}
			} else if tk.Screened != "" {
				t.Errorf("round %d: an honest output was screened: %s", rd.Index, tk.Screened)
			}
		}
	}
	if n == 0 {
		t.Error("the bad worker ran nothing; the test proves nothing")
	}
}

// Program jobs the coordinator cannot drive are refused at submission,
// saying what to add.
func TestProgramJobRefused(t *testing.T) {
	h := newHarness(t, Options{})
	root := h.grid.addDataset(t)
	noModel := strings.Replace(programSpec(root, "wasm", "[]", 1, 1), "model: {kind: mlp, inputs: 4, hidden: [4], classes: 2}\n", "", 1)
	for name, tc := range map[string]struct{ spec, field, msg string }{
		"wasm without model":      {noModel, "model", "is required to coordinate a wasm job"},
		"process without command": {programSpec(root, "process", "[]", 1, 1), "program.args", "the command that runs the program"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.c.Submit(context.Background(), []byte(tc.spec))
			if err == nil || !strings.Contains(err.Error(), tc.field+": ") || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Submit = %v, want %s: …%s…", err, tc.field, tc.msg)
			}
		})
	}
}

// A process job's command is the interpreter, the program's path in the
// sandbox, then the rest of the args.
func TestTaskletParamsProcess(t *testing.T) {
	spec, err := jobspec.Parse([]byte(programSpec("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", "process", "[python3, --epochs, '1']", 1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := TaskletParams(spec)
	if err != nil {
		t.Fatal(err)
	}
	var task contract.ProgramTask
	if err := json.Unmarshal(b, &task); err != nil {
		t.Fatal(err)
	}
	if want := []string{"python3", ProcessProgramPath, "--epochs", "1"}; !slices.Equal(task.Command, want) || task.Args != nil {
		t.Errorf("command %q args %q, want %q and no args", task.Command, task.Args, want)
	}
}

// The example program jobs parse and can be coordinated.
func TestExampleProgramJobs(t *testing.T) {
	for name, y := range map[string][]byte{"mnist-wasm.yaml": jobs.MNISTWasm, "mnist-pytorch.yaml": jobs.MNISTPyTorch} {
		b := strings.NewReplacer(jobs.Placeholder, "bafybeiax3qvjqatf55xcna4hu5ue4guyoc6szxutkpjyyf7fyqkhlf2hki",
			jobs.ProgramPlaceholder, "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy").Replace(string(y))
		spec, err := jobspec.Parse([]byte(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := checkCoordinated(spec); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Replicas of a process tasklet whose bytes differ within the tolerance
// (PyTorch on two kinds of hardware) agree; a replica far outside it does
// not, and the vote leaves it out.
func TestProcessReplicasCompareWithinTolerance(t *testing.T) {
	scale := func(f float32) func(trainer.Params) trainer.Params {
		return func(p trainer.Params) trainer.Params {
			for _, tn := range p {
				for k := range tn.Data {
					tn.Data[k] *= f
				}
			}
			return p
		}
	}
	for name, tc := range map[string]struct {
		factor float32
		want   string
	}{
		"rounding apart": {1 + 1e-6, string(verify.Verified)},
		"far apart":      {1.5, "not verified"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, Options{ReplicaWait: time.Second})
			h.swarm.addExec("cpu", []string{"process"}, programWorker(t, h.grid, nil))
			h.swarm.addExec("gpu", []string{"process"}, programWorker(t, h.grid, scale(tc.factor)))
			root := h.grid.addDataset(t)
			spec := programSpec(root, "process", "[python3]", 1, 1)
			spec = strings.Replace(spec, "verify: {rate: 0, min_rate_new_peers: 0}", "verify: {rate: 1, min_rate_new_peers: 1}", 1)
			j, err := h.c.Submit(context.Background(), []byte(spec))
			if err != nil {
				t.Fatal(err)
			}
			got := h.wait(t, j.ID)
			tk := got.Rounds[0].Tasklets[0]
			ck := tk.Check
			if ck == nil || len(ck.Results) < 2 || ck.Results[0].Output == ck.Results[1].Output {
				t.Fatalf("check %+v: want two replicas with different bytes", ck)
			}
			switch tc.want {
			case string(verify.Verified):
				if got.Status != StatusDone || ck.Outcome != tc.want {
					t.Errorf("job %s (%s), check %s %v; want the replicas to agree within %+v", got.Status, got.Error, ck.Outcome, ck.Reasons, DefaultProcessTolerance)
				}
			default:
				if ck.Outcome == string(verify.Verified) || !strings.Contains(strings.Join(ck.Reasons, " "), "relative L2") {
					t.Errorf("check %s %v; want a mismatch naming the relative L2 distance", ck.Outcome, ck.Reasons)
				}
			}
		})
	}
}

// A program that diverges fails the job once two workers report it, with
// the advice; one worker that says so alone is retried elsewhere.
func TestProgramFailureFailsTheJob(t *testing.T) {
	diverges := func(ctx context.Context, spec tasklet.Spec) (receipt.Receipt, error) {
		return receipt.Receipt{}, &tasklet.FailedError{Reason: contract.FailDiverged, Detail: "wasm tasklet exited with code 3 (stderr tail: \"loss is NaN\")"}
	}
	t.Run("two workers agree", func(t *testing.T) {
		h := newHarness(t, Options{})
		h.swarm.addExec("a", []string{"wasm"}, diverges)
		h.swarm.addExec("b", []string{"wasm"}, diverges)
		root := h.grid.addDataset(t)
		j, err := h.c.Submit(context.Background(), []byte(programSpec(root, "wasm", "[]", 2, 1)))
		if err != nil {
			t.Fatal(err)
		}
		got := h.wait(t, j.ID)
		if got.Status != StatusFailed || !strings.Contains(got.Error, "training diverged (exit status 3) on 2 workers") || !strings.Contains(got.Error, "lower inner_optimizer.lr") || !strings.Contains(got.Error, "loss is NaN") {
			t.Errorf("job %s: %q; want failed, saying it diverged on two workers and what to do", got.Status, got.Error)
		}
		if n := len(got.Rounds[0].Tasklets[0].Attempts); n != 2 {
			t.Errorf("%d attempts, want 2: a third worker would only repeat it", n)
		}
	})
	t.Run("one worker says so", func(t *testing.T) {
		h := newHarness(t, Options{})
		h.swarm.addExec("liar", []string{"wasm"}, diverges)
		h.swarm.addExec("honest", []string{"wasm"}, programWorker(t, h.grid, nil))
		root := h.grid.addDataset(t)
		j, err := h.c.Submit(context.Background(), []byte(programSpec(root, "wasm", "[]", 2, 2)))
		if err != nil {
			t.Fatal(err)
		}
		if got := h.wait(t, j.ID); got.Status != StatusDone {
			t.Errorf("job %s (%s), want done: one worker's word does not end a job", got.Status, got.Error)
		}
	})
}
