package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/examples/jobs"
	"github.com/gridswarm/gridswarm/scheduler"
)

// cnnAccuracyTarget is issue 11's bar for examples/jobs/mnist-cnn.yaml.
const cnnAccuracyTarget = 0.99

// Three daemons: the CNN example job on real MNIST, submitted through the
// CLI, trains on the two workers and reaches 99.0% test accuracy. It takes
// minutes on two cores; the time is logged.
func TestCNNJobOnThreeDaemons(t *testing.T) {
	skipShort(t)
	ds := swarmOf(t, 3)
	coord := ds[0]
	cid := importMNIST(t, coord)
	file := filepath.Join(t.TempDir(), "mnist-cnn.yaml")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(string(jobs.MNISTCNN), jobs.Placeholder, cid)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	id := submit(t, coord, file)
	j := waitJob(t, coord, id, 45*time.Minute, func(j scheduler.Job) bool {
		return j.Status == scheduler.StatusDone || j.Status == scheduler.StatusFailed || j.Status == scheduler.StatusCancelled
	})
	t.Logf("mnist-cnn: %s after %v, %d rounds, test accuracy %.4f", j.Status, time.Since(start).Round(time.Second), len(j.Rounds), j.TestAccuracy)
	if j.Status != scheduler.StatusDone || j.TestAccuracy < cnnAccuracyTarget {
		t.Fatalf("job ended %s (%s) with test accuracy %.4f, want done and at least %.3f", j.Status, j.Error, j.TestAccuracy, cnnAccuracyTarget)
	}
	workers := map[string]bool{}
	for _, rd := range j.Rounds {
		for _, tk := range rd.Tasklets {
			workers[tk.Peer] = true
		}
	}
	if len(workers) < 2 || workers[coord.ep.PeerID] {
		t.Errorf("tasklets ran on %v; want both workers and not the coordinator", workers)
	}
}
