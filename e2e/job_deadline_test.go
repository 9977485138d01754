package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/scheduler"
)

// smallJob is the MNIST example cut down to two short rounds of three
// tasklets: more tasklets than the two one-slot workers can run at once.
func smallJob(spec string) string {
	return strings.NewReplacer("rounds: 10", "rounds: 2", "inner_steps: 200", "inner_steps: 20",
		"tasklets_per_round: auto", "tasklets_per_round: 3").Replace(spec)
}

// A job whose deadline passes while every worker is paused fails, naming
// the round, and keeps its last weights (job model); job resume with a new
// deadline finishes it once the workers are back. The job record then shows
// that no one-slot worker (worker.max_concurrent = 1, the default) ever held
// two attempts at once.
func TestJobDeadlineThenResume(t *testing.T) {
	skipShort(t)
	ds := swarmOf(t, 3)
	coord, workers := ds[0], ds[1:]
	for _, w := range workers {
		if r := gs(t, w.dir, "worker", "pause"); r.code != 0 {
			t.Fatalf("worker pause: %s", r.err)
		}
	}
	id := submit(t, coord, jobFile(t, importMNIST(t, coord), smallJob))
	waitJob(t, coord, id, time.Minute, func(j scheduler.Job) bool { return j.Status == scheduler.StatusRunning && j.Waiting != "" })

	// The spec's deadline is at least a minute; a cancelled job resumed with
	// a short one shows the deadline path in seconds.
	if r := gs(t, coord.dir, "job", "cancel", id); r.code != 0 {
		t.Fatalf("job cancel: %s", r.err)
	}
	waitJob(t, coord, id, 30*time.Second, func(j scheduler.Job) bool { return j.Status == scheduler.StatusCancelled })
	if r := gs(t, coord.dir, "job", "resume", id, "--deadline", "3s"); r.code != 0 {
		t.Fatalf("job resume --deadline 3s: %s", r.err)
	}
	j := waitJob(t, coord, id, 30*time.Second, func(j scheduler.Job) bool { return j.Status == scheduler.StatusFailed })
	if want := scheduler.DeadlineMessage(0, 2); j.Error != want {
		t.Errorf("error %q, want %q", j.Error, want)
	}
	model := filepath.Join(t.TempDir(), "model.safetensors")
	if r := gs(t, coord.dir, "job", "model", id, "-o", model); r.code != 0 {
		t.Fatalf("job model of the failed job: %s", r.err)
	}
	if st, err := os.Stat(model); err != nil || st.Size() == 0 {
		t.Fatalf("job model wrote nothing: %v", err)
	}

	for _, w := range workers {
		if r := gs(t, w.dir, "worker", "resume"); r.code != 0 {
			t.Fatalf("worker resume: %s", r.err)
		}
	}
	if r := gs(t, coord.dir, "job", "resume", id, "--deadline", "10m"); r.code != 0 {
		t.Fatalf("job resume --deadline 10m: %s", r.err)
	}
	j = waitJob(t, coord, id, 3*time.Minute, func(j scheduler.Job) bool {
		return j.Status != scheduler.StatusRunning && j.Status != scheduler.StatusSubmitted
	})
	if j.Status != scheduler.StatusDone || j.Round != 2 {
		t.Fatalf("resumed job ended %s at round %d: %s", j.Status, j.Round, j.Error)
	}
	checkSlots(t, j, 1)
}

// checkSlots fails when any peer ever held more than slots of the job's
// attempts at once, from the attempts' start and end times.
func checkSlots(t *testing.T, j scheduler.Job, slots int) {
	t.Helper()
	type edge struct {
		at    time.Time
		delta int
	}
	byPeer := map[string][]edge{}
	for _, rd := range j.Rounds {
		for _, tk := range rd.Tasklets {
			for _, a := range tk.Attempts {
				if a.Ended == nil {
					t.Errorf("round %d tasklet %d: attempt on %s (%s) has no end time after the job ended", rd.Index, tk.Index, a.Peer, a.Outcome)
					continue
				}
				byPeer[a.Peer] = append(byPeer[a.Peer], edge{a.Started, +1}, edge{*a.Ended, -1})
			}
		}
	}
	for p, es := range byPeer {
		sort.Slice(es, func(a, b int) bool {
			if !es[a].at.Equal(es[b].at) {
				return es[a].at.Before(es[b].at)
			}
			return es[a].delta < es[b].delta // an end at the same instant comes first
		})
		n, peak := 0, 0
		for _, e := range es {
			n += e.delta
			peak = max(peak, n)
		}
		if peak > slots {
			t.Errorf("peer %s held %d attempts at once with %d slot(s)", p, peak, slots)
		}
	}
}
