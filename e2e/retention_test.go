package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/scheduler"
)

// smallJobs is how many jobs TestThirtySmallJobsStayWithinQuota runs in a row.
const smallJobs = 30

// Thirty small jobs in a row on workers with a 256 MiB quota all succeed:
// workers let go of their outputs once the coordinator has them, the
// coordinator keeps only what each job needs, and every pin on every node
// has an owner. After `job rm` of every job the coordinator holds only the
// user's own data.
func TestThirtySmallJobsStayWithinQuota(t *testing.T) {
	skipShort(t)
	coord := startDaemon(t, initRepo(t))
	boot := coord.tcpAddr(t)
	var workers []*daemon
	for range 2 {
		dir := initRepo(t)
		setConfig(t, dir, "quota_gib = 4.0", "quota_gib = 0.25")
		workers = append(workers, startDaemon(t, dir, "--bootstrap", boot))
	}
	waitCapabilities(t, coord, 3)
	dataset := importMNIST(t, coord)
	datasetPins := pinned(t, coord, "")
	// Two short rounds of a small MLP: weights are 407 kB.
	spec := jobFile(t, dataset, func(s string) string {
		s = strings.Replace(s, "rounds: 10", "rounds: 2", 1)
		s = strings.Replace(s, "inner_steps: 200", "inner_steps: 10", 1)
		return strings.Replace(s, "hidden: [128]", "hidden: [32]", 1)
	})

	var ids []string
	for i := range smallJobs {
		id := submit(t, coord, spec)
		j := waitJob(t, coord, id, 2*time.Minute, func(j scheduler.Job) bool {
			return j.Status != scheduler.StatusRunning && j.Status != scheduler.StatusSubmitted
		})
		if j.Status != scheduler.StatusDone {
			t.Fatalf("job %d of %d (%s) ended %s: %s", i+1, smallJobs, id, j.Status, j.Error)
		}
		ids = append(ids, id)
		for _, w := range workers {
			s := dataStat(t, w)
			if s.UsedBytes > s.QuotaBytes {
				t.Fatalf("after job %d a worker uses %d bytes of its %d-byte quota", i+1, s.UsedBytes, s.QuotaBytes)
			}
		}
	}

	// A worker holds at most the outputs not yet released: a few tasklets'
	// weights, never one per job run.
	const weightsBytes = (784*32 + 32 + 32*10 + 10) * 4
	for _, w := range workers {
		eventually(t, 30*time.Second, func() (bool, string) {
			b := pinned(t, w, "")
			return b <= 4*weightsBytes, fmt.Sprintf("worker %s still pins %d bytes after %d jobs (bound %d)", w.ep.PeerID, b, smallJobs, 4*weightsBytes)
		})
	}
	// The coordinator keeps the dataset and, per job, its final model and at
	// most keep_rounds (3) rounds of weights and of outer momentum.
	perJob := uint64((2*3 + 1) * (weightsBytes + 1024))
	if b := pinned(t, coord, ""); b > datasetPins+smallJobs*perJob {
		t.Errorf("the coordinator pins %d bytes after %d jobs; bound %d (dataset %d + %d per job)", b, smallJobs, datasetPins+smallJobs*perJob, datasetPins, perJob)
	}
	for _, id := range ids {
		if r := gs(t, coord.dir, "job", "rm", id); r.code != 0 {
			t.Fatalf("job rm %s: exit %d: %s", id, r.code, r.err)
		}
	}
	if b := pinned(t, coord, ""); b != datasetPins {
		t.Errorf("after job rm of every job the coordinator pins %d bytes, want the dataset's %d", b, datasetPins)
	}
	if b := pinned(t, coord, "job"); b != 0 {
		t.Errorf("after job rm of every job %d bytes are still pinned for jobs", b)
	}
}

// waitCapabilities waits until d knows n capability records (its own too).
func waitCapabilities(t *testing.T, d *daemon, n int) {
	t.Helper()
	c := d.client(t)
	eventually(t, 60*time.Second, func() (bool, string) {
		var cs []node.Capability
		err := c.Call(context.Background(), &cs, "peer_capabilities")
		return err == nil && len(cs) >= n, fmt.Sprintf("%d of %d capability records known (%v)", len(cs), n, err)
	})
}

// pinned sums the bytes of d's pins (those whose owner starts with owner,
// all when owner is empty), failing on any pin without an owner.
func pinned(t *testing.T, d *daemon, owner string) uint64 {
	t.Helper()
	args := []string{"data", "pins", "--json"}
	if owner != "" {
		args = append(args, "--owner", owner)
	}
	r := gs(t, d.dir, args...)
	if r.code != 0 {
		t.Fatalf("data pins: exit %d: %s", r.code, r.err)
	}
	var ps []api.PinInfo
	if err := json.Unmarshal([]byte(r.out), &ps); err != nil {
		t.Fatalf("data pins --json printed %q: %v", r.out, err)
	}
	var sum uint64
	for _, p := range ps {
		if p.Owner == "" || p.Name == "" {
			t.Errorf("pin %s on %s has owner %q and name %q; every pin needs both", p.CID, d.ep.PeerID, p.Owner, p.Name)
		}
		sum += p.Bytes
	}
	return sum
}

func dataStat(t *testing.T, d *daemon) api.Stat {
	t.Helper()
	r := gs(t, d.dir, "data", "stat", "--json")
	var s api.Stat
	if r.code != 0 || json.Unmarshal([]byte(r.out), &s) != nil {
		t.Fatalf("data stat --json: exit %d: %s %s", r.code, r.out, r.err)
	}
	return s
}
