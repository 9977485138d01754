package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/examples/jobs"
	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/scheduler"
)

// swarmOf starts n daemons bootstrapped from the first and waits until the
// first sees the others' capability records.
func swarmOf(t *testing.T, n int) []*daemon {
	t.Helper()
	ds := startMany(t, n, func(int) int { return 0 })
	c := ds[0].client(t)
	eventually(t, 60*time.Second, func() (bool, string) {
		var cs []node.Capability
		err := c.Call(context.Background(), &cs, "peer_capabilities")
		return err == nil && len(cs) == n, fmt.Sprintf("coordinator knows %d of %d workers (%v)", len(cs), n, err)
	})
	return ds
}

// jobFile writes the example MNIST job with the dataset CID filled in.
func jobFile(t *testing.T, datasetCID string, edit func(string) string) string {
	t.Helper()
	spec := strings.ReplaceAll(string(jobs.MNISTMLP), jobs.Placeholder, datasetCID)
	if edit != nil {
		spec = edit(spec)
	}
	p := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// importMNIST runs `data import mnist` on d and returns the dataset's CID.
func importMNIST(t *testing.T, d *daemon) string {
	t.Helper()
	return importMNISTFiles(t, d).CID
}

func importMNISTFiles(t *testing.T, d *daemon) node.AddResult {
	t.Helper()
	r := gs(t, d.dir, "data", "import", "mnist", "--json")
	if r.code != 0 {
		t.Fatalf("import mnist: %s", r.err)
	}
	var res node.AddResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func showJob(t *testing.T, d *daemon, id string) scheduler.Job {
	t.Helper()
	r := gs(t, d.dir, "job", "show", id, "--json")
	if r.code != 0 {
		t.Fatalf("job show: %s", r.err)
	}
	var j scheduler.Job
	if err := json.Unmarshal([]byte(r.out), &j); err != nil {
		t.Fatalf("job show --json printed %q: %v", r.out, err)
	}
	return j
}

func submit(t *testing.T, d *daemon, file string) string {
	t.Helper()
	r := gs(t, d.dir, "submit", file, "--json")
	if r.code != 0 {
		t.Fatalf("submit: exit %d: %s", r.code, r.err)
	}
	var s node.Summary
	if err := json.Unmarshal([]byte(r.out), &s); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func waitJob(t *testing.T, d *daemon, id string, timeout time.Duration, cond func(scheduler.Job) bool) scheduler.Job {
	t.Helper()
	var j scheduler.Job
	eventually(t, timeout, func() (bool, string) {
		j = showJob(t, d, id)
		return cond(j), fmt.Sprintf("job %s: status %s round %d waiting %q error %q", id, j.Status, j.Round, j.Waiting, j.Error)
	})
	return j
}

const accuracyTarget = 0.97

// Five daemons: an MLP job on real MNIST submitted through the CLI reaches
// the accuracy target; its model can be saved and its curves plotted.
func TestJobTrainsMNISTOnFiveDaemons(t *testing.T) {
	skipShort(t)
	ds := swarmOf(t, 5)
	coord := ds[0]
	cid := importMNIST(t, coord)
	r := gs(t, coord.dir, "submit", jobFile(t, cid, nil), "--watch")
	if r.code != 0 {
		t.Fatalf("submit --watch: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	if !strings.Contains(r.out, "test accuracy") {
		t.Errorf("watch output lacks the final accuracy:\n%s", r.out)
	}
	ids := gs(t, coord.dir, "jobs", "--json")
	var list []node.Summary
	if err := json.Unmarshal([]byte(ids.out), &list); err != nil || len(list) != 1 {
		t.Fatalf("jobs --json = %q (%v)", ids.out, err)
	}
	j := showJob(t, coord, list[0].ID)
	if j.Status != scheduler.StatusDone || j.TestAccuracy < accuracyTarget {
		t.Fatalf("job ended %s with test accuracy %.4f, want done and at least %.2f", j.Status, j.TestAccuracy, accuracyTarget)
	}
	workers := map[string]bool{}
	for _, rd := range j.Rounds {
		for _, tk := range rd.Tasklets {
			if tk.Receipt == nil || tk.Output != tk.Receipt.OutputCID {
				t.Errorf("round %d tasklet %d has no receipt for its output", rd.Index, tk.Index)
			}
			workers[tk.Peer] = true
		}
	}
	if len(workers) < 2 || workers[coord.ep.PeerID] {
		t.Errorf("tasklets ran on %v; want several workers and not the coordinator", workers)
	}
	checkPrefetches(t, ds, j)
	model := filepath.Join(t.TempDir(), "model.safetensors")
	if r := gs(t, coord.dir, "job", "model", j.ID, "-o", model); r.code != 0 {
		t.Errorf("job model: %s", r.err)
	}
	png := filepath.Join(t.TempDir(), "loss.png")
	if r := gs(t, coord.dir, "job", "plot", j.ID, "-o", png); r.code != 0 {
		t.Errorf("job plot: %s", r.err)
	} else if b, _ := os.ReadFile(png); len(b) < 8 || string(b[1:4]) != "PNG" {
		t.Errorf("job plot wrote no PNG")
	}
}

// checkPrefetches checks what the job's offers asked their workers to
// prefetch (Attempt.Prefetch): some first attempt asked (the coordinator
// alone imported the dataset, so round 1's shards are held by no worker
// while round 0 runs), no offer asked for a shard its worker had trained
// on or been asked for earlier in the job, and every worker now holds
// whole what it was asked for.
func checkPrefetches(t *testing.T, ds []*daemon, j scheduler.Job) {
	t.Helper()
	byID := map[string]*daemon{}
	for _, d := range ds {
		byID[d.ep.PeerID] = d
	}
	held := map[string]map[string]bool{} // peer → shards it trained on or was asked to prefetch
	type ask struct{ peer, shard string }
	var asks []ask
	for _, rd := range j.Rounds {
		var got []ask
		for _, tk := range rd.Tasklets {
			for _, a := range tk.Attempts {
				if a.Prefetch == "" {
					continue
				}
				if held[a.Peer][a.Prefetch] || a.Prefetch == tk.Shard {
					t.Errorf("round %d tasklet %d: %s was asked to prefetch %s, which it held already or trains on", rd.Index, tk.Index, a.Peer, a.Prefetch)
				}
				got = append(got, ask{a.Peer, a.Prefetch})
			}
		}
		for _, tk := range rd.Tasklets {
			for _, a := range tk.Attempts {
				if a.Outcome == scheduler.OutcomeDone {
					got = append(got, ask{a.Peer, tk.Shard})
				}
			}
		}
		for _, a := range got {
			if held[a.peer] == nil {
				held[a.peer] = map[string]bool{}
			}
			held[a.peer][a.shard] = true
		}
		for _, tk := range rd.Tasklets {
			for _, a := range tk.Attempts {
				if a.Prefetch != "" && a.Outcome == scheduler.OutcomeDone {
					asks = append(asks, ask{a.Peer, a.Prefetch})
				}
			}
		}
	}
	if len(asks) == 0 {
		t.Fatalf("job %s asked no worker to prefetch a shard, though only its coordinator held the dataset", j.ID)
	}
	for _, a := range asks {
		d := byID[a.peer]
		if d == nil {
			t.Fatalf("a prefetch went to %s, which is not one of the daemons", a.peer)
		}
		// A prefetch may still be arriving when the job ends.
		eventually(t, time.Minute, func() (bool, string) {
			r := gs(t, d.dir, "data", "holds", a.shard, "--json")
			var hs []api.Holding
			if err := json.Unmarshal([]byte(r.out), &hs); err != nil || len(hs) != 1 {
				return false, fmt.Sprintf("data holds %s: %q %q", a.shard, r.out, r.err)
			}
			return hs[0].Complete, fmt.Sprintf("%s was asked to prefetch %s and holds %+v of it", a.peer, a.shard, hs[0])
		})
	}
	if !t.Failed() {
		t.Logf("job %s: %d prefetches asked, each of a shard its worker did not hold, all now held whole", j.ID, len(asks))
		return
	}
	// The whole history, to see which offer asked what.
	for _, rd := range j.Rounds {
		for _, tk := range rd.Tasklets {
			for k, a := range tk.Attempts {
				t.Logf("round %d tasklet %d attempt %d: shard %s, peer %s, prefetch %q, %s", rd.Index, tk.Index, k, tk.Shard, a.Peer, a.Prefetch, a.Outcome)
			}
		}
	}
}

// A worker killed mid-round: the tasklet is re-placed and the job still
// reaches the target.
func TestJobSurvivesWorkerKill(t *testing.T) {
	skipShort(t)
	ds := swarmOf(t, 5)
	coord := ds[0]
	id := submit(t, coord, jobFile(t, importMNIST(t, coord), nil))
	j := waitJob(t, coord, id, 2*time.Minute, func(j scheduler.Job) bool {
		if j.Round < 2 || j.Round >= len(j.Rounds) {
			return false
		}
		for _, tk := range j.Rounds[j.Round].Tasklets {
			if tk.State == scheduler.TaskRunning {
				return true
			}
		}
		return false
	})
	var victim string
	for _, tk := range j.Rounds[j.Round].Tasklets {
		if tk.State == scheduler.TaskRunning {
			victim = tk.Attempts[len(tk.Attempts)-1].Peer
		}
	}
	for _, d := range ds[1:] {
		if d.ep.PeerID == victim {
			d.kill9()
		}
	}
	j = waitJob(t, coord, id, 3*time.Minute, func(j scheduler.Job) bool { return j.Status != scheduler.StatusRunning })
	if j.Status != scheduler.StatusDone || j.TestAccuracy < accuracyTarget {
		t.Fatalf("job ended %s (%s) with accuracy %.4f after a worker died", j.Status, j.Error, j.TestAccuracy)
	}
}

// The coordinator killed mid-job and restarted: the job resumes, finishes,
// and no tasklet accepted before the kill runs again.
func TestJobResumesAfterCoordinatorRestart(t *testing.T) {
	skipShort(t)
	ds := swarmOf(t, 5)
	coord := ds[0]
	id := submit(t, coord, jobFile(t, importMNIST(t, coord), nil))
	before := waitJob(t, coord, id, 2*time.Minute, func(j scheduler.Job) bool { return j.Round >= 3 })
	coord.kill9()
	// What the state files held at the kill is what the new daemon starts
	// from (a base and a journal: read them as the daemon does).
	store, err := scheduler.NewStore(filepath.Join(coord.dir, "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	atKillJob, err := store.Load(id)
	if err != nil {
		t.Fatal(err)
	}
	atKill := *atKillJob
	if atKill.Round < before.Round {
		t.Fatalf("state on disk is at round %d, behind what the daemon reported (%d)", atKill.Round, before.Round)
	}
	coord = startDaemon(t, coord.dir)
	after := waitJob(t, coord, id, 3*time.Minute, func(j scheduler.Job) bool { return j.Status != scheduler.StatusRunning })
	if after.Status != scheduler.StatusDone || after.TestAccuracy < accuracyTarget {
		t.Fatalf("resumed job ended %s (%s) with accuracy %.4f", after.Status, after.Error, after.TestAccuracy)
	}
	for ri, rd := range atKill.Rounds {
		for ti, tk := range rd.Tasklets {
			if tk.State != scheduler.TaskDone {
				continue
			}
			now := after.Rounds[ri].Tasklets[ti]
			if len(now.Attempts) != len(tk.Attempts) || now.Output != tk.Output {
				t.Errorf("round %d tasklet %d was accepted before the kill but ran again: %d attempts then, %d now", ri, ti, len(tk.Attempts), len(now.Attempts))
			}
		}
	}
}

// Bad specs are refused with errors that name the field.
func TestSubmitRefusesBadSpecs(t *testing.T) {
	skipShort(t)
	d := startDaemon(t, initRepo(t))
	cid := importMNIST(t, d)
	// A CID nobody holds: a dag-pb node over bytes that were never added.
	absent := "bafybeigtuyujjsovfk5a7uygzreokmoj6rjbqbq7tae3cpi2ys5lurtjqa"
	tests := []struct {
		name  string
		edit  func(string) string
		field string
	}{
		{"unknown executor", func(s string) string { return strings.Replace(s, "executor: builtin", "executor: tpu", 1) }, "executor"},
		{"missing dataset cid", func(s string) string { return strings.Replace(s, "  cid: "+cid+"\n", "", 1) }, "dataset.cid"},
		{"negative rounds", func(s string) string { return strings.Replace(s, "rounds: 10", "rounds: -3", 1) }, "rounds"},
		{"unknown field", func(s string) string { return s + "\nlearning_rate: 0.1\n" }, "learning_rate"},
		{"dataset not in the grid", func(s string) string { return strings.ReplaceAll(s, cid, absent) }, "dataset.cid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gs(t, d.dir, "submit", jobFile(t, cid, tt.edit))
			if r.code == 0 {
				t.Fatal("a bad spec was accepted")
			}
			if !strings.Contains(r.err, tt.field) {
				t.Errorf("error %q does not name %s", r.err, tt.field)
			}
		})
	}
	if r := gs(t, d.dir, "jobs", "--json"); strings.TrimSpace(r.out) != "[]" && strings.TrimSpace(r.out) != "null" {
		t.Errorf("refused specs left jobs behind: %s", r.out)
	}
}
