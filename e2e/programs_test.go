package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/examples/jobs"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/verify"
)

// buildWasmProgram builds examples/mnist-wasm with its script and returns
// the module's path.
func buildWasmProgram(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "mnist.wasm")
	cmd := exec.Command("sh", filepath.Join("..", "examples", "mnist-wasm", "build.sh"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, b)
	}
	return out
}

// programJobFile writes an example program job with its CIDs filled in,
// after edit.
func programJobFile(t *testing.T, spec []byte, datasetCID, programCID string, edit func(string) string) string {
	t.Helper()
	s := strings.ReplaceAll(string(spec), jobs.Placeholder, datasetCID)
	s = strings.ReplaceAll(s, jobs.ProgramPlaceholder, programCID)
	if edit != nil {
		s = edit(s)
	}
	p := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func setField(field, value string) func(string) string {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(field) + `: .*$`)
	return func(s string) string { return re.ReplaceAllString(s, field+": "+value) }
}

func ended(j scheduler.Job) bool {
	return j.Status == scheduler.StatusDone || j.Status == scheduler.StatusFailed || j.Status == scheduler.StatusCancelled
}

// Five daemons, the program added to the data grid by CID:
//   - two honest replicas of each tasklet of a WASM job, forced by
//     verify.rate 1, run on different workers and give the same output CID;
//   - `gridswarm submit examples/jobs/mnist-wasm.yaml` trains on the four
//     workers and reaches 97% test accuracy.
func TestWasmJobOnFiveDaemons(t *testing.T) {
	skipShort(t)
	ds := swarmOf(t, 5)
	coord := ds[0]
	dataset := importMNIST(t, coord)
	program := addCID(t, coord, buildWasmProgram(t))

	t.Run("replicas agree", func(t *testing.T) {
		file := programJobFile(t, jobs.MNISTWasm, dataset, program, func(s string) string {
			for _, e := range [][2]string{{"name", "wasm-replicas"}, {"rounds", "1"}, {"tasklets_per_round", "2"}, {"inner_steps", "20"}} {
				s = setField(e[0], e[1])(s)
			}
			return s + "\nverify:\n  rate: 1\n  min_rate_new_peers: 1\n"
		})
		j := waitJob(t, coord, submit(t, coord, file), 5*time.Minute, ended)
		if j.Status != scheduler.StatusDone {
			t.Fatalf("replica job ended %s: %s", j.Status, j.Error)
		}
		for _, tk := range j.Rounds[0].Tasklets {
			ck := tk.Check
			if ck == nil || ck.Outcome != string(verify.Verified) || len(ck.Results) < 2 {
				t.Errorf("tasklet %d: spot check %s, want verified on two replicas", tk.Index, checkSummary(ck))
				continue
			}
			peers := map[string]bool{}
			for _, r := range ck.Results {
				peers[r.Peer] = true
				if r.Output != tk.Output {
					t.Errorf("tasklet %d: replica on %s gave %s, the accepted output is %s", tk.Index, r.Peer, r.Output, tk.Output)
				}
			}
			if len(peers) < 2 || peers[coord.ep.PeerID] {
				t.Errorf("tasklet %d: replicas ran on %v, want two workers", tk.Index, peers)
			}
		}
	})

	t.Run("mnist-wasm.yaml reaches 97%", func(t *testing.T) {
		// Spot checks are the subtest above's; here they would only double
		// the work of a job sized to pass the bar with the least.
		file := programJobFile(t, jobs.MNISTWasm, dataset, program, func(s string) string {
			return s + "\nverify:\n  rate: 0\n  min_rate_new_peers: 0\n"
		})
		start := time.Now()
		id := submit(t, coord, file)
		j := waitJob(t, coord, id, 15*time.Minute, ended)
		t.Logf("mnist-wasm: %s after %v, %d rounds, test accuracy %.4f", j.Status, time.Since(start).Round(time.Second), len(j.Rounds), j.TestAccuracy)
		if j.Status != scheduler.StatusDone || j.TestAccuracy < accuracyTarget {
			t.Fatalf("job ended %s (%s) with test accuracy %.4f, want done and at least %.2f", j.Status, j.Error, j.TestAccuracy, accuracyTarget)
		}
		workers := map[string]bool{}
		for _, rd := range j.Rounds {
			for _, tk := range rd.Tasklets {
				workers[tk.Peer] = true
				if tk.Receipt == nil || tk.Receipt.Samples == 0 || tk.Screened != "" {
					t.Errorf("round %d tasklet %d: receipt %v, screened %q; want a receipt with the program's samples", rd.Index, tk.Index, tk.Receipt, tk.Screened)
				}
			}
		}
		if len(workers) < 2 || workers[coord.ep.PeerID] {
			t.Errorf("tasklets ran on %v; want several workers and not the coordinator", workers)
		}
	})
}

// processWorker starts a daemon whose process executor runs Debian's
// python3 (with torch) in the sandbox, bootstrapped from boot.
func processWorker(t *testing.T, boot string) *daemon {
	t.Helper()
	dir := initRepo(t)
	setConfig(t, dir, `executors = ["builtin", "wasm"]`, `executors = ["builtin", "wasm", "process"]`)
	setConfig(t, dir, "enabled = false\n    # commands tasklets may run", "enabled = true\n    # commands tasklets may run")
	setConfig(t, dir, "allow = []", `allow = ["/usr/bin/python3"]`)
	setConfig(t, dir, `timeout = "1h0m0s"`, `timeout = "5m"`)
	return startDaemon(t, dir, "--bootstrap", boot)
}

// Five daemons, four of them workers that opted in to process tasklets:
//   - a PyTorch tasklet replicated on two CPU workers passes the process
//     class's comparator (verify.ClassProcess, by bytes or tolerance);
//   - `gridswarm submit examples/jobs/mnist-pytorch.yaml` reaches 97%.
func TestPyTorchJobOnFiveDaemons(t *testing.T) {
	skipShort(t)
	if err := exec.Command("/usr/bin/python3", "-c", "import torch").Run(); err != nil {
		t.Skipf("/usr/bin/python3 has no torch (.ci/setup.d/40-python-torch.sh installs it): %v", err)
	}
	coord := startDaemon(t, initRepo(t))
	boot := coord.tcpAddr(t)
	for range 4 {
		processWorker(t, boot)
	}
	waitCapabilities(t, coord, 5)
	dataset := importMNIST(t, coord)
	program := addCID(t, coord, filepath.Join("..", "examples", "pytorch", "train_tasklet.py"))
	pytorch := func(t *testing.T, edit func(string) string) (scheduler.Job, []byte, time.Duration) {
		file := programJobFile(t, jobs.MNISTPyTorch, dataset, program, func(s string) string {
			s = strings.Replace(s, "args: [python3]", "args: [/usr/bin/python3]", 1)
			return edit(s)
		})
		start := time.Now()
		j := waitJob(t, coord, submit(t, coord, file), 15*time.Minute, ended)
		wall := time.Since(start)
		t.Logf("%s: %s after %v, %d rounds, test accuracy %.4f", j.Name, j.Status, wall.Round(time.Second), len(j.Rounds), j.TestAccuracy)
		if j.Status != scheduler.StatusDone {
			t.Fatalf("job ended %s: %s", j.Status, j.Error)
		}
		spec, _ := os.ReadFile(file)
		return j, spec, wall
	}

	t.Run("replicas pass the comparator", func(t *testing.T) {
		j, _, _ := pytorch(t, func(s string) string {
			for _, e := range [][2]string{{"name", "pytorch-replicas"}, {"rounds", "1"}, {"tasklets_per_round", "2"}, {"inner_steps", "20"}} {
				s = setField(e[0], e[1])(s)
			}
			return s + "\nverify:\n  rate: 1\n  min_rate_new_peers: 1\n"
		})
		for _, tk := range j.Rounds[0].Tasklets {
			ck := tk.Check
			if ck == nil || ck.Outcome != string(verify.Verified) || len(ck.Results) < 2 {
				t.Errorf("tasklet %d: spot check %s, want verified on two replicas", tk.Index, checkSummary(ck))
				continue
			}
			// The coordinator's vote used the process class's comparator:
			// equal bytes agree at once, others within its tolerance.
			a, b := ck.Results[0], ck.Results[1]
			if a.Peer == b.Peer || a.Peer == coord.ep.PeerID || b.Peer == coord.ep.PeerID {
				t.Errorf("tasklet %d: replicas ran on %s and %s, want two workers", tk.Index, a.Peer, b.Peer)
			}
			t.Logf("tasklet %d: replicas on two CPU workers, same bytes: %v (%v)", tk.Index, a.Output == b.Output, ck.Reasons)
		}
	})

	t.Run("mnist-pytorch.yaml reaches 97%", func(t *testing.T) {
		j, spec, wall := pytorch(t, func(s string) string { return s + "\nverify:\n  rate: 0\n  min_rate_new_peers: 0\n" })
		if j.TestAccuracy < accuracyTarget {
			t.Fatalf("test accuracy %.4f, want at least %.2f", j.TestAccuracy, accuracyTarget)
		}
		// The benchmark of docs/benchmarks.md: the same script alone, for
		// the same samples from the same first weights.
		if os.Getenv("GRIDSWARM_BENCH") != "" {
			t.Log(benchLine(j, wall, pytorchAlone(t, spec, j)))
		}
		for _, rd := range j.Rounds {
			for _, tk := range rd.Tasklets {
				if tk.Receipt == nil || tk.Receipt.Samples == 0 || tk.Screened != "" || tk.Peer == coord.ep.PeerID {
					t.Errorf("round %d tasklet %d on %s: receipt %v, screened %q", rd.Index, tk.Index, tk.Peer, tk.Receipt, tk.Screened)
				}
			}
		}
	})
}

// checkSummary is a spot check in one readable line.
func checkSummary(ck *scheduler.SpotCheck) string {
	if ck == nil {
		return "none"
	}
	outs := make([]string, len(ck.Results))
	for i, r := range ck.Results {
		outs[i] = r.Peer + "→" + r.Output
	}
	return fmt.Sprintf("outcome %q, results %v, reasons %q", ck.Outcome, outs, ck.Reasons)
}
