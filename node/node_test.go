package node

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/examples/jobs"
	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo"
	"github.com/gridswarm/gridswarm/scheduler"
)

// startNode runs a whole daemon in this process (so -race sees it).
func startNode(t *testing.T, bootstrap ...string) *Node {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := repo.Init(dir, repo.InitOptions{Profile: config.ProfileLocal, Passphrase: "pw", Bootstrap: bootstrap}); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(context.Background(), Options{Repo: r, Passphrase: "pw"})
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = n.Close(ctx)
		r.Close()
	})
	return n
}

func tcpAddr(n *Node) string {
	for _, a := range n.swarm.Addrs() {
		if strings.Contains(a, "/tcp/") {
			return a
		}
	}
	return ""
}

func waitFor(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not met after %s: %s", timeout, msg)
		}
		<-tick.C
	}
}

// Two in-process daemons run a small job end to end: coordinator on one,
// worker on the other, through the real grid, tasklet protocol and outer step.
func TestTwoNodesRunAJob(t *testing.T) {
	if testing.Short() && !raceEnabled {
		t.Skip("in-process daemons; covered by e2e without -race")
	}
	coord := startNode(t)
	worker := startNode(t, tcpAddr(coord))
	waitFor(t, 60*time.Second, func() (bool, string) {
		cs := (&PeerService{n: coord}).Capabilities()
		return len(cs) == 2, fmt.Sprintf("coordinator holds %d capability records", len(cs))
	})
	ctx := context.Background()
	ds, err := (&DataService{n: coord}).ImportMnist(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec := strings.ReplaceAll(string(jobs.MNISTMLP), jobs.Placeholder, ds.CID)
	spec = strings.Replace(spec, "rounds: 10", "rounds: 2", 1)
	spec = strings.Replace(spec, "inner_steps: 200", "inner_steps: 5", 1)
	js := &JobService{n: coord}
	s, err := js.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	var j *scheduler.Job
	waitFor(t, 3*time.Minute, func() (bool, string) {
		j, err = js.Show(s.ID)
		return err == nil && j.Status != scheduler.StatusRunning && j.Status != scheduler.StatusSubmitted,
			fmt.Sprintf("job %s round %d waiting %q (%v)", j.Status, j.Round, j.Waiting, err)
	})
	if j.Status != scheduler.StatusDone || j.FinalModel == "" || j.TestAccuracy <= 0.5 {
		t.Fatalf("job ended %s (%s), model %q, test accuracy %.3f", j.Status, j.Error, j.FinalModel, j.TestAccuracy)
	}
	for _, rd := range j.Rounds {
		for _, tk := range rd.Tasklets {
			if tk.Peer != worker.swarm.ID().String() {
				t.Errorf("round %d tasklet %d ran on %s, want the worker", rd.Index, tk.Index, tk.Peer)
			}
		}
	}
}
