package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/examples/jobs"
	"github.com/gridswarm/gridswarm/scheduler"
)

// cnnAccuracyTarget is issue 11's bar for examples/jobs/mnist-cnn.yaml.
const cnnAccuracyTarget = 0.99

// Five daemons: the CNN example job on real MNIST, submitted through the
// CLI, trains on the four workers and reaches 99.0% test accuracy. The whole
// job takes about ten minutes on two cores, too long for every CI run:
// GRIDSWARM_E2E_LONG=1 runs it; without, the same job runs its first two
// rounds and must pass 90% (the CNN is there and learns on the swarm).
func TestCNNJobOnFiveDaemons(t *testing.T) {
	skipShort(t)
	target := cnnAccuracyTarget
	spec := string(jobs.MNISTCNN)
	if os.Getenv("GRIDSWARM_E2E_LONG") == "" {
		target = 0.90
		spec = regexp.MustCompile(`(?m)^rounds: \d+`).ReplaceAllString(spec, "rounds: 2")
		t.Logf("two rounds only (GRIDSWARM_E2E_LONG=1 runs the whole job to %.1f%%)", 100*cnnAccuracyTarget)
	}
	ds := swarmOf(t, 5)
	coord := ds[0]
	cid := importMNIST(t, coord)
	file := filepath.Join(t.TempDir(), "mnist-cnn.yaml")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(spec, jobs.Placeholder, cid)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	id := submit(t, coord, file)
	j := waitJob(t, coord, id, 45*time.Minute, func(j scheduler.Job) bool {
		return j.Status == scheduler.StatusDone || j.Status == scheduler.StatusFailed || j.Status == scheduler.StatusCancelled
	})
	t.Logf("mnist-cnn: %s after %v, %d rounds, test accuracy %.4f", j.Status, time.Since(start).Round(time.Second), len(j.Rounds), j.TestAccuracy)
	if j.Status != scheduler.StatusDone || j.TestAccuracy < target {
		t.Fatalf("job ended %s (%s) with test accuracy %.4f, want done and at least %.3f", j.Status, j.Error, j.TestAccuracy, target)
	}
	workers := map[string]bool{}
	for _, rd := range j.Rounds {
		for _, tk := range rd.Tasklets {
			workers[tk.Peer] = true
		}
	}
	if len(workers) < 2 || workers[coord.ep.PeerID] {
		t.Errorf("tasklets ran on %v; want the workers and not the coordinator", workers)
	}
}
